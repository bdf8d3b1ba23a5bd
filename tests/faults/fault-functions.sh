# fault-functions.sh: the fault matrix (tests/faults/*.sh, one script
# per fault).  Sourced after mig-functions.sh and recover-functions.sh.
#
# A script sets FAULT (its name), defines fault_inject PHASE (the fault,
# while vmferry waits at the phase's hold point), fault_restore PHASE
# (after vmferry ended: e.g. start vmferryd again) and, if it can,
# fault_signature PHASE (after vmferry ended: proof that the fault
# happened and is what vmferry ran into, e.g. ENOSPC in its error), and
# calls fault_cell for each phase with the host the VM must end on and
# the exit codes vmferry(1) FAULTS promises there.
#
# fault_cell runs one migration (vmferry's engine) held inside the
# phase, checks that the phase is really in progress there (measured
# outside vmferry: bytes on the link, the guest's heartbeats; see
# fault_reached), injects the fault, lets vmferry go on, and checks
# the cell's promise: vmferry's exit code is one of the expected ones;
# a migration vmferry says it rolled back or finished (exit 0, 2, 3)
# left nothing before vmferry recover ran, and recover then has
# nothing to do (a crash or a sloppy rollback is not tidied up by
# recover unnoticed); after recover, the VM runs on exactly one host
# (the expected one), the guest verifies there, nothing of the
# migration is left (no QEMU, no files in the destination's roots, no
# block job, node, bitmap, export, NBD server or TLS object on a
# surviving source QEMU).  fault_finish prints the row, each cell with
# the expected and the actual exit code, and checks the image of a VM
# left on the source (fault_moved does it for a VM that moved).
# A cell that does not apply is printed as such by fault_na, with its
# reason (the FAULTS section of vmferry(1) explains each).

. "$abs_top_srcdir/tests/mig-functions.sh"
. "$abs_top_srcdir/tests/recover-functions.sh"

# Phases of the matrix and vmferry's hold point for each (vmferry(1),
# VMFERRY_TEST_HOLD): inside the bulk copy (8 MiB of the 20 copied),
# with the write mirror running, in QEMU's second pre-copy pass.
FAULT_PHASES="setup bulk mirroring memory switchover cleanup"
fault_point ()
{
  case $1 in
    bulk) echo copying ;;
    memory) echo precopy ;;
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

# fault_new_vm: a source VM (64 MiB disk, 20 MiB of random data, which
#   no compression hides from the link's byte count, the guest writing
#   records at 32 MiB and rewriting 32 MiB of random memory): SRC_VM,
#   SRC_IMG, VM_NAME (flt1, flt2...).  After a cell that moved the VM,
#   the next cells need a new one.
fault_new_vm ()
{
  FAULT_N=$((FAULT_N + 1))
  VM_NAME="flt$FAULT_N"
  SRC_VM="$TEST_DIR/src$FAULT_N"
  SRC_IMG="$SRC_VM/disk0.qcow2"
  mkdir -p "$SRC_VM"
  disk_create "$SRC_IMG" 64M
  head -c 20M /dev/urandom > "$TEST_DIR/random20" &&
    qemu-io -f qcow2 -c "write -q -s $TEST_DIR/random20 0 20M" "$SRC_IMG" ||
    fail "cannot write random data into $SRC_IMG"
  vm_start "$SRC_VM" "$VM_NAME" "$SRC_NS" "$SRC_IMG" \
    vmferry.disk_offset=32 vmferry.disk_size=16 vmferry.mem=32 \
    vmferry.mem_content=random
  vm_wait_ready "$SRC_VM"
  vm_wait_ack "$SRC_VM" 10
  ON_SOURCE=yes
}

# _fault_hbs DIR: the heartbeats in DIR's console log so far.
_fault_hbs ()
{
  _hb=$(grep -ac '^HB ' "$1/console.log" 2>/dev/null)
  echo "${_hb:-0}"
}

