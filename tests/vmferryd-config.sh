#!/bin/sh
# vmferryd-config.sh: vmferryd as an admin and systemd see it (issue 18,
# items 3, 5, 6), with no guest:
#   - configuration errors say FILE:LINE and never print the usage;
#     booleans take yes/no/true/false/on/off/1/0 and nothing else; a
#     comment may follow a value;
#   - a missing configuration file, storage root or certificate names
#     the option and the fix (exit 1, what a unit's start shows);
#   - --listen takes a host name;
#   - readiness, reload and stop reach NOTIFY_SOCKET (Type=notify);
#     SIGHUP reloads (live settings applied, others reported, a broken
#     file changes nothing) and never stops vmferryd;
#   - every request is logged with its outcome, at --log-level, to
#     stderr, or with JOURNAL_STREAM to the journal's socket with the
#     fields VMFERRY_ID, VM, PEER (a stand-in journald in a private
#     mount namespace: PID 1 is not systemd here);
#   - --metrics serves Prometheus text.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"

requires_root
requires "${QEMU:-qemu-system-x86_64}" --version
requires getent passwd vmferry-qemu
requires curl --version
requires /usr/bin/python3 -c 'import socket'
test_tmpdir
T=$TEST_DIR
# The log levels are the test's: not the harness's debug.
unset VMFERRY_DEBUG
mkdir -p "$T/storage" "$T/run"
vmferry pki init "$T/ca" > /dev/null || fail "pki init"
vmferry pki issue "$T/ca" --name agent --ip 127.0.0.1 --dns localhost \
  --out "$T/tls" > /dev/null || fail "pki issue"

# fails PATTERN ARG...: vmferryd ARG... exits 1 with one line on stderr
# matching PATTERN (and no usage).
fails ()
{
  _pat=$1
  shift
  vmferryd "$@" > "$T/out" 2> "$T/err"
  _rc=$?
  cat "$T/err"
  [ "$_rc" = 1 ] || fail "vmferryd $*: exit $_rc, expected 1"
  [ "$(wc -l < "$T/err")" = 1 ] || fail "vmferryd $*: not one line"
  grep -q -- "$_pat" "$T/err" || fail "vmferryd $*: no '$_pat'"
  grep -q Usage "$T/err" "$T/out" && fail "vmferryd $*: printed the usage"
  return 0
}

echo "== configuration file errors"
conf () { printf '%s\n' "$@" > "$T/bad.conf"; }
conf "listen = 127.0.0.1:0" "queue = maybe"
fails "bad.conf:2: queue: 'maybe' is not a boolean" --config "$T/bad.conf"
conf "# a comment" "" "bogus = 1"
fails "bad.conf:3: unknown setting 'bogus'" --config "$T/bad.conf"
conf "listen 127.0.0.1"
fails "bad.conf:1: expected key = value" --config "$T/bad.conf"
conf "port-range = 9000-10"
fails "bad.conf:1: port-range: '9000-10': the ports must be from 1" \
  --config "$T/bad.conf"
conf "log-level = chatty"
fails "bad.conf:1: log-level: 'chatty' is not a level" --config "$T/bad.conf"
fails "--config $T/none.conf: No such file or directory; copy vmferryd.conf.example" \
  --config "$T/none.conf"
fails "listen is not set: give --listen" --storage-root "$T/storage"
fails "--storage-root $T/nowhere: No such file or directory; create it (mkdir -p $T/nowhere)" \
  --listen 127.0.0.1:0 --storage-root "$T/nowhere" --run-root "$T/run" \
  --tls-dir "$T/tls"
fails "--tls-dir $T/nocerts: $T/nocerts/ca-cert.pem: No such file.*vmferry pki issue CADIR" \
  --listen 127.0.0.1:0 --storage-root "$T/storage" --run-root "$T/run" \
  --tls-dir "$T/nocerts"
