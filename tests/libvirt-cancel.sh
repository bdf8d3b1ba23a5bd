#!/bin/sh
# libvirt-cancel.sh: vmferry cancel ID during vmferry migrate
# libvirt:DOMAIN aborts libvirt's job.  The relay is paced to 2 MiB/s
# (--bandwidth 2) and the cancel comes with libvirt's first progress
# event, so that libvirt's job is still copying then.  Afterwards: vmferry exits 3 (failed, the source
# runs, the destination is clean) and says it was cancelled; the domain
# runs on the source, still defined there, and not on the destination
# (virsh list on both); libvirt says its job was aborted; the source
# image is there and the destination's image is not; nothing of the
# relay is left on either host; and the guest goes on writing and
# verifies its memory and disk.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"
. "$abs_top_srcdir/tests/libvirt-functions.sh"

guest_test_init
lv_hosts
lv_start_vmferryd
lv_guest lvc1

LV_BACKGROUND=1 lv_migrate libvirt:lvc1 --json --bandwidth 2
# Cancel once libvirt's job is copying (its first progress event).
i=0
until grep -q '"event":"\(storage\|disk\|memory\)"' "$TEST_DIR/migrate.out"; do
  i=$((i + 1))
  [ $i -le 600 ] && pid_alive "$LV_MIGRATE_PID" ||
    { cat "$TEST_DIR/migrate.out"; fail "no progress from libvirt's job"; }
  sleep 0.1
done
id=$(sed -n 's/.*"message":"migration \([0-9a-f]*\) (vmferry status.*/\1/p' \
       "$TEST_DIR/migrate.out" | head -n 1)
[ -n "$id" ] || { cat "$TEST_DIR/migrate.out"; fail "no migration id printed"; }
lv_in src vmferry cancel "$id" --run-dir "$TEST_DIR/vmferry-run" ||
  fail "vmferry cancel $id failed"
wait "$LV_MIGRATE_PID"
rc=$?
cat "$TEST_DIR/migrate.out"
echo "vmferry exit code: $rc"
[ "$rc" = 3 ] || fail "vmferry migrate exited $rc after the cancel, not 3"
mig_check_events
err=$(mig_result_field error)
echo "$err" | grep -q "cancelled by the user" || fail "the result does not say cancelled"
# libvirt's own job was aborted (virDomainAbortJob), not just cut off.
echo "$err" | grep -qi "canceled by client\|operation aborted" ||
  fail "libvirt's job was not aborted: $err"

[ "$(lv_state src lvc1)" = running ] || fail "lvc1 does not run on the source"
[ "$(lv_persistent src lvc1)" = yes ] || fail "lvc1 is no longer defined on the source"
[ "$(lv_state dst lvc1)" = none ] || fail "lvc1 exists on the destination"
lv_in dst virsh -q list --all --name | grep -qx lvc1 &&
  fail "virsh list --all on the destination shows lvc1"
lv_in src virsh -q list --name | grep -qx lvc1 ||
  fail "virsh list on the source does not show lvc1 running"
[ -f "$LV_SRC_IMG" ] || fail "the source image is gone"
[ -e "$LV_DST_IMG" ] && fail "the destination image $LV_DST_IMG is left"
lv_relay_clean
# The guest goes on on the source, whole.
last=$(vm_last_ack "$LV_SRC")
vm_wait_ack "$LV_SRC" $((last + 10)) 60
vm_verify "$LV_SRC" 120 || fail "guest verdict on the source: $VM_VERDICT"
exit 0
