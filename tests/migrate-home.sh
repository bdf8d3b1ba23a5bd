#!/bin/sh
# migrate-home.sh: a received VM lives on its new host, outside vmferryd.
# Two hosts A (SRC_NS) and B (DST_NS), each with a vmferryd.
#  1. A VM started by hand on A moves to B; B's "vmferry list" shows it
#     running, received from A, with its memory, disk, QEMU version and
#     machine type; its definition is saved (root only) and its entry
#     is in B's VM directory; a second VM of the same name is refused by
#     B before anything is created (409, named).
#  2. vmferryd on B is killed (SIGKILL) and its VM directory wiped (as a
#     reboot wipes /run): the VM keeps running (its guest acknowledges
#     more records), and the restarted vmferryd lists it again.
#  3. "vmferry migrate NAME" on B (by name, from the VM directory) moves
#     it back to A's vmferryd; the guest verifies its disk and memory on
#     A and check-image accepts the image with all three console logs;
#     B forgets it: B's roots and VM directory are empty.
#  4. On A, "vmferry stop" ends it (the test guest ignores the power
#     button: quit after --timeout), "vmferry list" says stopped, the
#     definition stays; "vmferry start" boots it again, confined like
#     vmferryd's QEMUs (the QEMU user, seccomp, its own mount namespace),
#     and the guest runs its workload.
# PID 1 here is not systemd: the machined/scope registration
# (vm/scope.c) is not exercised; the test says so.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
requires jq --version
mig_hosts
mig_start_vmferryd
[ -d /run/systemd/system ] ||
  echo "SKIP part: PID 1 is not systemd: scopes and machined not tested"

# A's vmferryd, for the way back.
A_STORAGE="$TEST_DIR/a-storage" A_RUN="$TEST_DIR/a-run" A_VMS="$TEST_DIR/a-vms"
mkdir -p "$A_STORAGE" "$A_RUN"
ip netns exec "$SRC_NS" vmferryd --listen "$SRC_IP:7480" \
  --storage-root "$A_STORAGE" --run-root "$A_RUN" --vm-dir "$A_VMS" \
  --tls-dir "$SRC_TLS" --read-dir "$GUEST_DIR" > "$TEST_DIR/a.log" 2>&1 &
a_pid=$!
cleanup_fn "kill $a_pid 2>/dev/null; vm_kill '$A_RUN/h1'"
for _i in $(seq 100); do
  grep -q 'listening on' "$TEST_DIR/a.log" && break
  sleep 0.1
done

# list NS VM_DIR: vmferry list --json there, into list.json.
list ()
{
  ip netns exec "$1" vmferry list --json --vm-dir "$2" \
    --run-dir "$TEST_DIR/runs-$1" > "$TEST_DIR/list.json" ||
    fail "vmferry list failed"
  cat "$TEST_DIR/list.json"
}
field () { jq -r ".vms[] | select(.name == \"h1\") | $1" "$TEST_DIR/list.json"; }

echo "--- 1. A -> B: listed on B, defined, a second h1 refused"
src="$TEST_DIR/h1"
mkdir -p "$src"
disk_create "$src/disk0.qcow2" 1G
vm_start "$src" h1 "$SRC_NS" "$src/disk0.qcow2" vmferry.disk_rate=50
vm_wait_ready "$src"
vm_wait_ack "$src" 5
mig_migrate "$src/qmp.sock"
[ "$MIG_RC" = 0 ] || fail "A -> B failed"
vm_running "$src" && fail "h1 still runs on A"
list "$DST_NS" "$DST_VMS"
[ "$(field .state)" = running ] || fail "B does not list h1 as running"
[ "$(field .received.from)" = "$SRC_IP" ] || fail "not received from A"
[ "$(field .memory)" = $((524296 * 1024)) ] || fail "wrong memory"
[ "$(field '.disks[0].path')" = "$DST_STORAGE/h1/disk0.qcow2" ] ||
  fail "wrong disk"
[ "$(field .machine)" = pc-q35-7.2 ] || fail "wrong machine type"
[ "$(field .qemu_version)" = "$("$QEMU" --version | sed -n \
  's/^QEMU emulator version \([0-9.]*\).*/\1/p')" ] || fail "wrong version"
def="$DST_STORAGE/.vmferry-vms/h1.json"
[ "$(stat -c %a "$def" "$(dirname "$def")" | tr '\n' ' ')" = "600 700 " ] ||
  fail "the definition is not root's alone"
[ "$(readlink "$DST_VMS/h1/definition.json")" = "$def" ] ||
  fail "no definition link in B's VM directory"
ip netns exec "$DST_NS" vmferry list --vm-dir "$DST_VMS" |
  grep -q "^h1  *running .* $SRC_IP " || fail "the table lacks h1"

