#!/bin/sh
# migrate-shared.sh: a VM whose disk is in a directory both hosts see
# (the two network namespaces share the filesystem) moves with
# --shared-storage: only memory goes over the link.  The destination
# QEMU opens the same image file (same inode, never deleted or
# replaced), the destination's storage root holds no image, the source
# QEMU is gone, the guest verifies its disk and memory on the
# destination, and the host checker accepts the shared image with both
# console logs.  Then a second VM moves with --shared-storage=auto:
# the destination's probe finds its disk, and it moves the same way.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

# Files in the destination's storage root but vmferryd's journal (its
# record of the VMs resumed there).
dst_images ()
{
  find "$DST_STORAGE" -path "$DST_STORAGE/.vmferryd-journal" -prune \
    -o -path "$DST_STORAGE/.vmferry-vms" -prune -o -type f -print
}

guest_test_init
mig_hosts 1gbit
mig_start_vmferryd

shared="$TEST_DIR/shared"
src="$TEST_DIR/src"
img="$shared/sh1.qcow2"
mkdir -p "$shared" "$src"
disk_create "$img" 1G 100
ino=$(stat -c %i "$img")
vm_start "$src" sh1 "$SRC_NS" "$img" vmferry.disk_rate=50 vmferry.mem_rate=500
src_pid=$VM_PID
vm_wait_ready "$src"
vm_wait_ack "$src" 20

mig_migrate "$src/qmp.sock" --json --shared-storage --run-dir "$TEST_DIR/runs"
[ "$MIG_RC" = 0 ] || fail "vmferry migrate failed"
[ "$(mig_result_field storage_bytes)" = 0 ] ||
  fail "disk data was copied: $(mig_result_field storage_bytes) bytes"
[ "$(mig_result_field source_deleted)" = false ] ||
  fail "the summary says the source was deleted"

dst="$DST_RUN/sh1"
pid_alive "$src_pid" && fail "the source QEMU still runs"
dst_pid=$(vm_pid "$dst") || fail "no QEMU runs on the destination"
[ -f "$img" ] || fail "the shared image is gone"
[ "$(stat -c %i "$img")" = "$ino" ] || fail "the shared image was replaced"
tr '\0' '\n' < "/proc/$dst_pid/cmdline" | grep -qF "filename=$img," ||
  fail "the destination QEMU does not open the shared image"
[ -z "$(dst_images)" ] ||
  fail "files in the destination's storage root: $(dst_images)"
# The VM's definition is all vmferryd keeps for it (vmferry start).
[ "$(ls "$DST_STORAGE/.vmferry-vms")" = sh1.json ] ||
  fail "no definition of sh1 on the destination"
ls -a "$shared" | grep -q vmferry-shared && fail "a marker file is left"

mig_verify_moved "$src" "$dst" "$img" 20

# Detected: vmferryd sees the file and the marker beside it.
src2="$TEST_DIR/src2" img2="$shared/sh2.qcow2"
disk_create "$img2" 1G 50
ino2=$(stat -c %i "$img2")
vm_start "$src2" sh2 "$SRC_NS" "$img2" vmferry.disk_rate=50
vm_wait_ready "$src2"
vm_wait_ack "$src2" 20
mig_migrate "$src2/qmp.sock" --json --shared-storage=auto \
  --run-dir "$TEST_DIR/runs"
[ "$MIG_RC" = 0 ] || fail "vmferry migrate --shared-storage=auto failed"
grep -q 'shared storage detected for 1 of 1 disk' "$TEST_DIR/migrate.out" ||
  fail "the shared disk was not detected"
[ "$(mig_result_field storage_bytes)" = 0 ] || fail "auto: disk data copied"
[ "$(stat -c %i "$img2")" = "$ino2" ] || fail "the shared image was replaced"
[ -z "$(dst_images)" ] || fail "auto: image in storage root"
ls -a "$shared" | grep -q vmferry-shared && fail "a marker file is left"
mig_verify_moved "$src2" "$DST_RUN/sh2" "$img2"
exit 0
