# mig-functions.sh: helpers for migration tests (sourced after
# functions.sh).  Two "hosts" are network namespaces joined by a veth
# pair; the destination runs vmferryd; everything is cleaned up by the
# names and PIDs created here, also when a test fails.

# pid_alive PID: true if PID runs (a zombie counts as dead).
pid_alive ()
{
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
  _st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

# pid_gone PID: true once PID no longer runs (for wait_until).
pid_gone ()
{
  ! pid_alive "$1"
}

# mig_hosts [RATE]: namespaces SRC_NS and DST_NS with addresses SRC_IP
#   and DST_IP (198.18.0.0/15), optionally rate-limited (tc rate, e.g.
#   100mbit); a CA in $TEST_DIR/ca and certificates for both hosts
#   (SRC_TLS, DST_TLS, QEMU's layout); the destination's roots
#   DST_STORAGE and DST_RUN (empty).
mig_hosts ()
{
  SRC_NS="$NS_PREFIX-src" DST_NS="$NS_PREFIX-dst"
  SRC_IP="$NET_PREFIX.1" DST_IP="$NET_PREFIX.2"
  netns_pair "$SRC_NS" "$DST_NS" "$SRC_IP/24" "$DST_IP/24" ${1:+"$1"}
  MIG_CA="$TEST_DIR/ca" SRC_TLS="$TEST_DIR/src-tls" DST_TLS="$TEST_DIR/dst-tls"
  vmferry pki init "$MIG_CA" >/dev/null || fail "pki init"
  vmferry pki issue "$MIG_CA" --name src --ip "$SRC_IP" --out "$SRC_TLS" \
    >/dev/null || fail "pki issue src"
  vmferry pki issue "$MIG_CA" --name dst --ip "$DST_IP" --out "$DST_TLS" \
    >/dev/null || fail "pki issue dst"
  DST_STORAGE="$TEST_DIR/dst-storage" DST_RUN="$TEST_DIR/dst-run"
  DST_VMS="$TEST_DIR/dst-vms"     # the destination's VM directory
  mkdir -p "$DST_STORAGE" "$DST_RUN" || fail "mkdir roots"
}

# mig_spawn_log: from now on, vmferryd (mig_start_vmferryd) runs QEMU,
#   qemu-nbd and qemu-img through wrappers that report each run (the
#   program's name and its arguments, one line in $SPAWN_LOG) before
#   they exec the real program: a test can then assert that a request
#   started nothing, whatever it cleaned up afterwards.  The report
#   goes over an abstract unix socket to a listener in DST_NS: the
#   confined processes share that network namespace but see no
#   writable file of ours.  A wrapper that cannot report does not run
#   the program.  Sets SPAWN_BIN and SPAWN_LOG.
mig_spawn_log ()
{
  SPAWN_BIN="$TEST_DIR/spawn-bin" SPAWN_LOG="$TEST_DIR/spawned"
  _sock="vmferry-spawn-$$"
  mkdir -p "$SPAWN_BIN" && chmod 755 "$SPAWN_BIN" && : > "$SPAWN_LOG" ||
    fail "mig_spawn_log: cannot make $SPAWN_BIN"
  for _prog in "$QEMU" qemu-nbd qemu-img; do
    _real=$(command -v "$_prog") || fail "mig_spawn_log: no $_prog"
    printf '%s\n' '#!/bin/sh' \
      "printf '%s\\n' \"\$(basename \"\$0\") \$*\" |" \
      "  /usr/bin/socat -u - ABSTRACT-CONNECT:$_sock 2>/dev/null || exit 1" \
      "exec $_real \"\$@\"" > "$SPAWN_BIN/$(basename "$_prog")" &&
      chmod 755 "$SPAWN_BIN/$(basename "$_prog")" ||
      fail "mig_spawn_log: cannot write the wrapper of $_prog"
  done
  ip netns exec "$DST_NS" socat -u "ABSTRACT-LISTEN:$_sock,fork" \
    "OPEN:$SPAWN_LOG,append" &
  cleanup_fn "kill $! 2>/dev/null"
  _spawn_listen () { ip netns exec "$DST_NS" ss -Hxl | grep -q "@$_sock"; }
  wait_until 10 _spawn_listen || fail "mig_spawn_log: no listener"
}

# mig_spawned: print the programs vmferryd ran since mig_spawn_log (or
#   the last mig_spawn_mark), one line each.
mig_spawned ()
{
  tail -n +$((${_spawn_mark:-0} + 1)) "$SPAWN_LOG"
}

# mig_spawned_for_requests: mig_spawned without vmferryd's probes of its
#   own QEMU, whose arguments are fixed and take nothing from a request:
#   -version, -machine help, and the host's facts (a confined
#   "-machine none" QEMU in a .vmferry-probe- directory of the run root).
mig_spawned_for_requests ()
{
  _q=$(basename "$QEMU")
  _probe_dir="$DST_RUN/\.vmferry-probe-[A-Za-z0-9]*"
  mig_spawned | grep -v -x -e "$_q -version" -e "$_q -machine help" \
    -e "$_q -machine none -accel tcg -nodefaults -display none -no-user-config -pidfile $_probe_dir/qemu\.pid -qmp unix:$_probe_dir/qmp\.sock,server=on,wait=off -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
}

# mig_spawn_mark: what vmferryd ran so far no longer counts for
#   mig_spawned (e.g. its start-up probes).
mig_spawn_mark ()
{
  _spawn_mark=$(wc -l < "$SPAWN_LOG")
}

# mig_canaries FILE...: take FILEs (host files that hostile requests
#   name) as canaries: their inode, size, mtime and content are noted
#   for mig_canaries_ok.
mig_canaries ()
{
  _canaries="$*"
  for _c in "$@"; do
    echo "$_c $(stat -c '%i %s %Y' "$_c") $(md5sum < "$_c")"
  done > "$TEST_DIR/canaries" || fail "cannot note the canaries"
}

# mig_canaries_ok WHAT: every canary is as it was (else fail, naming
#   WHAT).
mig_canaries_ok ()
{
  for _c in $_canaries; do
    echo "$_c $(stat -c '%i %s %Y' "$_c") $(md5sum < "$_c")"
  done | cmp -s - "$TEST_DIR/canaries" ||
    fail "$1: a canary changed ($_canaries)"
}

# mig_qemu10: QEMU 10.0 from bookworm-backports in a private prefix
#   (qemu-backport.sh); its wrapper in QEMU10.  Skips the test (77) when
#   the backport cannot be fetched.
mig_qemu10 ()
{
  sh "$abs_top_srcdir/tests/qemu-backport.sh" > "$TEST_DIR/backport.out"
  case $? in
    0) ;;
    77) echo "$0: SKIP: QEMU 10.0 from bookworm-backports is not available"
        exit 77 ;;
    *) fail "qemu-backport.sh failed" ;;
  esac
  QEMU10=$(tail -n 1 "$TEST_DIR/backport.out")
  [ -x "$QEMU10" ] || fail "qemu-backport.sh printed no wrapper"
}

