#!/bin/sh
# api-security.sh: vmferryd enforces mutual TLS and refuses bad requests
# before doing anything.  With curl against a real vmferryd in a network
# namespace: no client certificate, a certificate from another CA and an
# expired certificate get 403 (or a failed handshake); a good certificate
# gets 200 (the control); malformed and hostile prepare requests get a
# 4xx with a message; a destination QEMU older than the source's is
# refused; POST /v1/check answers a report (400 for a bad VM, an error
# finding for a newer source QEMU, findings rather than a crash for
# mistyped facts); and nothing is ever created in the storage or run
# roots.  A refusal must come before anything runs: vmferryd's QEMU,
# qemu-nbd and qemu-img are logging wrappers (mig_spawn_log), and no
# refused request may have started one (a prepare that spawned QEMU on
# a host file and cleaned up afterwards would leave empty roots); the
# host files the requests name are canaries that must not change or
# appear.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

requires_root
requires curl --version
requires jq --version
test_tmpdir
mig_hosts
mig_spawn_log
mig_start_vmferryd
# Canaries: the host files the hostile requests name.
mig_canaries /etc/shadow
canaries_ok ()
{
  mig_canaries_ok "$1"
  [ -e /etc/d.qcow2 ] && fail "$1: /etc/d.qcow2 was made"
  return 0
}

url="https://$DST_IP:7480"
# call NAME CURL-ARGS...: status code of a request made from SRC_NS
# (000 when the TLS handshake itself failed); body in $TEST_DIR/NAME.
call ()
{
  _n=$1
  shift
  ip netns exec "$SRC_NS" curl -s -o "$TEST_DIR/$_n" -w '%{http_code}' \
    --cacert "$MIG_CA/ca-cert.pem" "$@"
}
good="--cert $SRC_TLS/client-cert.pem --key $SRC_TLS/client-key.pem"

# The control: a good client certificate is accepted.
# shellcheck disable=SC2086
st=$(call host $good "$url/v1/host")
[ "$st" = 200 ] || fail "good certificate: HTTP $st"
jq -e '.qemu_version > 0' "$TEST_DIR/host" >/dev/null ||
  fail "host info has no QEMU version"
echo "vmferryd ran at start: $(mig_spawned | tr '\n' ';')"
mig_spawn_mark

# No client certificate.
st=$(call nocert "$url/v1/host")
[ "$st" = 403 ] || fail "no client certificate: HTTP $st, expected 403"
grep -q 'client certificate' "$TEST_DIR/nocert" || fail "403 without reason"
st=$(call nocert-prepare -X POST -d '{"id":"x"}' "$url/v1/prepare")
[ "$st" = 403 ] || fail "no client certificate, prepare: HTTP $st"

# A certificate from another CA.
vmferry pki init "$TEST_DIR/ca2" >/dev/null || fail "pki init ca2"
vmferry pki issue "$TEST_DIR/ca2" --name evil --ip "$SRC_IP" \
  --out "$TEST_DIR/evil" >/dev/null || fail "pki issue evil"
st=$(call evil --cert "$TEST_DIR/evil/client-cert.pem" \
       --key "$TEST_DIR/evil/client-key.pem" "$url/v1/host")
case $st in 403|000) ;; *) fail "other CA's certificate: HTTP $st" ;; esac

# An expired certificate from the right CA (--days takes 1 to 36500;
# the testing aid VMFERRY_TEST_PKI_EXPIRED makes it expired a day ago).
VMFERRY_TEST_PKI_EXPIRED=1 vmferry pki issue "$MIG_CA" --name old \
  --ip "$SRC_IP" --days 1 --out "$TEST_DIR/old" >/dev/null ||
  fail "pki issue expired"
st=$(call old --cert "$TEST_DIR/old/client-cert.pem" \
       --key "$TEST_DIR/old/client-key.pem" "$url/v1/host")
case $st in 403|000) ;; *) fail "expired certificate: HTTP $st" ;; esac

# Malformed and hostile prepare requests, with a good certificate.
# expect NAME STATUS PATTERN BODY: POST BODY to /v1/prepare.
expect ()
{
  # shellcheck disable=SC2086
  _st=$(call "$1" $good -X POST -H 'Content-Type: application/json' \
          --data-binary "$4" "$url/v1/prepare")
  [ "$_st" = "$2" ] || { cat "$TEST_DIR/$1"; fail "$1: HTTP $_st, expected $2"; }
  grep -q "$3" "$TEST_DIR/$1" || { cat "$TEST_DIR/$1"; fail "$1: no '$3'"; }
  echo "$1: HTTP $_st $(cat "$TEST_DIR/$1")"
}
# vm NAME MACHINE QEMU_VERSION: a small VM description.
vm ()
{
  echo "\"name\":\"$1\",\"argv\":[\"qemu\",\"-m\",\"64\"],\"disks\":[],\"machine\":\"$2\",\"memory\":67108864,\"cpu_vendor\":\"\",\"qemu_version\":$3"
}
expect malformed 400 'malformed JSON' '{"id": "a", '
expect notobject 400 'JSON object' '[1,2]'
expect noid 400 'id' "{\"vm\":{$(vm v0 pc-q35-7.2 70200)}}"
expect badname 400 'safe file name' \
  "{\"id\":\"a1\",\"host\":\"$DST_IP\",\"vm\":{$(vm ../../etc pc-q35-7.2 70200)}}"
