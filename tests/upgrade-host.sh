#!/bin/sh
# upgrade-host.sh: contrib/upgrade-host evacuates a host.  Two small
# VMs are in a VM directory (one as NAME.qmp, one as NAME/qmp.sock).
#   1. --dry-run lists both and moves nothing;
#   2. toward a closed port it stops at the first VM (refused, exit 2)
#      and does not attempt the second; both still run here;
#   3. toward the agent both move; each guest verifies its disk and
#      memory on the destination, check-image accepts each destination
#      image, and each VM runs on exactly one host.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts
mig_start_vmferryd
up="$abs_top_srcdir/contrib/upgrade-host"
vms="$TEST_DIR/vms"
mkdir -p "$vms/up2"
for n in up1 up2; do
  mkdir -p "$TEST_DIR/$n"
  disk_create "$TEST_DIR/$n/disk0.qcow2" 1G
  vm_start "$TEST_DIR/$n" $n "$SRC_NS" "$TEST_DIR/$n/disk0.qcow2" \
    vmferry.disk_rate=50 vmferry.mem=16
done
ln -s "$TEST_DIR/up1/qmp.sock" "$vms/up1.qmp"
ln -s "$TEST_DIR/up2/qmp.sock" "$vms/up2/qmp.sock"
for n in up1 up2; do
  vm_wait_ready "$TEST_DIR/$n"
  vm_wait_ack "$TEST_DIR/$n" 5
done

# upgrade ARG...: run upgrade-host in SRC_NS; output in up.out, UP_RC.
upgrade ()
{
  ip netns exec "$SRC_NS" "$up" --vm-dir "$vms" \
    --vmferry "$abs_top_builddir/cmd/vmferry" "$@" > "$TEST_DIR/up.out" 2>&1
  UP_RC=$?
  cat "$TEST_DIR/up.out"
  echo "upgrade-host exit code: $UP_RC"
}

upgrade --to "$DST_IP" --dry-run
[ "$UP_RC" = 0 ] || fail "--dry-run failed"
grep -q 'VMs to move to .*: up1 up2$' "$TEST_DIR/up.out" ||
  fail "--dry-run did not list both VMs"
# --dry-run touched nothing on the destination (either root, QEMU).
mig_dest_clean

upgrade --to "$DST_IP:1" --log-dir "$TEST_DIR/logs1" -- --tls-dir "$SRC_TLS"
[ "$UP_RC" = 2 ] || fail "a refused evacuation exited $UP_RC, not 2"
grep -q '^  up1: refused, nothing was done (exit 2): .*could not connect' \
  "$TEST_DIR/up.out" || fail "the summary does not say why up1 failed"
grep -q '^  up2: not attempted (stopped after up1)' "$TEST_DIR/up.out" ||
  fail "it did not stop at the first failure"
[ -e "$TEST_DIR/logs1/up2.jsonl" ] && fail "up2 was attempted"
vm_running "$TEST_DIR/up1" && vm_running "$TEST_DIR/up2" ||
  fail "a VM stopped after a refused evacuation"
mig_dest_clean

upgrade --to "$DST_IP" --log-dir "$TEST_DIR/logs2" -- --tls-dir "$SRC_TLS"
[ "$UP_RC" = 0 ] || fail "the evacuation failed"
for n in up1 up2; do
  grep -q "^  $n: migrated in [0-9.]* s, downtime [0-9]* ms$" \
    "$TEST_DIR/up.out" || fail "no summary line for $n"
  vm_running "$TEST_DIR/$n" && fail "$n still runs on the source"
  dpid=$(vm_pid "$DST_RUN/$n") || fail "$n does not run on the destination"
  ip netns identify "$dpid" | grep -qx "$DST_NS" ||
    fail "$n runs outside $DST_NS"
done
[ -z "$(ls "$vms"/*.qmp "$vms"/*/qmp.sock 2>/dev/null |
       while read -r f; do [ -S "$f" ] && echo "$f"; done)" ] ||
  fail "VM sockets are still live in the VM directory"
for n in up1 up2; do
  last=$(vm_last_ack "$TEST_DIR/$n")
  vm_wait_ack "$DST_RUN/$n" $((last + 5)) 60
  vm_verify "$DST_RUN/$n" 120 ||
    fail "$n: guest verdict on the destination: $VM_VERDICT"
  vm_stop "$DST_RUN/$n"
  vm_check_image "$DST_STORAGE/$n/disk0.qcow2" "$TEST_DIR/$n/console.log" \
    "$DST_RUN/$n/console.log" || fail "$n: check-image rejected the image"
done
exit 0
