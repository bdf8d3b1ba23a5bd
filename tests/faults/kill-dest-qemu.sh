#!/bin/sh
# faults/kill-dest-qemu.sh: the fault matrix's row "kill -9 the
# destination QEMU" (the skeleton that receives the VM).  From the bulk
# copy to the switchover, vmferry notices (data channel, mirror, memory
# migration) and rolls back (exit 3): the VM runs on the source.  The
# killed QEMU must be gone before vmferry goes on.  Before setup
# there is no destination QEMU; after the switchover that QEMU is the VM
# itself (see vmferry(1), FAULTS).

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/faults/fault-functions.sh"

FAULT="kill -9 destination QEMU"
fault_inject ()
{
  _sk=$(vm_pid "$DST_RUN/$VM_NAME") || fail "no skeleton QEMU runs"
  kill -9 "$_sk" || fail "kill -9 $_sk failed"
  wait_until 10 pid_gone "$_sk" || fail "the destination QEMU $_sk survived kill -9"
  echo "destination QEMU $_sk killed"
}
fault_restore () { :; }

fault_setup
fault_na setup "no destination QEMU exists before setup"
for phase in bulk mirroring memory switchover; do
  fault_cell "$phase" source 3
done
fault_na cleanup "the destination QEMU is the VM: its death is the VM's crash"
fault_finish
exit 0
