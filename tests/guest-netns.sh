#!/bin/sh
# guest-netns.sh: the network helpers of functions.sh.  netns_pair joins
# two namespaces by a rate-limited veth link; the test guest runs inside
# one of them; and a test that fails half-way leaves no namespace and no
# QEMU behind.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"

guest_test_init
requires ip -V
requires tc -V

src="$NS_PREFIX-src"
dst="$NS_PREFIX-dst"
netns_pair "$src" "$dst" "$NET_PREFIX.1/24" "$NET_PREFIX.2/24" 100mbit

# About 100 Mbit/s: 24 MiB take about 2 s (bounds are loose: 2 busy cores).
ip netns exec "$dst" socat -u TCP-LISTEN:5001,reuseaddr OPEN:/dev/null &
listening () { ip netns exec "$dst" ss -Htln 'sport = :5001' | grep -q .; }
wait_until 30 listening || fail "socat does not listen in $dst"
t0=$(date +%s%N)
head -c 24M /dev/zero |
  ip netns exec "$src" socat -u - "TCP:$NET_PREFIX.2:5001" ||
  fail "no TCP connection from $src to $dst"
t1=$(date +%s%N)
mbit=$((24 * 8 * 1048576 * 1000 / (t1 - t0)))
echo "24 MiB from $src to $dst at $mbit Mbit/s (limit 100)"
[ "$mbit" -le 115 ] || fail "the link is not limited to 100 Mbit/s"
[ "$mbit" -ge 20 ] || fail "the link is far slower than 100 Mbit/s"

# The guest inside $src.
dir="$TEST_DIR/vm"
vm_start "$dir" netns "$src" "" vmferry.disk=none vmferry.mem=8
ip netns pids "$src" | grep -qx "$VM_PID" || fail "QEMU is not in $src"
vm_wait_ready "$dir"
vm_verify "$dir" || fail "verify: ${VM_VERDICT:-no verdict}"

# A failing test cleans up after itself: namespace, link, QEMU.
sub="$TEST_DIR/sub"
VMFERRY_KEEP=0 sh -c '
  . "$1/tests/functions.sh"
  netns_pair "$NS_PREFIX-a" "$NS_PREFIX-b" 198.18.0.1/24 198.18.0.2/24 10mbit
  vm_start "$2" sub "$NS_PREFIX-a" "" vmferry.disk=none vmferry.mem=4
  echo "$NS_PREFIX $VM_PID" > "$2.ids"
  fail "failing on purpose"
' sub "$VMFERRY_BUILDDIR" "$sub" 2>&1
[ $? -eq 1 ] || fail "the failing sub-test did not exit 1"
read -r sub_ns sub_pid < "$sub.ids" || fail "the sub-test wrote no ids"
for ns in "$sub_ns-a" "$sub_ns-b"; do
  [ ! -e "/var/run/netns/$ns" ] || fail "namespace $ns left behind"
done
# (A killed daemonized QEMU may linger a moment as a zombie of PID 1:
# look at its command line, which a zombie no longer has.)
[ -z "$(tr -d '\0' 2>/dev/null < "/proc/$sub_pid/cmdline")" ] ||
  fail "QEMU $sub_pid left behind"
vm_running "$sub" && fail "vm_running says the killed QEMU runs"

vm_stop "$dir"