expect older 422 'older' \
  "{\"id\":\"a2\",\"host\":\"$DST_IP\",\"vm\":{$(vm v2 pc-q35-7.2 990000)}}"
expect nomachine 422 'machine type' \
  "{\"id\":\"a3\",\"host\":\"$DST_IP\",\"vm\":{$(vm v3 pc-q35-99.0 70200)}}"
expect hostfile 422 'not among the request.s disks' \
  "{\"id\":\"a4\",\"host\":\"$DST_IP\",\"vm\":{\"name\":\"v4\",\"argv\":[\"qemu\",\"-drive\",\"file=/etc/shadow\"],\"disks\":[],\"machine\":\"pc-q35-7.2\",\"memory\":1,\"cpu_vendor\":\"\",\"qemu_version\":70200}}"
expect escape 422 'directly in the VM' \
  "{\"id\":\"a5\",\"host\":\"$DST_IP\",\"vm\":{\"name\":\"v5\",\"argv\":[\"qemu\",\"-drive\",\"file=/s/d.qcow2\"],\"disks\":[{\"id\":\"d\",\"path\":\"/s/d.qcow2\",\"format\":\"qcow2\",\"virtual_size\":1048576,\"allocated\":0,\"read_only\":false,\"dest_path\":\"/etc/d.qcow2\"}],\"machine\":\"pc-q35-7.2\",\"memory\":1,\"cpu_vendor\":\"\",\"qemu_version\":70200}}"
expect passthru 422 'pass-through' \
  "{\"id\":\"a6\",\"host\":\"$DST_IP\",\"vm\":{\"name\":\"v6\",\"argv\":[\"qemu\",\"-device\",\"vfio-pci,host=01:00.0\"],\"disks\":[],\"machine\":\"pc-q35-7.2\",\"memory\":1,\"cpu_vendor\":\"\",\"qemu_version\":70200}}"
# Refused before anything ran (but vmferryd's probe of its own QEMU).
[ -z "$(mig_spawned_for_requests)" ] ||
  { mig_spawned_for_requests; fail "refused prepares ran the programs above"; }
canaries_ok "the refused prepares"

# POST /v1/check: a report, never a crash, and nothing created.
# check_req NAME STATUS BODY: POST BODY to /v1/check.
check_req ()
{
  # shellcheck disable=SC2086
  _st=$(call "$1" $good -X POST -H 'Content-Type: application/json' \
          --data-binary "$3" "$url/v1/check")
  [ "$_st" = "$2" ] || { cat "$TEST_DIR/$1"; fail "$1: HTTP $_st, expected $2"; }
}
check_req check-bad 400 "{\"host\":\"$DST_IP\",\"vm\":{\"name\":\"x\"}}"
grep -q 'bad VM description' "$TEST_DIR/check-bad" || fail "check-bad: no reason"
check_req check-newer 200 "{\"host\":\"$DST_IP\",\"vm\":{$(vm c1 pc-q35-7.2 990000)}}"
jq -e '.can_move == false and (.findings | map(select(.id == "qemu-version"
       and .severity == "error")) | length) == 1' "$TEST_DIR/check-newer" \
  >/dev/null || { cat "$TEST_DIR/check-newer"; fail "check-newer: no error"; }
check_req check-garbage 200 "{\"host\":\"$DST_IP\",\"vm\":{$(vm c2 pc-q35-7.2 70200),\"kvm\":\"yes\",\"cpu_model\":7,\"cpu_features\":5,\"passthrough\":\"x\",\"bridges\":[1,{}],\"blocked_reasons\":{}}}"
jq -e '(.can_move | type) == "boolean" and (.findings | length) > 5' \
  "$TEST_DIR/check-garbage" >/dev/null ||
  { cat "$TEST_DIR/check-garbage"; fail "check-garbage: no report"; }
echo "check-garbage: $(jq -c '[.can_move, (.findings | map(.id))]' \
  "$TEST_DIR/check-garbage")"

# Unknown endpoint and method.
# shellcheck disable=SC2086
st=$(call notfound $good "$url/v1/nothing")
[ "$st" = 404 ] || fail "unknown path: HTTP $st"
# shellcheck disable=SC2086
st=$(call badmethod $good "$url/v1/prepare")
[ "$st" = 405 ] || fail "GET prepare: HTTP $st"

[ -z "$(mig_spawned_for_requests)" ] ||
  { mig_spawned_for_requests; fail "the checks ran the programs above"; }
canaries_ok "the end"

# Nothing was created by any of this, and vmferryd still serves.
mig_dir_empty "$DST_STORAGE" || { ls -R "$DST_STORAGE"; fail "storage root not empty"; }
mig_dir_empty "$DST_RUN" || { ls -R "$DST_RUN"; fail "run root not empty"; }
# shellcheck disable=SC2086
st=$(call status $good "$url/v1/status")
[ "$st" = 200 ] || fail "status after the attacks: HTTP $st"
exit 0
