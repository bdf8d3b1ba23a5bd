#!/bin/sh
# migrate-options.sh: vmferry migrate refuses combinations of options
# that cannot work with a usage error (exit 1) and a message naming the
# problem, before it connects to anything (no VM, no agent: the VM
# socket and the destination do not exist).  Also checks that the
# combinations these refusals leave open get past them: they then fail
# later, on the missing VM, refused with exit 2 and the missing QMP
# socket named (not 1, and not a crash: 134 or 139 would be no
# better than 1).

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"

test_tmpdir
out="$TEST_DIR/out"
# Certificate files present (vmferry checks they are readable before it
# looks for the VM); their content is never read: the VM is missing.
touch "$TEST_DIR/ca-cert.pem" "$TEST_DIR/client-cert.pem" \
  "$TEST_DIR/client-key.pem" || fail "making the certificate files"

# refused PATTERN ARG...: vmferry migrate ARG... exits 1 with PATTERN.
refused ()
{
  _pat=$1
  shift
  vmferry migrate "$TEST_DIR/none/qmp.sock" --to 192.0.2.1 \
    --tls-dir "$TEST_DIR" --run-dir "$TEST_DIR/run" "$@" > "$out" 2>&1
  _rc=$?
  cat "$out"
  [ "$_rc" = 1 ] || fail "$*: exit code $_rc, expected 1 (usage)"
  grep -q -- "$_pat" "$out" || fail "$*: no message matching '$_pat'"
}

# accepted ARG...: the options pass the usage checks and vmferry goes
#   on to look for the VM, which does not exist: exit 2, saying so.
accepted ()
{
  vmferry migrate "$TEST_DIR/none/qmp.sock" --to 192.0.2.1 \
    --tls-dir "$TEST_DIR" --run-dir "$TEST_DIR/run" "$@" > "$out" 2>&1
  _rc=$?
  cat "$out"
  [ "$_rc" != 1 ] || fail "$*: refused as a usage error"
  [ "$_rc" = 2 ] || fail "$*: exit code $_rc, expected 2 (refused: no VM)"
  grep -q "^vmferry: refused, nothing was done: QMP socket $TEST_DIR/none/qmp.sock does not exist" \
    "$out" || fail "$*: not refused for the missing VM"
}

refused "say none, zlib or zstd" --transport direct --qemu-compression lz4
refused "needs --transport direct" --qemu-compression zstd
refused "needs --transport direct" --qemu-compression zstd --transport tcp
refused "--channels 2 or more" --transport direct --qemu-compression zstd \
  --channels 1
refused "do not go with --allow-postcopy" --transport direct \
  --qemu-compression zlib --allow-postcopy
refused "do not go with --allow-postcopy" --channels 2 --allow-postcopy
refused "--offline always uses the vmferry engine" --offline \
  --disk "$TEST_DIR/x.img" --transport direct --qemu-compression zstd

accepted --transport direct --channels 4
accepted --transport direct --qemu-compression zstd
accepted --transport direct --qemu-compression none --channels 3
accepted --channels 2
exit 0
