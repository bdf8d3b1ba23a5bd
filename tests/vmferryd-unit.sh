#!/bin/sh
# vmferryd-unit.sh: vmferryd and the QEMUs it starts work under what
# contrib/systemd/vmferryd.service imposes (issue 18, item 6).  PID 1
# is not systemd here, so tests/unit-sandbox.py applies to vmferryd
# what the unit would: its system-call filter (the same groups, resolved
# by systemd-analyze), the socket families, the capability bounding
# set, no new privileges; NOTIFY_SOCKET stands in for systemd's
# (Type=notify).  Two live migrations into it, vmferry's engine with the
# relay and QEMU's own path (mirror and migration over QEMU's TLS),
# then the VM runs there, verifies, and its image checks.  The unit's
# mount and device settings are not imitated (they need systemd).

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

unit="$abs_top_builddir/contrib/systemd/vmferryd.service"
requires /usr/bin/python3 -c 'import seccomp'
requires systemd-analyze syscall-filter @system-service
[ -f "$unit" ] || fail "$unit is not built"
guest_test_init
mig_hosts

conf="$TEST_DIR/vmferryd.conf"
cat > "$conf" <<EOF
listen = $DST_IP:7480
storage-root = $DST_STORAGE
run-root = $DST_RUN
tls-dir = $DST_TLS
read-dir = $GUEST_DIR
EOF
# The unit's command line, with the vmferryd built here (first in PATH)
# and this configuration file.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit" |
             sed -e "s|--config [^ ]*|--config $conf|" -e 's|^[^ ]*/vmferryd |vmferryd |')
echo "ExecStart: $exec_start"
/usr/bin/python3 "$abs_top_srcdir/tests/dgram-recv.py" "$TEST_DIR/notify.sock" \
  "$TEST_DIR/notify.out" &
cleanup_fn "kill $!"
# shellcheck disable=SC2086
NOTIFY_SOCKET="$TEST_DIR/notify.sock" ip netns exec "$DST_NS" \
  /usr/bin/python3 "$abs_top_srcdir/tests/unit-sandbox.py" "$unit" \
  $exec_start > "$TEST_DIR/vmferryd.log" 2>&1 &
VMFERRYD_PID=$!
cleanup_fn "mig_kill_dest"
for i in $(seq 100); do
  grep -q '^READY=1$' "$TEST_DIR/notify.out" 2>/dev/null && break
  pid_alive "$VMFERRYD_PID" || break
  sleep 0.1
done
cat "$TEST_DIR/vmferryd.log"
grep -q '^READY=1$' "$TEST_DIR/notify.out" ||
  fail "vmferryd under the unit's restrictions did not say READY=1"
grep -E '^(Cap(Bnd|Eff)|NoNewPrivs|Seccomp):' "/proc/$VMFERRYD_PID/status"
grep -q '^Seccomp:[[:space:]]*2$' "/proc/$VMFERRYD_PID/status" ||
  fail "vmferryd runs without the system-call filter"

# move NAME ARG...: a guest NAME moved live with vmferry migrate ARG...;
# it runs on the destination, under the filter, and verifies there.
move ()
{
  _n=$1
  shift
  src="$TEST_DIR/$_n"
  img="$src/disk0.qcow2"
  mkdir -p "$src"
  disk_create "$img" 1G 100
  vm_start "$src" "$_n" "$SRC_NS" "$img" vmferry.disk_rate=50 \
    vmferry.mem_rate=200
  vm_wait_ready "$src"
  vm_wait_ack "$src" 10
  mig_migrate "$src/qmp.sock" --json "$@"
  [ "$MIG_RC" = 0 ] || fail "migration $* into the sandboxed vmferryd failed"
  dpid=$(vm_pid "$DST_RUN/$_n") || fail "no QEMU runs on the destination"
  # The unit's filter and QEMU's own (-sandbox).
  _f=$(sed -n 's/^Seccomp_filters:[[:space:]]*//p' "/proc/$dpid/status")
  [ "${_f:-0}" -ge 2 ] ||
    fail "the destination QEMU runs without the unit's filter ($_f)"
  mig_verify_moved "$src" "$DST_RUN/$_n" "$DST_STORAGE/$_n/disk0.qcow2" 10
}
move unit1
move unit2 --storage-engine qemu --transport direct
grep -i 'operation not permitted\|EPERM' "$TEST_DIR/vmferryd.log" &&
  fail "something was refused under the unit's restrictions"
exit 0
