#!/bin/sh
# migrate-load.sh: four VMs migrated at once (vmferry migrate A B C D
# --parallel 4) into a vmferryd that takes at most two at a time and
# queues the rest (--max-incoming 2 --queue).  Watched on the
# destination during the run, never more than two of its QEMUs were
# receiving at once (from the start of each QEMU to its RESUME event,
# as QEMU stamps it), and two were at some moment; vmferryd
# queued the others and admitted them later; all four arrive, verify
# their disk and memory on the destination, pass the host checker, and
# run on exactly one host.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 1gbit
mig_start_vmferryd --max-incoming 2 --queue

vms="$TEST_DIR/vms" names="ld1 ld2 ld3 ld4"
for v in $names; do
  mkdir -p "$vms/$v"
  disk_create "$vms/$v/disk.qcow2" 1G 20
  vm_start "$vms/$v" "$v" "$SRC_NS" "$vms/$v/disk.qcow2" \
    vmferry.disk_rate=20 vmferry.mem=16 vmferry.mem_rate=200
done
for v in $names; do
  vm_wait_ready "$vms/$v"
  vm_wait_ack "$vms/$v" 10
done

# shellcheck disable=SC2086
ip netns exec "$SRC_NS" vmferry migrate $names --vm-dir "$vms" \
  --to "$DST_IP" --tls-dir "$SRC_TLS" --parallel 4 \
  --run-dir "$TEST_DIR/runs" > "$TEST_DIR/migrate.out" 2>&1 &
mig=$!
cleanup_fn "kill $mig 2>/dev/null"

# While it runs, watch each VM's QEMU on the destination from outside
# vmferryd: from the moment its own monitor socket appears (the QEMU
# started, so its admission slot was taken) a QMP session of ours on it
# receives QEMU's RESUME event, stamped by QEMU, when the VM begins to
# run there (the slot is given back after that).  Each VM was thus
# receiving at least from the socket's creation to RESUME; more than two
# such spans at once break the limit.
n=6 watched=
while pid_alive "$mig"; do
  for v in $names; do
    sock="$DST_RUN/$v/qmp.sock"
    case " $watched " in *" $v "*) continue ;; esac
    [ -S "$sock" ] || continue
    mkfifo "$TEST_DIR/qmp-in-$v" || fail "mkfifo"
    # The writer ends of the earlier watchers' FIFOs are closed in this
    # one: inherited, they would keep those watchers from ever seeing EOF.
    ( k=6; while [ "$k" -lt "$n" ]; do eval "exec $k>&-"; k=$((k + 1)); done
      exec socat -t 1 - "UNIX-CONNECT:$sock" < "$TEST_DIR/qmp-in-$v" \
        > "$TEST_DIR/events-$v" 2>&1 ) &
    echo "$! $n" > "$TEST_DIR/watch-$v"
    cleanup_fn "kill $! 2>/dev/null"
    eval "exec $n>\"\$TEST_DIR/qmp-in-\$v\""
    echo '{"execute":"qmp_capabilities"}' >&$n
    stat -c '%.6Z' "$sock" > "$TEST_DIR/since-$v"
    watched="$watched $v" n=$((n + 1))
  done
  sleep 0.05
done
wait "$mig"
rc=$?
for v in $watched; do
  read -r wpid wfd < "$TEST_DIR/watch-$v"
  eval "exec $wfd>&-"
  wait "$wpid" 2>/dev/null
done
spans=$(for v in $names; do
          [ -s "$TEST_DIR/since-$v" ] || fail "the QEMU of $v was never seen"
          r=$(grep '"event": "RESUME"' "$TEST_DIR/events-$v" | head -n 1 |
                jq -r '.timestamp | "\(.seconds) \(.microseconds)"')
          [ -n "$r" ] || { cat "$TEST_DIR/events-$v"; fail "no RESUME event from the QEMU of $v"; }
          # shellcheck disable=SC2086
          r=$(printf '%s.%06d' $r)
          echo "$(cat "$TEST_DIR/since-$v") $r $v"
        done)
echo "receiving on the destination (from, to, VM):"
echo "$spans"
most=$(echo "$spans" | awk '{ print $1, 1; print $2, -1 }' | sort -k1,1g -k2,2n |
       awk '{ n += $2; if (n > m) m = n } END { print m }')
echo "VMs receiving at once on the destination: at most $most"
[ "$most" -le 2 ] ||
  fail "the destination received more than two VMs at once ($most)"
[ "$most" = 2 ] || fail "the destination never received two VMs at once ($most)"
grep -v '"event":"\(memory\|storage\)"' "$TEST_DIR/migrate.out" | tail -n 40
[ "$rc" = 0 ] || fail "vmferry migrate --parallel 4 exit code $rc"
for v in $names; do
  grep -q "^$v: migrated" "$TEST_DIR/migrate.out" || fail "$v not migrated"
done

# The admission counter: two queued at least once each, none admitted
# beyond the limit.
queued=$(grep -c 'prepare queued: ' "$TEST_DIR/vmferryd.log")
admitted=$(grep -c 'prepare admitted from the queue' "$TEST_DIR/vmferryd.log")
echo "vmferryd: $queued queued prepares, $admitted admitted from the queue"
[ "$queued" -ge 2 ] || fail "vmferryd did not queue the third and fourth"
[ "$admitted" -ge 2 ] || fail "vmferryd did not admit the queued ones"
over=$(sed -n 's/.*prepare queued: \([0-9]*\) incoming.*/\1/p' \
  "$TEST_DIR/vmferryd.log" | awk '$1 > 2' | wc -l)
[ "$over" = 0 ] || fail "vmferryd had more than two migrations in progress"

for v in $names; do
  vm_running "$vms/$v" && fail "the source QEMU of $v still runs"
  [ -e "$vms/$v/disk.qcow2" ] && fail "the source image of $v is left"
  vm_running "$DST_RUN/$v" || fail "$v does not run on the destination"
done
for v in $names; do
  mig_verify_moved "$vms/$v" "$DST_RUN/$v" "$DST_STORAGE/$v/disk.qcow2" 5
done
exit 0
