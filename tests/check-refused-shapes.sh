#!/bin/sh
# check-refused-shapes.sh: a VM whose command line has several things
# vmferry cannot move (each one QEMU itself accepts): vmferry check
# lists every one at once, naming the option and key, and exits 2;
# vmferry migrate refuses it before anything is created (exit 2, no
# HTTP 500, the destination's roots empty, the VM untouched on the
# source).  Refused here: -snapshot, a pty chardev, -serial pty, a
# socket netdev, a secret object, a floppy drive (if=floppy), an audio
# device, a VNC display on a unix socket, a client socket chardev.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts
mig_start_vmferryd

d="$TEST_DIR/refused"
mkdir -p "$d"
disk_create "$d/disk0.qcow2" 64M
qemu-img create -q -f raw "$d/floppy.img" 1440K || fail "floppy image"
cleanup_fn "vm_kill '$d'"
ip netns exec "$SRC_NS" "$QEMU" -name refused -accel tcg -nodefaults \
  -display none -m 524296K -daemonize -pidfile "$d/qemu.pid" \
  -qmp "unix:$d/qmp.sock,server=on,wait=off" \
  -drive "file=$d/disk0.qcow2,if=virtio,format=qcow2" -snapshot \
  -chardev pty,id=p0 -device isa-serial,chardev=p0 -serial pty \
  -netdev socket,id=s0,listen=127.0.0.1:5555 -device e1000,netdev=s0 \
  -object secret,id=sec0,data=x \
  -drive "file=$d/floppy.img,if=floppy,format=raw" \
  -device ich9-intel-hda -vnc "unix:$d/vnc.sock" \
  -chardev socket,id=cl,host=127.0.0.1,port=9,reconnect=5 ||
  fail "QEMU did not start"
vm_running "$d" || fail "the VM does not run"

ip netns exec "$SRC_NS" vmferry check "$d/qmp.sock" --to "$DST_IP" \
  --tls-dir "$SRC_TLS" > "$TEST_DIR/check.out" 2>&1
rc=$?
cat "$TEST_DIR/check.out"
[ "$rc" = 2 ] || fail "vmferry check exit code $rc for a VM that cannot move"
# expect PATTERN: the report names it.
expect ()
{
  grep -q -- "$1" "$TEST_DIR/check.out" || fail "vmferry check does not say: $1"
}
expect "-snapshot: not supported: its writes live in a temporary file"
expect "-chardev pty,id=p0: backend 'pty' is not supported by vmferry: a terminal of this host"
expect "-serial pty: 'pty' ties the VM to this host"
expect "-netdev socket,id=s0,listen=127.0.0.1:5555: type 'socket' is not supported by vmferry: use tap, bridge or user"
expect "-object secret,id=sec0,data=x: qom-type 'secret' is not supported"
expect "-drive file=$d/floppy.img,if=floppy,format=raw: if: 'floppy' is not one of the supported values"
expect "-device ich9-intel-hda: driver 'ich9-intel-hda' is not supported"
expect "-vnc unix:$d/vnc.sock: display"
expect "-chardev socket,id=cl,host=127.0.0.1,port=9,reconnect=5: key 'reconnect' is not supported for socket"
expect "vmferry(1) lists the shapes that move"
lines=$(grep -c "cannot move" "$TEST_DIR/check.out")
echo "vmferry check listed $lines refusals"
[ "$lines" -ge 9 ] || fail "vmferry check listed $lines refusals, expected 9"

mig_migrate "$d/qmp.sock"
[ "$MIG_RC" = 2 ] || fail "exit code $MIG_RC, expected 2 (refused, nothing done)"
grep -q 'refused, nothing was done' "$TEST_DIR/migrate.out" ||
  fail "no 'refused, nothing was done'"
grep -q 'HTTP 5' "$TEST_DIR/migrate.out" && fail "a 5xx reached the user"
vm_running "$d" || fail "the refused VM stopped"
mig_dest_clean
exit 0
