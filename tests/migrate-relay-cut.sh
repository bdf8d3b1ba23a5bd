#!/bin/sh
# migrate-relay-cut.sh: the relay's peer goes away in the middle of
# the memory migration: the skeleton QEMU on the destination is killed
# while the relayed stream flows.  vmferryd's write fails and it drops
# the stream, the relay's send fails, the source QEMU's migration fails,
# and vmferry rolls back: exit code 3 ("failed, source VM still running,
# destination cleaned"), the source VM runs on and verifies its disk and
# memory, nothing of the migration is left on it (capabilities, relay
# directory), and the destination's roots and listeners are clean.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 100mbit
mig_start_vmferryd

src="$TEST_DIR/src"
img="$src/cut.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 16
# Random RAM over tcp: the memory phase lasts long enough to cut it.
vm_start "$src" cut1 "$SRC_NS" "$img" vmferry.disk_rate=20 \
  vmferry.disk_size=16 vmferry.mem=256 vmferry.mem_content=random \
  vmferry.mem_rate=200
vm_wait_ready "$src"
vm_wait_ack "$src" 20
runs="$TEST_DIR/runs"

ip netns exec "$SRC_NS" vmferry migrate "$src/qmp.sock" --to "$DST_IP" \
  --tls-dir "$SRC_TLS" --transport tcp --no-resume --json --run-dir "$runs" \
  > "$TEST_DIR/migrate.out" 2>&1 &
mig_pid=$!
cleanup_fn "kill $mig_pid 2>/dev/null"

# Wait until QEMU has sent 40 MB of memory through the relay.
for i in $(seq 600); do
  sent=$(grep '"event":"memory"' "$TEST_DIR/migrate.out" |
           tail -n 1 | jq -r .transferred 2>/dev/null)
  [ -n "$sent" ] && [ "$sent" -gt 40000000 ] && break
  pid_alive "$mig_pid" || break
  sleep 0.1
done
[ -n "$sent" ] && [ "$sent" -gt 40000000 ] ||
  { cat "$TEST_DIR/migrate.out"; fail "the memory migration did not start"; }
# The relay's private directory, by the journal of this migration (not
# by a name pattern that other runs share): it must exist now and be
# gone after the rollback.
relay_dirs=$(cat "$runs"/*/state.json |
               jq -r '.journal.objects[]? | select(.kind == "dir") | .name' |
               grep 'vmferry-relay-')
[ -n "$relay_dirs" ] || fail "the journal names no relay directory"
for d in $relay_dirs; do
  [ -d "$d" ] || fail "the relay directory $d does not exist during the migration"
done
skel=$(cat "$DST_RUN"/cut1/*.pid | head -n 1)
[ -n "$skel" ] || fail "no skeleton pidfile"
pid_alive "$skel" || fail "the skeleton is not running"
ls "$DST_RUN/cut1/vmferry-migration.sock" >/dev/null ||
  fail "the skeleton does not listen on the relay's socket"
echo "killing the skeleton QEMU ($skel) after $sent bytes"
kill -9 "$skel"
wait "$mig_pid"
rc=$?
cat "$TEST_DIR/migrate.out"
[ "$rc" = 3 ] || fail "exit code $rc, expected 3"
grep -q '"phase":"rollback"' "$TEST_DIR/migrate.out" || fail "no rollback"

# The source runs on, with nothing of the migration left.
vm_running "$src" || fail "the source VM is gone"
status=$(vm_qmp "$src" query-status query-migrate-capabilities \
           query-block-jobs query-named-block-nodes)
echo "$status" | grep -q '"status": "running"' || fail "source not running"
echo "$status" | grep -q 'vmferry-mirror' && fail "a mirror job is left"
echo "$status" | grep -q 'vmferry-nbd' && fail "an NBD node is left"
# The capabilities' reply, read as JSON (whatever the key order).
pbs=$(echo "$status" | grep '"return": \[{.*"capability"' |
        jq -r '.return[] | select(.capability == "pause-before-switchover") |
               .state')
[ "$pbs" = false ] ||
  fail "pause-before-switchover is left on (or not reported: '$pbs')"
for d in $relay_dirs; do
  [ -e "$d" ] && fail "the relay's directory $d is left"
done
last=$(vm_last_ack "$src")
vm_wait_ack "$src" $((last + 10)) 60
vm_verify "$src" 120 || fail "guest verdict on the source: $VM_VERDICT"

# The destination is clean.
mig_dest_clean --listeners

vm_stop "$src"
vm_check_image "$img" "$src/console.log" ||
  fail "check-image rejected the source image"
exit 0
