#!/bin/sh
# migrate-offline.sh: vmferry migrate --offline moves a VM that is not
# running.  The guest writes records, is shut down, and its disks go
# through qemu-nbd and the data channel (link shaped to 100 Mbit/s) into
# the destination's storage root, with the rewritten command line saved
# beside them.  Checked: every acknowledged record is in the destination
# image, the VM starts there (vmferry start, from the definition the
# offline move saved) and verifies its
# disk and memory, the source files are gone, the destination image is
# sparse and the bytes on the link match the allocated data.  Refused
# (exit 2, nothing created): a running VM (its disk is locked), a missing
# --disk, an unreachable destination, a destination without the space.
# A destination that fills up during the copy fails cleanly (exit 3,
# nothing left there, the source untouched).  A raw and a qcow2 image
# given with --disk, one placed by --disk-path, with --keep-source,
# arrive byte for byte, sparse, in their formats.  A disk with a backing
# file is refused.  Ctrl-C during the copy cleans the destination.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
requires jq --version
mig_hosts 100mbit
link_if=$NETNS_IF
mig_start_vmferryd

# offline ARG...: vmferry migrate --offline in SRC_NS (mig_migrate).
offline () { mig_migrate "$@" --offline --json; }
dest_empty ()
{
  mig_dir_empty "$DST_STORAGE" && mig_dir_empty "$DST_RUN" ||
    fail "$1: the destination is not empty: $(ls -R "$DST_STORAGE" "$DST_RUN")"
}
tx () { ip -n "$SRC_NS" -s -j link show "$link_if" | jq '.[0].stats64.tx.bytes'; }
# data_bytes IMAGE: bytes of IMAGE's allocated data extents.
data_bytes ()
{
  qemu-img map --output=json "$1" |
    jq '[.[] | select(.data) | .length] | add // 0'
}

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mig_disk_with_data "$img" 64 random
vm_start "$src" off1 "$SRC_NS" "$img" vmferry.disk_size=16 \
  vmferry.mem_rate=100
vm_wait_ready "$src"
vm_wait_ack "$src" 50

echo "--- a running VM is refused (its disk is locked)"
offline off1 --argv-file "$src/qemu.args"
[ "$MIG_RC" = 2 ] || fail "a running VM: exit $MIG_RC, not 2"
grep -q 'in use' "$TEST_DIR/migrate.out" || fail "no 'in use' message"
dest_empty "running VM"
vm_running "$src" || fail "the refused move stopped the VM"

vm_stop "$src"
acked=$(vm_last_ack "$src")
echo "records acknowledged before the shutdown: $acked"

echo "--- a missing --disk is refused"
offline gone --disk "$TEST_DIR/no-such.qcow2"
[ "$MIG_RC" = 2 ] || fail "a missing disk: exit $MIG_RC, not 2"
dest_empty "missing disk"

echo "--- a disk with a backing file is refused"
qemu-img create -q -f qcow2 -b "$img" -F qcow2 "$TEST_DIR/overlay.qcow2" ||
  fail "making an overlay"
offline ovl --disk "$TEST_DIR/overlay.qcow2"
[ "$MIG_RC" = 2 ] || fail "a backing file: exit $MIG_RC, not 2"
grep -q 'backing file' "$TEST_DIR/migrate.out" || fail "no backing message"
dest_empty "backing file"

echo "--- an unreachable destination is refused"
ip netns exec "$SRC_NS" vmferry migrate off1 --offline --argv-file \
  "$src/qemu.args" --to "$DST_IP:7499" --tls-dir "$SRC_TLS" \
  > "$TEST_DIR/unreach.out" 2>&1
rc=$?
cat "$TEST_DIR/unreach.out"
[ "$rc" = 2 ] || fail "an unreachable destination: exit $rc, not 2"
[ -f "$img" ] || fail "the source image is gone after a refusal"

echo "--- the move"
data=$(data_bytes "$img")
tx0=$(tx)
offline off1 --argv-file "$src/qemu.args"
[ "$MIG_RC" = 0 ] || fail "vmferry migrate --offline failed"
wire=$(( $(tx) - tx0 ))
[ "$(mig_result_field result)" = stored ] || fail "result is not 'stored'"
mig_check_events
copied=$(mig_result_field storage_bytes)
dimg="$DST_STORAGE/off1/disk0.qcow2"
dargv="$DST_STORAGE/off1/off1.argv"
[ "$(mig_result_field argv_file)" = "$dargv" ] ||
  fail "argv_file is not $dargv"
