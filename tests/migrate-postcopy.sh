#!/bin/sh
# migrate-postcopy.sh: the guest of migrate-converge.sh (32 MiB
# rewritten as fast as it can, 100 Mbit/s link) with --no-throttle and
# --allow-postcopy: pre-copy stalls, vmferry switches to post-copy (its
# only remedy), and the migration completes.  Post-copy is checked on
# the destination QEMU itself, not from vmferry's word: its
# postcopy-ram capability is on (query-migrate-capabilities), and it
# held a userfaultfd while the migration ran (sampled in /proc: QEMU
# opens one for post-copy's page faults only, and closes it when the
# migration completes).  The guest verifies its disk and memory on the
# destination, the host checker accepts the image, and the VM runs on
# exactly one host.
# vmferryd's QEMU runs as an unprivileged user, which QEMU 7.2 lets use
# userfaultfd only with the sysctl vm.unprivileged_userfaultfd=1: first
# a migration with it off is refused with that fix named (nothing done),
# then the test sets it (restored at the end) and the move succeeds.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 100mbit
mig_start_vmferryd

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 40
vm_start "$src" pc1 "$SRC_NS" "$img" \
  vmferry.disk_rate=50 vmferry.mem=32 vmferry.mem_rate=max \
  vmferry.mem_content=random
src_pid=$VM_PID
vm_wait_ready "$src"
vm_wait_ack "$src" 20

uffd=/proc/sys/vm/unprivileged_userfaultfd
old_uffd=$(cat "$uffd") || fail "no $uffd"
cleanup_fn "echo $old_uffd > $uffd"
echo 0 > "$uffd" || fail "cannot set $uffd"
mig_migrate "$src/qmp.sock" --json --no-throttle --allow-postcopy
[ "$MIG_RC" = 2 ] || fail "exit code $MIG_RC without unprivileged userfaultfd"
grep -q 'set sysctl vm.unprivileged_userfaultfd=1' "$TEST_DIR/migrate.out" ||
  fail "the refusal does not name the sysctl"
mig_dest_clean
echo 1 > "$uffd" || fail "cannot set $uffd"

# Sample the destination QEMU's descriptors while vmferry runs: one
# line per sample that saw a userfaultfd.
uffd_log="$TEST_DIR/uffd.log"
: > "$uffd_log"
(
  while :; do
    for p in $(pgrep -f "$DST_RUN/pc1/"); do
      ls -l "/proc/$p/fd" 2>/dev/null | grep -q 'anon_inode:\[userfaultfd\]' &&
        echo "$p" >> "$uffd_log"
    done
    sleep 0.1
  done
) &
sampler=$!
cleanup_fn "kill $sampler 2>/dev/null"
mig_migrate "$src/qmp.sock" --json --no-throttle --allow-postcopy \
  --timeout 150
kill "$sampler"
[ "$MIG_RC" = 0 ] || fail "vmferry migrate failed"
seen=$(wc -l < "$uffd_log")
echo "the destination QEMU held a userfaultfd in $seen samples (0.1 s apart)"
# More than a glimpse: QEMU's check of userfaultfd support at the
# start opens and closes one at once.
[ "$seen" -ge 3 ] || fail "the destination QEMU never ran post-copy (no userfaultfd)"
actions=$(grep '"event":"converge"' "$TEST_DIR/migrate.out" | jq -r .action |
          tr '\n' ' ')
[ "$actions" = "postcopy " ] || fail "convergence actions: $actions"

dst="$DST_RUN/pc1"
pid_alive "$src_pid" && fail "the source QEMU still runs"
vm_running "$dst" || fail "no QEMU runs on the destination"
[ -e "$img" ] && fail "the source image was not deleted"
caps=$(vm_qmp "$dst" query-migrate-capabilities | grep '"return"' | tail -n 1)
[ "$(echo "$caps" | jq -r '.return[] | select(.capability == "postcopy-ram") |
     .state')" = true ] || fail "postcopy-ram is not on in the destination QEMU"
mig_verify_moved "$src" "$dst" "$DST_STORAGE/pc1/disk0.qcow2"
exit 0
