#!/bin/sh
# migrate-shapes.sh: the command lines people really write move.  Two
# guests, each started the way scripts, tutorials and hand-written units
# start QEMU (no -blockdev of the test helpers), each migrated live and
# verified by the guest and the host checker:
#  1. -drive everywhere: if=virtio with cache=none,aio=native,
#     discard=unmap,detect-zeroes=unmap (the workload's disk);
#     if=none + -device virtio-scsi-pci/scsi-hd without format= (probed);
#     -hdb; if=ide with cache=unsafe,aio=io_uring; -cdrom with an ISO;
#     an empty CD-ROM drive; a readonly=on image (both copied, the
#     source's files, outside the VM's directory, kept); -M q35 (an alias),
#     -smp with a topology, -name NAME,process=, -daemonize, -pidfile,
#     -monitor, -qmp, -chardev/-serial, -vga std, -vnc on a TCP port,
#     -rtc, -boot, -usb with usb-tablet, virtio-rng with rng-random,
#     virtio-balloon, -nic user, -netdev user + e1000, -global;
#  2. JSON -blockdev and -device (a JSON device first on the command
#     line: QEMU creates it after the others, so must the destination),
#     -machine pc (the i440fx alias),
#     -m with slots= and maxmem=, -smp cpus=,maxcpus=, -cpu with
#     feature switches, cache modes writeback/writethrough/directsync
#     on extra raw and qcow2 disks, a qcow2 node with its options.
# Every extra disk is byte-identical on the destination (qemu-img
# compare with a copy taken before the move); the destination QEMU's
# command line is vmferryd's generated one (node names, pinned formats,
# the machine type the alias meant).

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 1gbit
shared="$TEST_DIR/ro"           # read-only images, a read dir there too
mkdir -p "$shared" "$TEST_DIR/orig"
mig_start_vmferryd --read-dir "$shared"

# extra IMAGE FORMAT MIB: an image of 64 MiB whose first MIB MiB hold
#   random data, with a copy in $TEST_DIR/orig to compare after the move.
extra ()
{
  qemu-img create -q -f "$2" "$1" 64M || fail "qemu-img create $1"
  head -c "${3}M" /dev/urandom > "$TEST_DIR/fill.$$"
  qemu-io -f "$2" -c "write -s $TEST_DIR/fill.$$ 0 ${3}M" "$1" >/dev/null ||
    fail "filling $1"
  cp "$1" "$TEST_DIR/orig/$(basename "$1")"
}

# start_vm DIR NAME ARG...: start QEMU in SRC_NS with the guest, the
#   console and QMP sockets the helpers use, and ARG...
start_vm ()
{
  _d=$1 _n=$2
  shift 2
  printf '%s\n' "$QEMU" "$@" > "$_d/qemu.args"
  cleanup_fn "vm_kill '$_d'"
  ip netns exec "$SRC_NS" "$QEMU" "$@" \
    -chardev "socket,id=con0,path=$_d/console.sock,server=on,wait=off,logfile=$_d/console.log" \
    -serial chardev:con0 -qmp "unix:$_d/qmp.sock,server=on,wait=off" \
    -daemonize -pidfile "$_d/qemu.pid" -accel tcg -nodefaults \
    -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" \
    -append "console=ttyS0 quiet vmferry.disk_rate=20" ||
    fail "QEMU did not start with the $_n shapes"
  vm_wait_ready "$_d"
  vm_wait_ack "$_d" 20
}

# moved DIR NAME IMAGES...: migrate the VM of DIR, verify it, and compare
#   each extra image with its copy.
moved ()
{
  _d=$1 _n=$2
  shift 2
  mig_migrate "$_d/qmp.sock" --json
  [ "$MIG_RC" = 0 ] || fail "$_n: vmferry migrate failed"
  _dst="$DST_RUN/$_n"
  vm_running "$_d" && fail "$_n: the source QEMU still runs"
  vm_running "$_dst" || fail "$_n: no QEMU runs on the destination"
  _q=$(cat "$_dst/qemu.pid")
  tr '\0' '\n' < "/proc/$_q/cmdline" > "$TEST_DIR/$_n.dst-args"
  grep -q "$DST_STORAGE/$_n/disk0.qcow2" "$TEST_DIR/$_n.dst-args" ||
    fail "$_n: the destination QEMU does not open its image there"
  for _i in "$@"; do
    qemu-img compare -U -q "$TEST_DIR/orig/$_i" "$DST_STORAGE/$_n/$_i" ||
      fail "$_n: $_i differs on the destination"
  done
  mig_verify_moved "$_d" "$_dst" "$DST_STORAGE/$_n/disk0.qcow2"
}

