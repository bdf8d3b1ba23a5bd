#!/bin/sh
# faults/link-flap.sh: the fault matrix's row "link down for 5 s".  The
# source's link goes down for 5 s as each phase begins (ip link set
# down, then up).  TCP rides it out or a request fails; either way the
# VM must end on exactly one host with nothing left: a cell that moved
# the VM gets a new one for the next cell.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/faults/fault-functions.sh"

FAULT="link down for 5 s"
fault_inject ()
{
  (ip -n "$SRC_NS" link set "$NETNS_IF" down; sleep 5
   ip -n "$SRC_NS" link set "$NETNS_IF" up) &
  FLAP_PID=$!
  sleep 0.2
  echo "link down for 5 s"
}
fault_restore ()
{
  wait "$FLAP_PID"
  ip -n "$SRC_NS" link show "$NETNS_IF" | grep -q 'state UP' ||
    fail "the link did not come back"
}

fault_setup
fault_all_phases any
fault_finish
exit 0
