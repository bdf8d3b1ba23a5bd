#!/bin/sh
# migrate-disks.sh: every kind of disk a real VM has moves, by default
# as one set of files of the destination's own (issue 15).
#
# The VM (its directory named after it: its own directory):
#   vda  a raw disk of an odd size (32 MiB + 4.5 KiB), odd file name
#        (comma, space, non-ASCII), 24 MiB of random data;
#   vdb  a qcow2 overlay on a base image in the VM's directory (the
#        base: 24 MiB of random data and a 0x5a prefill, holes elsewhere);
#        the workload's checksummed records go here;
#   vdc  a qcow2 disk of an odd size (7 MiB + 512 B);
#   vdd  a read-only raw image in the VM's directory;
#   vde  a read-only qcow2 image outside it;
#   a CD-ROM with an ISO outside it, and an empty CD-ROM drive.
# While the disks are copied (the bulk copy, slowed by --bandwidth) the
# guest discards, zeroes and rewrites ranges of vda and vdc, and again
# once writes are mirrored (held at "mirroring"), and on two disks after
# the rounds (held at "memory").  After the move:
#   - the workload verifies and the host checker accepts vdb's records;
#     every other disk equals what the guest made of it, byte for byte
#     (expected images built with qemu-io from the same operations);
#   - vdb there is one standalone image (no backing file) holding the
#     base's data, and holes where the base had them;
#   - the destination's images are sparse: allocated bytes at most the
#     source's plus 10 %;
#   - the destination QEMU has no file open outside its storage root,
#     its run root and the read dir (/proc/PID/fd), and its command
#     line names no source path;
#   - on the source: the base image is there, unchanged; the overlay, the
#     odd disks and the read-only image of the VM's directory are gone;
#     the read-only image and the ISO outside it are kept, unchanged;
#   - the ISO can be ejected and a new medium inserted in the empty
#     drive on the destination.
# vmferry check shows the chain and what happens to each disk.  Refused
# before anything is created (exit 2, destination empty), on small
# paused VMs: a qcow2 with internal snapshots (with how to proceed),
# leaving out a read-only disk the destination does not have, leaving
# out a disk with a backing file, an unknown --disk; and the choice of
# disks: --disk copies only the one named, a read-only image left out
# is used in place from the destination's read dir.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"
. "$abs_top_srcdir/tests/recover-functions.sh"

guest_test_init
requires jq --version
mig_hosts 1gbit
isos="$TEST_DIR/isos" shared="$TEST_DIR/shared" readdir="$TEST_DIR/readdir"
mkdir -p "$isos" "$shared" "$readdir" "$TEST_DIR/exp"
mig_start_vmferryd --read-dir "$readdir"

# alloc FILE: bytes allocated to FILE (qcow2: qemu-img's actual size).
alloc ()
{
  qemu-img info -U --output=json "$1" | jq '.["actual-size"]'
}

# random_into IMAGE FORMAT OFFSET_MIB MIB: random data into IMAGE.
random_into ()
{
  head -c "${4}M" /dev/urandom > "$TEST_DIR/rnd" || fail "random data"
  qemu-io -f "$2" -c "write -s $TEST_DIR/rnd ${3}M ${4}M" "$1" >/dev/null ||
    fail "writing random data into $1"
}

# paused_vm DIR NAME ARG...: a QEMU without a guest, paused at once,
#   in SRC_NS: enough for the refusals (vmferry moves paused VMs too).
paused_vm ()
{
  _d=$1 _n=$2
  shift 2
  mkdir -p "$_d"
  cleanup_fn "vm_kill '$_d'"
  ip netns exec "$SRC_NS" "$QEMU" -name "$_n" -machine pc -accel tcg \
    -m 64M -nodefaults -display none -daemonize \
    -pidfile "$_d/qemu.pid" -qmp "unix:$_d/qmp.sock,server=on,wait=off" \
    "$@" || fail "QEMU did not start for $_n"
  vm_qmp "$_d" stop > /dev/null || fail "cannot pause $_n"
}