# 1: -drive and the rest people add.
d1="$TEST_DIR/shapes1"
mkdir -p "$d1"
disk_create "$d1/disk0.qcow2" 1G 16
extra "$d1/scsi.raw" raw 8
extra "$d1/hdb.qcow2" qcow2 8
extra "$d1/ide.qcow2" qcow2 8
extra "$shared/cd.iso" raw 4
extra "$shared/ro.img" raw 2
start_vm "$d1" shapes1 \
  -name shapes1,process=shapes1 -M q35 -smp 2,sockets=1,cores=2,threads=1 \
  -m 524296K -cpu qemu64 \
  -drive "file=$d1/disk0.qcow2,if=virtio,format=qcow2,cache=none,aio=native,discard=unmap,detect-zeroes=unmap" \
  -drive "file=$d1/scsi.raw,if=none,id=drive1" \
  -device virtio-scsi-pci,id=scsi0 -device scsi-hd,drive=drive1,bus=scsi0.0 \
  -hdb "$d1/hdb.qcow2" \
  -drive "file=$d1/ide.qcow2,if=ide,index=4,format=qcow2,cache=unsafe,aio=io_uring" \
  -cdrom "$shared/cd.iso" -drive if=ide,media=cdrom,index=3 \
  -drive "file=$shared/ro.img,if=virtio,readonly=on,format=raw" \
  -monitor "unix:$d1/mon.sock,server,nowait" \
  -vga std -vnc 127.0.0.1:17 -rtc base=utc,clock=host -boot order=c,menu=off \
  -usb -device usb-tablet \
  -object rng-random,id=rng0,filename=/dev/urandom \
  -device virtio-rng-pci,rng=rng0 -device virtio-balloon-pci \
  -nic user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:2222-:22 \
  -netdev user,id=u2 -device e1000,netdev=u2 \
  -global ICH9-LPC.disable_s3=1
moved "$d1" shapes1 scsi.raw hdb.qcow2 ide.qcow2
a="$TEST_DIR/shapes1.dst-args"
grep -q '^pc-q35-7\.2' "$a" || fail "shapes1: q35 was not pinned to pc-q35-7.2"
grep -q "file=$DST_STORAGE/shapes1/scsi.raw,if=none,id=drive1,format=raw,node-name=vmf-" "$a" ||
  fail "shapes1: the probed format is not pinned on the destination"
grep -q "^file=$DST_STORAGE/shapes1/cd.iso,index=2,media=cdrom" "$a" ||
  fail "shapes1: the CD-ROM's medium is not copied"
grep -q "$shared" "$a" &&
  fail "shapes1: the destination QEMU opens a source path"
for _i in cd.iso ro.img; do
  cmp "$DST_STORAGE/shapes1/$_i" "$TEST_DIR/orig/$_i" ||
    fail "shapes1: $_i differs on the destination"
done
[ -f "$shared/ro.img" ] && [ -f "$shared/cd.iso" ] ||
  fail "shapes1: a read-only image outside the VM's directory was deleted"
cmp -s "$shared/ro.img" "$TEST_DIR/orig/ro.img" ||
  fail "shapes1: the read-only image changed"

# 2: JSON forms, -machine pc, memory slots, CPU features, cache modes.
d2="$TEST_DIR/shapes2"
mkdir -p "$d2"
disk_create "$d2/disk0.qcow2" 1G 16
extra "$d2/wb.raw" raw 4
extra "$d2/wt.qcow2" qcow2 4
start_vm "$d2" shapes2 \
  -machine pc -m size=524296K,slots=2,maxmem=1G -smp cpus=1,maxcpus=2 \
  -cpu qemu64,+ssse3,-svm \
  -blockdev "{\"driver\":\"qcow2\",\"node-name\":\"d0\",\"l2-cache-size\":1048576,\"file\":{\"driver\":\"file\",\"filename\":\"$d2/disk0.qcow2\",\"aio\":\"threads\"}}" \
  -drive "file=$d2/wt.qcow2,if=none,id=wt,format=qcow2,cache=directsync" \
  -device '{"driver":"virtio-blk-pci","drive":"wt","serial":"WT01"}' \
  -device virtio-blk-pci,drive=d0,id=vda,bootindex=1 \
  -drive "file=$d2/wb.raw,if=none,id=wb,format=raw,cache=writeback" \
  -device virtio-blk-pci,drive=wb -display none
moved "$d2" shapes2 wb.raw wt.qcow2
grep -q '^pc-i440fx-7\.2' "$TEST_DIR/shapes2.dst-args" ||
  fail "shapes2: pc was not pinned to pc-i440fx-7.2"
exit 0
