#!/bin/sh
# migrate-cancel-id.sh: vmferry status and vmferry cancel ID from
# another process, during memory pre-copy (a guest that dirties memory
# faster than the 100 Mbit/s link, not throttled, so pre-copy lasts).
# status lists the migration and shows its memory round; cancel waits
# for the rollback and prints the result; vmferry migrate exits 3; the
# source VM runs on and verifies its disk and memory; the destination's
# roots are empty; a second cancel is refused; the control socket is
# gone and the state file keeps the result.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 100mbit
mig_start_vmferryd

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
runs="$TEST_DIR/runs"
mkdir -p "$src"
disk_create "$img" 1G 40
vm_start "$src" cid1 "$SRC_NS" "$img" \
  vmferry.disk_rate=50 vmferry.mem=32 vmferry.mem_rate=max \
  vmferry.mem_content=random
vm_wait_ready "$src"
vm_wait_ack "$src" 20

ip netns exec "$SRC_NS" vmferry migrate "$src/qmp.sock" --to "$DST_IP" \
  --tls-dir "$SRC_TLS" --no-throttle --no-resume --run-dir "$runs" \
  > "$TEST_DIR/migrate.out" 2>&1 &
mig_pid=$!
cleanup_fn "kill $mig_pid 2>/dev/null"

# Wait for the second pre-copy round, as vmferry status reports it.
for i in $(seq 600); do
  st=$(vmferry status --json --run-dir "$runs" 2>/dev/null)
  round=$(printf '%s\n' "$st" | jq -r '.memory.round // 0' 2>/dev/null)
  [ -n "$round" ] && [ "$round" -ge 2 ] && break
  pid_alive "$mig_pid" || break
  sleep 0.1
done
cat "$TEST_DIR/migrate.out"
[ -n "$round" ] && [ "$round" -ge 2 ] || fail "no second round in status: $st"
id=$(printf '%s\n' "$st" | jq -r .id)
[ "$(printf '%s\n' "$st" | jq -r .phase)" = memory ] || fail "phase: $st"
vmferry status "$id" --run-dir "$runs" | grep -q "^$id .* memory  *running" ||
  fail "vmferry status $id does not show the memory phase"

vmferry cancel "$id" --run-dir "$runs" > "$TEST_DIR/cancel.out" 2>&1 ||
  { cat "$TEST_DIR/cancel.out"; fail "vmferry cancel failed"; }
cat "$TEST_DIR/cancel.out"
grep -q "destination cleaned" "$TEST_DIR/cancel.out" ||
  fail "cancel did not report the result"
wait "$mig_pid"
rc=$?
cat "$TEST_DIR/migrate.out"
[ "$rc" = 3 ] || fail "vmferry migrate exit code $rc, expected 3"
grep -q "cancelled by the user" "$TEST_DIR/migrate.out" ||
  fail "migrate does not say it was cancelled"
vmferry cancel "$id" --run-dir "$runs" && fail "a second cancel succeeded"
[ -e "$runs/$id/control.sock" ] && fail "the control socket is left"
jq -e '.result.exit_code == 3' "$runs/$id/state.json" >/dev/null ||
  fail "the state file does not keep the result"

status=$(vm_qmp "$src" query-status query-block-jobs query-named-block-nodes) ||
  fail "cannot query the source"
echo "$status" | grep -q '"status": "running"' || fail "source not running"
echo "$status" | grep -q 'vmferry-' && fail "a vmferry job or node is left"
last=$(vm_last_ack "$src")
vm_wait_ack "$src" $((last + 10)) 60
vm_verify "$src" 120 || fail "guest verdict on the source: $VM_VERDICT"
mig_dest_clean

vm_stop "$src"
vm_check_image "$img" "$src/console.log" ||
  fail "check-image rejected the source image"
exit 0
