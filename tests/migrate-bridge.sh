#!/bin/sh
# migrate-bridge.sh: a VM with a bridged NIC (a tap on bridge br0, made
# by the admin on the source; QEMU opens it with script=no) moves, and
# its network works on the destination: vmferryd made a tap there
# itself, attached it to the destination's br0 (allowed by --bridge),
# and passed QEMU the descriptor; the guest answers pings from the
# destination host.  Before that, a vmferryd that does not allow br0
# refuses the VM with a message naming --bridge, and nothing is left.
# The guest verifies its disk and memory, the VM runs on one host.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 1gbit
guest_ip=198.19.77.10

# br0 on both hosts, in the guest's network; the source's tap on it.
ip -n "$SRC_NS" link add br0 type bridge &&
  ip -n "$SRC_NS" addr add 198.19.77.1/24 dev br0 &&
  ip -n "$SRC_NS" link set br0 up &&
  ip -n "$SRC_NS" tuntap add dev vmtap0 mode tap &&
  ip -n "$SRC_NS" link set vmtap0 master br0 up || fail "source bridge"
ip -n "$DST_NS" link add br0 type bridge &&
  ip -n "$DST_NS" addr add 198.19.77.2/24 dev br0 &&
  ip -n "$DST_NS" link set br0 up || fail "destination bridge"

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 16
VM_QEMU_ARGS="-netdev tap,id=net0,ifname=vmtap0,script=no,downscript=no
  -device virtio-net-pci,netdev=net0,mac=52:54:00:12:34:77" \
  vm_start "$src" br1 "$SRC_NS" "$img" vmferry.disk_rate=20 \
    "vmferry.ip=$guest_ip/24"
src_pid=$VM_PID
vm_wait_ready "$src"
vm_wait_ack "$src" 20

# ping_guest NS: the guest answers from NS (a few tries: ARP, link up).
ping_guest ()
{
  _i=0
  while [ $_i -lt 20 ]; do
    ip netns exec "$1" ping -c 1 -W 1 "$guest_ip" >/dev/null 2>&1 && return 0
    _i=$((_i + 1))
  done
  return 1
}
ping_guest "$SRC_NS" || fail "the guest does not answer on the source"

# A destination that allows another bridge only.
mig_start_vmferryd --bridge br9
mig_migrate "$src/qmp.sock"
[ "$MIG_RC" = 2 ] || fail "exit code $MIG_RC for a bridge vmferryd does not allow"
grep -q 'bridge br0 is not one this host lets VMs join (vmferryd --bridge br0)' \
  "$TEST_DIR/migrate.out" || fail "no clear message for the bridge"
vm_running "$src" || fail "the refused migration stopped the VM"
mig_dest_clean
[ -z "$(ip -n "$DST_NS" tuntap show 2>/dev/null)" ] ||
  fail "a tap is left on the destination"
kill "$VMFERRYD_PID"
wait "$VMFERRYD_PID" 2>/dev/null

mig_start_vmferryd --bridge br0
mig_migrate "$src/qmp.sock"
[ "$MIG_RC" = 0 ] || fail "vmferry migrate failed"
dst="$DST_RUN/br1"
pid_alive "$src_pid" && fail "the source QEMU still runs"
vm_running "$dst" || fail "no QEMU runs on the destination"
taps=$(ip -n "$DST_NS" -o link show master br0 | grep -o 'vmftap[0-9]*')
echo "destination taps on br0: $taps"
[ -n "$taps" ] || fail "no tap of vmferryd on the destination's br0"
qpid=$(cat "$dst/qemu.pid")
ls -l "/proc/$qpid/fd" | grep -q '/dev/net/tun' ||
  fail "the destination QEMU holds no tap descriptor"
ping_guest "$DST_NS" || fail "the guest does not answer on the destination"
echo "the guest answers pings on the destination's br0"
mig_verify_moved "$src" "$dst" "$DST_STORAGE/br1/disk0.qcow2"
exit 0
