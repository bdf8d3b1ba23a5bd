# recover-functions.sh: helpers for tests that interrupt a migration
# (sourced after mig-functions.sh).  They use the testing aid
# VMFERRY_TEST_HOLD (vmferry(1)) to stop vmferry or vmferryd at a known
# point, inject a fault there, and check the outcome.

# rec_wait_for FILE PATTERN PID WHAT: wait until FILE has a line
#   matching PATTERN (grep) while PID runs; fail saying WHAT otherwise.
rec_wait_for ()
{
  for _i in $(seq 1200); do
    grep -q "$2" "$1" && return 0
    pid_alive "$3" || break
    sleep 0.1
  done
  grep -q "$2" "$1" && return 0
  cat "$1"
  fail "$4"
}

# rec_migrate_held POINT [ARG...]: start "vmferry migrate SRC_VM
#   --storage-engine vmferry" in SRC_NS (ARGs added) held at POINT, wait
#   until it waits there.  Sets MIG_PID, MIG_ID; output in
#   $TEST_DIR/migrate-POINT.out; RELEASE is the file that lets it go on.
rec_migrate_held ()
{
  # --no-resume: a failed copy must leave nothing behind here (a kept
  # partial image is migrate-resume.sh's subject).
  _point=$1
  shift
  RELEASE="$TEST_DIR/release-$_point"
  MIG_OUT="$TEST_DIR/migrate-$_point.out"
  rm -f "$RELEASE"
  VMFERRY_TEST_HOLD="$_point:$RELEASE" ip netns exec "$SRC_NS" \
    vmferry migrate "$SRC_VM/qmp.sock" --to "$DST_IP" --tls-dir "$SRC_TLS" \
    --storage-engine vmferry --no-resume --run-dir "$RUNS" --json "$@" \
    > "$MIG_OUT" 2>&1 &
  MIG_PID=$!
  cleanup_fn "kill -9 $MIG_PID 2>/dev/null"
  rec_wait_for "$MIG_OUT" "test hold: at $_point," "$MIG_PID" \
    "vmferry did not reach $_point"
  MIG_ID=$(grep -o 'migration [0-9a-f]\{16\}' "$MIG_OUT" | head -n 1 |
             cut -d' ' -f2)
  [ -n "$MIG_ID" ] || { cat "$MIG_OUT"; fail "no migration id"; }
  echo "vmferry waits at $_point (migration $MIG_ID)"
}

# rec_kill_vmferry: kill -9 the held vmferry and reap it.
rec_kill_vmferry ()
{
  kill -9 "$MIG_PID"
  wait "$MIG_PID" 2>/dev/null
  echo "vmferry killed"
}

# rec_recover EXPECTED_RC [ARG...]: run vmferry recover in SRC_NS; fail
#   unless it exits EXPECTED_RC.  Its stdout in REC_OUT (shown), stderr
#   in $TEST_DIR/recover.err (debug messages: shown only on failure).
rec_recover ()
{
  _want=$1
  shift
  REC_OUT=$(ip netns exec "$SRC_NS" vmferry recover --run-dir "$RUNS" \
              "$@" 2>"$TEST_DIR/recover.err")
  _rc=$?
  printf 'vmferry recover (exit %s):\n%s\n' "$_rc" "$REC_OUT"
  [ "$_rc" = "$_want" ] || grep -v 'debug:' "$TEST_DIR/recover.err"
  [ "$_rc" = "$_want" ] ||
    fail "vmferry recover exit code $_rc, expected $_want"
}

# rec_source_clean: the source VM runs with nothing of vmferry left on
#   it: no block job, NBD node, bitmap, export, NBD server, TLS object.
rec_source_clean ()
{
  _st=$(vm_qmp "$SRC_VM" query-status query-block-jobs \
          query-named-block-nodes query-block-exports \
          '{"execute":"qom-list","arguments":{"path":"/objects"}}') ||
    fail "cannot query the source"
  echo "$_st" | grep -q '"status": "running"' || fail "source not running"
  echo "$_st" | grep -q 'vmferry-' &&
    { echo "$_st" | grep 'vmferry-'; fail "vmferry objects left on the source"; }
  vm_qmp "$SRC_VM" '{"execute":"nbd-server-start","arguments":{"addr":{"type":"unix","data":{"path":"'"$TEST_DIR"'/probe.sock"}}}}' \
    nbd-server-stop >/dev/null ||
    fail "an NBD server is left running on the source"
  for _d in $(cat "$RUNS"/*/state.json |
                jq -r '.journal.objects[]? | select(.kind == "dir") | .name'); do
    [ -e "$_d" ] && fail "the source's socket directory $_d is left"
  done
  return 0
}

# rec_source_alive_verified: the source VM goes on writing and verifies.
rec_source_verified ()
{
  _last=$(vm_last_ack "$SRC_VM")
  vm_wait_ack "$SRC_VM" $((_last + 5)) 60
  vm_verify "$SRC_VM" 120 || fail "guest verdict on the source: $VM_VERDICT"
}
