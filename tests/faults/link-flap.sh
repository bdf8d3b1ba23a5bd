#!/bin/sh
# faults/link-flap.sh: the fault matrix's row "link down for 5 s".  The
# source's link goes down for 5 s as each phase begins (ip link set
# down, then up).  TCP rides it out or a request fails; either way the
# VM must end on exactly one host with nothing left: a cell that moved
# the VM gets a new one for the next cell.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/faults/fault-functions.sh"

FAULT="link down for 5 s"
# The flap reports each step's status in $TEST_DIR/flap: the link must
# really go down (checked while it is) and come back.
fault_inject ()
{
  rm -f "$TEST_DIR/flap"
  (if ip -n "$SRC_NS" link set "$NETNS_IF" down; then
     ip -n "$SRC_NS" link show "$NETNS_IF" | grep -q 'state DOWN' &&
       echo down >> "$TEST_DIR/flap"
   fi
   sleep 5
   ip -n "$SRC_NS" link set "$NETNS_IF" up && echo up >> "$TEST_DIR/flap") &
  FLAP_PID=$!
  _flap_down () { grep -q '^down$' "$TEST_DIR/flap" 2>/dev/null; }
  wait_until 5 _flap_down || fail "the link did not go down"
  echo "link down for 5 s"
}
fault_restore ()
{
  wait "$FLAP_PID"
  grep -q '^up$' "$TEST_DIR/flap" || fail "ip link set up failed"
  ip -n "$SRC_NS" link show "$NETNS_IF" | grep -q 'state UP' ||
    fail "the link did not come back"
}

# Exit codes (vmferry(1) FAULTS): the VM moves (0), or a connection
# that falls into the outage makes vmferry refuse (setup: 2) or roll
# back (3).
fault_setup
fault_all_phases any setup:0,2 bulk:0,3 mirroring:0,3 memory:0,3 \
  switchover:0,3 cleanup:0
fault_finish
exit 0