# mig_start_vmferryd [ARG...]: start vmferryd in DST_NS on DST_IP:7480
#   with the roots, DST_VMS as its VM directory and DST_TLS, the test
#   guest's directory as a --read-dir (its -kernel and -initrd), plus
#   ARGs, and wait until it listens.  After mig_spawn_log, with the
#   logging wrappers (first in its PATH, and as --qemu).
#   Log in $TEST_DIR/vmferryd.log.  Sets VMFERRYD_PID.  Cleanup: kill it
#   and every QEMU it started (pidfiles under DST_RUN).
mig_start_vmferryd ()
{
  ip netns exec "$DST_NS" ${SPAWN_BIN:+env "PATH=$SPAWN_BIN:$PATH"} \
    vmferryd --listen "$DST_IP:7480" \
    --storage-root "$DST_STORAGE" --run-root "$DST_RUN" --vm-dir "$DST_VMS" \
    --tls-dir "$DST_TLS" ${GUEST_DIR:+--read-dir "$GUEST_DIR"} \
    ${SPAWN_BIN:+--qemu "$SPAWN_BIN/$(basename "$QEMU")"} "$@" \
    > "$TEST_DIR/vmferryd.log" 2>&1 &
  VMFERRYD_PID=$!
  cleanup_fn "mig_kill_dest"
  for _i in $(seq 100); do
    grep -q 'listening on' "$TEST_DIR/vmferryd.log" && return 0
    pid_alive "$VMFERRYD_PID" || break
    sleep 0.1
  done
  cat "$TEST_DIR/vmferryd.log" >&2
  fail "vmferryd did not start"
}

