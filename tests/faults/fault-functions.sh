# fault-functions.sh: the fault matrix (tests/faults/*.sh, one script
# per fault).  Sourced after mig-functions.sh and recover-functions.sh.
#
# A script sets FAULT (its name), defines fault_inject PHASE (the fault,
# while vmferry waits at the phase's hold point) and fault_restore PHASE
# (after vmferry ended: e.g. start vmferryd again), and calls fault_cell
# for each phase with the host the VM must end on.  fault_cell runs one
# migration (vmferry's engine) held at the phase, injects the fault,
# lets it go on, runs vmferry recover, and checks the cell's promise:
# the VM runs on exactly one host (the expected one), the guest
# verifies there, nothing of the migration is left (no QEMU, no files
# in the destination's roots, no block job, node, bitmap, export, NBD
# server or TLS object on a surviving source QEMU).  fault_matrix
# prints the row; fault_finish checks the image of a VM left on the
# source (fault_moved does it for a VM that moved).
# A cell that does not apply is printed as such by fault_na, with its
# reason (the FAULTS section of vmferry(1) explains each).

. "$abs_top_srcdir/tests/mig-functions.sh"
. "$abs_top_srcdir/tests/recover-functions.sh"

# Phases of the matrix and vmferry's hold point for each.
FAULT_PHASES="setup bulk mirroring memory switchover cleanup"
fault_point ()
{
  case $1 in
    bulk) echo storage ;;
    *) echo "$1" ;;
  esac
}

# fault_setup [VMFERRYD_ARG...]: hosts, vmferryd, and the first source
#   VM (fault_new_vm).  A script may define fault_before_agent, run
#   before vmferryd starts (e.g. to mount the storage root).
fault_setup ()
{
  guest_test_init
  mig_hosts
  command -v fault_before_agent >/dev/null && fault_before_agent
  mig_start_vmferryd "$@"
  RUNS="$TEST_DIR/runs"
  FAULT_ROW=""
  FAULT_T0=$(date +%s)
  FAULT_N=0
  fault_new_vm
}

# fault_new_vm: a source VM (64 MiB disk, 20 MiB of data, the guest
#   writing records at 32 MiB): SRC_VM, SRC_IMG, VM_NAME (flt1, flt2...).
#   After a cell that moved the VM, the next cells need a new one.
fault_new_vm ()
{
  FAULT_N=$((FAULT_N + 1))
  VM_NAME="flt$FAULT_N"
  SRC_VM="$TEST_DIR/src$FAULT_N"
  SRC_IMG="$SRC_VM/disk0.qcow2"
  mkdir -p "$SRC_VM"
  disk_create "$SRC_IMG" 64M 20
  vm_start "$SRC_VM" "$VM_NAME" "$SRC_NS" "$SRC_IMG" \
    vmferry.disk_offset=32 vmferry.disk_size=16 vmferry.mem=32
  vm_wait_ready "$SRC_VM"
  vm_wait_ack "$SRC_VM" 10
  ON_SOURCE=yes
}

# fault_where: print where the VM runs: source, destination, both, none.
fault_where ()
{
  _s=no _d=no
  if vm_running "$SRC_VM" &&
     vm_qmp "$SRC_VM" query-status | grep -q '"status": "running"'; then
    _s=yes
  fi
  # The VM's own files moved into the run directory there.
  if vm_running "$DST_RUN/$VM_NAME" &&
     vm_qmp "$DST_RUN/$VM_NAME" query-status |
       grep -q '"status": "running"'; then
    _d=yes
  fi
  case $_s$_d in
    yesno) echo source ;;
    noyes) echo destination ;;
    yesyes) echo both ;;
    *) echo none ;;
  esac
}

# fault_cell PHASE EXPECTED_HOST: one cell of the matrix.  EXPECTED_HOST
#   is source, destination, or any (either, but exactly one).
fault_cell ()
{
  _phase=$1 _fwant=$2
  echo "==== $FAULT during $_phase ===="
  rec_migrate_held "$(fault_point "$_phase")"
  fault_inject "$_phase"
  touch "$RELEASE"
  # vmferry must end by itself (no hang): 5 minutes is far beyond every
  # timeout it has.
  for _i in $(seq 3000); do
    pid_alive "$MIG_PID" || break
    sleep 0.1
  done
  if pid_alive "$MIG_PID"; then
    kill -9 "$MIG_PID"
    fail "$FAULT during $_phase: vmferry still runs after 5 minutes"
  fi
  wait "$MIG_PID" 2>/dev/null
  _frc=$?
  echo "vmferry migrate exit code: $_frc"
  grep -v 'debug:' "$MIG_OUT" | tail -n 5
  fault_restore "$_phase"
  rec_recover 0
  _how="exit $_frc"
  [ -n "$REC_OUT" ] && _how="$_how, recover: $(echo "$REC_OUT" | sed 's/^[0-9a-f]*  vm [^:]*: //' | head -n 1)"
  _where=$(fault_where)
  case $_fwant:$_where in
    "$_where:$_where"|any:source|any:destination) ;;
    *) fail "$FAULT during $_phase: the VM runs on: $_where (expected $_fwant)" ;;
  esac
  if [ "$_where" = source ]; then
    rec_source_clean
    mig_dest_clean
    rec_source_verified
  else
    fault_moved
  fi
  FAULT_ROW="$FAULT_ROW|$_phase: $_where ($_how)"
  echo "cell $FAULT/$_phase: VM on $_where ($_how)"
}

# fault_all_phases EXPECTED_HOST: fault_cell for every phase, with a new
#   VM after a cell that moved the last one.
fault_all_phases ()
{
  for _ph in $FAULT_PHASES; do
    [ "$ON_SOURCE" = yes ] || fault_new_vm
    fault_cell "$_ph" "$1"
  done
}

# fault_na PHASE WHY: a cell that does not apply, printed with why.
fault_na ()
{
  FAULT_ROW="$FAULT_ROW|$1: n/a ($2)"
  echo "cell $FAULT/$1: not applicable: $2"
}

# fault_moved: the VM moved: the source QEMU is gone with its image;
#   the guest verifies on the destination and check-image accepts the
#   destination image with both console logs.  The destination VM is
#   then stopped and its files removed, for the next cells.
fault_moved ()
{
  pid_alive "$(cat "$SRC_VM/qemu.pid" 2>/dev/null)" &&
    fail "the source QEMU still runs"
  [ -e "$SRC_IMG" ] && fail "the source image was not deleted"
  mig_verify_moved "$SRC_VM" "$DST_RUN/$VM_NAME" \
    "$DST_STORAGE/$VM_NAME/disk0.qcow2" 5
  rm -rf "${DST_STORAGE:?}/$VM_NAME" "${DST_RUN:?}/$VM_NAME" \
    "$DST_STORAGE/.vmferryd-journal"
  ON_SOURCE=no
}

# fault_finish: if the last VM is still on the source, the guest
#   verifies and check-image accepts the source image; print the row.
fault_finish ()
{
  if [ "$ON_SOURCE" = yes ]; then
    rec_source_verified
    vm_stop "$SRC_VM"
    vm_check_image "$SRC_IMG" "$SRC_VM/console.log" ||
      fail "check-image rejected the source image"
  fi
  echo
  echo "FAULT MATRIX ROW ($(( $(date +%s) - FAULT_T0 )) s)"
  echo "$FAULT$FAULT_ROW" | tr '|' '\n' | sed '2,$s/^/    /'
}
