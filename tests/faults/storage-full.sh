#!/bin/sh
# faults/storage-full.sh: the fault matrix's row "destination storage
# full".  The agent's storage root is a small tmpfs; as each phase
# begins a file fills it to the last byte, so every later write there
# fails with ENOSPC (the skeleton's image, the data channel's writes,
# the mirror's).  vmferry must roll back with the VM on the source and
# the root clean once the filler is gone.  At cleanup the VM already
# runs on the destination: a full disk there is the VM's own trouble
# (see vmferry(1), FAULTS).

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/faults/fault-functions.sh"

requires fallocate --version

FAULT="destination storage full"
fault_before_agent ()
{
  mount -t tmpfs -o size=128m,mode=0700 vmferry-full "$DST_STORAGE" ||
    fail "cannot mount a tmpfs on $DST_STORAGE"
  cleanup_fn "umount '$DST_STORAGE'"
}
fault_inject ()
{
  _avail=$(df -B1 --output=avail "$DST_STORAGE" | tail -n 1)
  fallocate -l "$_avail" "$DST_STORAGE/.filler" ||
    fail "cannot fill $DST_STORAGE"
  echo "storage root full: $(df -h --output=avail "$DST_STORAGE" | tail -n 1) left"
}
fault_restore ()
{
  rm -f "$DST_STORAGE/.filler"
}

fault_setup
for phase in setup bulk mirroring memory switchover; do
  fault_cell "$phase" source
done
fault_na cleanup "the VM runs on the destination: a full disk there is its own"
fault_finish
exit 0
