#!/bin/sh
# api-limits.sh: a client without a certificate cannot take vmferryd's
# API away from the others.  vmferryd runs in a network namespace; a
# hostile client on another address of the source's network
# (conn-probe.py) opens 70 TCP connections to the API and never starts
# TLS.  Checked:
#  - meanwhile the source (a good certificate, its own address) gets its
#    GET /v1/status answered within a few seconds;
#  - the agent keeps at most 8 of the hostile connections (per address,
#    before a request with an accepted certificate) and closes the
#    others at once; it closes the 8 within the 10 s deadline;
#  - connections that are never idle are closed by the same deadline:
#    a ClientHello trickled a byte a second, and a TLS session without
#    a client certificate that trickles its request headers;
#  - a request with a good certificate whose handler runs longer than
#    that deadline (a prepare held in the agent's queue for 12 s) is
#    answered.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

requires_root
requires curl --version
requires jq --version
requires python3 -c 'import ssl'
requires qemu-img --version
requires qemu-nbd --version
test_tmpdir
mig_hosts
# A second address on the source host's link: the hostile host.
EVIL_IP="$NET_PREFIX.3"
ip -n "$SRC_NS" addr add "$EVIL_IP/24" dev "$NETNS_IF" ||
  fail "cannot add $EVIL_IP"
# One migration at a time; a second prepare waits in the queue.
mig_start_vmferryd --max-incoming 1 --queue

probe ()
{
  ip netns exec "$SRC_NS" python3 "$abs_top_srcdir/tests/conn-probe.py" "$@"
}
# hold_start NAME MODE COUNT: conn-probe.py hold from EVIL_IP to the
#   API in the background (at most 40 s); returns once its connections
#   are open.  hold_end NAME: wait for it; its result in NAME.json.
hold_start ()
{
  probe hold "$DST_IP" 7480 "$EVIL_IP" "$2" "$3" 40 "$TEST_DIR/$1.ready" \
    > "$TEST_DIR/$1.json" &
  hold_pid=$!
  cleanup_fn "kill $hold_pid 2>/dev/null"
  for _i in $(seq 200); do
    [ -f "$TEST_DIR/$1.ready" ] && return 0
    sleep 0.1
  done
  fail "$1: conn-probe.py did not connect"
}
hold_end ()
{
  wait $hold_pid || fail "$1: conn-probe.py failed"
  echo "$1: $(cat "$TEST_DIR/$1.json")"
}
check ()
{
  jq -e "$2" "$TEST_DIR/$1.json" >/dev/null || fail "$1: $3"
}
# api_post NAME PATH BODY STATUS: POST from the source, expect STATUS.
api_post ()
{
  _st=$(ip netns exec "$SRC_NS" curl -s -o "$TEST_DIR/$1" -w '%{http_code}' \
          --cacert "$MIG_CA/ca-cert.pem" --cert "$SRC_TLS/client-cert.pem" \
          --key "$SRC_TLS/client-key.pem" -X POST \
          -H 'Content-Type: application/json' --data-binary "$3" \
          "https://$DST_IP:7480$2")
  [ "$_st" = "$4" ] || { cat "$TEST_DIR/$1"; fail "$1: HTTP $_st, expected $4"; }
}

echo "--- 70 connections that never start TLS"
hold_start plain plain 70
t0=$(date +%s%N)
st=$(ip netns exec "$SRC_NS" curl -s -o "$TEST_DIR/status" -w '%{http_code}' \
       --max-time 10 --interface "$SRC_IP" --cacert "$MIG_CA/ca-cert.pem" \
       --cert "$SRC_TLS/client-cert.pem" --key "$SRC_TLS/client-key.pem" \
       "https://$DST_IP:7480/v1/status")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "the source's GET /v1/status: HTTP $st after $ms ms"
[ "$st" = 200 ] || fail "the source got HTTP $st while the API was flooded"
[ "$ms" -lt 5000 ] || fail "the source waited $ms ms"
hold_end plain
check plain '.open == 0' "connections still open after 40 s"
check plain '[.closed[] | select(. > 1)] | length <= 8' \
  "more than 8 connections from one address were kept"
check plain '(.closed | max) <= 13' "a connection outlived the 10 s deadline"

echo "--- a ClientHello trickled a byte a second"
hold_start hello hello 3
hold_end hello
check hello '.open == 0 and (.closed | min) >= 8 and (.closed | max) <= 13' \
  "not closed by the 10 s deadline"

echo "--- TLS without a certificate, then request headers a byte a second"
hold_start headers headers 3
hold_end headers
check headers '.open == 0 and (.closed | min) >= 8 and (.closed | max) <= 13' \
  "not closed by the 10 s deadline"

echo "--- a request whose handler runs longer than the deadline is answered"
# With --max-incoming 1 --queue, a second prepare waits in its handler
# until the first migration ends (here: aborted by its owner after 12 s).
mig_offline_job lim1 lim1
t0=$(date +%s%N)
ip netns exec "$SRC_NS" curl -s -o "$TEST_DIR/queued" -w '%{http_code}' \
  --max-time 60 --cacert "$MIG_CA/ca-cert.pem" \
  --cert "$SRC_TLS/client-cert.pem" --key "$SRC_TLS/client-key.pem" \
  -X POST -H 'Content-Type: application/json' \
  --data-binary "$(echo "$JOB_BODY" | sed 's/lim1/lim2/g')" \
  "https://$DST_IP:7480/v1/prepare" > "$TEST_DIR/queued.status" &
queued_pid=$!
cleanup_fn "kill $queued_pid 2>/dev/null"
sleep 12
api_post abort-lim1 /v1/abort '{"id":"lim1"}' 200
wait $queued_pid
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "the queued prepare: HTTP $(cat "$TEST_DIR/queued.status") after $ms ms"
[ "$(cat "$TEST_DIR/queued.status")" = 200 ] ||
  { cat "$TEST_DIR/queued"; fail "the queued prepare was not answered 200"; }
[ "$ms" -ge 12000 ] || fail "the prepare was not held (test broken)"
api_post abort-lim2 /v1/abort '{"id":"lim2"}' 200
mig_dest_clean --listeners
exit 0
