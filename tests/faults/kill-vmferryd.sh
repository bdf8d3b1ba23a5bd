#!/bin/sh
# faults/kill-vmferryd.sh: the fault matrix's row "kill -9 vmferryd".
# The destination agent dies with SIGKILL at each phase (its skeleton
# QEMU lives on), vmferry goes on and fails (or, once the VM runs on
# the destination, finishes); vmferryd is started again and rolls back
# what its journal says was not finished (or keeps the VM it resumed);
# vmferry recover settles the source.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/faults/fault-functions.sh"

FAULT="kill -9 vmferryd"
fault_inject ()
{
  kill -9 "$VMFERRYD_PID" || fail "kill -9 vmferryd failed"
  wait "$VMFERRYD_PID" 2>/dev/null
  [ $? = 137 ] || fail "vmferryd did not die of SIGKILL"
  echo "vmferryd killed"
}
fault_restore ()
{
  mig_start_vmferryd
  grep 'recovery:' "$TEST_DIR/vmferryd.log"
  # A skeleton existed from the bulk copy on: the restarted agent must
  # have rolled it back (or, after the move, kept the VM).  Its QEMU
  # may have ended by itself meanwhile: a QEMU started with -incoming
  # exits when its incoming migration fails (vmferry's rollback cancels
  # it); mig_dest_clean checks that no QEMU is left either way.
  case $1 in
    setup|cleanup) ;;
    *) grep -q "recovery: migration $MIG_ID (VM $VM_NAME) was not finished: rolled back (.*files removed)$" \
         "$TEST_DIR/vmferryd.log" || fail "vmferryd did not roll $MIG_ID back" ;;
  esac
}

# Exit codes (vmferry(1) FAULTS): refused at setup (2); from the bulk
# copy on the agent is unreachable (4), or 5 once the source QEMU
# completed; at cleanup the move completes (0).
fault_setup
fault_cell setup source 2
for phase in bulk mirroring memory; do
  fault_cell "$phase" source 4
done
fault_cell switchover source 4 5
fault_cell cleanup destination 0
fault_finish
exit 0
