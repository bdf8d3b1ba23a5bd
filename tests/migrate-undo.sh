#!/bin/sh
# migrate-undo.sh: vmferry undo.  A VM moved with --keep-source=1h (its
# source image quarantined) writes on the destination; vmferry undo ID
# brings it back: the destination's vmferryd migrates it to an agent that
# undo runs on the source host, resuming from the quarantined image, so
# only what the guest wrote there crosses (far below the disk's 100 MiB
# of data).  The VM then runs on the source host only, verifies, its
# image checks, and the destination's roots are empty.  Before that, an
# undo that fails leaves the VM on the destination and the quarantine
# as it was.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts
mig_start_vmferryd
runs="$TEST_DIR/runs"
mkdir -p "$runs"

src="$TEST_DIR/u1"
img="$src/u1.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 100
vm_start "$src" u1 "$SRC_NS" "$img" vmferry.disk_rate=50 vmferry.mem_rate=100
vm_wait_ready "$src"
vm_wait_ack "$src" 10

mig_migrate "$src/qmp.sock" --keep-source=1h --run-dir "$runs" --json
[ "$MIG_RC" = 0 ] || fail "vmferry migrate --keep-source=1h failed"
id=$(mig_result_field id)
rec="$runs/$id/quarantine.json"
cleanup_fn "kill $(jq -r .reaper_pid "$rec") 2>/dev/null"
dst="$DST_RUN/u1"
vm_running "$dst" || fail "the VM does not run on the destination"
[ -f "$img.vmferry-quarantine-$id" ] || fail "the source image is not quarantined"

# The guest writes on the destination.
last=$(vm_last_ack "$src")
vm_wait_ack "$dst" $((last + 30)) 60
echo "records acknowledged on the destination so far: $(vm_last_ack "$dst")"

# An undo that fails: the agent undo starts cannot make the VM's
# directory (STORAGE/NAME, STORAGE being the image's directory) because
# something else is in it.  The VM stays on the destination, the image
# gets its quarantine name back, the quarantine goes on with a new reaper.
mkdir -p "$src/u1" && touch "$src/u1/blocker"
ip netns exec "$SRC_NS" vmferry undo "$id" --run-dir "$runs" \
  > "$TEST_DIR/undo-fail.out" 2>&1 && fail "undo succeeded despite the blocker"
cat "$TEST_DIR/undo-fail.out"
vm_running "$dst" || fail "the VM left the destination after a failed undo"
[ -f "$img.vmferry-quarantine-$id" ] || fail "the quarantine name was not restored"
[ -e "$img" ] && fail "the image kept its original name after a failed undo"
[ -e "$src/.vmferry-partial" ] && fail "the staging directory is left"
[ "$(jq -r .state "$rec")" = waiting ] || fail "the quarantine does not wait again"
reaper=$(jq -r .reaper_pid "$rec")
cleanup_fn "kill $reaper 2>/dev/null"
pid_alive "$reaper" || fail "no reaper after the failed undo"
rm -r "$src/u1"

back="$runs/$id/undo/u1"
cleanup_fn "vm_kill $back"
ip netns exec "$SRC_NS" vmferry undo "$id" --run-dir "$runs" \
  > "$TEST_DIR/undo.out" 2>&1
rc=$?
cat "$TEST_DIR/undo.out"
[ "$rc" = 0 ] || fail "vmferry undo failed ($rc)"
bytes=$(sed -n 's/.*; \([0-9]*\) bytes of disk data.*/\1/p' "$TEST_DIR/undo.out")
echo "disk data sent back: $bytes bytes"
[ -n "$bytes" ] || fail "undo did not say what it sent"
[ "$bytes" -lt $((20 * 1048576)) ] ||
  fail "$bytes bytes of disk data sent back: not only what changed"

# On the source host only, from its original image path.
vm_running "$back" || fail "the VM does not run on the source host"
vm_running "$dst" && fail "the VM still runs on the destination"
[ -f "$img" ] || fail "the image is not back at $img"
[ -e "$img.vmferry-quarantine-$id" ] && fail "the quarantined name is left"
[ "$(jq -r .state "$rec")" = undone ] || fail "the record does not say undone"
mig_dir_empty "$DST_STORAGE" || { ls -laR "$DST_STORAGE"; fail "destination storage not empty"; }
mig_dir_empty "$DST_RUN" || { ls -laR "$DST_RUN"; fail "destination run root not empty"; }
[ "$(ls -A "$src")" = "$(ls -A "$src" | grep -v '^\.vmferry-partial$')" ] ||
  fail "the staging directory is left"

last=$(vm_last_ack "$back")
vm_wait_ack "$back" $((last + 10)) 60
vm_verify "$back" 120 || fail "guest verdict after undo: $VM_VERDICT"
vm_stop "$back"
vm_check_image "$img" "$src/console.log" "$back/console.log" ||
  fail "check-image rejected $img"
exit 0