[ -e "$img" ] && fail "the source image was not deleted"
[ -f "$dimg" ] || fail "no image $dimg"
echo "allocated data $data bytes, copied $copied, $wire bytes on the link"
[ "$copied" -ge $((64 << 20)) ] && [ "$copied" -le "$data" ] ||
  fail "copied $copied bytes of $data allocated"
# Random data does not compress: the link carries the data once, plus
# TLS, framing and control (here less than 10% + 4 MiB).
[ "$wire" -ge "$copied" ] && [ "$wire" -le $((copied * 11 / 10 + (4 << 20))) ] ||
  fail "$wire bytes on the link for $copied bytes of data"
used=$(du -k "$dimg" | cut -f1)
echo "destination image uses $used KiB of 1 GiB"
[ "$used" -lt $((data / 1024 + 16384)) ] || fail "the destination is not sparse"
grep -qxF "$dimg" "$dargv" || grep -qF "filename=$dimg," "$dargv" ||
  fail "the saved command line does not use $dimg"
grep -qF "$img" "$dargv" && fail "the saved command line names the source"

# Every record acknowledged on the source is in the destination image.
vm_check_image "$dimg" "$src/console.log" ||
  fail "check-image rejected the moved image"
mig_image_starts_with "$dimg" "$TEST_DIR/fill"

echo "--- the VM starts on the destination: vmferry start, its definition"
dst="$DST_RUN/off1"
cleanup_fn "vm_kill '$dst'"
ip netns exec "$DST_NS" vmferry list --json --vm-dir "$DST_VMS" \
  > "$TEST_DIR/list.json" || fail "vmferry list failed"
[ "$(jq -r '.vms[] | select(.name == "off1") | .state' "$TEST_DIR/list.json")" \
  = stopped ] || fail "off1 is not listed stopped: $(cat "$TEST_DIR/list.json")"
ip netns exec "$DST_NS" vmferry start off1 --vm-dir "$DST_VMS" ||
  fail "vmferry start off1 failed"
vm_running "$dst" || fail "no QEMU runs on the destination"
vm_running "$src" && fail "a QEMU runs on the source too"
vm_wait_ready "$dst"
vm_wait_ack "$dst" 20
vm_verify "$dst" 120 || fail "guest verdict on the destination: $VM_VERDICT"
vm_stop "$dst"
vm_check_image "$dimg" "$dst/console.log" ||
  fail "check-image rejected the destination's own records"

echo "--- a raw and a qcow2 image by --disk, --disk-path, --keep-source"
raw="$TEST_DIR/data.raw"
truncate -s 512M "$raw" && head -c 16M /dev/urandom > "$TEST_DIR/r16" &&
  dd if="$TEST_DIR/r16" of="$raw" bs=1M seek=100 conv=notrunc 2>/dev/null ||
  fail "making the raw image"
q2="$TEST_DIR/second.qcow2"
qemu-img create -q -f qcow2 "$q2" 64M &&
  qemu-io -f qcow2 -c "write -q -P 0x33 1M 2M" "$q2" || fail "second image"
offline raw1 --disk "$raw" --disk "$q2" --keep-source \
  --disk-path "$q2=$DST_STORAGE/raw1/moved.qcow2"
[ "$MIG_RC" = 0 ] || fail "moving a raw and a qcow2 image failed"
[ -f "$raw" ] && [ -f "$q2" ] || fail "--keep-source: a source was deleted"
mig_image_has_pattern "$DST_STORAGE/raw1/moved.qcow2" 0x33 1M 2M
mig_image_has_pattern "$DST_STORAGE/raw1/moved.qcow2" 0 0 1M
[ "$(qemu-img info --output=json "$DST_STORAGE/raw1/moved.qcow2" |
     jq -r .format)" = qcow2 ] || fail "the second image is not qcow2"
draw="$DST_STORAGE/raw1/data.raw"
[ "$(qemu-img info --output=json "$draw" | jq -r .format)" = raw ] ||
  fail "the destination is not raw"
cmp "$raw" "$draw" || fail "the raw image differs on the destination"
rused=$(du -k "$draw" | cut -f1)
echo "raw destination uses $rused KiB"
[ "$rused" -lt 20000 ] || fail "the raw destination is not sparse"
[ -e "$DST_STORAGE/raw1/raw1.argv" ] && fail "an argv file without --argv-file"

half_src="$TEST_DIR/half_src.raw"
truncate -s 64M "$half_src" && head -c 16M /dev/urandom |
  dd of="$half_src" conv=notrunc 2>/dev/null || fail "making half_src.raw"