# refused WHAT TEXT ARG...: vmferry migrate ARG... exits 2 with TEXT in
#   its output, and nothing is left on the destination.
refused ()
{
  _what=$1 _text=$2
  shift 2
  mig_migrate "$@"
  [ "$MIG_RC" = 2 ] || fail "$_what: exit code $MIG_RC, not 2 (refused)"
  grep -qF -- "$_text" "$TEST_DIR/migrate.out" ||
    fail "$_what: the refusal does not say '$_text'"
  mig_dest_clean
}

echo "--- refusals and the choice of disks (paused VMs)"
p="$TEST_DIR/p1"
mkdir -p "$p"
qemu-img create -q -f qcow2 "$p/snap.qcow2" 8M || fail "create"
qemu-img snapshot -c before-upgrade "$p/snap.qcow2" || fail "snapshot"
paused_vm "$p" p1 -drive "file=$p/snap.qcow2,if=virtio,format=qcow2"
refused snapshots "qemu-img snapshot -l" "$p/qmp.sock"
grep -q "before-upgrade" "$TEST_DIR/migrate.out" ||
  fail "the refusal does not name the snapshot"
vm_running "$p" || fail "the refused VM stopped"
vm_kill "$p"

p="$TEST_DIR/p2"
mkdir -p "$p"
qemu-img create -q -f qcow2 "$p/w.qcow2" 8M || fail "create"
random_into "$p/w.qcow2" qcow2 0 1
qemu-img create -q -f qcow2 "$p/base.qcow2" 8M || fail "create"
qemu-img create -q -f qcow2 -b "$p/base.qcow2" -F qcow2 "$p/top.qcow2" ||
  fail "create overlay"
head -c 2M /dev/urandom > "$readdir/r.img"
cp "$readdir/r.img" "$TEST_DIR/r.orig"
head -c 1M /dev/urandom > "$p/elsewhere.img"
paused_vm "$p" p2 -drive "file=$p/w.qcow2,if=virtio,format=qcow2" \
  -drive "file=$p/top.qcow2,if=virtio,format=qcow2" \
  -drive "file=$readdir/r.img,if=virtio,format=raw,readonly=on" \
  -drive "file=$p/elsewhere.img,if=virtio,format=raw,readonly=on"
refused unknown-disk "the VM has no such disk" "$p/qmp.sock" --disk nosuch
refused skip-backing "has a backing file" "$p/qmp.sock" --skip-disk virtio1
refused skip-unreachable "cannot open it" "$p/qmp.sock" --skip-disk virtio3
ip netns exec "$SRC_NS" vmferry check "$p/qmp.sock" --to "$DST_IP" \
  --tls-dir "$SRC_TLS" --skip-disk "$p/elsewhere.img" > "$TEST_DIR/check.out" 2>&1
rc=$?
cat "$TEST_DIR/check.out"
[ "$rc" = 2 ] && grep -q "error .*disk virtio3 is not copied" "$TEST_DIR/check.out" ||
  fail "vmferry check --skip-disk does not refuse an unreachable disk"
# --disk: only w.qcow2 and top.qcow2 are copied; r.img (in the read
# dir, same content) is used in place; elsewhere.img is not chosen
# either and is refused, so leave it out of this VM first.
vm_kill "$p"
paused_vm "$p" p2 -drive "file=$p/w.qcow2,if=virtio,format=qcow2" \
  -drive "file=$p/top.qcow2,if=virtio,format=qcow2" \
  -drive "file=$readdir/r.img,if=virtio,format=raw,readonly=on"
cp "$p/w.qcow2" "$TEST_DIR/w.orig"
mig_migrate "$p/qmp.sock" --disk virtio0 --disk "$p/top.qcow2" --json
[ "$MIG_RC" = 0 ] || fail "--disk: vmferry migrate failed"
ls "$DST_STORAGE/p2"
[ -f "$DST_STORAGE/p2/w.qcow2" ] && [ -f "$DST_STORAGE/p2/top.qcow2" ] ||
  fail "--disk: a chosen disk is not on the destination"
