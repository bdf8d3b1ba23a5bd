#!/bin/sh
# check-report.sh: vmferry check reports whether a running VM can move to
# a destination, and changes nothing: a plain VM can move (exit 0, every
# check listed, the JSON report says can_move); a VM with a host block
# device (a loop device) cannot (exit 2, the pass-through finding with
# its fix); a destination that cannot be reached gives exit 2 and names
# it; vmferry migrate refuses that VM with the same finding.
# The plain VM has 512 MiB of RAM, a multiple of 256 KiB as real VMs
# have (the other test guests have 512 MiB + 8 KiB: QEMU 7.2's TCG
# dirty tracking loses writes otherwise, vmferry(1) BUGS): vmferry warns
# about it, and not about the other VM.  Neither is migrated.
# Afterwards both VMs run untouched and the destination's roots are
# empty (the CPU probe's QEMU and its directory are gone).

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
requires losetup --version
mig_hosts
mig_start_vmferryd

# check_vm ARG...: vmferry check ARG... in SRC_NS; output in
# $TEST_DIR/check.out, exit code in CHECK_RC.
check_vm ()
{
  ip netns exec "$SRC_NS" vmferry check "$@" --to "$DST_IP" \
    --tls-dir "$SRC_TLS" > "$TEST_DIR/check.out" 2> "$TEST_DIR/check.err"
  CHECK_RC=$?
  cat "$TEST_DIR/check.out" "$TEST_DIR/check.err"
  echo "vmferry check exit code: $CHECK_RC"
}

plain="$TEST_DIR/plain"
mkdir -p "$plain"
disk_create "$plain/disk0.qcow2" 256M 16
VM_MEM=512M vm_start "$plain" plain1 "$SRC_NS" "$plain/disk0.qcow2" \
  vmferry.disk_offset=128 vmferry.disk_size=16 vmferry.mem=16
vm_wait_ready "$plain"

check_vm "$plain/qmp.sock"
[ "$CHECK_RC" = 0 ] || fail "check of a movable VM: exit code $CHECK_RC"
grep -q '^the VM can move (0 error(s)' "$TEST_DIR/check.out" ||
  fail "the report does not conclude that the VM can move"
for id in qemu-version accelerator machine-type cpu-vendor cpu-model \
          memory storage; do
  grep -q "^  [a-z]* *$id " "$TEST_DIR/check.out" ||
    fail "the report has no line for $id"
done
grep -q 'machine type pc-q35-7.2 is available' "$TEST_DIR/check.out" ||
  fail "the machine type was not checked"
grep -q 'CPU model qemu64 and its [1-9][0-9]* feature' "$TEST_DIR/check.out" ||
  fail "the CPU model and its features were not checked"
tcg_warning='warning: this VM runs under TCG with a RAM size that is a multiple of 256 KiB'
grep -q "$tcg_warning" "$TEST_DIR/check.out" "$TEST_DIR/check.err" ||
  fail "no warning about TCG and a RAM size that is a multiple of 256 KiB"

check_vm "$plain/qmp.sock" --json
[ "$CHECK_RC" = 0 ] || fail "check --json: exit code $CHECK_RC"
[ "$(jq -r .can_move "$TEST_DIR/check.out")" = true ] ||
  fail "check --json: can_move is not true"
[ "$(jq -r '.findings | map(select(.severity == "error")) | length' \
     "$TEST_DIR/check.out")" = 0 ] || fail "check --json lists errors"
[ "$(jq -r '.destination_facts.qemu_version' "$TEST_DIR/check.out")" -gt 0 ] ||
  fail "check --json: no destination QEMU version"

# Usage error, and a destination that cannot be asked.
ip netns exec "$SRC_NS" vmferry check "$plain/qmp.sock" > /dev/null 2>&1
rc=$?
[ "$rc" = 1 ] || fail "check without --to: exit code $rc, expected 1"
ip netns exec "$SRC_NS" vmferry check "$plain/qmp.sock" \
  --to "$NET_PREFIX.99" --tls-dir "$SRC_TLS" > "$TEST_DIR/unreach.out" 2>&1
rc=$?
cat "$TEST_DIR/unreach.out"
[ "$rc" = 2 ] || fail "unreachable destination: exit code $rc, expected 2"
grep -q "cannot move: .*$NET_PREFIX.99" "$TEST_DIR/unreach.out" ||
  fail "the error does not name the destination"

# A VM with a host block device cannot move.
truncate -s 16M "$TEST_DIR/loop.img"
loopdev=$(losetup -f --show "$TEST_DIR/loop.img") || fail "losetup failed"
cleanup_fn "losetup -d '$loopdev'"
pt="$TEST_DIR/pt"
mkdir -p "$pt"
disk_create "$pt/disk0.qcow2" 256M
VM_QEMU_ARGS="-blockdev driver=host_device,filename=$loopdev,node-name=pt0 \
-device virtio-blk-pci,drive=pt0,id=vdb" \
  vm_start "$pt" pt1 "$SRC_NS" "$pt/disk0.qcow2" vmferry.disk_offset=128 \
    vmferry.disk_size=16 vmferry.mem=16
vm_wait_ready "$pt"
check_vm "$pt/qmp.sock" --json
[ "$CHECK_RC" = 2 ] || fail "check of a pass-through VM: exit code $CHECK_RC"
[ "$(jq -r .can_move "$TEST_DIR/check.out")" = false ] ||
  fail "can_move is not false"
jq -r '.findings[] | select(.id == "passthrough" and .severity == "error")
       | .message + " / " + .fix' "$TEST_DIR/check.out" > "$TEST_DIR/pt.txt"
cat "$TEST_DIR/pt.txt"
grep -q "pass-through disk ($loopdev).*/ detach" "$TEST_DIR/pt.txt" ||
  fail "no pass-through finding with its fix"

mig_migrate "$pt/qmp.sock"
[ "$MIG_RC" = 2 ] || fail "migrate of a pass-through VM: exit $MIG_RC, not 2"
grep -q "check: error: .*pass-through disk ($loopdev)" "$TEST_DIR/migrate.out" ||
  fail "migrate did not report the check's finding"
# 512 MiB + 8 KiB: no warning.
grep -q 'VM pt1: .*TCG' "$TEST_DIR/migrate.out" ||
  fail "migrate did not inspect pt1 (no VM line to go by)"
grep -q "$tcg_warning" "$TEST_DIR/migrate.out" &&
  fail "a warning about the RAM size of a VM with 512 MiB + 8 KiB"

# Nothing changed: both VMs run, the destination is empty.
for d in "$plain" "$pt"; do
  vm_qmp "$d" query-status | grep -q '"status": "running"' ||
    fail "the VM of $d is not running"
  vm_qmp "$d" '{"execute":"query-named-block-nodes"}' |
    grep -q vmferry && fail "the VM of $d has vmferry's block nodes"
done
mig_dir_empty "$DST_STORAGE" || fail "storage root not empty"
mig_dir_empty "$DST_RUN" || fail "run root not empty"
pgrep -f -- "-machine none.*$DST_RUN" && fail "a probe QEMU still runs"
vm_verify "$plain" 120 || fail "guest verdict: $VM_VERDICT"
exit 0
