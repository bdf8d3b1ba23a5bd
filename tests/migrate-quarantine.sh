#!/bin/sh
# migrate-quarantine.sh: --keep-source=DURATION.  After the move the
# source image is renamed aside (IMAGE.vmferry-quarantine-ID), not
# deleted, and a detached reaper deletes it only once the deadline has
# passed and vmferryd confirms that the VM runs there; vmferry cancel ID
# stops the reaper and keeps the file.
#   q1: --keep-source=20s: renamed; there until the reaper deletes it, no
#       earlier than the recorded deadline; the VM verifies on the
#       destination.
#   q2: --keep-source=1h, then vmferry cancel: the reaper is gone, the
#       file stays (and holds what the guest acknowledged before the
#       move), the record says "kept"; the VM verifies on the destination.
#   q3: --keep-source=20s, and the VM is stopped on the destination
#       before the deadline: vmferryd no longer confirms it runs there,
#       so the reaper keeps the file (record "kept", saying why), and
#       the file still holds what the guest acknowledged on the source.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts
mig_start_vmferryd
runs="$TEST_DIR/runs"
mkdir -p "$runs"

# start VM NAME in $TEST_DIR/NAME with a 32 MiB prefilled disk.
start ()
{
  mkdir -p "$TEST_DIR/$1"
  disk_create "$TEST_DIR/$1/$1.qcow2" 1G 32
  vm_start "$TEST_DIR/$1" "$1" "$SRC_NS" "$TEST_DIR/$1/$1.qcow2" \
    vmferry.disk_rate=50 vmferry.mem_rate=100
  vm_wait_ready "$TEST_DIR/$1"
  vm_wait_ack "$TEST_DIR/$1" 10
}

# move NAME DURATION: migrate it with --keep-source=DURATION; sets id,
#   rec (its quarantine record) and q (the quarantined image).
move ()
{
  mig_migrate "$TEST_DIR/$1/qmp.sock" --keep-source="$2" --run-dir "$runs" \
    --json
  [ "$MIG_RC" = 0 ] || fail "vmferry migrate --keep-source=$2 failed"
  id=$(mig_result_field id)
  rec="$runs/$id/quarantine.json"
  q="$TEST_DIR/$1/$1.qcow2.vmferry-quarantine-$id"
  [ -f "$rec" ] || fail "no quarantine record $rec"
  reaper=$(jq -r .reaper_pid "$rec")
  cleanup_fn "kill $reaper 2>/dev/null"
  vm_running "$TEST_DIR/$1" && fail "the source QEMU of $1 still runs"
  vm_running "$DST_RUN/$1" || fail "$1 does not run on the destination"
  [ -e "$TEST_DIR/$1/$1.qcow2" ] && fail "the source image kept its name"
  [ -f "$q" ] || fail "no quarantined image $q"
}

start q1
start q2
start q3

echo "== q1: deleted after the deadline"
move q1 20s
q1_q=$q q1_rec=$rec q1_reaper=$reaper
[ "$(jq -r .state "$q1_rec")" = waiting ] || fail "q1's quarantine does not wait"
pid_alive "$q1_reaper" || fail "q1's reaper does not run"

echo "== q3: the VM stops on the destination before the deadline"
move q3 20s
q3_q=$q q3_rec=$rec q3_reaper=$reaper
[ "$(jq -r .state "$q3_rec")" = waiting ] || fail "q3's quarantine does not wait"
# What the guest wrote and saw acknowledged on the destination is not
# asked for: the source image's records are the ones checked below.
vm_stop "$DST_RUN/q3"
[ "$(date +%s)" -lt "$(jq -r .deadline "$q3_rec")" ] ||
  fail "q3 stopped after its deadline: the cell tests nothing"

echo "== q2: cancelled"
move q2 1h
ip netns exec "$SRC_NS" vmferry cancel "$id" --run-dir "$runs" \
  > "$TEST_DIR/cancel.out" 2>&1 || { cat "$TEST_DIR/cancel.out"; fail "cancel failed"; }
cat "$TEST_DIR/cancel.out"
grep -q 'quarantine cancelled' "$TEST_DIR/cancel.out" || fail "cancel said otherwise"
pid_alive "$reaper" && fail "q2's reaper survived the cancel"
[ "$(jq -r .state "$rec")" = kept ] || fail "q2's record does not say kept"
[ -f "$q" ] || fail "q2's quarantined image is gone"
vm_check_image "$q" "$TEST_DIR/q2/console.log" ||
  fail "check-image rejected q2's kept source image"
mig_verify_moved "$TEST_DIR/q2" "$DST_RUN/q2" "$DST_STORAGE/q2/q2.qcow2" 10

echo "== q1: waiting for its reaper"
for i in $(seq 900); do
  pid_alive "$q1_reaper" || break
  sleep 0.2
done
cat "$q1_rec"; echo
pid_alive "$q1_reaper" && fail "q1's reaper is still running"
[ "$(jq -r .state "$q1_rec")" = deleted ] || fail "q1's image was not deleted"
[ -e "$q1_q" ] && fail "q1's quarantined image is still there"
deadline=$(jq -r .deadline "$q1_rec")
deleted=$(jq -r .deleted_at "$q1_rec")
[ "$deleted" -ge "$deadline" ] || fail "deleted at $deleted, before $deadline"
mig_verify_moved "$TEST_DIR/q1" "$DST_RUN/q1" "$DST_STORAGE/q1/q1.qcow2" 10

echo "== q3: waiting for its reaper"
for i in $(seq 900); do
  pid_alive "$q3_reaper" || break
  sleep 0.2
done
cat "$q3_rec"; echo
pid_alive "$q3_reaper" && fail "q3's reaper is still running"
[ -f "$q3_q" ] || fail "q3's image was deleted although the VM stopped there"
[ "$(jq -r .state "$q3_rec")" = kept ] || fail "q3's record does not say kept"
jq -r .note "$q3_rec" | grep -q 'does not run there' ||
  fail "q3's record does not say why it kept the image"
vm_check_image "$q3_q" "$TEST_DIR/q3/console.log" ||
  fail "check-image rejected q3's kept source image"
exit 0
