#!/bin/sh
# migrate-load.sh: four VMs migrated at once (vmferry migrate A B C D
# --parallel 4) into a vmferryd that takes at most two at a time and
# queues the rest (--max-incoming 2 --queue).  vmferryd never had more
# than two in progress, queued the others and admitted them later; all
# four arrive, verify their disk and memory on the destination, pass
# the host checker, and run on exactly one host.

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
  --run-dir "$TEST_DIR/runs" > "$TEST_DIR/migrate.out" 2>&1
rc=$?
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
