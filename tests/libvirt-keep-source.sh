#!/bin/sh
# libvirt-keep-source.sh: vmferry migrate libvirt:DOMAIN
# --keep-source=DURATION in the libvirt lab (libvirt-functions.sh).
# libvirt never deletes a migrated domain's images; vmferry renames them
# aside (IMAGE.vmferry-quarantine-ID) and its detached reaper deletes
# them once the deadline has passed and the destination's libvirt says
# the domain runs there.  Asserted: the image is renamed, not deleted,
# the record waits with its deadline; the reaper deletes it no earlier
# than the deadline and records it; vmferry undo refuses a libvirt
# domain's quarantine with a clear message; the domain runs on the
# destination only and its guest verifies its memory and disk.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"
. "$abs_top_srcdir/tests/libvirt-functions.sh"

guest_test_init
lv_hosts
lv_start_vmferryd --once
lv_guest lvk1

lv_migrate libvirt:lvk1 --json --keep-source=20s
[ "$MIG_RC" = 0 ] || fail "vmferry migrate libvirt:lvk1 --keep-source=20s failed"
mig_check_events
id=$(mig_result_field id)
[ "$(mig_result_field quarantine_s)" = 20 ] || fail "the result has no quarantine_s 20"
[ "$(mig_result_field source_deleted)" = false ] || fail "source_deleted is not false"
rec="$TEST_DIR/vmferry-run/$id/quarantine.json"
[ -f "$rec" ] || fail "no quarantine record $rec"
reaper=$(jq -r .reaper_pid "$rec")
cleanup_fn "kill $reaper 2>/dev/null"
cat "$rec"; echo
q="$LV_SRC_IMG.vmferry-quarantine-$id"
[ -e "$LV_SRC_IMG" ] && fail "the source image kept its name"
[ -f "$q" ] || fail "no quarantined image $q"
[ "$(jq -r .state "$rec")" = waiting ] || fail "the quarantine does not wait"
[ "$(jq -r .domain "$rec")" = lvk1 ] || fail "the record does not name the domain"
pid_alive "$reaper" || fail "the reaper does not run"
[ "$(lv_state dst lvk1)" = running ] || fail "lvk1 does not run on the destination"
[ "$(lv_state src lvk1)" = none ] || fail "lvk1 is still defined on the source"

lv_in src vmferry undo "$id" --run-dir "$TEST_DIR/vmferry-run" \
  > "$TEST_DIR/undo.out" 2>&1 && fail "vmferry undo of a libvirt domain succeeded"
cat "$TEST_DIR/undo.out"
grep -q "libvirt moves it back" "$TEST_DIR/undo.out" || fail "undo did not say why"
pid_alive "$reaper" || fail "the refused undo stopped the reaper"

echo "== waiting for the reaper"
for i in $(seq 600); do
  pid_alive "$reaper" || break
  sleep 0.2
done
cat "$rec"; echo
pid_alive "$reaper" && fail "the reaper is still running"
[ "$(jq -r .state "$rec")" = deleted ] || fail "the quarantined image was not deleted"
[ -e "$q" ] && fail "the quarantined image $q is still there"
deadline=$(jq -r .deadline "$rec")
deleted=$(jq -r .deleted_at "$rec")
[ "$deleted" -ge "$deadline" ] || fail "deleted at $deleted, before $deadline"
lv_relay_clean
lv_verify_moved lvk1
exit 0
