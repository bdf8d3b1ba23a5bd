#!/bin/sh
# api-tls-ports.sh: after a prepare, the skeleton QEMU's NBD export and
# incoming migration accept only TLS peers with a certificate of the
# migration CA (issue 8).  A real vmferryd in a network namespace gets a
# prepare request (curl) for a small VM description whose command line
# it accepts; then, from the source namespace:
#  - NBD: nbdinfo with the source's certificates reads the export (the
#    control); nbdinfo and qemu-img without TLS, and nbdinfo with a
#    certificate of another CA (trusting the right CA, and with the other
#    CA's own files), are refused;
#  - migration port: TLS handshakes without a client certificate and
#    with another CA's are refused; a plain TCP connection sending a
#    migration stream header gets no migration protocol back, and the
#    migration is still waiting afterwards;
#  - the abort then leaves the storage and run roots empty and no QEMU.
# It starts a QEMU (the skeleton, never a guest): run under the machine's
# VM-test lock; SKIPs with VMFERRY_SKIP_VM_TESTS=1.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

if [ "${VMFERRY_SKIP_VM_TESTS:-}" = 1 ]; then
  echo "$0: SKIP: VMFERRY_SKIP_VM_TESTS=1"
  exit 77
fi
requires_root
requires_qemu
requires curl --version
requires jq --version
requires nbdinfo --version
requires openssl version
test_tmpdir
mig_hosts
mig_start_vmferryd

url="https://$DST_IP:7480"
# api NAME METHOD PATH [BODY]: a request with the source's certificate;
#   prints the HTTP status, the reply is in $TEST_DIR/NAME.
api ()
{
  ip netns exec "$SRC_NS" curl -s -o "$TEST_DIR/$1" -w '%{http_code}' \
    --cacert "$MIG_CA/ca-cert.pem" --cert "$SRC_TLS/client-cert.pem" \
    --key "$SRC_TLS/client-key.pem" -X "$2" \
    -H 'Content-Type: application/json' ${4:+--data-binary "$4"} "$url$3"
}
in_src () { ip netns exec "$SRC_NS" "$@"; }

vm='{"name":"tlsvm","machine":"pc-q35-7.2","memory":67108864,
 "cpu_vendor":"","qemu_version":70200,
 "argv":["qemu-system-x86_64","-machine","pc-q35-7.2","-accel","tcg",
  "-cpu","qemu64","-m","64","-nodefaults","-display","none",
  "-blockdev","driver=file,filename=/src/tlsvm/disk0.qcow2,node-name=f0",
  "-blockdev","driver=qcow2,file=f0,node-name=disk0",
  "-device","virtio-blk-pci,drive=disk0"],
 "disks":[{"id":"disk0","path":"/src/tlsvm/disk0.qcow2","format":"qcow2",
  "virtual_size":16777216,"allocated":0,"read_only":false}]}'
st=$(api prepare POST /v1/prepare \
       "{\"id\":\"tls1\",\"host\":\"$DST_IP\",\"vm\":$vm}")
cat "$TEST_DIR/prepare"; echo
[ "$st" = 200 ] || { cat "$TEST_DIR/vmferryd.log"; fail "prepare: HTTP $st"; }
nbd=$(jq -r .nbd_port "$TEST_DIR/prepare")
mig=$(jq -r .migration_port "$TEST_DIR/prepare")
host=$(jq -r .host "$TEST_DIR/prepare")
[ "$host" = "$DST_IP" ] || fail "prepare answered host $host"

# Certificates of another CA, and a directory that trusts our CA but
# presents the other CA's client certificate.
vmferry pki init "$TEST_DIR/ca2" >/dev/null || fail "pki init ca2"
vmferry pki issue "$TEST_DIR/ca2" --name src --ip "$SRC_IP" \
  --out "$TEST_DIR/evil" >/dev/null || fail "pki issue evil"
mkdir "$TEST_DIR/mixed"
cp "$MIG_CA/ca-cert.pem" "$TEST_DIR/mixed/"
cp "$TEST_DIR/evil/client-cert.pem" "$TEST_DIR/evil/client-key.pem" \
  "$TEST_DIR/mixed/"

# ---- NBD ----
# The control: the source's certificates read the export.
in_src nbdinfo --size \
  "nbds://$DST_IP:$nbd/disk0?tls-certificates=$SRC_TLS" \
  >"$TEST_DIR/nbd-good" 2>&1 ||
  { cat "$TEST_DIR/nbd-good"; fail "NBD with the source's certificates"; }
[ "$(cat "$TEST_DIR/nbd-good")" = 16777216 ] ||
  { cat "$TEST_DIR/nbd-good"; fail "NBD control: wrong size"; }