# mig_kill_dest: kill vmferryd and the QEMUs it started (by the PIDs in
#   their pidfiles, checked against their command lines).
mig_kill_dest ()
{
  [ -n "${VMFERRYD_PID:-}" ] && kill "$VMFERRYD_PID" 2>/dev/null
  for _pf in "$DST_RUN"/*/*.pid; do
    [ -f "$_pf" ] || continue
    _p=$(cat "$_pf")
    if tr '\0' ' ' < "/proc/$_p/cmdline" 2>/dev/null | grep -qF "$DST_RUN/"
    then
      kill -9 "$_p" 2>/dev/null
    fi
  done
  return 0
}

# mig_text_guest NAME: start the test guest NAME in SRC_NS on a fresh
#   1G disk in $TEST_DIR/src (records in 16 MiB, 20 a second) with 384
#   MiB of its 512 MiB RAM holding text, 200 pages rewritten a second;
#   wait for its first 20 records.  Sets src (its directory), img and
#   src_pid.
mig_text_guest ()
{
  src="$TEST_DIR/src"
  img="$src/disk0.qcow2"
  mkdir -p "$src"
  disk_create "$img" 1G 16
  vm_start "$src" "$1" "$SRC_NS" "$img" vmferry.disk_rate=20 \
    vmferry.disk_size=16 vmferry.mem=384 vmferry.mem_content=text \
    vmferry.mem_rate=200
  src_pid=$VM_PID
  vm_wait_ready "$src"
  vm_wait_ack "$src" 20
}

# mig_link_tx: bytes the source host has sent on its link (NETNS_IF).
mig_link_tx ()
{
  ip -n "$SRC_NS" -s -j link show "$NETNS_IF" | jq '.[0].stats64.tx.bytes'
}

# mig_migrate ARG...: run "vmferry migrate ARG... --to DST_IP --tls-dir
#   SRC_TLS" in SRC_NS.  Output in $TEST_DIR/migrate.out (shown), exit
#   code in MIG_RC.
mig_migrate ()
{
  ip netns exec "$SRC_NS" vmferry migrate "$@" --to "$DST_IP" \
    --tls-dir "$SRC_TLS" > "$TEST_DIR/migrate.out" 2>&1
  MIG_RC=$?
  cat "$TEST_DIR/migrate.out"
  echo "vmferry exit code: $MIG_RC"
}

# mig_check_events [FILE]: vmferry's --json output (default
#   $TEST_DIR/migrate.out) matches man/vmferry-events.schema.json
#   (without python3-jsonschema this says so and checks nothing).
mig_check_events ()
{
  /usr/bin/python3 "$abs_top_srcdir/tests/check-events.py" \
    "$abs_top_srcdir/man/vmferry-events.schema.json" \
    "${1:-$TEST_DIR/migrate.out}"
  case $? in
    0) ;;
    77) echo "events not checked against the schema (no python3-jsonschema)" ;;
    *) fail "vmferry's events do not match man/vmferry-events.schema.json" ;;
  esac
}

# mig_result_field KEY: a field of the final --json object.
mig_result_field ()
{
  grep '"event":"result"' "$TEST_DIR/migrate.out" | tail -n 1 |
    jq -r ".$1"
}

# mig_dir_empty DIR: true if DIR has no entries.
mig_dir_empty ()
{
  [ -z "$(ls -A "$1")" ]
}

# mig_dest_clean [--listeners]: nothing of a migration is left on the
#   destination: its roots are empty and no QEMU runs from its run root;
#   with --listeners, nothing but vmferryd's API (port 7480) listens
#   there either (no data channel or migration port).
mig_dest_clean ()
{
  mig_dir_empty "$DST_STORAGE" ||
    { ls -RA "$DST_STORAGE"; fail "storage root not empty"; }
  mig_dir_empty "$DST_RUN" || { ls -RA "$DST_RUN"; fail "run root not empty"; }
  pgrep -f "$DST_RUN/" >/dev/null && fail "a QEMU is left on the destination"
  [ "${1:-}" = --listeners ] || return 0
  _left=$(ip netns exec "$DST_NS" ss -Htln | grep -v ":7480 ")
  [ -z "$_left" ] || { echo "$_left"; fail "a listener is left on the destination"; }
}

# mig_dest_holds NAME...: the destination's roots hold the directories
#   of the VMs NAME... and nothing else (dot files included: a partial
#   image or another VM's files would show) but vmferryd's journal, whose
#   entries must each say that one of these VMs runs there (vmferryd(8):
#   that record stays), and the VMs' definitions (.vmferry-vms/NAME.json);
#   its VM directory (DST_VMS) lists these VMs only; and no QEMU runs
#   from the run root but those VMs'.
mig_dest_holds ()
{
  _want=$(printf '%s\n' "$@" | sort)
  _jdir="$DST_STORAGE/.vmferryd-journal"
  [ "$(ls -A "$DST_RUN" | sort)" = "$_want" ] ||
    { ls -laR "$DST_RUN"; fail "$DST_RUN holds more than: $*"; }
  [ "$(ls -A "$DST_STORAGE" | grep -vx -e '\.vmferryd-journal' -e '\.vmferry-vms' | sort)" = "$_want" ] ||
    { ls -laR "$DST_STORAGE"; fail "$DST_STORAGE holds more than: $*"; }
  [ "$(ls -A "$DST_STORAGE/.vmferry-vms" 2>/dev/null | sort)" = \
    "$(printf '%s.json\n' "$@" | sort)" ] ||
    { ls -laR "$DST_STORAGE/.vmferry-vms"; fail "the destination's definitions are not those of: $*"; }
  [ -z "$(ls -A "$DST_VMS" 2>/dev/null | grep -vxF "$_want")" ] ||
    { ls -laR "$DST_VMS"; fail "$DST_VMS lists more than: $*"; }
  for _e in $(ls -A "$_jdir" 2>/dev/null); do
    _jvm=$(jq -r 'select(.state == "running") | .vm' "$_jdir/$_e" 2>/dev/null)
    printf '%s\n' "$@" | grep -qx -- "${_jvm:-.}" ||
      { cat "$_jdir/$_e"; fail "journal entry $_e is not a running VM of: $*"; }
  done
  for _p in $(pgrep -f "$DST_RUN/"); do
    _ok=
    for _n in "$@"; do
      tr '\0' ' ' < "/proc/$_p/cmdline" 2>/dev/null |
        grep -qF "$DST_RUN/$_n/" && _ok=yes
    done
    [ -n "$_ok" ] || fail "a QEMU of none of $* runs on the destination: $_p"
  done
  return 0
}

# mig_disk_with_data IMAGE MIB text|random: a 1 GiB qcow2 IMAGE whose
#   first MIB MiB hold repeated text or random bytes, kept in
#   $TEST_DIR/fill too (mig_image_starts_with IMAGE "$TEST_DIR/fill"
#   checks them after the move).
mig_disk_with_data ()
{
  mkdir -p "$(dirname "$1")"
  qemu-img create -q -f qcow2 "$1" 1G || fail "qemu-img create $1"
  case $3 in
    text) yes 'the migration moves text that compresses well, line after line' |
            head -c "${2}M" ;;
    random) head -c "${2}M" /dev/urandom ;;
    *) fail "mig_disk_with_data: $3 is neither text nor random" ;;
  esac > "$TEST_DIR/fill" || fail "making $3 data"
  qemu-io -f qcow2 -c "write -s $TEST_DIR/fill 0 ${2}M" "$1" >/dev/null ||
    fail "filling $1"
}

# mig_image_starts_with IMAGE FILE: the qcow2 IMAGE's first bytes are
#   FILE's, byte for byte (the data a test wrote before migrating).
mig_image_starts_with ()
{
  qemu-img convert -f qcow2 -O raw "$1" "$TEST_DIR/starts.raw" ||
    fail "reading $1"
  cmp -n "$(stat -c %s "$2")" "$2" "$TEST_DIR/starts.raw" ||
    fail "$1 does not hold the data written before the migration"
  rm -f "$TEST_DIR/starts.raw"
}

# mig_image_has_pattern IMAGE BYTE OFFSET LENGTH: the qcow2 IMAGE holds
#   BYTE (e.g. 0x5a) at every byte of [OFFSET, OFFSET+LENGTH) (qemu-io
#   syntax: 1M, 200M).  qemu-io's exit status decides: it is non-zero
#   when the pattern differs and also when the image cannot be opened
#   or read (grepping its output alone would take those for success).
mig_image_has_pattern ()
{
  _hp=$(qemu-io -f qcow2 -r -c "read -P $2 $3 $4" "$1" 2>&1) || {
    printf '%s\n' "$_hp"
    fail "$1 does not hold $2 at [$3, +$4) (or cannot be read)"
  }
  # qemu-io says what it read: the whole range, not a part of it.
  printf '%s\n' "$_hp" | grep -q '^read [0-9]*/[0-9]* bytes' ||
    { printf '%s\n' "$_hp"; fail "qemu-io did not read $1"; }
}

