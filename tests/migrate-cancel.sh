#!/bin/sh
# migrate-cancel.sh: SIGINT to vmferry during the disk copy.  vmferry
# exits with 3 ("failed, source VM still running, destination cleaned"),
# the source VM runs on with its workload and verifies ok, nothing of the
# migration is left on it (no block job, no NBD node), and the
# destination's storage and run roots are empty.  MIG_ENGINE selects the
# storage engine: "qemu" here (QEMU's blockdev-mirror),
# migrate-engine-cancel.sh runs this with "vmferry"; MIG_OPTS adds
# options.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
# 100 Mbit/s: 400 MiB of disk data take about 35 s, plenty of time.
mig_hosts 100mbit
mig_start_vmferryd

src="$TEST_DIR/src"
img="$src/cancel.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 400
vm_start "$src" cancel1 "$SRC_NS" "$img" \
  vmferry.disk_rate=50 vmferry.mem_rate=500
vm_wait_ready "$src"

ip netns exec "$SRC_NS" vmferry migrate "$src/qmp.sock" --to "$DST_IP" \
  --tls-dir "$SRC_TLS" --storage-engine "${MIG_ENGINE:-qemu}" \
  ${MIG_OPTS:-} --json > "$TEST_DIR/migrate.out" 2>&1 &
mig_pid=$!
cleanup_fn "kill $mig_pid 2>/dev/null"

# Wait until the copy has moved some data, then interrupt.
for i in $(seq 300); do
  done_bytes=$(grep '"event":"storage"' "$TEST_DIR/migrate.out" |
                 tail -n 1 | jq -r .done 2>/dev/null)
  [ -n "$done_bytes" ] && [ "$done_bytes" -gt 10000000 ] && break
  pid_alive "$mig_pid" || break
  sleep 0.1
done
[ -n "$done_bytes" ] && [ "$done_bytes" -gt 10000000 ] ||
  { cat "$TEST_DIR/migrate.out"; fail "the disk copy did not start"; }
echo "interrupting after $done_bytes bytes"
ls "$DST_STORAGE/cancel1" >/dev/null || fail "the destination was not prepared"
kill -INT "$mig_pid"
wait "$mig_pid"
rc=$?
cat "$TEST_DIR/migrate.out"
[ "$rc" = 3 ] || fail "exit code $rc, expected 3"
grep -q '"result":"failed_rolled_back"' \
  "$TEST_DIR/migrate.out" || fail "the result line does not say so"
mig_check_events

# The source runs on, untouched.
vm_running "$src" || fail "the source VM is gone"
status=$(vm_qmp "$src" query-status query-block-jobs query-named-block-nodes)
echo "$status" | grep -q '"status": "running"' || fail "source not running"
echo "$status" | grep -q 'vmferry-mirror' && fail "a mirror job is left"
echo "$status" | grep -q 'vmferry-nbd' && fail "an NBD node is left"
echo "$status" | grep -q 'vmferry-bm' && fail "a dirty bitmap is left"
echo "$status" | grep -q 'vmferry-resume' && fail "a write record is left"
[ -e "$img.vmferry-resume" ] && fail "a resume state file is left"
vm_qmp "$src" '{"execute":"nbd-server-start","arguments":{"addr":{"type":"unix","data":{"path":"'"$TEST_DIR"'/probe.sock"}}}}' \
  >/dev/null || fail "an NBD server is left running on the source"
last=$(vm_last_ack "$src")
vm_wait_ack "$src" $((last + 10)) 60
vm_verify "$src" 120 || fail "guest verdict on the source: $VM_VERDICT"

# The destination is clean, and nothing but vmferryd's API listens there
# (no data channel listener).
mig_dest_clean --listeners

vm_stop "$src"
vm_check_image "$img" "$src/console.log" ||
  fail "check-image rejected the source image"
exit 0
