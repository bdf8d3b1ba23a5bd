#!/bin/sh
# data-channel-peer.sh: the data channel's listener of a migration
# serves only the host that prepared it, and a connection there must
# finish its TLS handshake within a few seconds.  No VM boots: host
# "src" prepares an offline move (an empty raw image, the agent's
# qemu-nbd, the data listener), and conn-probe.py plays the clients:
#  - from another address of the source's network, connections are
#    closed at once, before any TLS (also one that sends a ClientHello);
#  - from the source's address, a connection that trickles its
#    ClientHello a byte a second is closed by the handshake deadline
#    (5 s), not kept alive by its trickle;
#  - a real stream (TLS with the source's certificate, "hello ID")
#    keeps answering its flush barriers while 40 connections from the
#    source's address never start TLS; the agent runs at most 8 of
#    their handshakes at once (the rest wait in the listener's queue),
#    all of them are closed within their deadlines, and a new stream is
#    served afterwards;
#  - the addresses a source lists in "data_from" (its own, when its data
#    leaves by another interface) are served too; a "data_from" that is
#    not a list of IP addresses is refused (400).

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
# A second address on the source host's link: another host for the agent.
OTHER_IP="$NET_PREFIX.3"
ip -n "$SRC_NS" addr add "$OTHER_IP/24" dev "$NETNS_IF" ||
  fail "cannot add $OTHER_IP"
mig_start_vmferryd

probe ()
{
  ip netns exec "$SRC_NS" python3 "$abs_top_srcdir/tests/conn-probe.py" "$@"
}
# hold NAME BIND MODE COUNT LIMIT: conn-probe.py hold to the data port;
#   its result in $TEST_DIR/NAME.json (printed).
hold ()
{
  probe hold "$DST_IP" "$port" "$2" "$3" "$4" "$5" "$TEST_DIR/$1.ready" \
    > "$TEST_DIR/$1.json" || fail "$1: conn-probe.py failed"
  echo "$1: $(cat "$TEST_DIR/$1.json")"
}
# check NAME JQ-EXPR WHAT: fail with WHAT unless NAME's result matches.
check ()
{
  jq -e "$2" "$TEST_DIR/$1.json" >/dev/null || fail "$1: $3"
}

mig_offline_job peer1 peer1
port=$(jq -r .data_port "$TEST_DIR/prepare-peer1.json")
echo "data port $port"

echo "--- another address: closed at once, without TLS"
hold other-plain "$OTHER_IP" plain 3 20
check other-plain '.open == 0 and (.closed | max) < 1' \
  "a connection from $OTHER_IP was not closed at once"
hold other-hello "$OTHER_IP" hello 3 20
check other-hello '.open == 0 and (.closed | max) < 1' \
  "a ClientHello from $OTHER_IP was not refused at once"

echo "--- the source's address: the handshake has a deadline"
hold slow-hello "$SRC_IP" hello 2 20
check slow-hello '.open == 0 and (.closed | min) >= 3 and (.closed | max) <= 8' \
  "a trickled ClientHello was not closed by the 5 s handshake deadline"

echo "--- a stream keeps working while its address floods the listener"
probe stream "$DST_IP" "$port" "$SRC_IP" "$SRC_TLS" peer1 12 \
  > "$TEST_DIR/stream1.json" 2> "$TEST_DIR/stream1.err" &
stream_pid=$!
cleanup_fn "kill $stream_pid 2>/dev/null"
sleep 1
probe hold "$DST_IP" "$port" "$SRC_IP" plain 40 60 "$TEST_DIR/flood.ready" \
  > "$TEST_DIR/flood.json" &
flood_pid=$!
cleanup_fn "kill $flood_pid 2>/dev/null"
for _i in $(seq 100); do
  [ -f "$TEST_DIR/flood.ready" ] && break
  sleep 0.1
done
[ -f "$TEST_DIR/flood.ready" ] || fail "the flood did not connect"
sleep 0.5
# The listener's accept queue (Recv-Q of a listening socket): the
# connections whose handshake the agent has not started.
queued=$(ip netns exec "$DST_NS" ss -Htln "sport = :$port" | awk '{print $2}')
echo "waiting in the listener's queue: $queued of 40"
[ "${queued:-0}" -ge 30 ] ||
  fail "the agent started more than 8 handshakes at once ($queued queued)"
wait $stream_pid || { cat "$TEST_DIR/stream1.err"; fail "the stream failed during the flood"; }
echo "stream during the flood: $(cat "$TEST_DIR/stream1.json")"
jq -e '.acks >= 20 and .slowest_ack < 1' "$TEST_DIR/stream1.json" >/dev/null ||
  fail "the stream's barriers were slow during the flood"
wait $flood_pid || fail "conn-probe.py (flood) failed"
echo "flood: $(cat "$TEST_DIR/flood.json")"
# 40 handshakes, 8 at a time, 5 s each: all gone within 25 s and change.
jq -e '.open == 0 and (.closed | max) <= 32' "$TEST_DIR/flood.json" \
  >/dev/null || fail "the flood's connections were not all closed in time"
probe stream "$DST_IP" "$port" "$SRC_IP" "$SRC_TLS" peer1 1 \
  > "$TEST_DIR/stream2.json" || fail "a new stream after the flood failed"
echo "stream after the flood: $(cat "$TEST_DIR/stream2.json")"

echo "--- an address the source lists in data_from"
mig_offline_job peer2 peer2 "\"data_from\":[\"$OTHER_IP\"]"
port2=$(jq -r .data_port "$TEST_DIR/prepare-peer2.json")
probe stream "$DST_IP" "$port2" "$OTHER_IP" "$SRC_TLS" peer2 1 \
  > "$TEST_DIR/stream3.json" || fail "a stream from data_from's address failed"
echo "stream from $OTHER_IP: $(cat "$TEST_DIR/stream3.json")"
# post NAME PATH BODY: the status of a POST from the source.
post ()
{
  ip netns exec "$SRC_NS" curl -s -o "$TEST_DIR/$1" -w '%{http_code}' \
    --cacert "$MIG_CA/ca-cert.pem" --cert "$SRC_TLS/client-cert.pem" \
    --key "$SRC_TLS/client-key.pem" -X POST \
    -H 'Content-Type: application/json' --data-binary "$3" \
    "https://$DST_IP:7480$2"
}
st=$(post bad-from /v1/prepare "$(echo "$JOB_BODY" |
       sed 's/peer2/peer3/g; s/"data_from":\[[^]]*\]/"data_from":["host.example"]/')")
[ "$st" = 400 ] || { cat "$TEST_DIR/bad-from"; fail "a bad data_from: HTTP $st"; }
echo "bad data_from: HTTP $st $(cat "$TEST_DIR/bad-from")"

for id in peer1 peer2; do
  st=$(post "abort-$id" /v1/abort "{\"id\":\"$id\"}")
  [ "$st" = 200 ] || fail "abort $id: HTTP $st"
done
mig_dest_clean --listeners
exit 0