[ -e "$DST_STORAGE/p2/r.img" ] && fail "--disk: a disk left out was copied"
qemu-img compare -U -q "$TEST_DIR/w.orig" "$DST_STORAGE/p2/w.qcow2" ||
  fail "--disk: w.qcow2 differs there"
dq=$(cat "$DST_RUN/p2/qemu.pid")
tr '\0' '\n' < "/proc/$dq/cmdline" | grep -q "^file=$readdir/r.img," ||
  fail "--disk: the read-only image left out is not used in place"
cmp "$readdir/r.img" "$TEST_DIR/r.orig" || fail "r.img changed"
vm_kill "$DST_RUN/p2"
kill -9 "$dq" 2>/dev/null
rm -rf "${DST_STORAGE:?}/p2" "${DST_RUN:?}/p2"

echo "--- the VM with every kind of disk"
d="$TEST_DIR/disks1"
mkdir -p "$d"
raw="$d/data, odd ü.raw"
qemu-img create -q -f raw "$raw" $((32 * 1024 * 1024 + 4608)) || fail "create raw"
random_into "$raw" raw 0 24
qemu-img create -q -f qcow2 "$d/base.qcow2" 1G || fail "create base"
qemu-io -f qcow2 -c "write -q -P 0x5a 64M 16M" "$d/base.qcow2" || fail "prefill"
random_into "$d/base.qcow2" qcow2 0 24
qemu-img create -q -f qcow2 -b "$d/base.qcow2" -F qcow2 "$d/disk0.qcow2" ||
  fail "create overlay"
qemu-img create -q -f qcow2 "$d/odd.qcow2" $((7 * 1024 * 1024 + 512)) ||
  fail "create odd qcow2"
random_into "$d/odd.qcow2" qcow2 0 4
head -c 3M /dev/urandom > "$d/ro.img"
qemu-img create -q -f qcow2 "$shared/ro2.qcow2" 4M || fail "create ro2"
random_into "$shared/ro2.qcow2" qcow2 1 2
head -c 4M /dev/urandom > "$isos/cd.iso"
for f in "$raw" "$d/odd.qcow2" "$d/base.qcow2" "$d/ro.img" \
         "$shared/ro2.qcow2" "$isos/cd.iso"; do
  cp "$f" "$TEST_DIR/exp/$(basename "$f")"
done
base_sum=$(sha256sum < "$d/base.qcow2")
esc_raw=$(printf '%s' "$raw" | sed 's/,/,,/g')

printf '%s\n' "$QEMU" > "$d/qemu.args"
cleanup_fn "vm_kill '$d'"
ip netns exec "$SRC_NS" "$QEMU" -name disks1 -M q35 -m 524296K \
  -cpu qemu64 -accel tcg -nodefaults -display none \
  -drive "file=$esc_raw,if=virtio,format=raw,discard=unmap" \
  -drive "file=$d/disk0.qcow2,if=virtio,format=qcow2,discard=unmap" \
  -drive "file=$d/odd.qcow2,if=virtio,format=qcow2,discard=unmap" \
  -drive "file=$d/ro.img,if=virtio,format=raw,readonly=on" \
  -drive "file=$shared/ro2.qcow2,if=virtio,format=qcow2,readonly=on" \
  -cdrom "$isos/cd.iso" -drive if=ide,media=cdrom,index=3 \
  -chardev "socket,id=con0,path=$d/console.sock,server=on,wait=off,logfile=$d/console.log" \
  -serial chardev:con0 -qmp "unix:$d/qmp.sock,server=on,wait=off" \
  -daemonize -pidfile "$d/qemu.pid" \
  -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" \
  -append "console=ttyS0 quiet vmferry.disk=/dev/vdb vmferry.disk_rate=20 vmferry.mem=8 vmferry.mem_rate=20" ||
  fail "QEMU did not start"
