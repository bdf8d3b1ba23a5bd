#!/bin/sh
# migrate-engine.sh: vmferry's own storage engine (--storage-engine
# vmferry: libnbd bulk copy of allocated extents, write mirroring, dirty
# bitmap rounds with the re-copy rule) while the guest writes records as
# fast as it can during the whole migration.  No acknowledged write may
# be lost: the guest verifies on the destination and the host checker
# finds every acknowledged record in the destination image.  The
# destination image stays sparse (only allocated data is copied).

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 500mbit
mig_start_vmferryd --once

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 200
vm_start "$src" eng1 "$SRC_NS" "$img" \
  vmferry.disk_rate=0 vmferry.disk_size=16 vmferry.mem_rate=1000
src_pid=$VM_PID
vm_wait_ready "$src"
vm_wait_ack "$src" 50

mig_migrate "$src/qmp.sock" --storage-engine vmferry --json
[ "$MIG_RC" = 0 ] || fail "vmferry migrate --storage-engine vmferry failed"
grep -q 'bulk copy done' "$TEST_DIR/migrate.out" ||
  fail "the vmferry engine did not run"
grep -q '"disks: round' "$TEST_DIR/migrate.out" ||
  grep -q 'disks: round' "$TEST_DIR/migrate.out" || fail "no copy rounds"
dst="$DST_RUN/eng1"
dimg="$DST_STORAGE/eng1/disk0.qcow2"

pid_alive "$src_pid" && fail "the source QEMU still runs"
vm_pid "$dst" >/dev/null || fail "no QEMU runs on the destination"
[ -e "$img" ] && fail "the source image was not deleted"
# Sparse: 200 MiB of data + the 16 MiB record region, not 1 GiB.
used=$(du -k "$dimg" | cut -f1)
echo "destination image uses $used KiB"
[ "$used" -lt 400000 ] || fail "the destination image is not sparse"

echo "records acknowledged on the source: $(vm_last_ack "$src")"
mig_verify_moved "$src" "$dst" "$dimg" 50
# The prefilled data arrived too (outside the record region).
mig_image_has_pattern "$dimg" 0x5a 0 200M
exit 0