vmferryd --bogus > "$T/out" 2> "$T/err"
[ $? = 1 ] && [ "$(cat "$T/err")" = "vmferryd: unknown option '--bogus'
Try 'vmferryd --help'." ] || fail "unknown option: $(cat "$T/err")"

# start CONF [ENV...]: vmferryd --config CONF in the background (log in
# $T/d.log, stderr in $T/d.err); sets PID, PORT, METRICS (its ports).
start ()
{
  _c=$1
  shift
  env "$@" vmferryd --config "$_c" > "$T/d.log" 2> "$T/d.err" &
  PID=$!
  for _i in $(seq 100); do
    grep -q 'listening on' "$T/d.log" && break
    sleep 0.1
  done
  cat "$T/d.log" "$T/d.err"
  PORT=$(sed -n 's/.*listening on .* port \([0-9]*\) .*/\1/p' "$T/d.log")
  METRICS=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/.*|\1|p' \
            "$T/d.log")
  [ -n "$PORT" ] || fail "vmferryd did not start"
}
stop () { kill "$PID"; wait "$PID"; }
cleanup_fn 'kill $PID 2>/dev/null'
api () # METHOD PATH [BODY]: an API request with the agent's own client cert
{
  curl -s --cacert "$T/tls/ca-cert.pem" --cert "$T/tls/client-cert.pem" \
    --key "$T/tls/client-key.pem" -X "$1" ${3:+-d "$3"} \
    "https://localhost:$PORT$2"
}

echo "== booleans, comments, host names, notify, reload"
cat > "$T/good.conf" <<EOF
# vmferryd for the test
listen = localhost:0     # a host name; port 0: any
storage-root = $T/storage
run-root = $T/run
tls-dir = $T/tls
queue = yes
max-incoming = 3
metrics = 127.0.0.1:0
port-range = 47100-47119
log-level = info
EOF
/usr/bin/python3 "$abs_top_srcdir/tests/dgram-recv.py" "$T/notify.sock" \
  "$T/notify.out" &
RECV=$!
cleanup_fn "kill $RECV"
for i in $(seq 50); do [ -e "$T/notify.out" ] && break; sleep 0.1; done
start "$T/good.conf" NOTIFY_SOCKET="$T/notify.sock"
grep -q 'listening on 127.0.0.1 port' "$T/d.log" ||
  fail "--listen localhost did not listen on 127.0.0.1"
grep -q "info: started $T/good.conf: log-level info, max-incoming 3, queue, port-range 47100-47119" \
  "$T/d.err" || fail "the settings are not as the file says"
sleep 0.3
grep -q '^READY=1$' "$T/notify.out" || fail "no READY=1: $(cat "$T/notify.out")"
grep -q "^STATUS=listening on 127.0.0.1 port $PORT$" "$T/notify.out" ||
  fail "no STATUS"

sed -i -e 's/^queue = yes/queue = off/' -e 's/^max-incoming = 3/max-incoming = 1/' \
  -e "s|^tls-dir = .*|tls-dir = $T/ca/agent|" "$T/good.conf"
cp -r "$T/tls" "$T/ca/agent"
kill -HUP "$PID"
sleep 0.5
kill -0 "$PID" || fail "SIGHUP stopped vmferryd"
cat "$T/d.err"
grep -q "info: reloaded $T/good.conf: log-level info, max-incoming 1, refuse" \
  "$T/d.err" || fail "the reload did not apply max-incoming and queue"
grep -q "warning: reload: tls-dir changed: takes effect when vmferryd restarts" \
  "$T/d.err" || fail "the reload did not say tls-dir waits for a restart"
echo "oops" >> "$T/good.conf"
kill -HUP "$PID"
sleep 0.5
kill -0 "$PID" || fail "a broken configuration stopped vmferryd"
grep -q "good.conf:11: expected key = value" "$T/d.err" &&
  grep -q "error: reload: the configuration has errors (above); nothing changed" \
  "$T/d.err" || fail "a broken reload was not reported"
[ "$(grep -c '^RELOADING=1$' "$T/notify.out")" = 2 ] &&
  [ "$(grep -c '^READY=1$' "$T/notify.out")" = 3 ] ||
  fail "reloads not notified: $(cat "$T/notify.out")"

echo "== the audit log and the metrics"
api POST /v1/abort '{"id":"0123456789abcdef"}'; echo
api POST /v1/prepare '{"id":"fedcba9876543210","vm":{"name":"web9"}}'; echo
curl -s -k "https://127.0.0.1:$PORT/v1/host" > /dev/null
sleep 0.3
cat "$T/d.err"
grep -q "^vmferryd: warning: abort id=0123456789abcdef vm=- peer=agent addr=127.0.0.1: 404 no such migration$" \
  "$T/d.err" || fail "abort not in the audit log"
grep -q "^vmferryd: warning: prepare id=fedcba9876543210 vm=web9 peer=agent addr=127.0.0.1: 400 " \
  "$T/d.err" || fail "prepare not in the audit log"
grep -q "^vmferryd: warning: GET /v1/host from 127.0.0.1 refused: client certificate" \
  "$T/d.err" || fail "a client without a certificate not in the audit log"
curl -s "http://127.0.0.1:$METRICS/metrics" > "$T/metrics" ||
  fail "no metrics"
grep -q '^vmferryd_migrations_total{direction="in",result="refused"} 1$' \
  "$T/metrics" || fail "the refused prepare is not counted"
grep -q '^vmferryd_migrations_in_progress{direction="in"} 0$' "$T/metrics" ||
  fail "no in-progress gauge"
grep -q '^# TYPE vmferryd_downtime_seconds histogram$' "$T/metrics" ||
  fail "no downtime histogram"
[ "$(curl -s -o /dev/null -w '%{http_code}' \
     "http://127.0.0.1:$METRICS/other")" = 404 ] || fail "not 404"
stop
grep -q '^STOPPING=1$' "$T/notify.out" || fail "no STOPPING=1"

echo "== --log-level error hides the warnings"
sed -i -e '/^oops/d' -e 's/^log-level = .*/log-level = error/' \
  "$T/good.conf"
start "$T/good.conf"
api POST /v1/abort '{"id":"0123456789abcdef"}'; echo
sleep 0.3
grep -q "abort id=" "$T/d.err" && fail "a warning at --log-level error"
stop

echo "== the journal"
# A stand-in journald: its socket in a private mount namespace, where
# vmferryd's stderr is "the journal" (JOURNAL_STREAM names it).
if ! vmferryd --help > /dev/null || ! grep -q 'HAVE_LIBSYSTEMD 1' \
     "$abs_top_builddir/config.h"; then
  echo "vmferryd built without libsystemd: journal fields not tested"
  exit 0
fi
sed -i 's/^log-level = .*/log-level = info/' "$T/good.conf"
: > "$T/d.err"
unshare -m --propagation private sh -c '
  T=$1 conf=$2 src=$3
  mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/journal || exit 1
  /usr/bin/python3 "$src/tests/dgram-recv.py" \
    /run/systemd/journal/socket "$T/journal.out" & rp=$!
  for i in $(seq 50); do [ -e "$T/journal.out" ] && break; sleep 0.1; done
  JOURNAL_STREAM=$(stat -c %d:%i "$T/d.err") \
    vmferryd --config "$conf" > "$T/d.log" 2>> "$T/d.err" & vp=$!
  for i in $(seq 100); do grep -q "listening on" "$T/d.log" && break
    sleep 0.1; done
  port=$(sed -n "s/.*listening on .* port \([0-9]*\) .*/\1/p" "$T/d.log")
  curl -s --cacert "$T/tls/ca-cert.pem" --cert "$T/tls/client-cert.pem" \
    --key "$T/tls/client-key.pem" -X POST -d "{\"id\":\"0123456789abcdef\"}" \
    "https://localhost:$port/v1/abort"
  sleep 0.3
  kill $vp; wait $vp; kill $rp
' sh "$T" "$T/good.conf" "$abs_top_srcdir"
cat "$T/journal.out"
grep -q '^MESSAGE=abort id=0123456789abcdef vm=- peer=agent addr=127.0.0.1: 404 no such migration$' \
  "$T/journal.out" || fail "the audit line is not in the journal"
for f in PRIORITY=4 SYSLOG_IDENTIFIER=vmferryd VMFERRY_ID=0123456789abcdef \
         PEER=agent PEER_ADDR=127.0.0.1 VMFERRY_REQUEST=abort \
         VMFERRY_STATUS=404; do
  grep -qx "$f" "$T/journal.out" || fail "no journal field $f"
done
grep -q "abort id=" "$T/d.err" && fail "the audit line went to stderr too"
exit 0
