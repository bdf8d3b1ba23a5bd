#!/bin/sh
# upgrade-roundtrip.sh: contrib/upgrade-host evacuates host A to B, runs
# the upgrade command, and brings the VMs back (--return).  Three VMs.
# The upgrade switches A's vmferryd from the system's QEMU 7.2 to 10.0
# (bookworm-backports in a private prefix, as migrate-cross-version.sh):
# the VMs go 7.2 -> 7.2 -> 10.0.
#   - after the first hop (the upgrade command waits for the test): each
#     VM runs on B only, registered there by name, and its guest verifies
#     its disk and memory;
#   - after the return: each VM runs on A only, in a 10.0 QEMU that A's
#     vmferryd started, its guest verifies it again, and check-image
#     finds every acknowledged record in its image with the three
#     console logs; the summary has both hops of each VM;
#   - nothing is left: B's roots and VM directory are empty, A's roots
#     hold only the VMs' own files (image, definition, run directory).
# Skips (77) when the backport cannot be fetched.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_qemu10
mig_hosts
mig_start_vmferryd
vms="rt1 rt2 rt3"

# A's vmferryd (receives the VMs back), with QEMU $1.
A_STORAGE="$TEST_DIR/a-storage" A_RUN="$TEST_DIR/a-run" A_VMS="$TEST_DIR/a-vms"
mkdir -p "$A_STORAGE" "$A_RUN" "$A_VMS"
start_a ()
{
  : > "$TEST_DIR/a.log"
  ip netns exec "$SRC_NS" vmferryd --listen "$SRC_IP:7480" --qemu "$1" \
    --storage-root "$A_STORAGE" --run-root "$A_RUN" --vm-dir "$A_VMS" \
    --tls-dir "$SRC_TLS" --read-dir "$GUEST_DIR" \
    --read-dir "$(dirname "$QEMU10")/prefix/usr/share" \
    >> "$TEST_DIR/a.log" 2>&1 &
  a_pid=$!
  for _i in $(seq 100); do
    grep -q 'listening on' "$TEST_DIR/a.log" && return 0
    sleep 0.1
  done
  fail "A's vmferryd did not start"
}
start_a "$QEMU"
cleanup_fn 'kill $a_pid 2>/dev/null; for n in $vms; do vm_kill "$A_RUN/$n"; done'

for n in $vms; do
  mkdir -p "$TEST_DIR/$n"
  disk_create "$TEST_DIR/$n/disk0.qcow2" 1G
  vm_start "$TEST_DIR/$n" $n "$SRC_NS" "$TEST_DIR/$n/disk0.qcow2" \
    vmferry.disk_rate=50 vmferry.mem=16
  ln -s "$TEST_DIR/$n/qmp.sock" "$A_VMS/$n.qmp"
done
for n in $vms; do
  vm_wait_ready "$TEST_DIR/$n"
  vm_wait_ack "$TEST_DIR/$n" 5
done

# The upgrade command: tell the test, wait until it says done.
cat > "$TEST_DIR/upgrade.sh" <<EOS
touch "$TEST_DIR/upgrading"
for i in \$(seq 3000); do
  [ -e "$TEST_DIR/upgraded" ] && exit 0
  sleep 0.2
done
exit 1
EOS
ip netns exec "$SRC_NS" "$abs_top_srcdir/contrib/upgrade-host" \
  --vm-dir "$A_VMS" --to "$DST_IP" --log-dir "$TEST_DIR/logs" \
  --vmferry "$abs_top_builddir/cmd/vmferry" \
  --upgrade "sh $TEST_DIR/upgrade.sh" --return --return-to "$SRC_IP" \
  --remote "ip netns exec $DST_NS" \
  --remote-vmferry "$abs_top_builddir/cmd/vmferry" \
  --return-option --tls-dir --return-option "$DST_TLS" \
  --return-option --vm-dir --return-option "$DST_VMS" \
  --return-option --run-dir --return-option "$TEST_DIR/runs-b" \
  -- --tls-dir "$SRC_TLS" --run-dir "$TEST_DIR/runs-a" \
  > "$TEST_DIR/up.out" 2>&1 &
up_pid=$!
cleanup_fn "kill $up_pid 2>/dev/null"
for _i in $(seq 3000); do
  [ -e "$TEST_DIR/upgrading" ] && break
  pid_alive "$up_pid" || break
  sleep 0.2
done
cat "$TEST_DIR/up.out"
[ -e "$TEST_DIR/upgrading" ] || fail "upgrade-host never ran the upgrade"

