#!/bin/sh
# migrate-undo.sh: vmferry undo.  A VM moved with --keep-source=1h (its
# source image quarantined) writes on the destination; vmferry undo ID
# brings it back: the destination's vmferryd migrates it to an agent that
# undo runs on the source host, resuming from the quarantined image, so
# only what the guest wrote there crosses: far below the disk's 300 MiB
# of random data, as undo says and as the destination's link counts
# (the memory crosses too).  The VM then runs on the source host only,
# in the same run (no reboot), verifies, its image holds the data and
# every record acknowledged on the source and on the destination, and
# the destination's roots are empty.  Before that, an undo that fails
# (exit 1, the destination's refusal named) leaves the VM on the
# destination and the quarantine as it was, with a new reaper.

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
# Random data: compression cannot hide a full copy on the link.
mig_disk_with_data "$img" 300 random
vm_start "$src" u1 "$SRC_NS" "$img" vmferry.disk_rate=50 vmferry.mem=16 \
  vmferry.mem_rate=100
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
# The destination's console log goes with its run directory when the VM
# leaves: a hard link keeps what the guest printed there (QEMU writes
# on into the same file until it quits).
mkdir "$TEST_DIR/dst-log" &&
  ln "$dst/console.log" "$TEST_DIR/dst-log/console.log" ||
  fail "cannot link the destination's console log"

# The guest writes on the destination.
last=$(vm_last_ack "$src")
vm_wait_ack "$dst" $((last + 30)) 60
echo "records acknowledged on the destination so far: $(vm_last_ack "$dst")"

# An undo that fails: the agent undo starts cannot make the VM's
# directory (STORAGE/NAME, STORAGE being the image's directory) because
# something else is in it.  The VM stays on the destination, the image
# gets its quarantine name back, the quarantine goes on with a new reaper.
mkdir -p "$src/u1" && touch "$src/u1/blocker"
old_reaper=$(jq -r .reaper_pid "$rec")
pid_alive "$old_reaper" || fail "no reaper before the failed undo"
ip netns exec "$SRC_NS" vmferry undo "$id" --run-dir "$runs" \
  > "$TEST_DIR/undo-fail.out" 2>&1
rc=$?
cat "$TEST_DIR/undo-fail.out"
[ "$rc" = 1 ] || fail "the failed undo exited $rc, expected 1"
grep -q "^vmferry undo: undo failed, the VM runs on $DST_IP: refused, nothing was done" \
  "$TEST_DIR/undo-fail.out" || fail "the failed undo does not say the VM stayed there"
grep -q "$src/u1: a VM of that name already exists" "$TEST_DIR/undo-fail.out" ||
  fail "the failed undo does not name the blocked directory"
vm_running "$dst" || fail "the VM left the destination after a failed undo"
[ -f "$img.vmferry-quarantine-$id" ] || fail "the quarantine name was not restored"
[ -e "$img" ] && fail "the image kept its original name after a failed undo"
[ -e "$src/.vmferry-partial" ] && fail "the staging directory is left"
[ "$(jq -r .state "$rec")" = waiting ] || fail "the quarantine does not wait again"
reaper=$(jq -r .reaper_pid "$rec")
cleanup_fn "kill $reaper 2>/dev/null"
pid_alive "$old_reaper" && fail "the reaper from before the undo still runs"
[ "$reaper" != "$old_reaper" ] || fail "the record still names the old reaper"
pid_alive "$reaper" || fail "no reaper after the failed undo"
tr '\0' ' ' < "/proc/$reaper/cmdline" | grep -q "quarantine-reap $id" ||
  fail "process $reaper is not the reaper of $id: $(tr '\0' ' ' < "/proc/$reaper/cmdline")"
rm -r "$src/u1"

back="$runs/$id/undo/u1"
cleanup_fn "vm_kill $back"
# What the destination host puts on the link during the undo: the
# memory (16 MiB of the workload's, the kernel's) and what the guest
# wrote there; a full copy would add the 300 MiB of random data.
dst_tx () { ip -n "$DST_NS" -s -j link show "$NETNS_IF" | jq '.[0].stats64.tx.bytes'; }
tx0=$(dst_tx)
ip netns exec "$SRC_NS" vmferry undo "$id" --run-dir "$runs" \
  > "$TEST_DIR/undo.out" 2>&1
rc=$?
wire=$(( $(dst_tx) - tx0 ))
cat "$TEST_DIR/undo.out"
[ "$rc" = 0 ] || fail "vmferry undo failed ($rc)"
bytes=$(sed -n 's/.*; \([0-9]*\) bytes of disk data.*/\1/p' "$TEST_DIR/undo.out")
echo "disk data sent back: $bytes bytes (undo says); the destination sent $wire bytes on the link"
[ -n "$bytes" ] || fail "undo did not say what it sent"
[ "$bytes" -lt $((20 * 1048576)) ] ||
  fail "$bytes bytes of disk data sent back: not only what changed"
[ "$wire" -lt $((200 * 1048576)) ] ||
  fail "the destination sent $wire bytes on the link: more than what changed and the memory"

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
mig_same_run "$TEST_DIR/dst-log" "$back"
vm_verify "$back" 120 || fail "guest verdict after undo: $VM_VERDICT"
vm_stop "$back"
# Every record acknowledged on the source, then on the destination,
# then back here.
vm_check_image "$img" "$src/console.log" "$TEST_DIR/dst-log/console.log" \
  "$back/console.log" || fail "check-image rejected $img"
mig_image_starts_with "$img" "$TEST_DIR/fill"
exit 0
