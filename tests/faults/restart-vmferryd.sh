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
  kill -TERM "$VMFERRYD_PID"
  wait "$VMFERRYD_PID" 2>/dev/null
  mig_start_vmferryd
  echo "vmferryd restarted"
}
fault_restore () { :; }

fault_setup
for phase in bulk mirroring memory switchover; do
  fault_cell "$phase" source
done
fault_cell setup destination
fault_new_vm
fault_cell cleanup destination
fault_finish
exit 0
