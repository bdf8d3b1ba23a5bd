#!/bin/sh
# migrate-ssh.sh: the zero-PKI one-shot, vmferry migrate --to
# ssh://root@HOST:PORT.  A real OpenSSH server runs in the destination
# namespace with keys and known_hosts made here; no vmferryd runs and no
# certificate exists before the migration.  First a key that sshd does
# not accept: refused (exit 2) with ssh's own reason, the VM still runs
# on the source, and nothing is left on either side.  Then the real
# move: the guest verifies its disk and memory on the destination, the
# host checker finds every acknowledged record in the destination image,
# the VM runs on exactly one host, the data channel used TLS-PSK, and
# the per-migration secrets are gone from both hosts.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"
. "$abs_top_srcdir/tests/ssh-functions.sh"

requires_sshd
guest_test_init
mig_hosts
SSH_CLIENT_NS=$SRC_NS ssh_server "$DST_NS" "$DST_IP" 2222
LTMP="$TEST_DIR/ltmp"
mkdir -p "$LTMP"
# The one-shot vmferryd registers the VM in its default VM directory, the
# host's: here the test's own.
printf '#!/bin/sh\nexec "%s" --vm-dir "%s" "$@"\n' \
  "$abs_top_builddir/cmd/vmferryd" "$DST_VMS" > "$TEST_DIR/vmferryd"
chmod +x "$TEST_DIR/vmferryd"

# migrate_ssh KEY ARG...: vmferry migrate over ssh as root with KEY.
migrate_ssh ()
{
  _key=$1
  shift
  # shellcheck disable=SC2086
  ip netns exec "$SRC_NS" env TMPDIR="$LTMP" VMFERRY_DEBUG=1 vmferry migrate "$@" \
    --to "ssh://root@$DST_IP:2222" $SSH_OPTS \
    --ssh-option "IdentityFile=$_key" \
    --ssh-vmferryd "${REMOTE_VMFERRYD:-$TEST_DIR/vmferryd}" \
    --ssh-storage-root "$DST_STORAGE" --ssh-run-root "$DST_RUN" \
    > "$TEST_DIR/migrate.out" 2>&1
  MIG_RC=$?
  cat "$TEST_DIR/migrate.out"
  echo "vmferry exit code: $MIG_RC"
}

# A malformed ssh:// destination is a usage error.
vmferry migrate /x/qmp.sock --to ssh://root@ > "$TEST_DIR/usage.out" 2>&1
[ $? = 1 ] || fail "ssh://root@ was not a usage error"
grep -q "'ssh://root@' is not ssh://\[USER@\]HOST\[:PORT\]" \
  "$TEST_DIR/usage.out" || fail "no clear message for ssh://root@"

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 100
vm_start "$src" ssh1 "$SRC_NS" "$img" vmferry.disk_rate=100
src_pid=$VM_PID
vm_wait_ready "$src"
vm_wait_ack "$src" 10

# A key the server does not accept: refused, clear, nothing left.
migrate_ssh "$SSH_BADKEY" "$src/qmp.sock" --json
[ "$MIG_RC" = 2 ] || fail "a refused ssh login gave exit code $MIG_RC, not 2"
grep -q 'ssh .*Permission denied' "$TEST_DIR/migrate.out" ||
  fail "the error does not say that ssh refused the login"
vm_running "$src" || fail "the source VM stopped after a refused login"
mig_dir_empty "$LTMP" || fail "local temporary files left: $(ls "$LTMP")"
mig_dir_empty "$SSH_TMP" || fail "remote temporary files left"
mig_dir_empty "$DST_RUN" && mig_dir_empty "$DST_STORAGE" ||
  fail "files left in the destination roots"
[ -z "$(ip netns pids "$DST_NS" | grep -vx "$SSH_PID")" ] ||
  fail "processes left on the destination besides sshd"

