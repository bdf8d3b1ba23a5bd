#!/bin/sh
# faults/restart-vmferryd.sh: the fault matrix's row "vmferryd
# restarted" (SIGTERM, started again at once).  A stopping vmferryd kills
# the skeletons of unfinished migrations and removes their files; the
# migration fails and rolls back with the restarted agent (nothing to
# abort there any more).  Restarted before prepare (setup), it is no
# fault at all: the VM moves.  Once the VM runs on the destination
# (cleanup), the agent leaves it running and the move completes.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/faults/fault-functions.sh"

FAULT="vmferryd restarted"
fault_inject ()
{
  _old=$VMFERRYD_PID
  kill -TERM "$_old" || fail "kill -TERM vmferryd failed"
  wait "$_old" 2>/dev/null
  pid_alive "$_old" && fail "vmferryd $_old did not stop"
  mig_start_vmferryd
  [ "$VMFERRYD_PID" != "$_old" ] || fail "vmferryd was not started again"
  echo "vmferryd restarted ($_old, now $VMFERRYD_PID)"
}
fault_restore () { :; }

fault_setup
for phase in bulk mirroring memory switchover; do
  fault_cell "$phase" source 3
done
fault_cell setup destination 0
fault_new_vm
fault_cell cleanup destination 0
fault_finish
exit 0
