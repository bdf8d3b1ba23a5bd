#!/bin/sh
# migrate-converge-abort.sh: the guest of migrate-converge.sh (32 MiB
# rewritten as fast as it can, 100 Mbit/s link), but throttling is not
# allowed (--no-throttle) and the downtime may not grow: pre-copy
# stalls, vmferry says so, and after --timeout it cancels.  vmferry
# exits 3, the source VM runs on and verifies its disk and memory, and
# the destination's roots are empty.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 100mbit
mig_start_vmferryd

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 40
vm_start "$src" conv2 "$SRC_NS" "$img" \
  vmferry.disk_rate=50 vmferry.mem=32 vmferry.mem_rate=max \
  vmferry.mem_content=random
vm_wait_ready "$src"
vm_wait_ack "$src" 20

mig_migrate "$src/qmp.sock" --json --no-throttle --no-resume --timeout 30
out="$TEST_DIR/migrate.out"
[ "$MIG_RC" = 3 ] || fail "exit code $MIG_RC, expected 3"
actions=$(grep '"event":"converge"' "$out" | jq -r .action | tr '\n' ' ')
[ "$actions" = "stalled abort " ] || fail "convergence actions: $actions"
grep -q '"result":"failed_rolled_back"' \
  "$out" || fail "the result line does not say so"
grep '"event":"result"' "$out" | grep -q 'did not converge within --timeout' ||
  fail "the error does not name the timeout"

# The source runs on, unthrottled and untouched.
status=$(vm_qmp "$src" query-status query-block-jobs query-named-block-nodes \
           query-migrate) || fail "cannot query the source"
echo "$status" | grep -q '"status": "running"' || fail "source not running"
echo "$status" | grep -q 'vmferry-' && fail "a vmferry job or node is left"
echo "$status" | grep -q '"status": "cancelled"' ||
  fail "QEMU's migration was not cancelled"
last=$(vm_last_ack "$src")
vm_wait_ack "$src" $((last + 10)) 60
vm_verify "$src" 120 || fail "guest verdict on the source: $VM_VERDICT"

mig_dest_clean

vm_stop "$src"
vm_check_image "$img" "$src/console.log" ||
  fail "check-image rejected the source image"
exit 0
