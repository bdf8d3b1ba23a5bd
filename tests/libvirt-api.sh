#!/bin/sh
# libvirt-api.sh: vmferryd's routes for libvirt domains (vmferry-api(7),
# POST /v1/libvirt-prepare and /v1/libvirt-finish) against a real
# vmferryd in a network namespace, with curl and good client
# certificates; no libvirt and no guest are needed.
#  - refused with 400, creating nothing: an id or domain that is a path
#    or too long, a member the route does not know (a path to connect
#    to), "nbd" not a boolean, no body;
#  - a good prepare makes exactly RUN_ROOT/libvirt-ID (mode 0700) and
#    answers it as socket_dir with a data port; the same id again is
#    409; abort removes the directory and closes the data port; finish
#    of it is then refused (409), of an unknown id 404.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

requires_root
requires curl --version
requires jq --version
test_tmpdir
mig_hosts
mig_start_vmferryd

url="https://$DST_IP:7480"
good="--cert $SRC_TLS/client-cert.pem --key $SRC_TLS/client-key.pem"

# post ROUTE BODY: POST BODY; the reply in $TEST_DIR/reply, the status
#   in st.
post ()
{
  # shellcheck disable=SC2086
  st=$(ip netns exec "$SRC_NS" curl -s -o "$TEST_DIR/reply" \
         -w '%{http_code}' --cacert "$MIG_CA/ca-cert.pem" $good \
         -X POST -H 'Content-Type: application/json' --data-binary "$2" \
         "$url$1")
  echo "$1 $2: HTTP $st $(cat "$TEST_DIR/reply")"
}

# refused BODY PATTERN: libvirt-prepare answers 400 with PATTERN.
refused ()
{
  post /v1/libvirt-prepare "$1"
  [ "$st" = 400 ] || fail "HTTP $st, expected 400"
  grep -q -- "$2" "$TEST_DIR/reply" || fail "no '$2' in the reply"
  mig_dir_empty "$DST_RUN" || { ls -la "$DST_RUN"; fail "something was created"; }
}

refused '{"id":"../../etc","host":"'"$DST_IP"'"}' 'safe names'
refused '{"id":"a1","domain":"../x","host":"'"$DST_IP"'"}' 'safe names'
refused '{"id":"a1","domain":"'"$(printf 'x%.0s' $(seq 70))"'","host":"'"$DST_IP"'"}' 'safe names'
refused '{"id":"a1","host":"'"$DST_IP"'","socket":"/etc/shadow"}' 'unknown member'
refused '{"id":"a1","host":"'"$DST_IP"'","nbd":"yes"}' 'boolean'
refused '{"host":"'"$DST_IP"'"}' 'missing'

post /v1/libvirt-prepare '{"id":"a1","domain":"d1","nbd":true,"host":"'"$DST_IP"'"}'
[ "$st" = 200 ] || fail "a good libvirt-prepare: HTTP $st"
dir=$(jq -r .socket_dir "$TEST_DIR/reply")
port=$(jq -r .data_port "$TEST_DIR/reply")
[ "$dir" = "$DST_RUN/libvirt-a1" ] || fail "socket_dir is $dir"
[ -d "$dir" ] && [ "$(stat -c %a "$dir")" = 700 ] || fail "$dir: not a 0700 directory"
[ "$(ls -A "$DST_RUN")" = libvirt-a1 ] || fail "more than the directory was made"
ip netns exec "$DST_NS" ss -Htln | grep -q ":$port " || fail "no data port $port"
post /v1/libvirt-prepare '{"id":"a1","domain":"d1","host":"'"$DST_IP"'"}'
[ "$st" = 409 ] || fail "the same id again: HTTP $st"
post /v1/abort '{"id":"a1"}'
[ "$st" = 200 ] || fail "abort: HTTP $st"
[ -e "$dir" ] && fail "abort left $dir"
ip netns exec "$DST_NS" ss -Htln | grep -q ":$port " && fail "abort left the data port"
post /v1/libvirt-finish '{"id":"a1"}'
[ "$st" = 409 ] || fail "finish after abort: HTTP $st"
post /v1/libvirt-finish '{"id":"nosuch"}'
[ "$st" = 404 ] || fail "finish of an unknown id: HTTP $st"
exit 0
