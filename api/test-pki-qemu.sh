#!/usr/bin/env bash
# test-pki-qemu.sh: QEMU accepts the certificates api_pki_init and
# api_pki_issue make.  tls-creds-x509 loads them (it checks CA
# constraints, key usage, key purpose and validity on load), and
# qemu-nbd and qemu-img talk TLS with them, matching the server
# certificate against tls-hostname (DNS and IP subjectAltNames).
set -e
: "${VMFERRY_BUILDDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$VMFERRY_BUILDDIR/tests/functions.sh"

requires qemu-system-x86_64 --version
requires qemu-nbd --version
requires qemu-img --version

mkcerts="$VMFERRY_BUILDDIR/api/test-pki-mkcerts"
tmp="$(mktemp -d)"
cleanup_fn rm -rf "$tmp"

"$mkcerts" "$tmp/ca" "$tmp/tls" localhost 0 127.0.0.1 ::1
"$mkcerts" "$tmp/ca" "$tmp/expired" localhost -1 127.0.0.1
"$mkcerts" "$tmp/ca2" "$tmp/other" localhost 0 127.0.0.1

# qemu_creds DIR: start QEMU with server and client credentials from DIR,
# then quit over QMP.  Fails (with QEMU's message) unless QEMU loads both.
qemu_creds ()
{
  local err="$tmp/qemu.err"
  printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
    timeout 60 qemu-system-x86_64 -machine none -nodefaults -display none \
      -object tls-creds-x509,id=t0,dir="$1",endpoint=server,verify-peer=on \
      -object tls-creds-x509,id=t1,dir="$1",endpoint=client \
      -qmp stdio >/dev/null 2>"$err" || { cat "$err" >&2; return 1; }
  if [ -s "$err" ]; then
    cat "$err" >&2
    return 1
  fi
}

qemu_creds "$tmp/tls" || fail "QEMU refused the certificates"
# The check is real: QEMU refuses expired certificates.
if qemu_creds "$tmp/expired" 2>"$tmp/expired.err"; then
  fail "QEMU accepted expired certificates"
fi
grep -q expired "$tmp/expired.err" ||
  fail "unexpected: $(cat "$tmp/expired.err")"

# A TLS server (qemu-nbd, requiring a client certificate) and client.
qemu-img create -q -f raw "$tmp/disk" 1M
sock="$tmp/nbd.sock"
creds="tls-creds-x509,id=tls0,dir=$tmp/tls,endpoint=server,verify-peer=on"
qemu-nbd --persistent -f raw -k "$sock" --tls-creds tls0 --object "$creds" \
  "$tmp/disk" 2>"$tmp/nbd.err" &
nbd_pid=$!
cleanup_fn kill "$nbd_pid"
for _ in $(seq 100); do
  [ -S "$sock" ] && break
  kill -0 "$nbd_pid" || fail "qemu-nbd died: $(cat "$tmp/nbd.err")"
  sleep 0.1
done
[ -S "$sock" ] || fail "qemu-nbd did not create $sock"

# nbd_info DIR HOSTNAME: connect with the client certificate in DIR.
nbd_info ()
{
  timeout 60 qemu-img info \
    --object tls-creds-x509,id=tls0,dir="$1",endpoint=client \
    --image-opts "driver=nbd,path=$sock,tls-creds=tls0,tls-hostname=$2"
}

for host in localhost 127.0.0.1 ::1; do
  nbd_info "$tmp/tls" "$host" >/dev/null ||
    fail "QEMU TLS connection with tls-hostname=$host failed"
done
if nbd_info "$tmp/tls" wronghost >/dev/null 2>"$tmp/wrong.err"; then
  fail "QEMU accepted a server certificate for another host"
fi
grep -q "does not match" "$tmp/wrong.err" ||
  fail "unexpected: $(cat "$tmp/wrong.err")"

# The server refuses a client certificate from another CA (the client
# trusts both CAs, so that it does not refuse its own certificate first).
mkdir "$tmp/mixed"
cp "$tmp/other/client-cert.pem" "$tmp/other/client-key.pem" "$tmp/mixed/"
cat "$tmp/tls/ca-cert.pem" "$tmp/other/ca-cert.pem" > "$tmp/mixed/ca-cert.pem"
if nbd_info "$tmp/mixed" localhost >/dev/null 2>"$tmp/mixed.err"; then
  fail "qemu-nbd accepted a client certificate from another CA"
fi
for _ in $(seq 50); do       # qemu-nbd logs it asynchronously
  grep -q "known issuer" "$tmp/nbd.err" && break
  sleep 0.1
done
grep -q "known issuer" "$tmp/nbd.err" ||
  fail "qemu-nbd did not say why: $(cat "$tmp/nbd.err")"
echo "$0: OK"
