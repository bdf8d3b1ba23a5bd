#!/bin/sh
# migrate-cross-version.sh: a host upgrade.  The destination's vmferryd
# runs QEMU 10.0 (Debian bookworm-backports, unpacked into a private
# prefix by qemu-backport.sh; the system's 7.2 is not touched).
#  1. vmferry check of a 7.2 VM toward it says the VM can move (an
#     upgrade); vmferry migrate moves it, the machine type kept
#     (pc-q35-7.2); the guest verifies its disk and memory on the 10.0
#     destination and the host checker finds every acknowledged record.
#  2. The way back is refused: a VM running on 10.0, vmferryd with 7.2:
#     exit 2, "older", nothing created, the VM runs on.
#  3. That 10.0 VM then moves to a 10.0 destination (vmferry drives a
#     10.0 source QEMU), verified like 1.
# A VM started by the 10.0 wrapper has -L in the private prefix: every
# vmferryd here may read from there (--read-dir).
# Skips (77) when the backport cannot be fetched.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_qemu10
echo "QEMU 10.0: $QEMU10"
QEMU72=$QEMU

# ---- 1. 7.2 -> 10.0 ----
mig_hosts
mig_start_vmferryd --once --qemu "$QEMU10" \
  --read-dir "$(dirname "$QEMU10")/prefix/usr/share"
src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 64
vm_start "$src" up1 "$SRC_NS" "$img" vmferry.disk_rate=100
vm_wait_ready "$src"
vm_wait_ack "$src" 20

ip netns exec "$SRC_NS" vmferry check "$src/qmp.sock" --to "$DST_IP" \
  --tls-dir "$SRC_TLS" > "$TEST_DIR/check.out" 2>&1
rc=$?
cat "$TEST_DIR/check.out"
[ "$rc" = 0 ] || fail "check toward QEMU 10.0: exit code $rc"
grep -q 'QEMU 7\.2\.[0-9]* -> 10\.0\.[0-9]* (upgrade)' "$TEST_DIR/check.out" ||
  fail "the report does not show the upgrade"

mig_migrate "$src/qmp.sock" --json
[ "$MIG_RC" = 0 ] || fail "migration 7.2 -> 10.0 failed"
dst="$DST_RUN/up1"
dimg="$DST_STORAGE/up1/disk0.qcow2"
vm_running "$src" && fail "the source QEMU still runs"
dst_pid=$(vm_pid "$dst") || fail "no QEMU runs on the destination"
tr '\0' ' ' < "/proc/$dst_pid/cmdline" > "$TEST_DIR/dst.cmdline"
grep -qF "$(dirname "$QEMU10")/prefix/usr/bin/qemu-system-x86_64" \
  "$TEST_DIR/dst.cmdline" || fail "the destination does not run QEMU 10.0"
grep -q -- '-machine pc-q35-7.2 ' "$TEST_DIR/dst.cmdline" ||
  fail "the machine type was not kept"
vm_qmp "$dst" query-version | grep -q '"major": 10' ||
  fail "the destination QEMU does not say it is 10.x"

mig_verify_moved "$src" "$dst" "$dimg" 20
wait_until 30 pid_gone "$VMFERRYD_PID" ||
  fail "vmferryd --once is still running"
rm -rf "${DST_STORAGE:?}"/* "${DST_STORAGE:?}"/.vmferryd-journal "${DST_RUN:?}"/*

# ---- 2. 10.0 -> 7.2 is refused ----
mig_start_vmferryd --qemu "$QEMU72" \
  --read-dir "$(dirname "$QEMU10")/prefix/usr/share"
new="$TEST_DIR/new"
mkdir -p "$new"
disk_create "$new/disk0.qcow2" 256M
QEMU=$QEMU10
vm_start "$new" down1 "$SRC_NS" "$new/disk0.qcow2" \
  vmferry.disk_offset=128 vmferry.disk_size=16 vmferry.mem=16
QEMU=$QEMU72
vm_wait_ready "$new"
mig_migrate "$new/qmp.sock"
[ "$MIG_RC" = 2 ] || fail "10.0 -> 7.2: exit code $MIG_RC, expected 2"
grep -q 'refused' "$TEST_DIR/migrate.out" || fail "the error does not say refused"
grep -q 'destination QEMU 7\.2\.[0-9]* is older than the source.s 10\.0' \
  "$TEST_DIR/migrate.out" || fail "the error does not say why"
mig_dir_empty "$DST_STORAGE" || fail "storage root not empty"
mig_dir_empty "$DST_RUN" || fail "run root not empty"
vm_qmp "$new" query-status | grep -q '"status": "running"' ||
  fail "the 10.0 VM is not running"

# ---- 3. 10.0 -> 10.0: vmferry drives a 10.0 source QEMU ----
kill "$VMFERRYD_PID"
for _i in $(seq 50); do
  pid_alive "$VMFERRYD_PID" || break
  sleep 0.1
done
pid_alive "$VMFERRYD_PID" && fail "vmferryd (7.2) does not stop"
mig_start_vmferryd --once --qemu "$QEMU10" \
  --read-dir "$(dirname "$QEMU10")/prefix/usr/share"
vm_wait_ack "$new" 5
mig_migrate "$new/qmp.sock" --json
[ "$MIG_RC" = 0 ] || fail "migration 10.0 -> 10.0 failed"
ndst="$DST_RUN/down1"
vm_running "$new" && fail "the 10.0 source QEMU still runs"
vm_running "$ndst" || fail "no QEMU runs on the destination"
mig_verify_moved "$new" "$ndst" "$DST_STORAGE/down1/disk0.qcow2" 5
exit 0