half_src_sum=$(md5sum < "$half_src")

echo "--- Ctrl-C during the copy: the destination is cleaned"
ip netns exec "$SRC_NS" timeout 300 vmferry migrate can1 --offline \
  --disk "$half_src" --bandwidth 1 --to "$DST_IP" --tls-dir "$SRC_TLS" \
  > "$TEST_DIR/cancel.out" 2>&1 &
mig_pid=$!
for _i in $(seq 200); do
  [ -e "$DST_STORAGE/can1/half_src.raw" ] && break
  sleep 0.1
done
[ -e "$DST_STORAGE/can1/half_src.raw" ] || fail "no image made for can1"
kill -INT $mig_pid
wait $mig_pid
rc=$?
cat "$TEST_DIR/cancel.out"
[ "$rc" = 3 ] || fail "a cancelled move: exit $rc, not 3"
grep -q 'cancelled by the user' "$TEST_DIR/cancel.out" ||
  fail "the failure does not say it was cancelled"
[ -e "$DST_STORAGE/can1" ] || [ -e "$DST_RUN/can1" ] &&
  fail "the cancelled move left files: $(ls -R "$DST_STORAGE" "$DST_RUN")"
[ "$(md5sum < "$half_src")" = "$half_src_sum" ] ||
  fail "the source of the cancelled move changed"

echo "--- a destination without the space refuses; one that fills up fails"
small="$TEST_DIR/small"
mkdir -p "$small/storage" "$small/run"
mount -t tmpfs -o size=24m tmpfs "$small/storage" || fail "mount tmpfs"
cleanup_fn "umount '$small/storage'"
ip netns exec "$DST_NS" vmferryd --listen "$DST_IP:7481" \
  --storage-root "$small/storage" --run-root "$small/run" \
  --vm-dir "$small/vms" --tls-dir "$DST_TLS" \
  > "$TEST_DIR/vmferryd-small.log" 2>&1 &
small_pid=$!
cleanup_fn "kill $small_pid 2>/dev/null"
for _i in $(seq 100); do
  grep -q 'listening on' "$TEST_DIR/vmferryd-small.log" && break
  sleep 0.1
done
big="$TEST_DIR/big.raw"
truncate -s 256M "$big" && head -c 32M /dev/urandom |
  dd of="$big" conv=notrunc 2>/dev/null || fail "making big.raw"
ip netns exec "$SRC_NS" vmferry migrate big1 --offline --disk "$big" \
  --to "$DST_IP:7481" --tls-dir "$SRC_TLS" > "$TEST_DIR/full.out" 2>&1
rc=$?
cat "$TEST_DIR/full.out"
[ "$rc" = 2 ] || fail "32 MiB into 24 MiB: exit $rc, not 2"
grep -q 'not enough space' "$TEST_DIR/full.out" || fail "no space message"
mig_dir_empty "$small/storage" || fail "the full destination holds files"

half="$TEST_DIR/half.raw"
truncate -s 256M "$half" && head -c 16M /dev/urandom |
  dd of="$half" conv=notrunc 2>/dev/null || fail "making half.raw"
half_sum=$(md5sum < "$half")
# Slow (2 MiB/s), so that the filler takes the space while it copies.
# (timeout: a source that waits forever on the reset stream would hang
# the test rather than fail it.)
ip netns exec "$SRC_NS" timeout 300 vmferry migrate half1 --offline \
  --disk "$half" --bandwidth 2 --to "$DST_IP:7481" --tls-dir "$SRC_TLS" \
  > "$TEST_DIR/fills.out" 2>&1 &
mig_pid=$!
for _i in $(seq 200); do
  [ -e "$small/storage/half1/half.raw" ] && break
  sleep 0.1
done
[ -e "$small/storage/half1/half.raw" ] || fail "no image made for half1"
dd if=/dev/zero of="$small/storage/filler" bs=1M 2>/dev/null
wait $mig_pid
rc=$?
rm -f "$small/storage/filler"
cat "$TEST_DIR/fills.out"
[ "$rc" = 3 ] || fail "a destination that fills up: exit $rc, not 3"
grep -q 'No space left on device' "$TEST_DIR/fills.out" ||
  fail "the failure does not say the destination is full"
mig_dir_empty "$small/storage" && mig_dir_empty "$small/run" ||
  fail "the failed move left files: $(ls -R "$small")"
[ "$(md5sum < "$half")" = "$half_sum" ] ||
  fail "the source of the failed move changed"
exit 0
