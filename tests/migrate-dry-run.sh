#!/bin/sh
# migrate-dry-run.sh: vmferry migrate --dry-run rehearses a migration
# live: check, prepare (the destination starts the paused skeleton QEMU
# with its TLS NBD export and migration listener), the source QEMU
# connects to the export over TLS, then everything is torn down.
# Asserts: exit 0, result "rehearsed" with the disk's NBD+TLS connection
# among what was exercised; the source VM is untouched (running, the
# same block nodes, no vmferry TLS object, no migration ran, its image
# still there) and the destination clean (empty roots, no QEMU left,
# vmferryd still serving).  Then a real migration of the same VM works,
# verified by the guest and the host checker.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts
mig_start_vmferryd

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 32
vm_start "$src" rehearse1 "$SRC_NS" "$img" vmferry.disk_rate=100
vm_wait_ready "$src"
vm_wait_ack "$src" 10

# The source's state that must not change.
src_state ()
{
  vm_qmp "$src" '{"execute":"query-named-block-nodes"}' |
    grep -o '"node-name": "[^"]*"' | sort
  vm_qmp "$src" '{"execute":"qom-list","arguments":{"path":"/objects"}}' |
    grep -o '"name": "[^"]*"' | sort
  vm_qmp "$src" query-migrate | grep '"return"'
}
src_state > "$TEST_DIR/before"
grep -q '"node-name": "disk0"' "$TEST_DIR/before" || fail "no disk0 node"

mig_migrate "$src/qmp.sock" --dry-run --json
[ "$MIG_RC" = 0 ] || fail "vmferry migrate --dry-run failed"
[ "$(mig_result_field result)" = rehearsed ] || fail "result is not rehearsed"
mig_check_events
mig_result_field 'exercised[]' > "$TEST_DIR/exercised"
grep -q '^disk disk0: the source QEMU connected to its NBD export on .* with TLS' \
  "$TEST_DIR/exercised" || fail "the disk's NBD export was not exercised"
grep -q '^destination: skeleton QEMU started paused' "$TEST_DIR/exercised" ||
  fail "the skeleton was not started"

# The source VM is untouched.
vm_qmp "$src" query-status | grep -q '"status": "running"' ||
  fail "the source VM is not running"
src_state > "$TEST_DIR/after"
diff "$TEST_DIR/before" "$TEST_DIR/after" ||
  fail "the source VM's block nodes, objects or migration state changed"
grep -q vmferry "$TEST_DIR/after" && fail "vmferry's nodes or objects remain"
[ -f "$img" ] || fail "the source image is gone"

# The destination is clean, and its agent serves on.
mig_dir_empty "$DST_STORAGE" || fail "storage root not empty"
mig_dir_empty "$DST_RUN" || fail "run root not empty"
pgrep -f -- "$DST_RUN/" && fail "a QEMU of the destination still runs"
pid_alive "$VMFERRYD_PID" || fail "vmferryd stopped"

# A real migration after the rehearsal.
last=$(vm_last_ack "$src")
vm_wait_ack "$src" $((last + 5)) 60
mig_migrate "$src/qmp.sock" --json
[ "$MIG_RC" = 0 ] || fail "the migration after the rehearsal failed"
dst="$DST_RUN/rehearse1"
vm_running "$src" && fail "the source QEMU still runs"
vm_running "$dst" || fail "no QEMU runs on the destination"
mig_verify_moved "$src" "$dst" "$DST_STORAGE/rehearse1/disk0.qcow2" 10
exit 0
