#!/bin/sh
# migrate-busy.sh: vmferryd --max-incoming 1 --refuse, and vmferry
# migrate of two VMs with --parallel 2 --continue.  One migration is
# admitted and completes (verified on the destination); the other is
# refused at once with vmferryd's "destination busy" message, nothing
# done: that VM runs on at the source and verifies there.  vmferry
# exits 2 (the worst result) and reports each VM.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 200mbit
mig_start_vmferryd --max-incoming 1 --refuse

vms="$TEST_DIR/vms"
for v in bz1 bz2; do
  mkdir -p "$vms/$v"
  disk_create "$vms/$v/disk.qcow2" 1G 100
  vm_start "$vms/$v" "$v" "$SRC_NS" "$vms/$v/disk.qcow2" \
    vmferry.disk_rate=20 vmferry.mem=16 vmferry.mem_rate=200
done
for v in bz1 bz2; do
  vm_wait_ready "$vms/$v"
  vm_wait_ack "$vms/$v" 10
done

ip netns exec "$SRC_NS" vmferry migrate bz1 bz2 --vm-dir "$vms" \
  --to "$DST_IP" --tls-dir "$SRC_TLS" --parallel 2 --continue \
  --run-dir "$TEST_DIR/runs" > "$TEST_DIR/migrate.out" 2>&1
rc=$?
grep -v '^\[.*\] *\(disks\|memory\) ' "$TEST_DIR/migrate.out" | tail -n 30
[ "$rc" = 2 ] || fail "vmferry exit code $rc, expected 2"
moved= kept=
for v in bz1 bz2; do
  if grep -q "^$v: migrated" "$TEST_DIR/migrate.out"; then
    moved=$v
  elif grep -q "^$v: refused, nothing was done: .*destination busy: 1 incoming migrations in progress" \
         "$TEST_DIR/migrate.out"; then
    kept=$v
  fi
done
[ -n "$moved" ] && [ -n "$kept" ] || fail "not one moved and one refused"

vm_running "$vms/$moved" && fail "the source QEMU of $moved still runs"
mig_verify_moved "$vms/$moved" "$DST_RUN/$moved" \
  "$DST_STORAGE/$moved/disk.qcow2" 5

vm_running "$vms/$kept" || fail "the refused VM $kept stopped"
# Nothing of $kept in either root (nor anything else but $moved's).
mig_dest_holds "$moved"
last=$(vm_last_ack "$vms/$kept")
vm_wait_ack "$vms/$kept" $((last + 5)) 60
vm_verify "$vms/$kept" 120 || fail "$kept on the source: $VM_VERDICT"
vm_stop "$vms/$kept"
vm_check_image "$vms/$kept/disk.qcow2" "$vms/$kept/console.log" ||
  fail "check-image rejected $kept's image"
exit 0
