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
# The skeleton may write while the root is being filled: take most of
# it at once, then write zeroes until the file system says it is full.
fault_inject ()
{
  _avail=$(df -B1 --output=avail "$DST_STORAGE" | tail -n 1 | tr -d ' ')
  [ "$_avail" -gt 1048576 ] &&
    fallocate -l $((_avail - 1048576)) "$DST_STORAGE/.filler"
  dd if=/dev/zero of="$DST_STORAGE/.filler2" bs=4k 2>/dev/null
  _avail=$(df -B1 --output=avail "$DST_STORAGE" | tail -n 1 | tr -d ' ')
  [ "$_avail" = 0 ] || fail "cannot fill $DST_STORAGE ($_avail bytes left)"
  echo "storage root full"
}
# What failed is the full root: at setup vmferryd's own check of the
# free space refuses the VM before anything is written (HTTP 422, "not
# enough space ... 0 MiB free"); later a write into the root fails with
# ENOSPC, in vmferry's error or in what vmferryd logged during the cell.
fault_signature ()
{
  if [ "$1" = setup ]; then
    grep -q 'not enough space: .* has 0 MiB free' "$MIG_OUT" ||
      fail "setup: vmferry's refusal does not name the full root"
  else
    { cat "$MIG_OUT"; fault_agent_log; } | grep -q 'No space left on device' ||
      fail "$1: no ENOSPC in vmferry's or vmferryd's words"
  fi
}
fault_restore ()
{
  rm -f "$DST_STORAGE/.filler" "$DST_STORAGE/.filler2"
}

fault_setup
fault_cell setup source 2
for phase in bulk mirroring memory switchover; do
  fault_cell "$phase" source 3
done
fault_na cleanup "the VM runs on the destination: a full disk there is its own"
fault_finish
exit 0
