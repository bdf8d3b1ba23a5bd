#!/bin/sh
# migrate-refused.sh: what cannot or must not move is refused before
# anything is done (exit code 2), with a message that says why, and the
# VM keeps running untouched: a VM with a pass-through disk (a host block
# device: a loop device), a VM name that does not exist, an unreachable
# destination, and a destination whose certificate is from another CA.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
requires losetup --version
mig_hosts
mig_start_vmferryd

# expect_refused PATTERN ARG...: vmferry migrate ARG... exits 2 and says
# PATTERN.
expect_refused ()
{
  _pat=$1
  shift
  mig_migrate "$@"
  [ "$MIG_RC" = 2 ] || fail "exit code $MIG_RC, expected 2 (refused)"
  grep -q "$_pat" "$TEST_DIR/migrate.out" ||
    fail "the error does not say '$_pat'"
}

# A plain VM, which could move.
plain="$TEST_DIR/plain"
mkdir -p "$plain"
disk_create "$plain/disk0.qcow2" 256M
VM_MEM=262152K vm_start "$plain" plain1 "$SRC_NS" "$plain/disk0.qcow2" \
  vmferry.disk_offset=128 vmferry.disk_size=16 vmferry.disk_rate=50 \
  vmferry.mem=16
vm_wait_ready "$plain"

expect_refused "no VM named 'nosuchvm'" nosuchvm --vm-dir "$TEST_DIR"

# An unreachable destination (nobody at that address).
ip netns exec "$SRC_NS" vmferry migrate "$plain/qmp.sock" \
  --to "$NET_PREFIX.99" --tls-dir "$SRC_TLS" > "$TEST_DIR/unreach.out" 2>&1
rc=$?
cat "$TEST_DIR/unreach.out"
[ "$rc" = 2 ] || fail "unreachable destination: exit code $rc, expected 2"
grep -q "$NET_PREFIX.99" "$TEST_DIR/unreach.out" ||
  fail "the error does not name the destination"

# A destination whose certificate this host does not trust.
vmferry pki init "$TEST_DIR/ca2" >/dev/null || fail "pki init ca2"
vmferry pki issue "$TEST_DIR/ca2" --name other --ip "$SRC_IP" \
  --out "$TEST_DIR/other" >/dev/null || fail "pki issue"
ip netns exec "$SRC_NS" vmferry migrate "$plain/qmp.sock" --to "$DST_IP" \
  --tls-dir "$TEST_DIR/other" > "$TEST_DIR/otherca.out" 2>&1
rc=$?
cat "$TEST_DIR/otherca.out"
[ "$rc" = 2 ] || fail "other CA: exit code $rc, expected 2"
grep -qi "certificate" "$TEST_DIR/otherca.out" ||
  fail "the error does not mention the certificate"
vm_running "$plain" || fail "the plain VM stopped"
vm_qmp "$plain" query-status | grep -q '"status": "running"' ||
  fail "the plain VM is not running"
vm_stop "$plain"

# A VM with a host block device (a loop device) as a second disk.
truncate -s 16M "$TEST_DIR/loop.img"
loopdev=$(losetup -f --show "$TEST_DIR/loop.img") || fail "losetup failed"
cleanup_fn "losetup -d '$loopdev'"
src="$TEST_DIR/src"
mkdir -p "$src"
disk_create "$src/disk0.qcow2" 256M
VM_QEMU_ARGS="-blockdev driver=host_device,filename=$loopdev,node-name=pt0 \
-device virtio-blk-pci,drive=pt0,id=vdb" \
  vm_start "$src" pt1 "$SRC_NS" "$src/disk0.qcow2" vmferry.disk_offset=128 \
    vmferry.disk_size=16 vmferry.disk_rate=50
vm_wait_ready "$src"
expect_refused "pass-through disk.*$loopdev" "$src/qmp.sock"

# Nothing happened anywhere: the VM runs on, the destination is empty.
vm_running "$src" || fail "the VM stopped"
vm_qmp "$src" query-status | grep -q '"status": "running"' ||
  fail "the VM is not running"
mig_dir_empty "$DST_STORAGE" || fail "storage root not empty"
mig_dir_empty "$DST_RUN" || fail "run root not empty"
last=$(vm_last_ack "$src")
vm_wait_ack "$src" $((last + 5)) 60
vm_verify "$src" 120 || fail "guest verdict: $VM_VERDICT"
exit 0
