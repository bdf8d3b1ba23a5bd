#!/bin/sh
# migrate-operable.sh: a live migration as an admin runs and watches it
# (issue 18): host names, a port range, a reload, metrics, the audit
# log, the terminal.
#   1. vmferryd runs from a configuration file, --listen dsthost (a
#      name), with --port-range of one port: too few for a migration,
#      whose prepare is refused with 503 and the range named (exit 2).
#   2. The file gets a wider range; SIGHUP applies it (no restart).
#   3. vmferry migrate --to dsthost on a terminal (script(1)): every
#      disk has its live line (the vmferry engine); meanwhile
#      /metrics says one migration in and bytes arriving, and every
#      port the destination listens on, but the API's and the metrics',
#      lies in the range.
#   4. Afterwards the metrics count it (result, downtime, time), the
#      audit log has prepare and finish with the id, the VM, the
#      source's certificate name and address.
#   5. vmferry undo ID brings it back (the destination was a name).

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

requires script --version
requires curl --version
guest_test_init
mig_hosts
unset VMFERRY_DEBUG             # the audit log's info lines, not debug
runs="$TEST_DIR/runs"
mkdir -p "$runs"

# dsthost and srchost: names in both namespaces (ip netns exec mounts
# /etc/netns/NS/hosts over /etc/hosts).
for ns in "$SRC_NS" "$DST_NS"; do
  mkdir -p "/etc/netns/$ns"
  cleanup_fn "rm -rf /etc/netns/$ns"
  printf '127.0.0.1 localhost\n%s dsthost\n%s srchost\n' "$DST_IP" \
    "$SRC_IP" > "/etc/netns/$ns/hosts"
done
vmferry pki issue "$MIG_CA" --name dst --ip "$DST_IP" --dns dsthost \
  --out "$DST_TLS" > /dev/null || fail "pki issue dst --dns dsthost"

conf="$TEST_DIR/vmferryd.conf"
cat > "$conf" <<EOF
# the destination's agent
listen = dsthost:7480
storage-root = $DST_STORAGE
run-root = $DST_RUN
tls-dir = $DST_TLS
read-dir = $GUEST_DIR
metrics = dsthost:9480      # scraped from the destination's namespace
port-range = 47300-47300    # one port: too few
log-level = info
EOF
ip netns exec "$DST_NS" vmferryd --config "$conf" \
  > "$TEST_DIR/vmferryd.log" 2>&1 &
VMFERRYD_PID=$!
cleanup_fn "mig_kill_dest"
for i in $(seq 100); do
  grep -q 'listening on' "$TEST_DIR/vmferryd.log" && break
  sleep 0.1
done
cat "$TEST_DIR/vmferryd.log"
grep -q "listening on $DST_IP port 7480" "$TEST_DIR/vmferryd.log" ||
  fail "vmferryd --listen dsthost does not listen on $DST_IP"
