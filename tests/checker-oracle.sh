#!/bin/sh
# checker-oracle.sh: check-image can fail.  A short guest run writes a
# small record region (256 slots) until it has wrapped around; then, on
# copies of its image, one damaged record, one zeroed acknowledged
# record, a record moved to the wrong slot, a stale (older, valid)
# record and an acknowledgement the disk never got must each make
# check-image exit 1 naming the problem, while the untouched image
# passes, as raw and as qcow2.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"

guest_test_init

dir="$TEST_DIR/vm"
img="$TEST_DIR/disk.qcow2"
slots=256
region=$((768 * 1024 * 1024))

# slot_offset SEQ: byte offset in the image of SEQ's slot.
slot_offset ()
{
  echo $((region + ($1 % slots) * 4096))
}

# flip_byte FILE OFFSET: invert the lowest bit of the byte at OFFSET.
flip_byte ()
{
  b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
  # shellcheck disable=SC2059
  printf "\\$(printf %03o $((b ^ 1)))" |
    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# copy_record FROM FROM_OFFSET TO TO_OFFSET: copy one 4 KiB record.
copy_record ()
{
  dd if="$1" bs=4096 skip=$(($2 / 4096)) count=1 status=none |
    dd of="$3" bs=4096 seek=$(($4 / 4096)) conv=notrunc status=none
}

# expect_fail WHAT PATTERN CHECK_IMAGE_ARGS...: check-image must exit 1
# and its summary must match PATTERN.
expect_fail ()
{
  what=$1 pattern=$2
  shift 2
  out=$(vm_check_image "$@")
  st=$?
  echo "$what: exit $st: $out"
  [ $st -eq 1 ] || fail "$what: check-image exited $st, not 1"
  echo "$out" | grep -q "$pattern" ||
    fail "$what: check-image did not report /$pattern/"
}

disk_create "$img" 1G
vm_start "$dir" oracle "" "$img" vmferry.disk_size=1 vmferry.disk_rate=300 \
  vmferry.mem=8 vmferry.mem_rate=0 vmferry.hb=1000
vm_wait_ready "$dir"
vm_wait_ack "$dir" 50

# Snapshot 1: stop the guest (QEMU drains and flushes), copy, go on.
vm_qmp "$dir" stop > /dev/null || fail "QMP stop failed"
first=$(vm_last_ack "$dir")
qemu-img convert -U -f qcow2 -O raw "$img" "$TEST_DIR/snap1.raw" ||
  fail "cannot copy the image of the paused guest"
vm_qmp "$dir" cont > /dev/null || fail "QMP cont failed"

# Run until every slot has been rewritten since snapshot 1.
vm_wait_ack "$dir" $((first + slots + 20))
vm_stop "$dir"
log="$dir/console.log"
last=$(vm_last_ack "$dir")
echo "snapshot at seq $first, stopped at seq $last"

# The untouched image passes, as qcow2 and as raw.
vm_check_image "$img" "$log" || fail "the untouched qcow2 image fails"
qemu-img convert -f qcow2 -O raw "$img" "$TEST_DIR/good.raw" ||
  fail "qemu-img convert failed"
vm_check_image --format raw "$TEST_DIR/good.raw" "$log" ||
  fail "the untouched raw image fails"

# 1. One flipped payload byte in the newest acknowledged record.
cp --sparse=always "$TEST_DIR/good.raw" "$TEST_DIR/flip.raw"
flip_byte "$TEST_DIR/flip.raw" $(($(slot_offset "$last") + 1000))
expect_fail "flipped byte" "bad checksum" "$TEST_DIR/flip.raw" "$log"

# 2. The same in the qcow2 image, through qemu-io (read back via qemu-nbd).
cp "$img" "$TEST_DIR/flip.qcow2"
off=$(($(slot_offset $((last - 5))) + 40))
b=$(od -An -tu1 -j "$off" -N 1 "$TEST_DIR/good.raw" | tr -d ' ')
qemu-io -f qcow2 -c "write -q -P $((b ^ 0x80)) $off 1" "$TEST_DIR/flip.qcow2" ||
  fail "qemu-io write failed"
expect_fail "flipped byte (qcow2)" "bad checksum" "$TEST_DIR/flip.qcow2" "$log"

# 3. An acknowledged record zeroed (a lost write).
cp --sparse=always "$TEST_DIR/good.raw" "$TEST_DIR/zero.raw"
dd if=/dev/zero of="$TEST_DIR/zero.raw" bs=4096 count=1 conv=notrunc \
   seek=$(($(slot_offset "$last") / 4096)) status=none
expect_fail "zeroed record" "acknowledged seq $last .* is missing" \
  "$TEST_DIR/zero.raw" "$log"

# 4. A valid record copied into another slot.
cp --sparse=always "$TEST_DIR/good.raw" "$TEST_DIR/moved.raw"
copy_record "$TEST_DIR/good.raw" "$(slot_offset "$last")" \
  "$TEST_DIR/moved.raw" "$(slot_offset $((last - 1)))"
expect_fail "record in the wrong slot" "wrong slot" "$TEST_DIR/moved.raw" "$log"

# 5. A stale record: the slot's content from snapshot 1, valid but older
#    than what was acknowledged since (what a lost mirror write leaves).
cp --sparse=always "$TEST_DIR/good.raw" "$TEST_DIR/stale.raw"
copy_record "$TEST_DIR/snap1.raw" "$(slot_offset "$first")" \
  "$TEST_DIR/stale.raw" "$(slot_offset "$first")"
expect_fail "stale record" \
  "holds seq $first .* but seq [0-9]* .* was acknowledged" \
  "$TEST_DIR/stale.raw" "$log"

# 6. An acknowledgement the disk never got: the log claims seq
#    last + slots, which would have replaced seq last in its slot.  (Not
#    last + 1: the guest may have written it, unacknowledged, before the
#    stop.)
cp "$log" "$TEST_DIR/extra.log"
extra=$((last + slots))
echo "ACK $extra-$extra" >> "$TEST_DIR/extra.log"
expect_fail "extra ACK" \
  "holds seq $last .* but seq $extra of run .* was acknowledged" \
  "$TEST_DIR/good.raw" "$TEST_DIR/extra.log"

# Usage errors and unreadable input exit 2, not 1.
vm_check_image > /dev/null
[ $? -eq 2 ] || fail "check-image without arguments did not exit 2"
vm_check_image "$TEST_DIR/nonexistent" "$log" > /dev/null
[ $? -eq 2 ] || fail "check-image on a missing image did not exit 2"

echo "$0: the oracle failed in all 6 damaged cases and passed the good image"