echo "NBD with the CA's certificate: size $(cat "$TEST_DIR/nbd-good")"
# refused NAME CMD...: CMD must fail; its output is shown.
refused ()
{
  _n=$1
  shift
  if in_src timeout 20 "$@" >"$TEST_DIR/$_n" 2>&1; then
    cat "$TEST_DIR/$_n"
    fail "$_n: accepted"
  fi
  echo "$_n: refused: $(tr '\n' ' ' < "$TEST_DIR/$_n" | cut -c1-200)"
}
refused nbd-plain nbdinfo --size "nbd://$DST_IP:$nbd/disk0"
grep -qi 'tls' "$TEST_DIR/nbd-plain" || fail "nbd-plain: not refused for TLS"
refused nbd-qemu-img qemu-img info --image-opts \
  "driver=nbd,host=$DST_IP,port=$nbd,export=disk0"
refused nbd-other-ca nbdinfo --size \
  "nbds://$DST_IP:$nbd/disk0?tls-certificates=$TEST_DIR/mixed"
refused nbd-other-ca-only nbdinfo --size \
  "nbds://$DST_IP:$nbd/disk0?tls-certificates=$TEST_DIR/evil"

# ---- migration port ----
# handshake NAME SECONDS [OPENSSL-ARGS...]: a TLS handshake, then wait
#   for the server for up to SECONDS.  QEMU checks the client's
#   certificate after the TLS 1.3 handshake and drops a bad peer at once
#   ("unexpected eof"); a good peer's connection stays open, waiting for
#   the migration stream (timeout: exit code 124).
handshake ()
{
  _n=$1 _s=$2
  shift 2
  sleep $((_s + 5)) | in_src timeout "$_s" openssl s_client -brief -ign_eof \
    -connect "$DST_IP:$mig" -CAfile "$MIG_CA/ca-cert.pem" \
    -verify_return_error "$@" >"$TEST_DIR/$_n" 2>&1
}
# mig_refused NAME [OPENSSL-ARGS...]
mig_refused ()
{
  _n=$1
  shift
  handshake "$_n" 10 "$@" && fail "$_n: the connection stayed up"
  [ $? = 124 ] && { cat "$TEST_DIR/$_n"; fail "$_n: not dropped in 10 s"; }
  grep -q 'unexpected eof\|alert' "$TEST_DIR/$_n" ||
    { cat "$TEST_DIR/$_n"; fail "$_n: no sign of a refusal"; }
  echo "$_n: dropped: $(grep 'error' "$TEST_DIR/$_n" | cut -c1-120)"
}
mig_refused mig-nocert
mig_refused mig-other-ca -cert "$TEST_DIR/evil/client-cert.pem" \
  -key "$TEST_DIR/evil/client-key.pem"
# Plain TCP with a migration stream header ("QEVM", version 3): the
# answer may only be nothing or a TLS alert record (0x15).
printf 'QEVM\000\000\000\003' | in_src timeout 20 socat -t 5 - \
  "TCP:$DST_IP:$mig" >"$TEST_DIR/mig-plain" 2>&1 ||
  { cat "$TEST_DIR/mig-plain"; fail "mig-plain: no TCP connection"; }
first=$(od -An -tx1 -N1 "$TEST_DIR/mig-plain" | tr -d ' ')
case $first in
  ''|15) echo "mig-plain: answered ${first:-nothing}" ;;
  *) od -c "$TEST_DIR/mig-plain" | head; fail "mig-plain: answered $first" ;;
esac
# The skeleton QEMU (its command line names the run root) still waits
# for the migration: none of the attempts above reached its loader.
skeleton=$(pgrep -f "$DST_RUN/" | head -n 1)
pid_alive "$skeleton" || fail "the skeleton QEMU is gone after the refusals"
# The control, last: with the CA's certificate the handshake succeeds
# and QEMU reads the migration stream from it; the stream then ends
# empty, the incoming migration fails and the skeleton exits.
handshake mig-good 10 -cert "$SRC_TLS/client-cert.pem" \
  -key "$SRC_TLS/client-key.pem"
grep -q 'Verification: OK' "$TEST_DIR/mig-good" ||
  { cat "$TEST_DIR/mig-good"; fail "mig-good: no TLS session"; }
for _i in $(seq 100); do
  pid_alive "$skeleton" || break
  sleep 0.1
done
pid_alive "$skeleton" && fail "mig-good: QEMU did not take the connection"
echo "mig-good: the CA's certificate reached the migration loader"

# ---- abort: nothing left ----
st=$(api abort POST /v1/abort '{"id":"tls1"}')
[ "$st" = 200 ] || { cat "$TEST_DIR/abort"; fail "abort: HTTP $st"; }
mig_dir_empty "$DST_STORAGE" || { ls -R "$DST_STORAGE"; fail "storage root not empty"; }
mig_dir_empty "$DST_RUN" || { ls -R "$DST_RUN"; fail "run root not empty"; }
for p in $(pgrep -f "$DST_RUN/" || true); do
  pid_alive "$p" && fail "a QEMU of the prepare still runs: pid $p"
done
echo "abort: roots empty, no QEMU left"
exit 0