# _fault_status KEY: a field of vmferry status --json for the held
#   migration (its own word: the phase's name, the memory pass).
_fault_status ()
{
  ip netns exec "$SRC_NS" vmferry status "$MIG_ID" --json --run-dir "$RUNS" \
    2>/dev/null | jq -r ".$1 // empty"
}

# fault_reached PHASE: vmferry, held at PHASE's point, is where the row
#   says, measured from outside it where it can be (1 s of watching for
#   the phases that are going on):
#   setup       nothing of the migration on the destination yet;
#   bulk        6 to 16 MiB of the disk's 20 MiB of random data crossed
#               the link: the copy is half done (vmferry's workers
#               wait);
#   mirroring   the guest's writes cross the link while vmferry waits:
#               QEMU's mirror is active;
#   memory      QEMU's pre-copy (pass 2 or later, says vmferry status)
#               sends while vmferry waits, and the guest runs;
#   switchover  the guest is paused (no heartbeat for 1 s);
#   cleanup     the guest runs on the destination, paused on the source.
fault_reached ()
{
  _ph=$(_fault_status phase)
  case $1 in
    bulk|mirroring) _want=storage ;;
    *) _want=$1 ;;
  esac
  [ "$_ph" = "$_want" ] ||
    fail "held for $1, vmferry status says phase '$_ph' (expected $_want)"
  _tx0=$(mig_link_tx) _s0=$(_fault_hbs "$SRC_VM")
  _d0=$(_fault_hbs "$DST_RUN/$VM_NAME")
  case $1 in
    setup)
      mig_dest_clean
      _seen="destination empty" ;;
    bulk)
      # The hold comes once 8 MiB are handed to the workers: the one
      # that holds has not sent its piece, the others finish theirs.
      _sent=$((_tx0 - FAULT_TX0))
      [ "$_sent" -ge $((6 << 20)) ] && [ "$_sent" -lt $((16 << 20)) ] ||
        fail "held in the bulk copy with $_sent bytes on the link (expected 6 to 16 MiB of 20)"
      _seen="$((_sent >> 20)) MiB of 20 sent" ;;
    *)
      sleep 1
      _grew=$(( $(mig_link_tx) - _tx0 ))
      _s1=$(_fault_hbs "$SRC_VM") _d1=$(_fault_hbs "$DST_RUN/$VM_NAME")
      _seen="in 1 s: $_grew bytes sent, heartbeats source +$((_s1 - _s0)), destination +$((_d1 - _d0))" ;;
  esac
  case $1 in
    mirroring)
      [ "$_grew" -ge 65536 ] ||
        fail "held with the mirror on, but the guest's writes did not cross the link ($_seen)" ;;
    memory)
      [ "$(_fault_status memory.round)" -ge 2 ] 2>/dev/null ||
        fail "held in pre-copy, but not in its second pass ($(_fault_status memory.round))"
      # Held, QEMU sends 256 KiB/s (vmferry(1), VMFERRY_TEST_HOLD).
      [ "$_grew" -ge 65536 ] && [ $((_s1 - _s0)) -ge 3 ] ||
        fail "held in pre-copy, but it is not going on ($_seen)" ;;
    switchover)
      [ $((_s1 - _s0)) = 0 ] ||
        fail "held at the switchover, but the guest runs ($_seen)" ;;
    cleanup)
      [ $((_s1 - _s0)) = 0 ] && [ $((_d1 - _d0)) -ge 3 ] ||
        fail "held at cleanup, but the guest does not run on the destination only ($_seen)" ;;
  esac
  echo "$1 reached: $_seen"
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