vm_wait_ready "$d"
vm_wait_ack "$d" 20

ip netns exec "$SRC_NS" vmferry check "$d/qmp.sock" --to "$DST_IP" \
  --tls-dir "$SRC_TLS" > "$TEST_DIR/check.out" 2>&1 ||
  { cat "$TEST_DIR/check.out"; fail "vmferry check: the VM cannot move"; }
cat "$TEST_DIR/check.out"
grep -q "disk virtio1 .*copied, flattened .*backing chain $d/base.qcow2 (qcow2)" \
  "$TEST_DIR/check.out" || fail "vmferry check does not show the chain"
grep -q "disk ide2-cd0 .*CD-ROM.*copied" "$TEST_DIR/check.out" ||
  fail "vmferry check does not say the CD-ROM is copied"

# blk LINE: run "blk LINE" in the guest and wait for its answer.
blk ()
{
  _off=$(vm_log_size "$d")
  vm_send "$d" "blk $*"
  vm_wait_log "$d" '^BLK ' 30 "$_off" || fail "no answer to blk $*"
  case "$VM_LINE" in "BLK ok "*) ;; *) fail "guest: $VM_LINE" ;; esac
}

# reads IMAGE FORMAT BYTE OFFSET_KIB LEN_KIB: the range reads as BYTE.
reads ()
{
  qemu-io -r -U -f "$2" -c "read -q -P $3 ${4}k ${5}k" "$1" > "$TEST_DIR/io" 2>&1
  if grep -q "verification failed" "$TEST_DIR/io" || [ -s "$TEST_DIR/io" ]; then
    cat "$TEST_DIR/io"
    fail "$1: ${4}k+${5}k does not read as $3"
  fi
}

go="$TEST_DIR/go-mirroring"
go2="$TEST_DIR/go-memory"
VMFERRY_TEST_HOLD="mirroring:$go,memory:$go2" ip netns exec "$SRC_NS" vmferry migrate \
  "$d/qmp.sock" --to "$DST_IP" --tls-dir "$SRC_TLS" --bandwidth 4 --json \
  > "$TEST_DIR/migrate.out" 2>&1 &
mig_pid=$!
cleanup_fn "kill $mig_pid 2>/dev/null"
for i in $(seq 600); do
  done_bytes=$(grep '"event":"storage"' "$TEST_DIR/migrate.out" |
                 tail -n 1 | jq -r .done 2>/dev/null)
  [ -n "$done_bytes" ] && [ "$done_bytes" -gt 4000000 ] && break
  pid_alive "$mig_pid" || break
  sleep 0.1
done
[ -n "$done_bytes" ] && [ "$done_bytes" -gt 4000000 ] ||
  { cat "$TEST_DIR/migrate.out"; fail "the disk copy did not start"; }
echo "the guest changes its disks after $done_bytes bytes of the copy"
blk discard /dev/vda 1024 2048
blk fill /dev/vda 4096 1024 119
blk zero /dev/vda 12288 2048
blk discard /dev/vda 28672 1024
blk discard /dev/vdc 512 1024
blk fill /dev/vdc 2048 512 51
grep -q "bulk copy done" "$TEST_DIR/migrate.out" &&
  fail "the guest's changes came after the bulk copy (too fast a copy?)"
rec_wait_for "$TEST_DIR/migrate.out" "test hold: at mirroring" "$mig_pid" \
  "vmferry did not reach the mirroring"
blk fill /dev/vda 2048 512 153
blk zero /dev/vda 4096 512
blk discard /dev/vdc 2048 256
# Once the rounds are done: writes to two disks, carried by the mirrors
# (the switchover's last copies take only what raced a round's copy).
touch "$go"
rec_wait_for "$TEST_DIR/migrate.out" "test hold: at memory" "$mig_pid" \
  "vmferry did not reach the memory copy"
