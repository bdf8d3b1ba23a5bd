# ssh-functions.sh: a real OpenSSH server for tests (sourced after
# functions.sh and mig-functions.sh).  Everything it uses is made by the
# test in $TEST_DIR/ssh: host key, user keys, known_hosts, sshd_config.

# requires_sshd: skip unless sshd, ssh and ssh-keygen are installed.
requires_sshd ()
{
  for _c in /usr/sbin/sshd ssh ssh-keygen; do
    command -v "$_c" > /dev/null ||
      { echo "$0: SKIP: $_c is not installed (openssh-server/-client)"; exit 77; }
  done
}

# ssh_server NS ADDR PORT: start sshd in namespace NS on ADDR:PORT with
#   a host key made here, root login by the key SSH_KEY only (made here;
#   SSH_BADKEY is another key, not authorized).  Sets SSH_PID and
#   SSH_OPTS (vmferry --ssh-option arguments: the test's known_hosts,
#   strict host key checking, the identity, batch mode, no user config
#   file effects, TMPDIR=$TEST_DIR/rtmp on the far side) and SSH_TMP.
#   Checks that a login with these options works (from namespace
#   SSH_CLIENT_NS, default NS).  Cleanup: kills that sshd by its PID.
ssh_server ()
{
  _sd="$TEST_DIR/ssh"
  mkdir -p "$_sd" "$TEST_DIR/rtmp" /run/sshd && chmod 700 "$_sd" ||
    fail "mkdir $_sd"
  ssh-keygen -q -t ed25519 -N '' -f "$_sd/host_key" &&
    ssh-keygen -q -t ed25519 -N '' -f "$_sd/user_key" &&
    ssh-keygen -q -t ed25519 -N '' -f "$_sd/bad_key" ||
    fail "ssh-keygen failed"
  cp "$_sd/user_key.pub" "$_sd/authorized_keys"
  echo "[$2]:$3 $(cut -d' ' -f1,2 "$_sd/host_key.pub")" > "$_sd/known_hosts"
  cat > "$_sd/sshd_config" <<EOF
ListenAddress $2:$3
HostKey $_sd/host_key
PidFile $_sd/sshd.pid
AuthorizedKeysFile $_sd/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding local
AcceptEnv TMPDIR
EOF
  ip netns exec "$1" /usr/sbin/sshd -D -e -f "$_sd/sshd_config" \
    > "$_sd/sshd.log" 2>&1 &
  SSH_PID=$!
  cleanup_fn "kill $SSH_PID 2>/dev/null"
  SSH_TMP="$TEST_DIR/rtmp"
  SSH_KEY="$_sd/user_key" SSH_BADKEY="$_sd/bad_key"
  SSH_OPTS="--ssh-option UserKnownHostsFile=$_sd/known_hosts
            --ssh-option GlobalKnownHostsFile=/dev/null
            --ssh-option StrictHostKeyChecking=yes
            --ssh-option BatchMode=yes --ssh-option IdentitiesOnly=yes
            --ssh-option SetEnv=TMPDIR=$SSH_TMP"
  for _i in $(seq 50); do
    grep -q 'listening on' "$_sd/sshd.log" && break
    pid_alive "$SSH_PID" || break
    sleep 0.1
  done
  grep -q 'listening on' "$_sd/sshd.log" ||
    { cat "$_sd/sshd.log" >&2; fail "sshd did not start"; }
  # The options work, and the far side's TMPDIR is ours (so that tests
  # can check that nothing is left there).
  # shellcheck disable=SC2046
  _t=$(ip netns exec "${SSH_CLIENT_NS:-$1}" ssh -p "$3" \
         $(printf '%s\n' $SSH_OPTS | sed 's/^--ssh-option$/-o/') \
         -o "IdentityFile=$SSH_KEY" "root@$2" 'echo "$TMPDIR"') ||
    fail "ssh with the test's options failed"
  [ "$_t" = "$SSH_TMP" ] || fail "SetEnv TMPDIR did not reach the far side"
}