# Logged in, but no such vmferryd there: refused at once, with the
# reason (not after a timeout).
start=$(date +%s)
REMOTE_VMFERRYD=/no/such/vmferryd
migrate_ssh "$SSH_KEY" "$src/qmp.sock"
REMOTE_VMFERRYD=
[ "$MIG_RC" = 2 ] || fail "a missing vmferryd gave exit code $MIG_RC, not 2"
grep -q 'could not start vmferryd --once there: .*/no/such/vmferryd: command not found' \
  "$TEST_DIR/migrate.out" || fail "the error does not name the missing program"
[ $(($(date +%s) - start)) -lt 30 ] || fail "a missing vmferryd took 30 s"
mig_dir_empty "$LTMP" && mig_dir_empty "$SSH_TMP" ||
  fail "temporary files left after a missing vmferryd"

# Logged in, agent started, then the source refuses (a --disk-path for
# a disk the VM does not have): the agent there is stopped when vmferry
# closes the connection, and nothing is left on either side.
migrate_ssh "$SSH_KEY" "$src/qmp.sock" --disk-path /no/such.qcow2=/x
[ "$MIG_RC" = 2 ] || fail "a refused preflight gave exit code $MIG_RC, not 2"
grep -q 'the VM has no disk /no/such.qcow2' "$TEST_DIR/migrate.out" ||
  fail "the refusal does not say why"
grep -q 'debug: ssh .*: vmferryd --once listens on 127.0.0.1 port' \
  "$TEST_DIR/migrate.out" || fail "the agent did not start there"
vm_running "$src" || fail "the source VM stopped after a refused preflight"
[ -z "$(ip netns pids "$DST_NS" | grep -vx "$SSH_PID")" ] ||
  fail "the one-shot agent still runs on the destination"
mig_dir_empty "$LTMP" || fail "local temporary files left: $(ls "$LTMP")"
mig_dir_empty "$SSH_TMP" || fail "remote temporary files left"

# The real move.
migrate_ssh "$SSH_KEY" "$src/qmp.sock" --json
[ "$MIG_RC" = 0 ] || fail "vmferry migrate over ssh failed"
[ "$(mig_result_field result)" = migrated ] || fail "result is not migrated"
[ "$(mig_result_field destination)" = "$DST_IP" ] ||
  fail "the summary does not name the ssh host as the destination"
dst="$DST_RUN/ssh1"
dimg="$DST_STORAGE/ssh1/disk0.qcow2"
pid_alive "$src_pid" && fail "the source QEMU still runs"
dst_pid=$(vm_pid "$dst") || fail "no QEMU runs on the destination"
ip netns identify "$dst_pid" | grep -qx "$DST_NS" ||
  fail "the destination QEMU runs outside $DST_NS"
[ -e "$img" ] && fail "the source image was not deleted"

# The data channel was TLS-PSK: the source QEMU got a tls-creds-psk
# object (vmferry's QMP debug log); a PSK client only talks to a PSK
# server, so the skeleton used the same key.
grep -q 'object-add.*"tls-creds-psk"' "$TEST_DIR/migrate.out" ||
  fail "the source QEMU did not use TLS-PSK"

last=$(vm_last_ack "$src")
echo "last record acknowledged on the source: $last"
vm_wait_ack "$dst" $((last + 10)) 60
vm_verify "$dst" 120 || fail "guest verdict on the destination: $VM_VERDICT"
vm_stop "$dst"
vm_check_image "$dimg" "$src/console.log" "$dst/console.log" ||
  fail "check-image rejected the destination image"

# The one-shot agent and ssh are gone; so are the secrets, both sides.
only_sshd () { [ -z "$(ip netns pids "$DST_NS" | grep -vx "$SSH_PID")" ]; }
wait_until 30 only_sshd ||
  fail "processes left on the destination besides sshd: $(ip netns pids "$DST_NS" | grep -vx "$SSH_PID" | tr '\n' ' ')"
mig_dir_empty "$LTMP" || fail "local temporary files left: $(ls "$LTMP")"
mig_dir_empty "$SSH_TMP" || fail "remote temporary files left"
exit 0
