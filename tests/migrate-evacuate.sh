#!/bin/sh
# migrate-evacuate.sh: vmferry evacuate moves the three VMs of a VM
# directory, three at a time (--parallel 3), into a vmferryd that takes
# at most two at once and queues the rest (--max-incoming 2 --queue).
# vmferryd queued the third; all three arrive, verify their disk and
# memory on the destination, and their images pass the host checker;
# the VMs run on exactly one host.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 1gbit
mig_start_vmferryd --max-incoming 2 --queue

vms="$TEST_DIR/vms"
for v in ev1 ev2 ev3; do
  mkdir -p "$vms/$v"
  disk_create "$vms/$v/disk.qcow2" 1G 20
  vm_start "$vms/$v" "$v" "$SRC_NS" "$vms/$v/disk.qcow2" \
    vmferry.disk_rate=20 vmferry.mem=16 vmferry.mem_rate=200
done
for v in ev1 ev2 ev3; do
  vm_wait_ready "$vms/$v"
  vm_wait_ack "$vms/$v" 10
done

ip netns exec "$SRC_NS" vmferry evacuate --vm-dir "$vms" --to "$DST_IP" \
  --tls-dir "$SRC_TLS" --parallel 3 --run-dir "$TEST_DIR/runs" \
  > "$TEST_DIR/migrate.out" 2>&1
rc=$?
grep -v '"event":"\(memory\|storage\)"' "$TEST_DIR/migrate.out" | tail -n 40
[ "$rc" = 0 ] || fail "vmferry evacuate exit code $rc"
for v in ev1 ev2 ev3; do
  grep -q "^$v: migrated" "$TEST_DIR/migrate.out" || fail "$v not migrated"
done
grep -q 'prepare queued: 2 incoming migrations' "$TEST_DIR/vmferryd.log" ||
  fail "vmferryd did not queue the third migration"
grep -q 'prepare admitted from the queue' "$TEST_DIR/vmferryd.log" ||
  fail "vmferryd did not admit the queued migration"

for v in ev1 ev2 ev3; do
  vm_running "$vms/$v" && fail "the source QEMU of $v still runs"
  [ -e "$vms/$v/disk.qcow2" ] && fail "the source image of $v is left"
  vm_running "$DST_RUN/$v" || fail "$v does not run on the destination"
done
for v in ev1 ev2 ev3; do
  last=$(vm_last_ack "$vms/$v")
  vm_wait_ack "$DST_RUN/$v" $((last + 5)) 60
  vm_verify "$DST_RUN/$v" 120 || fail "$v on the destination: $VM_VERDICT"
done
for v in ev1 ev2 ev3; do
  vm_stop "$DST_RUN/$v"
  vm_check_image "$DST_STORAGE/$v/disk.qcow2" "$vms/$v/console.log" \
    "$DST_RUN/$v/console.log" || fail "check-image rejected $v's image"
done
exit 0