# _mig_whole_lines FILE: FILE's complete lines (a last line still
#   without its newline left out), carriage returns removed.
_mig_whole_lines ()
{
  if [ -n "$(tail -c 1 "$1" | tr -d '\n')" ]; then
    sed '$d' "$1"
  else
    cat "$1"
  fi | tr -d '\r'
}

# mig_same_run SRC_DIR DST_DIR: the guest on the destination is the one
#   that ran on the source, not a fresh boot (which would start a new
#   run, reach any ACK target and verify itself): the destination's
#   console shows no start of a workload (WORKLOAD CONFIG/READY), and
#   its first acknowledged record follows the source's last one.  A
#   line the switchover cut in two (the source's log ends without its
#   newline) hides one ACK line: the sequence must then still go on.
mig_same_run ()
{
  _mig_whole_lines "$2/console.log" | grep -a -E '^WORKLOAD (CONFIG|READY)' &&
    fail "the guest started again on the destination ($2)"
  _src_last=$(_mig_whole_lines "$1/console.log" |
                grep -a '^ACK [0-9]*-[0-9]*$' | tail -n 1 | sed 's/.*-//')
  _dst_first=$(_mig_whole_lines "$2/console.log" |
                 grep -a -m 1 '^ACK [0-9]*-[0-9]*$' | sed 's/^ACK \([0-9]*\)-.*/\1/')
  [ -n "$_src_last" ] && [ -n "$_dst_first" ] ||
    fail "no ACK to compare: source's last '$_src_last', destination's first '$_dst_first'"
  if [ -n "$(tail -c 1 "$1/console.log" | tr -d '\n')" ]; then
    [ "$_dst_first" -gt $((_src_last + 1)) ] ||
      fail "the destination's first record $_dst_first does not go on from the source's $_src_last (a line was cut)"
  else
    [ "$_dst_first" = $((_src_last + 1)) ] ||
      fail "the destination's first record $_dst_first does not follow the source's last $_src_last"
  fi
  echo "records: the source's last $_src_last, the destination's first $_dst_first"
}