# fault_cell PHASE EXPECTED_HOST CODE...: one cell of the matrix.
#   EXPECTED_HOST is source, destination, or any (either, but exactly
#   one); CODEs are the exit codes vmferry migrate may end with
#   (137: killed by SIGKILL).
fault_cell ()
{
  _phase=$1 _fwant=$2
  shift 2
  _codes="$*"
  echo "==== $FAULT during $_phase ===="
  FAULT_TX0=$(mig_link_tx)
  FAULT_DLOG0=$(stat -c %s "$TEST_DIR/vmferryd.log")
  rec_migrate_held "$(fault_point "$_phase")"
  fault_reached "$_phase"
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
  echo "vmferry migrate exit code: $_frc (expected: $_codes)"
  grep -v 'debug:' "$MIG_OUT" | tail -n 5
  case " $_codes " in
    *" $_frc "*) ;;
    *) fail "$FAULT during $_phase: vmferry exit code $_frc, expected one of: $_codes" ;;
  esac
  command -v fault_signature >/dev/null && fault_signature "$_phase"
  fault_restore "$_phase"
  # What vmferry says it settled (moved, refused, rolled back with the
  # destination cleaned) must be settled before recover runs.
  case $_frc in
    0|2|3) fault_settled "$_frc" ;;
  esac
  rec_recover 0
  case $_frc in
    0|2|3) [ -z "$REC_OUT" ] ||
             fail "$FAULT during $_phase: vmferry exited $_frc, yet recover had work: $REC_OUT" ;;
  esac
  _how="expected exit $_codes, got $_frc"
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

# fault_agent_log: what vmferryd logged since this cell began (for a
#   fault_signature; not after vmferryd was started again).
fault_agent_log ()
{
  tail -c +$((FAULT_DLOG0 + 1)) "$TEST_DIR/vmferryd.log"
}

# fault_settled RC: vmferry ended with RC (0 moved, 2 refused, 3 rolled
#   back, destination cleaned): before any recover, the VM runs on one
#   host and nothing of the migration is left on the other.
fault_settled ()
{
  if [ "$1" = 0 ]; then
    vm_running "$SRC_VM" && fail "vmferry exited 0, but the source QEMU runs"
    vm_running "$DST_RUN/$VM_NAME" ||
      fail "vmferry exited 0, but the VM does not run on the destination"
    mig_dest_holds "$VM_NAME"
  else
    rec_source_clean
    mig_dest_clean
  fi
}

# fault_all_phases EXPECTED_HOST CODES_OF_PHASE...: fault_cell for every
#   phase, with a new VM after a cell that moved the last one.  Each
#   CODES_OF_PHASE is "PHASE:CODE,CODE..." (e.g. setup:0,2).
fault_all_phases ()
{
  _fwhere=$1
  shift
  for _ph in $FAULT_PHASES; do
    [ "$ON_SOURCE" = yes ] || fault_new_vm
    _c=
    for _pc in "$@"; do
      case $_pc in
        "$_ph":*) _c=$(echo "${_pc#*:}" | tr ',' ' ') ;;
      esac
    done
    [ -n "$_c" ] || fail "fault_all_phases: no exit codes for $_ph"
    # shellcheck disable=SC2086
    fault_cell "$_ph" "$_fwhere" $_c
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
#   destination image with both console logs; the destination's roots
#   hold the VM's directories and nothing else.  The destination VM is
#   then stopped and its files removed, for the next cells.
fault_moved ()
{
  pid_alive "$(cat "$SRC_VM/qemu.pid" 2>/dev/null)" &&
    fail "the source QEMU still runs"
  [ -e "$SRC_IMG" ] && fail "the source image was not deleted"
  mig_dest_holds "$VM_NAME"
  mig_verify_moved "$SRC_VM" "$DST_RUN/$VM_NAME" \
    "$DST_STORAGE/$VM_NAME/disk0.qcow2" 5
  # The VM's record in vmferryd's journal and its definition go with it
  # (mig_dest_holds checked that they are the only ones).
  rm -rf "${DST_STORAGE:?}/$VM_NAME" "${DST_RUN:?}/$VM_NAME" \
    "$DST_STORAGE/.vmferryd-journal" "$DST_STORAGE/.vmferry-vms" \
    "${DST_VMS:?}/$VM_NAME"
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
