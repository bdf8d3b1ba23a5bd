#!/bin/sh
# boot-guest.sh: the test guest boots, its workload writes to disk and
# memory, verifies them on request, and check-image accepts its disk
# image with its console log.  Under TCG; under KVM too when kvm_works.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"

guest_test_init

# boot_and_check ACCEL: one guest run under ACCEL.
boot_and_check ()
{
  dir="$TEST_DIR/$1"
  img="$TEST_DIR/$1.qcow2"
  disk_create "$img" 1G 16
  VM_ACCEL=$1 vm_start "$dir" "boot-$1" "" "$img" \
    vmferry.disk_rate=100 vmferry.mem_rate=2000
  vm_wait_ready "$dir" 60
  # Ten of each, however long a loaded machine takes (at most 60 s;
  # about 0.1 s apart when the guest runs normally).
  counted () {
    acks=$(grep -ac '^ACK ' "$dir/console.log")
    hbs=$(grep -ac '^HB ' "$dir/console.log")
    [ "$acks" -ge 10 ] && [ "$hbs" -ge 10 ]
  }
  t0=$(date +%s)
  wait_until 60 counted
  echo "$1: $acks ACK lines, $hbs heartbeats after $(( $(date +%s) - t0 )) s"
  [ "$acks" -ge 10 ] || { vm_log_tail "$dir"; fail "$1: too few ACK lines"; }
  [ "$hbs" -ge 10 ] || { vm_log_tail "$dir"; fail "$1: too few heartbeats"; }

  vm_verify "$dir" 60 || fail "$1: in-guest verify: ${VM_VERDICT:-no verdict}"
  # A second verify must work too, after more records.
  first=$(echo "$VM_VERDICT" | sed -n 's/.* disk=\([0-9]*\) .*/\1/p')
  vm_wait_ack "$dir" $(( $(vm_last_ack "$dir") + 5 )) 60
  vm_verify "$dir" 60 || fail "$1: second verify: ${VM_VERDICT:-no verdict}"
  second=$(echo "$VM_VERDICT" | sed -n 's/.* disk=\([0-9]*\) .*/\1/p')
  [ -n "$first" ] && [ -n "$second" ] && [ "$second" -gt "$first" ] ||
    fail "$1: the second verify did not see more records ($first, then $second)"

  vm_stop "$dir"
  vm_check_image "$img" "$dir/console.log" ||
    fail "$1: check-image rejected the image"
  # Every record the guest acknowledged must have been counted.
  last=$(vm_last_ack "$dir")
  vm_check_image "$img" "$dir/console.log" |
    grep -q " $last acknowledged records present" ||
    fail "$1: check-image did not find all $last acknowledged records"
}

boot_and_check tcg

if kvm_works; then
  boot_and_check kvm
else
  echo "$0: KVM part skipped: $KVM_WHY"
fi