st=$(ip netns exec "$SRC_NS" curl -s -o "$TEST_DIR/dup.json" -w '%{http_code}' \
       --cacert "$MIG_CA/ca-cert.pem" --cert "$SRC_TLS/client-cert.pem" \
       --key "$SRC_TLS/client-key.pem" -X POST \
       -H 'Content-Type: application/json' --data-binary \
       '{"id":"dup1","host":"'"$DST_IP"'","offline":true,"channel":true,"vm":{"name":"h1","argv":[],"disks":[{"id":"d0","path":"/src/h1.raw","format":"raw","virtual_size":1048576,"allocated":0,"read_only":false}],"machine":"","memory":0,"cpu_vendor":"","qemu_version":0}}' \
       "https://$DST_IP:7480/v1/prepare")
[ "$st" = 409 ] || fail "a second h1 got HTTP $st"
grep -q 'a VM named h1 already lives on this host' "$TEST_DIR/dup.json" ||
  fail "the refusal does not say why: $(cat "$TEST_DIR/dup.json")"
[ "$(ls "$DST_STORAGE/h1")" = disk0.qcow2 ] || fail "the refusal touched h1"

echo "--- 2. vmferryd killed, /run wiped: the VM runs on, listed again"
kill -9 "$VMFERRYD_PID"
rm -rf "$DST_VMS"
last=$(vm_last_ack "$DST_RUN/h1")
vm_wait_ack "$DST_RUN/h1" $((last + 5)) 60
mig_start_vmferryd
list "$DST_NS" "$DST_VMS"
[ "$(field .state)" = running ] || fail "h1 not listed after the restart"

echo "--- 3. B -> A by name: verified on A, forgotten by B"
# B's console log, kept by a hard link: B removes its run directory.
ln "$DST_RUN/h1/console.log" "$TEST_DIR/b-console.log"
ip netns exec "$DST_NS" vmferry migrate h1 --vm-dir "$DST_VMS" \
  --to "$SRC_IP" --tls-dir "$DST_TLS" --run-dir "$TEST_DIR/runs-b" \
  > "$TEST_DIR/back.out" 2>&1
rc=$?
cat "$TEST_DIR/back.out"
[ "$rc" = 0 ] || fail "B -> A failed ($rc)"
vm_running "$DST_RUN/h1" && fail "h1 still runs on B"
vm_running "$A_RUN/h1" || fail "h1 does not run on A"
last=$(vm_last_ack "$DST_RUN/h1")
vm_wait_ack "$A_RUN/h1" $((last + 5)) 60
vm_verify "$A_RUN/h1" 120 || fail "guest verdict on A: $VM_VERDICT"
for _i in $(seq 100); do
  [ -e "$DST_VMS/h1" ] || [ -e "$DST_STORAGE/.vmferry-vms" ] || break
  sleep 0.1
done
mig_dest_clean
mig_dir_empty "$DST_VMS" || fail "B's VM directory still lists h1"

echo "--- 4. stop and start on A"
list "$SRC_NS" "$A_VMS"
[ "$(field .state)" = running ] && [ "$(field .received.from)" = "$DST_IP" ] ||
  fail "A does not list h1 as received from B"
qpid=$(vm_pid "$A_RUN/h1")
ip netns exec "$SRC_NS" vmferry stop h1 --timeout 3 --vm-dir "$A_VMS" ||
  fail "vmferry stop failed"
pid_alive "$qpid" && fail "QEMU still runs after vmferry stop"
vm_check_image "$A_STORAGE/h1/disk0.qcow2" "$src/console.log" \
  "$TEST_DIR/b-console.log" "$A_RUN/h1/console.log" ||
  fail "check-image rejected h1's image after the round trip"
list "$SRC_NS" "$A_VMS"
[ "$(field .state)" = stopped ] || fail "a stopped h1 is not listed stopped"
sleep 4                         # a sweep of A's vmferryd: h1 must stay
[ -e "$A_STORAGE/.vmferry-vms/h1.json" ] || fail "a stopped VM was forgotten"
ip netns exec "$SRC_NS" vmferry start h1 --vm-dir "$A_VMS" ||
  fail "vmferry start failed"
out=$(ip netns exec "$SRC_NS" vmferry start h1 --vm-dir "$A_VMS" 2>&1) &&
  fail "a second start succeeded: $out"
case $out in
  *"already runs"*) ;;
  *) fail "a second start was refused for another reason: $out" ;;
esac
vm_wait_ready "$A_RUN/h1" 120
qpid=$(vm_pid "$A_RUN/h1") || fail "no QEMU after vmferry start"
grep -q "^Uid:.*\b$(id -u vmferry-qemu)\b" "/proc/$qpid/status" ||
  fail "the started QEMU does not run as vmferry-qemu"
grep -q '^Seccomp:[[:space:]]*2' "/proc/$qpid/status" ||
  fail "the started QEMU has no seccomp filter"
[ "$(readlink "/proc/$qpid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] ||
  fail "the started QEMU shares our mount namespace"
list "$SRC_NS" "$A_VMS"
[ "$(field .state)" = running ] || fail "h1 not running after start"
vm_wait_ack "$A_RUN/h1" 3 60
exit 0
