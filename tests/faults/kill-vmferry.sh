#!/bin/sh
# faults/kill-vmferry.sh: the fault matrix's row "kill -9 vmferry".
# vmferry is killed with SIGKILL at each phase (its exit status says
# so: 137); vmferry recover then rolls the migration back (the VM runs
# on the source) or, once the VM runs on the destination (cleanup),
# finishes it.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/faults/fault-functions.sh"

FAULT="kill -9 vmferry"
fault_inject () { kill -9 "$MIG_PID"; }
fault_restore () { :; }

fault_setup
for phase in setup bulk mirroring memory switchover; do
  fault_cell "$phase" source 137
done
fault_cell cleanup destination 137
fault_finish
exit 0