blk fill /dev/vda 8192 512 77
blk fill /dev/vdc 3072 512 99
# What the guest made of them: the source now (nothing writes them any
# more).  In QEMU 7.2 a discard while writes are mirrored changes
# nothing on either side (QEMU's mirror filter drops it); discards and
# zeroes before read as zeroes.
cp "$raw" "$TEST_DIR/exp/raw.now" || fail "copying the raw disk"
qemu-img convert -U -f qcow2 -O qcow2 "$d/odd.qcow2" "$TEST_DIR/exp/odd.now" ||
  fail "copying odd.qcow2"
src_alloc_raw=$(alloc "$raw") src_alloc_odd=$(alloc "$d/odd.qcow2")
src_alloc_top=$(( $(alloc "$d/disk0.qcow2") + $(alloc "$d/base.qcow2") ))
touch "$go2"
wait "$mig_pid"
MIG_RC=$?
cat "$TEST_DIR/migrate.out"
[ "$MIG_RC" = 0 ] || fail "vmferry migrate failed ($MIG_RC)"

dst="$DST_RUN/disks1" store="$DST_STORAGE/disks1"
vm_running "$d" && fail "the source QEMU still runs"
vm_running "$dst" || fail "no QEMU runs on the destination"
ls -la "$store"
dq=$(cat "$dst/qemu.pid")

echo "--- what the destination QEMU opens"
tr '\0' '\n' < "/proc/$dq/cmdline" > "$TEST_DIR/dst-args"
for s in "$d" "$isos" "$shared"; do
  grep -qF "$s" "$TEST_DIR/dst-args" &&
    fail "the destination's command line names $s"