metrics () { ip netns exec "$DST_NS" curl -s http://dsthost:9480/metrics; }
metric () { metrics | awk -v m="$1" '$1 == m { print $2 }'; }

src="$TEST_DIR/src"
img="$src/op1.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 200
vm_start "$src" op1 "$SRC_NS" "$img" vmferry.disk_rate=50 vmferry.mem_rate=200
vm_wait_ready "$src"
vm_wait_ack "$src" 10
migrate () # ARG...: vmferry migrate op1 --to dsthost in the source's namespace
{
  ip netns exec "$SRC_NS" vmferry migrate "$src/qmp.sock" --to dsthost \
    --tls-dir "$SRC_TLS" --run-dir "$runs" "$@"
}

echo "== 1. a port range too small: 503, the range named"
migrate --json > "$TEST_DIR/refused.out" 2>&1
rc=$?
cat "$TEST_DIR/refused.out"
[ "$rc" = 2 ] || fail "exit $rc, expected 2 (refused)"
grep -q 'HTTP 503.*no free port in --port-range 47300-47300' \
  "$TEST_DIR/refused.out" || fail "the refusal does not name the port range"
vm_running "$src" || fail "the VM left the source"
[ "$(metric 'vmferryd_migrations_total{direction="in",result="refused"}')" = 1 ] ||
  fail "the refused prepare is not counted"
grep -q "warning: prepare id=[0-9a-f]* vm=op1 peer=src addr=$SRC_IP: 503 no free port" \
  "$TEST_DIR/vmferryd.log" || fail "the refusal is not in the audit log"

echo "== 2. a wider range, reloaded"
sed -i 's/^port-range = .*/port-range = 47300-47309/' "$conf"
kill -HUP "$VMFERRYD_PID"
sleep 0.5
grep -q "info: reloaded $conf: .*port-range 47300-47309" \
  "$TEST_DIR/vmferryd.log" || fail "the reload did not take the range"

echo "== 3. on a terminal, watched"
ip netns exec "$SRC_NS" script -qfec "vmferry migrate $src/qmp.sock \
  --to dsthost --tls-dir $SRC_TLS --run-dir $runs --keep-source=1h \
  --bandwidth 20M" "$TEST_DIR/tty.out" > /dev/null 2>&1 &
mig=$!
seen_in=0 seen_bytes=0 ports=
while pid_alive "$mig"; do
  m=$(metrics)
  [ "$(printf '%s\n' "$m" |
       awk '$1 == "vmferryd_migrations_in_progress{direction=\"in\"}" { print $2 }')" = 1 ] &&
    seen_in=1
  b=$(printf '%s\n' "$m" |
      awk '$1 == "vmferryd_received_bytes_total{kind=\"disk\"}" { print $2 }')
  [ "${b:-0}" -gt 0 ] && [ $seen_in = 1 ] && seen_bytes=1
  p=$(ip netns exec "$DST_NS" ss -Htln | awk '{ n = split($4, a, ":"); print a[n] }' |
      grep -vx -e 7480 -e 9480 | tr '\n' ' ')
  [ -n "$p" ] && ports="$ports $p"
  sleep 0.3
done
wait "$mig"
rc=$?
tr -d '\r' < "$TEST_DIR/tty.out" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' |
  grep -v '^ *$' | tail -n 30
[ "$rc" = 0 ] || fail "vmferry migrate on a terminal: exit $rc"
[ $seen_in = 1 ] && [ $seen_bytes = 1 ] ||
  fail "the metrics did not show the migration in progress ($seen_in, $seen_bytes)"
grep -q '  disk [a-z0-9-]* *\[#*-*\] ' "$TEST_DIR/tty.out" ||
  fail "no per-disk line on the terminal"
grep -q '  memory \[' "$TEST_DIR/tty.out" || fail "no memory line on the terminal"
echo "ports the destination listened on besides 7480 and 9480:$ports"
[ -n "$ports" ] || fail "no migration port was seen"
for p in $ports; do
  [ "$p" -ge 47300 ] && [ "$p" -le 47309 ] ||
    fail "port $p is outside --port-range 47300-47309"
done

echo "== 4. counted and logged"
id=$(vmferry status --run-dir "$runs" --json | jq -r 'select(.result.result == "migrated") | .id')
[ -n "$id" ] || fail "no migrated migration in vmferry status"
metrics | grep -v '^#' | grep -v ' 0$'
[ "$(metric 'vmferryd_migrations_total{direction="in",result="migrated"}')" = 1 ] ||
  fail "the migration is not counted"
[ "$(metric vmferryd_downtime_seconds_count)" = 1 ] ||
  fail "no downtime measured"
[ "$(metric vmferryd_migration_seconds_count)" = 1 ] || fail "no time measured"
[ "$(metric 'vmferryd_migrations_in_progress{direction="in"}')" = 0 ] ||
  fail "still in progress"
[ "$(metric 'vmferryd_received_bytes_total{kind="memory"}')" -gt 0 ] ||
  fail "no memory bytes counted"
for req in "prepare id=$id vm=op1 peer=src addr=$SRC_IP: 200 prepared" \
           "finish id=$id vm=op1 peer=src addr=$SRC_IP: 200 running"; do
  grep -q "info: $req" "$TEST_DIR/vmferryd.log" ||
    fail "the audit log lacks: $req"
done
vm_running "$DST_RUN/op1" || fail "the VM does not run on the destination"

echo "== 5. undo, the destination being a name"
back="$runs/$id/undo/op1"
cleanup_fn "vm_kill $back"
cleanup_fn "kill \$(jq -r .reaper_pid '$runs/$id/quarantine.json') 2>/dev/null"
ip netns exec "$SRC_NS" vmferry undo "$id" --run-dir "$runs" \
  > "$TEST_DIR/undo.out" 2>&1
rc=$?
cat "$TEST_DIR/undo.out"
[ "$rc" = 0 ] || fail "vmferry undo failed ($rc)"
vm_running "$back" || fail "the VM is not back on the source host"
vm_running "$DST_RUN/op1" && fail "the VM still runs on the destination"
[ "$(metric 'vmferryd_migrations_total{direction="out",result="migrated"}')" = 1 ] ||
  fail "the send-back is not counted"
grep -q "info: send-back id=$id vm=op1 peer=src addr=$SRC_IP: 200 migrated" \
  "$TEST_DIR/vmferryd.log" || fail "the send-back is not in the audit log"
vm_verify "$back" 120 || fail "guest verdict after the undo: $VM_VERDICT"
exit 0
