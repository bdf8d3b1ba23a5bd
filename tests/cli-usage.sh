#!/bin/sh
# cli-usage.sh: vmferry's command line says what is wrong (issue 18,
# item 2).  No VM, no agent, no root:
#   - vmferry CMD --help prints that command's usage and options only;
#   - a usage error is one line saying what and how, then "Try 'vmferry
#     CMD --help'." (exit 1), never the whole usage;
#   - an option that is not the command's is refused, by name;
#   - values are checked completely (--days, --bandwidth, ports, --ip);
#   - missing certificates name --tls-dir and vmferry pki issue (exit 2);
#   - pki issue --dns puts DNS names in the certificates;
#   - vmferry status lists newest first with start, VM, destination,
#     phase and result, and --keep-state prunes what ended long ago
#     (never what recover or a quarantine still needs);
#   - a migration refused before anything was done leaves no state
#     directory.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"

test_tmpdir
out="$TEST_DIR/out"
err="$TEST_DIR/err"

# usage_error PATTERN ARG...: vmferry ARG... exits 1, prints nothing on
# stdout and exactly two lines on stderr: one matching PATTERN, then
# the Try line of the command (the first ARG, or "pki ARG2").
usage_error ()
{
  _pat=$1
  shift
  vmferry "$@" > "$out" 2> "$err"
  _rc=$?
  cat "$err"
  [ "$_rc" = 1 ] || fail "vmferry $*: exit code $_rc, expected 1"
  [ -s "$out" ] && fail "vmferry $*: printed on stdout: $(cat "$out")"
  [ "$(wc -l < "$err")" = 2 ] || fail "vmferry $*: not two lines"
  head -n 1 "$err" | grep -q -- "$_pat" ||
    fail "vmferry $*: no message matching '$_pat'"
  tail -n 1 "$err" | grep -q "^Try 'vmferry.* --help'\.$" ||
    fail "vmferry $*: no Try line"
}

echo "== --help per command"
for cmd in migrate check evacuate status cancel recover undo "pki init" \
           "pki issue"; do
  # shellcheck disable=SC2086
  vmferry $cmd --help > "$out" 2>&1 || fail "vmferry $cmd --help failed"
  head -n 1 "$out" | grep -q "^Usage: vmferry $cmd " ||
    fail "vmferry $cmd --help: $(head -n 1 "$out")"
done
vmferry status --help > "$out"
grep -q -- '--run-dir' "$out" || fail "status --help lacks --run-dir"
grep -q -- '--bandwidth' "$out" && fail "status --help lists --bandwidth"
vmferry migrate --help > "$out"
grep -q -- '--bandwidth RATE' "$out" || fail "migrate --help lacks --bandwidth"
grep -q -- '--days' "$out" && fail "migrate --help lists --days"
vmferry --help | grep -q '^  pki issue CADIR' || fail "vmferry --help"
vmferry pki --help | grep -q '^Usage: vmferry pki issue' ||
  fail "vmferry pki --help"
vmferry --version | grep -q '^vmferry [0-9]' || fail "--version"

echo "== one-line usage errors"
usage_error "which command?"
usage_error "unknown command 'migrat'" migrat web1 --to 192.0.2.2
usage_error "which VM?" migrate --to 192.0.2.2
usage_error "--to is required" migrate web1
usage_error "unknown option '--bogus'" migrate web1 --bogus
usage_error "--to needs a value" migrate web1 --to
usage_error "unexpected argument 'b'" status a b
usage_error "which migration?" cancel
usage_error "init or issue?" pki
usage_error "--name NAME is required" pki issue "$TEST_DIR/ca"

echo "== options refused where they do not belong"
usage_error "--bandwidth is not an option of status" status --bandwidth 5
usage_error "--days is not an option of migrate" migrate web1 \
  --to 192.0.2.2 --days 3
usage_error "--to is not an option of undo" undo 0123456789abcdef \
  --to 192.0.2.2
usage_error "--json is not an option of cancel" cancel 0123456789abcdef \
  --json

echo "== values checked completely"
vmferry pki init "$TEST_DIR/ca" > /dev/null || fail "pki init"
usage_error "--days: '12abc' is not a number from 1 to 36500" \
  pki issue "$TEST_DIR/ca" --name h --days 12abc
usage_error "--days: '-1' is not a number" pki issue "$TEST_DIR/ca" \
  --name h --days -1
usage_error "--days: '0' is not a number" pki issue "$TEST_DIR/ca" \
  --name h --days 0
usage_error "--ip 'hostb' is not an IP address (a host name goes with --dns)" \
  pki issue "$TEST_DIR/ca" --name h --ip hostb
usage_error "--dns '192.0.2.1' is an IP address" pki issue "$TEST_DIR/ca" \
  --name h --dns 192.0.2.1
usage_error "port 70000 is out of range" migrate web1 --to 192.0.2.2:70000
usage_error "port 0 is not a port" migrate web1 --to 192.0.2.2:0
usage_error "'192.0.2.2:x' is not ADDR\[:PORT\]" migrate web1 \
  --to 192.0.2.2:x
for bad in 5x 0 -1 0.0001 1e3 2000G 5MB5 ""; do
  usage_error "--bandwidth '$bad': say the rate" migrate web1 \
    --to 192.0.2.2 --bandwidth "$bad"
done
usage_error "--transport 'fast': say auto, tcp, compress or direct" \
  migrate web1 --to 192.0.2.2 --transport fast
usage_error "--disk-path 'a=b': say SRC=DST" migrate web1 --to 192.0.2.2 \
  --disk-path a=b
usage_error "--keep-state: 'x' is not a duration" status --keep-state x
usage_error "--parallel: '0' is not a number from 1 to 64" migrate web1 \
  --to 192.0.2.2 --parallel 0

