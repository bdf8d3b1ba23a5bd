#!/bin/sh
# migrate-keep-source.sh: with --keep-source the source image stays (and
# holds every record acknowledged before the switchover), the source QEMU
# is gone, and the VM runs on the destination only, verified there.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts
mig_start_vmferryd --once

src="$TEST_DIR/src"
img="$src/keep.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 64
vm_start "$src" keep1 "$SRC_NS" "$img" \
  vmferry.disk_rate=100 vmferry.mem_rate=1000
src_pid=$VM_PID
vm_wait_ready "$src"
vm_wait_ack "$src" 10

mig_migrate "$src/qmp.sock" --keep-source
[ "$MIG_RC" = 0 ] || fail "vmferry migrate --keep-source failed"
grep -q 'source_deleted *false' "$TEST_DIR/migrate.out" ||
  fail "the summary does not say the source was kept"

pid_alive "$src_pid" && fail "the source QEMU still runs"
[ -f "$img" ] || fail "--keep-source deleted the source image"
dst="$DST_RUN/keep1"
vm_pid "$dst" >/dev/null || fail "no QEMU runs on the destination"

# The kept source image is consistent with what the guest acknowledged
# before it moved (the QEMU that wrote it has quit).
vm_check_image "$img" "$src/console.log" ||
  fail "check-image rejected the kept source image"

mig_verify_moved "$src" "$dst" "$DST_STORAGE/keep1/keep.qcow2" 10
exit 0