# mig_verify_moved SRC_DIR DST_DIR IMAGE [MORE_ACKS]: after a migration,
#   the workload on the destination goes on (MORE_ACKS, 10, records past
#   the source's last) in the same run (mig_same_run), verifies its disk
#   and memory, is stopped, and check-image accepts IMAGE with both
#   console logs.  Fails the test otherwise.
mig_verify_moved ()
{
  _last=$(vm_last_ack "$1")
  vm_wait_ack "$2" $((_last + ${4:-10})) 60
  mig_same_run "$1" "$2"
  vm_verify "$2" 120 || fail "guest verdict on $2: $VM_VERDICT"
  vm_stop "$2"
  vm_check_image "$3" "$1/console.log" "$2/console.log" ||
    fail "check-image rejected $3"
}

# mig_offline_job ID NAME [MEMBERS]: from SRC_NS, with SRC_TLS's client
#   certificate, have vmferryd prepare migration ID: an offline move of
#   VM NAME with one empty 1 MiB raw disk (and the request's JSON
#   MEMBERS, e.g. '"data_from":[...]').  Nothing boots: the agent
#   creates the image and the VM's directories, serves the image with a
#   qemu-nbd of its own and opens the data channel's listener.  The
#   reply is in $TEST_DIR/prepare-ID.json; sets JOB_BODY to the request.
mig_offline_job ()
{
  JOB_BODY="{${3:+$3,}\"id\":\"$1\",\"host\":\"$DST_IP\",\"offline\":true,\"channel\":true,\"vm\":{\"name\":\"$2\",\"argv\":[],\"disks\":[{\"id\":\"d0\",\"path\":\"/src/$2.raw\",\"format\":\"raw\",\"virtual_size\":1048576,\"allocated\":0,\"read_only\":false}],\"machine\":\"\",\"memory\":0,\"cpu_vendor\":\"\",\"qemu_version\":0}}"
  _st=$(ip netns exec "$SRC_NS" curl -s -o "$TEST_DIR/prepare-$1.json" \
          -w '%{http_code}' --cacert "$MIG_CA/ca-cert.pem" \
          --cert "$SRC_TLS/client-cert.pem" --key "$SRC_TLS/client-key.pem" \
          -X POST -H 'Content-Type: application/json' \
          --data-binary "$JOB_BODY" "https://$DST_IP:7480/v1/prepare")
  [ "$_st" = 200 ] ||
    { cat "$TEST_DIR/prepare-$1.json"; fail "offline prepare of $1: HTTP $_st"; }
}