echo "== certificates"
vmferry pki issue "$TEST_DIR/ca" --name hostb --ip 192.0.2.2 \
  --dns hostb.example --dns mig.hostb.example --days 30 \
  --out "$TEST_DIR/hostb" > /dev/null || fail "pki issue --dns"
san=$(openssl x509 -in "$TEST_DIR/hostb/server-cert.pem" -noout -ext \
        subjectAltName | tail -n 1)
echo "subjectAltName: $san"
[ "$san" = "    DNS:hostb, IP Address:192.0.2.2, DNS:hostb.example, DNS:mig.hostb.example" ] ||
  fail "pki issue --dns: $san"
days=$(( ($(date -d "$(openssl x509 -in "$TEST_DIR/hostb/client-cert.pem" \
           -noout -enddate | cut -d= -f2)" +%s) - $(date +%s)) / 86400 ))
[ "$days" = 29 ] || [ "$days" = 30 ] || fail "--days 30 gave $days days"

# A missing certificate: exit 2 (refused, nothing done), the message
# names --tls-dir and vmferry pki issue; with --json the result object.
vmferry migrate web1 --to 192.0.2.2 --tls-dir "$TEST_DIR/none" \
  --run-dir "$TEST_DIR/run" --json > "$out" 2> "$err"
rc=$?
cat "$err"
[ "$rc" = 2 ] || fail "missing certificates: exit code $rc, expected 2"
grep -q -- "--tls-dir $TEST_DIR/none: $TEST_DIR/none/ca-cert.pem: No such file.*vmferry pki issue CADIR --name .* --out $TEST_DIR/none" \
  "$err" || fail "the message does not name --tls-dir and vmferry pki issue"
[ "$(jq -r '.event + " " + .result' "$out")" = "result refused" ] ||
  fail "no result object: $(cat "$out")"

echo "== a refused migration leaves no state directory"
vmferry migrate "$TEST_DIR/novm/qmp.sock" --to 127.0.0.1:1 \
  --tls-dir "$TEST_DIR/hostb" --run-dir "$TEST_DIR/run" --json > "$out" 2>&1
rc=$?
[ "$rc" = 2 ] || fail "a missing VM: exit code $rc, expected 2"
id=$(grep '"event":"result"' "$out" | jq -r .id)
[ -n "$id" ] && [ "$id" != null ] || fail "the result has no id"
[ -z "$(ls -A "$TEST_DIR/run")" ] ||
  fail "the refused migration left $(ls "$TEST_DIR/run")"

echo "== status: newest first, pruned after --keep-state"
runs="$TEST_DIR/runs"
# state ID STARTED_S RESULT JOURNAL_OPEN: a migration's state file as
# vmferry writes it (pid 1 would be alive: a pid that is not).
state ()
{
  mkdir -p "$runs/$1"
  jq -n --arg id "$1" --argjson t "$2" --arg r "$3" --argjson o "$4" '{
    id: $id, pid: 999999999, vm: "/run/vms/\($id).qmp",
    destination: "hostb", started_ms: ($t * 1000), phase: "cleanup",
    journal: {open: $o},
    result: (if $r == "" then null else {result: $r, result_text: "\($r) text",
              vm: "vm-\($id)"} end)} | del(.. | nulls)' \
    > "$runs/$1/state.json"
}
now=$(date +%s)
state 1111111111111111 $((now - 30 * 86400)) migrated false
state 2222222222222222 $((now - 3600)) refused false
state 3333333333333333 $((now - 60)) "" true
state 4444444444444444 $((now - 20 * 86400)) failed_leftovers true
state 5555555555555555 $((now - 10 * 86400)) migrated false
printf '{"state":"waiting"}\n' > "$runs/5555555555555555/quarantine.json"
touch -d "@$((now - 30 * 86400))" "$runs/1111111111111111/state.json" \
  "$runs/4444444444444444/state.json" "$runs/5555555555555555/state.json"
mkdir "$runs/not-a-migration"
vmferry status --run-dir "$runs" --keep-state 100d > "$out" || fail "status"
cat "$out"
head -n 1 "$out" | grep -q '^ID  *STARTED  *VM  *DESTINATION  *PHASE  *RESULT$' ||
  fail "no header"
[ "$(sed 1d "$out" | cut -c1-16 | tr '\n' ' ')" = "3333333333333333 2222222222222222 5555555555555555 4444444444444444 1111111111111111 " ] ||
  fail "not newest first"
grep -q "^2222222222222222  $(date -d "@$((now - 3600))" '+%Y-%m-%d %H:%M:%S')  vm-2222222222222222 *hostb  *cleanup  *refused text$" "$out" ||
  fail "the line of 2222... is not id, start, VM, destination, phase, result"
grep -q "^3333333333333333 .*vmferry process 999999999 is gone; needs vmferry recover$" \
  "$out" || fail "an open journal is not shown as needing recover"
vmferry status --run-dir "$runs" --keep-state 7d > "$out" || fail "status"
cat "$out"
ls "$runs" | tr '\n' ' '; echo
[ -d "$runs/1111111111111111" ] && fail "an old ended migration was kept"
[ -d "$runs/2222222222222222" ] || fail "a recent one was pruned"
[ -d "$runs/3333333333333333" ] || fail "an open journal was pruned"
[ -d "$runs/4444444444444444" ] || fail "an old open journal was pruned"
[ -d "$runs/5555555555555555" ] || fail "a waiting quarantine was pruned"
[ -d "$runs/not-a-migration" ] || fail "a foreign directory was pruned"
vmferry status 2222222222222222 --run-dir "$runs" --json |
  jq -e '.result.result == "refused"' > /dev/null || fail "status ID --json"
exit 0
