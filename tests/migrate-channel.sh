#!/bin/sh
# migrate-channel.sh: the vmferry engine's disk data through vmferry's
# data channel (the default: --transport auto) over a link shaped to
# 100 Mbit/s, while the guest writes records as fast as it can during
# the whole migration.  300 MiB of the disk hold repeated text: far fewer
# bytes must cross the link than the engine copied (lz4 per frame), and
# everything must arrive: the guest verifies on the destination, the
# host checker finds every acknowledged record, the text is intact, and
# the VM runs on exactly one host.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 100mbit
link_if=$NETNS_IF
mig_start_vmferryd --once

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mig_disk_with_data "$img" 300 text
vm_start "$src" chan1 "$SRC_NS" "$img" \
  vmferry.disk_rate=0 vmferry.disk_size=16 vmferry.mem_rate=100
src_pid=$VM_PID
vm_wait_ready "$src"
vm_wait_ack "$src" 50

tx () { ip -n "$SRC_NS" -s -j link show "$1" | jq '.[0].stats64.tx.bytes'; }
tx0=$(tx "$link_if")
mig_migrate "$src/qmp.sock" --storage-engine vmferry
[ "$MIG_RC" = 0 ] || fail "vmferry migrate through the data channel failed"
wire=$(( $(tx "$link_if") - tx0 ))
grep -q 'bulk copy done' "$TEST_DIR/migrate.out" ||
  fail "the vmferry engine did not run"
line=$(grep -o 'data channel: [0-9]* MiB of disk data sent as [0-9]* MiB' \
         "$TEST_DIR/migrate.out") || fail "the data channel was not used"
copied=$(echo "$line" | awk '{print $3}')
sent=$(echo "$line" | awk '{print $10}')
mem=$(awk '$1 == "memory_bytes" {print $2}' "$TEST_DIR/migrate.out")
[ -n "$mem" ] || fail "no memory_bytes in the summary"
echo "copied $copied MiB of disk data, sent as $sent MiB;" \
     "$wire bytes crossed the link in all, $mem of them QEMU's memory" \
     "stream (not compressed by this path)"
[ "$copied" -ge 300 ] || fail "only $copied MiB copied"
[ "$sent" -lt $((copied / 4)) ] || fail "the disk data was not compressed"
# What crossed the link besides the memory stream: the channel, the
# mirrored guest writes, control; far less than the disk data copied.
[ $((wire - mem)) -lt $((copied * 1048576 / 4)) ] ||
  fail "$((wire - mem)) bytes (memory aside) crossed the link for" \
       "$copied MiB copied"

dst="$DST_RUN/chan1"
dimg="$DST_STORAGE/chan1/disk0.qcow2"
pid_alive "$src_pid" && fail "the source QEMU still runs"
vm_running "$dst" || fail "no QEMU runs on the destination"
mig_verify_moved "$src" "$dst" "$dimg" 50
# The text arrived intact, byte for byte (records start at 768 MiB).
mig_image_starts_with "$dimg" "$TEST_DIR/fill"
exit 0
