#!/bin/sh
# recover.sh: vmferry killed with SIGKILL in the middle of a migration
# (vmferry's engine), then vmferry recover.  Held (VMFERRY_TEST_HOLD)
# and killed at three points, with one guest that keeps writing:
#   storage     bulk copy about to start (bitmaps, exports, NBD server,
#               data channel, TLS object exist): rolled back
#   switchover  guest paused at pre-switchover, mirrors running: the
#               migration is cancelled, the guest resumes: rolled back
#   (vmferryd)  vmferryd killed in finish, before it resumes the VM:
#               vmferry exits 5, the restarted vmferryd rolls back from
#               its journal ("finishing", skeleton not running), recover
#               resumes the source: rolled back
#   cleanup     the destination VM runs, the source QEMU is paused after
#               the completed migration: recover quits it and deletes
#               the source image: moved
# After each rollback the source runs with nothing of vmferry left on
# it, the destination is empty, the guest verifies; a second recover
# finds nothing to do.  After the move the guest verifies on the
# destination and check-image accepts its image.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"
. "$abs_top_srcdir/tests/recover-functions.sh"

guest_test_init
mig_hosts
mig_start_vmferryd

SRC_VM="$TEST_DIR/src"
RUNS="$TEST_DIR/runs"
img="$SRC_VM/disk0.qcow2"
mkdir -p "$SRC_VM"
disk_create "$img" 64M 20
vm_start "$SRC_VM" rec1 "$SRC_NS" "$img" \
  vmferry.disk_offset=32 vmferry.disk_size=16 vmferry.mem=32
vm_wait_ready "$SRC_VM"
vm_wait_ack "$SRC_VM" 10

for point in storage switchover; do
  rec_migrate_held "$point"
  [ -n "$(ls -A "$DST_STORAGE")" ] || fail "the destination was not prepared"
  rec_kill_vmferry
  ip netns exec "$SRC_NS" vmferry status "$MIG_ID" --run-dir "$RUNS"
  rec_recover 0
  echo "$REC_OUT" | grep -q "^$MIG_ID  vm rec1: rolled back$" ||
    fail "recover did not roll $MIG_ID back"
  rec_source_clean
  mig_dest_clean
  rec_source_verified
  rec_recover 0
  [ -z "$REC_OUT" ] || fail "a second recover did something: $REC_OUT"
done

# vmferryd killed while finishing (its journal says "finishing", the
# skeleton was not resumed yet): vmferry cannot know (exit 5, VM paused
# on the source); the restarted vmferryd rolls the skeleton back; recover
# then finds the migration unknown there and resumes the source.
kill "$VMFERRYD_PID"
wait "$VMFERRYD_PID" 2>/dev/null
VMFERRY_TEST_HOLD="finish:$TEST_DIR/never"
export VMFERRY_TEST_HOLD
mig_start_vmferryd
unset VMFERRY_TEST_HOLD
ip netns exec "$SRC_NS" vmferry migrate "$SRC_VM/qmp.sock" --to "$DST_IP" \
  --tls-dir "$SRC_TLS" --storage-engine vmferry --no-resume --run-dir "$RUNS" \
  > "$TEST_DIR/migrate-finish.out" 2>&1 &
mig_pid=$!
cleanup_fn "kill -9 $mig_pid 2>/dev/null"
rec_wait_for "$TEST_DIR/vmferryd.log" 'test hold: at finish' "$mig_pid" \
  "vmferryd did not reach finish"
id=$(grep -o 'migration [0-9a-f]\{16\}' "$TEST_DIR/migrate-finish.out" |
       head -n 1 | cut -d' ' -f2)
grep -q '"state": "finishing"' "$DST_STORAGE/.vmferryd-journal/$id.json" ||
  fail "the journal entry does not say finishing"
kill -9 "$VMFERRYD_PID"
wait "$mig_pid"
rc=$?
grep -v 'debug:' "$TEST_DIR/migrate-finish.out" | tail -n 3
[ "$rc" = 5 ] || fail "vmferry exit code $rc after vmferryd died in finish"
mig_start_vmferryd
grep -q "recovery: migration $id (VM rec1) was not finished: rolled back (skeleton QEMU killed, files removed)" \
  "$TEST_DIR/vmferryd.log" || { cat "$TEST_DIR/vmferryd.log"; fail "vmferryd did not roll $id back"; }
rec_recover 0
echo "$REC_OUT" | grep -q "^$id  vm rec1: rolled back$" ||
  fail "recover did not roll $id back"
rec_source_clean
mig_dest_clean
rec_source_verified

src_pid=$(vm_pid "$SRC_VM")
rec_migrate_held cleanup
rec_kill_vmferry
vm_qmp "$SRC_VM" query-status | grep -q '"status": "postmigrate"' ||
  fail "the source QEMU is not paused after the migration"
rec_recover 0
echo "$REC_OUT" | grep -q "^$MIG_ID  vm rec1: moved$" ||
  fail "recover did not finish the move of $MIG_ID"
pid_alive "$src_pid" && fail "the source QEMU still runs"
[ -e "$img" ] && fail "the source image was not deleted"
rec_recover 0
[ -z "$REC_OUT" ] || fail "a second recover did something: $REC_OUT"
mig_verify_moved "$SRC_VM" "$DST_RUN/rec1" "$DST_STORAGE/rec1/disk0.qcow2" 5
exit 0
