#!/bin/sh
# faults/link-down.sh: the fault matrix's row "link down for good".
# The source's link goes down as each phase begins and stays down until
# vmferry has ended: vmferry must notice (bounded timeouts: the data
# channel's TCP_USER_TIMEOUT and keepalive, the API's, the memory
# migration's stall limit) and not hang.  The link then comes back (the
# destination's leftovers can only be removed over it) and vmferry
# recover settles what vmferry could not.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/faults/fault-functions.sh"

FAULT="link down for good"
fault_inject ()
{
  ip -n "$SRC_NS" link set "$NETNS_IF" down || fail "ip link set down"
  ip -n "$SRC_NS" link show "$NETNS_IF" | grep -q 'state DOWN' ||
    fail "the link is not down"
  echo "link down"
}
# The link was down for all of vmferry's run (it ended by its timeouts,
# not because the link came back).
fault_signature ()
{
  ip -n "$SRC_NS" link show "$NETNS_IF" | grep -q 'state DOWN' ||
    fail "the link came up before vmferry ended"
}
fault_restore ()
{
  ip -n "$SRC_NS" link set "$NETNS_IF" up || fail "ip link set up"
  echo "link up again"
  # A source QEMU whose mirror waited on the dead link answers once TCP
  # retransmits (its backoff can reach a minute): until then vmferry
  # recover says "uncertain" (exit 5) and changes nothing.  Ask until
  # it can decide.
  for _t in $(seq 20); do
    ip netns exec "$SRC_NS" vmferry recover --run-dir "$RUNS" \
      > "$TEST_DIR/recover-try.out" 2>/dev/null && break
    [ $? = 5 ] || { cat "$TEST_DIR/recover-try.out"; fail "recover failed"; }
    cat "$TEST_DIR/recover-try.out"
    sleep 10
  done
  cat "$TEST_DIR/recover-try.out"
}

# Exit codes (vmferry(1) FAULTS): refused at setup (2), rolled back with
# the destination's leftovers reported (4; 5 once the source QEMU
# completed), the move completes at cleanup (0).
fault_setup
fault_all_phases any setup:2 bulk:4 mirroring:4 memory:4 switchover:4,5 \
  cleanup:0
fault_finish
exit 0
