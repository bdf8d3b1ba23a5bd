#!/bin/sh
# workload-selftest.sh: the in-guest verifier can fail.  With
# vmferry.selftest=1 the workload accepts "corrupt-mem" (flip one byte of
# one pattern page) and "corrupt-disk" (flip one byte of the newest record
# on the disk); verify must then report each, and check-image must reject
# the image.  Without selftest the commands are refused.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"

guest_test_init

dir="$TEST_DIR/vm"
img="$TEST_DIR/disk.qcow2"

# send_wait LINE ERE: type LINE on the console, wait for the answer.
send_wait ()
{
  off=$(vm_log_size "$dir")
  vm_send "$dir" "$1"
  vm_wait_log "$dir" "$2" 30 "$off" || fail "no answer to $1"
  echo "$1 -> $VM_LINE"
}

disk_create "$img" 1G
vm_start "$dir" selftest "" "$img" vmferry.selftest=1 vmferry.disk_rate=50 \
  vmferry.mem=16 vmferry.mem_rate=500 vmferry.mem_content=random
vm_wait_ready "$dir"
sleep 1

vm_verify "$dir" || fail "verify before any corruption: ${VM_VERDICT:-none}"
send_wait status '^STATUS acked=[0-9]+ '

send_wait corrupt-mem '^SELFTEST '
vm_verify "$dir"
[ $? -eq 1 ] || fail "verify did not fail after corrupt-mem"
case "$VM_VERDICT" in
  "VERDICT fail mem page "*) ;;
  *) fail "unexpected verdict after corrupt-mem: $VM_VERDICT" ;;
esac

send_wait corrupt-disk '^SELFTEST corrupted disk slot'
vm_verify "$dir"
[ $? -eq 1 ] || fail "verify did not fail after corrupt-disk"
case "$VM_VERDICT" in
  "VERDICT fail disk slot "*"bad checksum; mem page "*) ;;
  *) fail "unexpected verdict after corrupt-disk: $VM_VERDICT" ;;
esac

vm_stop "$dir"
out=$(vm_check_image "$img" "$dir/console.log")
st=$?
echo "$out"
[ $st -eq 1 ] || fail "check-image exited $st on the corrupted image, not 1"
echo "$out" | grep -q "bad checksum" || fail "check-image missed the damage"

# Without selftest=1 the corruption commands are refused.
dir2="$TEST_DIR/vm2"
vm_start "$dir2" noselftest "" "" vmferry.disk=none vmferry.mem=4 \
  vmferry.mem_rate=0
vm_wait_ready "$dir2"
dir=$dir2
send_wait corrupt-mem '^(UNKNOWN-COMMAND|SELFTEST)'
case "$VM_LINE" in
  UNKNOWN-COMMAND*) ;;
  *) fail "corrupt-mem was accepted without selftest=1" ;;
esac
vm_verify "$dir2" || fail "verify without a disk: ${VM_VERDICT:-none}"
case "$VM_VERDICT" in
  "VERDICT ok disk=0 mem=1024") ;;
  *) fail "unexpected verdict without a disk: $VM_VERDICT" ;;
esac
vm_stop "$dir2"