echo "--- after the first hop (A 7.2 -> B 7.2)"
for n in $vms; do
  vm_running "$TEST_DIR/$n" && fail "$n still runs on A"
  dpid=$(vm_pid "$DST_RUN/$n") || fail "$n does not run on B"
  ip netns identify "$dpid" | grep -qx "$DST_NS" || fail "$n runs outside B"
  [ -S "$DST_VMS/$n/qmp.sock" ] || fail "B does not register $n by name"
  last=$(vm_last_ack "$TEST_DIR/$n")
  vm_wait_ack "$DST_RUN/$n" $((last + 3)) 60
  vm_verify "$DST_RUN/$n" 120 || fail "$n: guest verdict on B: $VM_VERDICT"
  mkdir "$TEST_DIR/$n-b"      # B's console log: B removes its run dir
  ln "$DST_RUN/$n/console.log" "$TEST_DIR/$n-b/console.log"
done

echo "--- the upgrade: A's vmferryd now runs QEMU 10.0"
kill "$a_pid"
wait "$a_pid" 2>/dev/null
start_a "$QEMU10"
touch "$TEST_DIR/upgraded"
wait "$up_pid"
rc=$?
cat "$TEST_DIR/up.out"
[ "$rc" = 0 ] || fail "upgrade-host exited $rc"
for n in $vms; do
  grep -q "^  $n: there: migrated in [0-9.]* s, downtime [0-9]* ms; back: migrated in [0-9.]* s, downtime [0-9]* ms$" \
    "$TEST_DIR/up.out" || fail "no summary of both hops of $n"
done

echo "--- after the return (B 7.2 -> A 10.0)"
for n in $vms; do
  vm_running "$DST_RUN/$n" && fail "$n still runs on B"
  apid=$(vm_pid "$A_RUN/$n") || fail "$n does not run on A"
  tr '\0' ' ' < "/proc/$apid/cmdline" |
    grep -qF "$(dirname "$QEMU10")/prefix/usr/bin/qemu-system-x86_64" ||
    fail "$n does not run in QEMU 10.0 on A"
  last=$(vm_last_ack "$TEST_DIR/$n-b")
  vm_wait_ack "$A_RUN/$n" $((last + 3)) 60
  vm_verify "$A_RUN/$n" 120 || fail "$n: guest verdict on A: $VM_VERDICT"
  vm_stop "$A_RUN/$n"
  vm_check_image "$A_STORAGE/$n/disk0.qcow2" "$TEST_DIR/$n/console.log" \
    "$TEST_DIR/$n-b/console.log" "$A_RUN/$n/console.log" ||
    fail "$n: check-image rejected the image after the round trip"
  [ -e "$TEST_DIR/$n/disk0.qcow2" ] && fail "$n's first image was not deleted"
done
for _i in $(seq 100); do
  mig_dir_empty "$DST_VMS" && mig_dir_empty "$DST_STORAGE" &&
    mig_dir_empty "$DST_RUN" && break
  sleep 0.1
done
mig_dest_clean
mig_dir_empty "$DST_VMS" || { ls -RA "$DST_VMS"; fail "B still lists VMs"; }
# vmferryd's journal keeps one entry per VM living here (its job, for
# recover, undo and the quarantine reaper): exactly one each.
for n in $vms; do
  [ "$(grep -l "\"vm_dir\": *\"$A_STORAGE/$n\"" \
         "$A_STORAGE"/.vmferryd-journal/*.json | wc -l)" = 1 ] ||
    fail "A's journal does not hold one entry for $n"
done
[ "$(ls "$A_STORAGE/.vmferryd-journal" | wc -l)" = 3 ] ||
  fail "A's journal holds more than its three VMs"
left=$(cd "$A_STORAGE" && find . -mindepth 1 -not -path './.vmferryd-journal*' |
       sort | tr '\n' ' ')
[ "$left" = "./.vmferry-vms ./.vmferry-vms/rt1.json ./.vmferry-vms/rt2.json ./.vmferry-vms/rt3.json ./rt1 ./rt1/disk0.qcow2 ./rt2 ./rt2/disk0.qcow2 ./rt3 ./rt3/disk0.qcow2 " ] ||
  fail "A's storage root holds more than the VMs' own files: $left"
[ "$(ls -A "$A_RUN" | tr '\n' ' ')" = "rt1 rt2 rt3 " ] ||
  fail "A's run root holds more than the VMs' run directories: $(ls -A "$A_RUN")"
exit 0