done
for fd in /proc/"$dq"/fd/*; do
  t=$(readlink "$fd") || continue
  case $t in
    /dev/*|socket:*|pipe:*|anon_inode:*) ;;
    "$DST_STORAGE"/*|"$DST_RUN"/*|"$readdir"/*|"$GUEST_DIR"/*) echo "$t" ;;
    *) fail "the destination QEMU has $t open" ;;
  esac
done > "$TEST_DIR/dst-open"
cat "$TEST_DIR/dst-open"
for f in disk0.qcow2 disk-0.raw odd.qcow2 ro.img ro2.qcow2 cd.iso; do
  grep -qx "$store/$f" "$TEST_DIR/dst-open" ||
    fail "the destination QEMU does not have $store/$f open"
done

echo "--- content"
# The flattened overlay: no backing file, the base's data.
qemu-img info -U --output=json "$store/disk0.qcow2" > "$TEST_DIR/info.json"
jq -e '.["backing-filename"]' "$TEST_DIR/info.json" >/dev/null &&
  fail "the overlay still has a backing file on the destination"
qemu-io -r -U -f qcow2 -c "read -q -P 0x5a 64M 16M" "$store/disk0.qcow2" |
  grep -q "Pattern verification failed" &&
  fail "the base's prefill is not in the flattened image"
qemu-img convert -U -f qcow2 -O raw "$d/base.qcow2" "$TEST_DIR/base.raw"
qemu-img convert -U -f qcow2 -O raw "$store/disk0.qcow2" "$TEST_DIR/top.raw"
cmp -n $((700 * 1024 * 1024)) "$TEST_DIR/base.raw" "$TEST_DIR/top.raw" ||
  fail "the flattened image does not hold the base's data"
rm -f "$TEST_DIR/base.raw" "$TEST_DIR/top.raw"
# Every other disk: what the guest made of it.
cmp "$store/disk-0.raw" "$TEST_DIR/exp/raw.now" ||
  fail "the odd raw disk differs from what the guest made of it"
qemu-img compare -U -q "$TEST_DIR/exp/odd.now" "$store/odd.qcow2" ||
  fail "the odd qcow2 disk differs from what the guest made of it"
# ... and what was discarded, zeroed and rewritten during the copy:
r="$store/disk-0.raw"
reads "$r" raw 0 1024 1024
reads "$r" raw 153 2048 512
reads "$r" raw 0 2560 512
reads "$r" raw 0 4096 512
reads "$r" raw 119 4608 512
reads "$r" raw 0 12288 2048
reads "$r" raw 0 28672 1024
reads "$r" raw 77 8192 512
reads "$store/odd.qcow2" qcow2 99 3072 512
reads "$store/odd.qcow2" qcow2 0 512 1024
reads "$store/odd.qcow2" qcow2 51 2304 256
[ "$(qemu-img info -U --output=json "$store/odd.qcow2" | jq '.["virtual-size"]')" = \
  $((7 * 1024 * 1024 + 512)) ] || fail "odd.qcow2 has another size there"
cmp "$store/ro.img" "$TEST_DIR/exp/ro.img" || fail "ro.img differs"
cmp "$store/cd.iso" "$isos/cd.iso" || fail "the ISO differs"
qemu-img compare -U -q "$shared/ro2.qcow2" "$store/ro2.qcow2" ||
  fail "ro2.qcow2 differs"

echo "--- sparse"
dst_raw=$(alloc "$store/disk-0.raw")
dst_odd=$(alloc "$store/odd.qcow2") dst_top=$(alloc "$store/disk0.qcow2")
echo "allocated: raw $src_alloc_raw -> $dst_raw, odd $src_alloc_odd -> $dst_odd, overlay+base $src_alloc_top -> $dst_top"
[ "$dst_raw" -le $((src_alloc_raw * 11 / 10)) ] || fail "the raw disk is not sparse"
[ "$dst_odd" -le $((src_alloc_odd * 11 / 10)) ] || fail "odd.qcow2 is not sparse"
[ "$dst_top" -le $((src_alloc_top * 11 / 10)) ] || fail "the flattened disk is not sparse"

echo "--- the source"
[ -f "$d/base.qcow2" ] || fail "the base image was deleted"
[ "$(sha256sum < "$d/base.qcow2")" = "$base_sum" ] || fail "the base image changed"
for f in disk0.qcow2 odd.qcow2 ro.img "$(basename "$raw")"; do
  [ -e "$d/$f" ] && fail "$f, in the VM's directory, was not deleted"
done
cmp "$isos/cd.iso" "$TEST_DIR/exp/cd.iso" || fail "the ISO changed or went"
# The files kept on the source are not those the destination opened.
for f in "$isos/cd.iso" "$shared/ro2.qcow2"; do
  [ "$(stat -c %d:%i "$f")" != "$(stat -c %d:%i "$store/$(basename "$f")")" ] ||
    fail "$f is the destination's own file (same inode)"
done
cmp "$shared/ro2.qcow2" "$TEST_DIR/exp/ro2.qcow2" ||
  fail "the read-only image outside the VM's directory changed or went"

echo "--- CD-ROMs there"
cp "$isos/cd.iso" "$store/new.iso" && chmod 0644 "$store/new.iso"
vm_qmp "$dst" '{"execute":"eject","arguments":{"device":"ide2-cd0"}}' \
  "{\"execute\":\"blockdev-change-medium\",\"arguments\":{\"device\":\"ide3-cd0\",\"filename\":\"$store/new.iso\",\"format\":\"raw\"}}" \
  > /dev/null || fail "eject or change medium failed on the destination"
vm_qmp "$dst" query-block | grep '^{"return": \[' > "$TEST_DIR/blocks.json"
jq -e '.return[] | select(.device == "ide2-cd0") | has("inserted") | not' \
  "$TEST_DIR/blocks.json" >/dev/null || fail "the ISO was not ejected"
jq -e --arg f "$store/new.iso" \
  '.return[] | select(.device == "ide3-cd0") | .inserted.file == $f' \
  "$TEST_DIR/blocks.json" >/dev/null ||
  fail "the new medium is not in the drive that was empty"

mig_verify_moved "$d" "$dst" "$store/disk0.qcow2"
exit 0
