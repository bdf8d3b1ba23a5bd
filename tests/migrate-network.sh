#!/bin/sh
# migrate-network.sh: two links between the hosts: the control network
# (API) and a migration network.  vmferryd listens for the API on the
# first and names its address on the second with --migration-address;
# vmferry migrate --migration-network picks that network.  The disk and
# memory data (hundreds of MiB) cross the migration link, the control
# link carries little; the guest verifies on the destination and the
# VM runs on one host.  A --migration-network the source has no
# address in is refused with nothing done.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 1gbit
ctl_if=$NETNS_IF
# The second network lives only inside this test's namespaces.
netns_pair "$SRC_NS" "$DST_NS" 198.19.251.1/24 198.19.251.2/24 1gbit
mig_if=$NETNS_IF
vmferry pki issue "$MIG_CA" --name dst --ip "$DST_IP" --ip 198.19.251.2 \
  --out "$DST_TLS" >/dev/null || fail "pki issue dst"
mig_start_vmferryd --migration-address 198.19.250.9 \
  --migration-address 198.19.251.2

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 200
vm_start "$src" net1 "$SRC_NS" "$img" vmferry.disk_rate=50
src_pid=$VM_PID
vm_wait_ready "$src"
vm_wait_ack "$src" 20

mig_migrate "$src/qmp.sock" --migration-network 10.99.0.0/16
[ "$MIG_RC" = 2 ] || fail "exit code $MIG_RC for a foreign network"
grep -q 'no address in the migration network 10.99.0.0/16' \
  "$TEST_DIR/migrate.out" || fail "no clear message for a foreign network"
vm_running "$src" || fail "the refused migration stopped the VM"

# vmferry check reports which networks would be used.
ip netns exec "$SRC_NS" vmferry check "$src/qmp.sock" --to "$DST_IP" \
  --tls-dir "$SRC_TLS" --migration-network 198.19.251.0/24 \
  > "$TEST_DIR/check.out" 2>&1 || { cat "$TEST_DIR/check.out"; fail "check"; }
cat "$TEST_DIR/check.out"
grep -q "networks: control $DST_IP:7480, disk and memory data to 198.19.251.2 from 198.19.251.1" \
  "$TEST_DIR/check.out" || fail "vmferry check does not report the networks"

tx () { ip -n "$SRC_NS" -s -j link show "$1" | jq '.[0].stats64.tx.bytes'; }
ctl0=$(tx "$ctl_if") mig0=$(tx "$mig_if")
# --transport tcp: the disk's data is not compressed away, so the bytes
# on each link show where it went.
mig_migrate "$src/qmp.sock" --json --migration-network 198.19.251.0/24 \
  --transport tcp
[ "$MIG_RC" = 0 ] || fail "vmferry migrate failed"
grep -q 'data go to 198.19.251.2 in 198.19.251.0/24, from this host.s 198.19.251.1' \
  "$TEST_DIR/migrate.out" || fail "the migration network is not reported"
ctl=$(( $(tx "$ctl_if") - ctl0 )) mig=$(( $(tx "$mig_if") - mig0 ))
echo "sent on the control link: $ctl bytes, on the migration link: $mig bytes"
[ "$mig" -gt 200000000 ] || fail "the migration link carried only $mig bytes"
[ "$ctl" -lt 10000000 ] || fail "the control link carried $ctl bytes"

dst="$DST_RUN/net1"
pid_alive "$src_pid" && fail "the source QEMU still runs"
vm_running "$dst" || fail "no QEMU runs on the destination"
mig_verify_moved "$src" "$dst" "$DST_STORAGE/net1/disk0.qcow2"
exit 0
