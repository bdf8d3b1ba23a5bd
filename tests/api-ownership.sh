#!/bin/sh
# api-ownership.sh: a migration belongs to the client certificate that
# prepared it.  With curl against a real vmferryd in a network
# namespace: host "src" prepares an offline move (no VM boots: an empty
# raw image, the agent's qemu-nbd and its data listener).  A second
# certificate of the same CA ("other", another host of the trust domain)
# asks to abort it, to abort it keeping its partial images, to finish
# it, to prepare it again with its id (which answers a retry) and to
# send it back: each is answered 403 with a one-line reason, and the
# job is untouched after each (still "prepared" for its owner, its
# image, its qemu-nbd and its data listener still there).  "other" does
# not see it in GET /v1/status.  Its owner then aborts it and nothing is
# left.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

requires_root
requires curl --version
requires jq --version
requires qemu-img --version
requires qemu-nbd --version
test_tmpdir
mig_hosts
mig_start_vmferryd
vmferry pki issue "$MIG_CA" --name other --ip "$SRC_IP" \
  --out "$TEST_DIR/other" >/dev/null || fail "pki issue other"

mig_offline_job own1 own1
port=$(jq -r .data_port "$TEST_DIR/prepare-own1.json")
img="$DST_STORAGE/own1/own1.raw"
[ -f "$img" ] || fail "prepare made no image"

# as NAME TLS_DIR METHOD PATH [BODY]: the HTTP status of a request made
#   from SRC_NS with TLS_DIR's client certificate; reply in $TEST_DIR/NAME.
as ()
{
  ip netns exec "$SRC_NS" curl -s -o "$TEST_DIR/$1" -w '%{http_code}' \
    --cacert "$MIG_CA/ca-cert.pem" --cert "$2/client-cert.pem" \
    --key "$2/client-key.pem" -X "$3" ${5:+-H 'Content-Type: application/json'} \
    ${5:+--data-binary "$5"} "https://$DST_IP:7480$4"
}

# untouched WHEN: job own1 is as prepare left it.
untouched ()
{
  _st=$(as "status-$1" "$SRC_TLS" GET /v1/status)
  [ "$_st" = 200 ] || fail "after $1: the owner's status: HTTP $_st"
  jq -e '[.migrations[] | select(.id == "own1" and .state == "prepared")]
         | length == 1' "$TEST_DIR/status-$1" >/dev/null ||
    { cat "$TEST_DIR/status-$1"; fail "after $1: own1 is no longer prepared"; }
  [ -f "$img" ] || fail "after $1: the image is gone"
  pgrep -f "$DST_RUN/own1/vmferry-nbd-0" >/dev/null ||
    fail "after $1: the agent's qemu-nbd is gone"
  ip netns exec "$DST_NS" ss -Htln "sport = :$port" | grep -q . ||
    fail "after $1: the data listener is gone"
}

# refused NAME METHOD PATH BODY: "other" is refused with 403 and one
#   line that says why, and nothing changed.
refused ()
{
  _st=$(as "$1" "$TEST_DIR/other" "$2" "$3" "$4")
  [ "$_st" = 403 ] ||
    { cat "$TEST_DIR/$1"; echo; fail "$1 by another certificate: HTTP $_st, expected 403"; }
  _msg=$(jq -r .error "$TEST_DIR/$1")
  echo "$1: HTTP $_st: $_msg"
  case $_msg in
    *"another client certificate"*) ;;
    *) fail "$1: the reason does not say whose job it is" ;;
  esac
  [ "$(printf '%s\n' "$_msg" | wc -l)" = 1 ] || fail "$1: not one line"
  untouched "$1"
}

untouched prepare
refused abort POST /v1/abort '{"id":"own1"}'
refused abort-keep POST /v1/abort '{"id":"own1","keep_partial":"tok1"}'
refused finish POST /v1/finish '{"id":"own1"}'
refused retry POST /v1/prepare "$JOB_BODY"
refused send-back POST /v1/send-back \
  '{"id":"own1","to":"192.0.2.1","port":7480,"disk_paths":["/src/own1.raw"]}'

# The list shows each certificate its own migrations only.
st=$(as status-other "$TEST_DIR/other" GET /v1/status)
[ "$st" = 200 ] || fail "status for other: HTTP $st"
jq -e '[.migrations[] | select(.id == "own1")] | length == 0' \
  "$TEST_DIR/status-other" >/dev/null ||
  { cat "$TEST_DIR/status-other"; fail "other sees own1 in its status"; }

# The owner still may: abort, and the destination is clean.
st=$(as abort-owner "$SRC_TLS" POST /v1/abort '{"id":"own1"}')
[ "$st" = 200 ] || { cat "$TEST_DIR/abort-owner"; fail "the owner's abort: HTTP $st"; }
mig_dest_clean --listeners
exit 0
