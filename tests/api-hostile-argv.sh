#!/bin/sh
# api-hostile-argv.sh: a peer with a valid client certificate sends
# command lines that would get it root or host files on the destination
# (the security review's classes 1-3 and 6), through the real HTTPS API
# of a vmferryd in a network namespace.  The assertion is not the 4xx
# alone: canaries must be untouched.
#  - a file whose content and inode must not change (read, truncated,
#    replaced), and a FIFO that must never be opened (a writer blocked
#    on it would complete: QEMU or qemu-img opening it shows);
#  - paths that must not appear (a helper or script would create them;
#    QEMU would create a chardev, serial, VNC or memory file there);
#  - a directory that must not vanish, and a process that must not die.
# Classes: 1 commands (tap helper=, duplicate script=, JSON netdev,
# user guestfwd= and tftp=); 2 the block layer (quorum children in JSON,
# a FIFO or a file outside the read dirs as a read-only disk, //dev/,
# vvfat, nbd); 3 host files (duplicate path=, mon:file:, -vnc unix:,
# rrfile=, -machine kernel=, -smbios file=, -global romfile, a
# qom-type override to memory-backend-file, loader, usb-mtp,
# vfio-pci-nohotplug, vhost-scsi-pci); 6 a socket chardev that waits for
# a client.  Accepted shapes that name host paths (mon:file:, a chardev
# file or socket named after the canary) must land in the run
# directory; the skeleton they start is checked for confinement: its
# user, seccomp, its own mount namespace without the canaries.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

requires_root
requires_qemu
requires curl --version
requires jq --version
requires getent passwd vmferry-qemu
test_tmpdir
mig_hosts

can="$TEST_DIR/canary"
mkdir -p "$can/dir" || fail "mkdir canary"
echo "canary $$" > "$can/secret"
echo keep > "$can/dir/file"
mkfifo "$can/fifo" || fail "mkfifo"
# The helper/script a hostile command line names: it would leave a mark.
printf '#!/bin/sh\ntouch %s/created-by-command\n' "$can" > "$can/mk"
chmod +x "$can/mk"
inode0=$(stat -c '%i %s %Y' "$can/secret")
# A writer that finishes only if somebody opens the FIFO for reading.
( echo x > "$can/fifo" && touch "$TEST_DIR/fifo-was-opened" ) &
fifo_pid=$!
sleep 1000 &
sleep_pid=$!
cleanup_fn "kill $fifo_pid $sleep_pid 2>/dev/null"
# The canary directory is a read dir: its FIFO must still not be used.
mig_start_vmferryd --read-dir "$can"

url="https://$DST_IP:7480"
good="--cert $SRC_TLS/client-cert.pem --key $SRC_TLS/client-key.pem"
n=0

# post PATH BODY: POST as the source; HTTP status in ST, reply in REPLY.
post ()
{
  # shellcheck disable=SC2086
  ST=$(ip netns exec "$SRC_NS" curl -s -o "$TEST_DIR/reply" -m 90 \
         -w '%{http_code}' --cacert "$MIG_CA/ca-cert.pem" $good \
         -X POST -H 'Content-Type: application/json' --data-binary "$2" \
         "$url$1")
  REPLY=$(cat "$TEST_DIR/reply")
}

# canaries_ok WHAT: every canary is untouched.
canaries_ok ()
{
  [ "$(cat "$can/secret")" = "canary $$" ] || fail "$1: the canary file changed"
  [ "$(stat -c '%i %s %Y' "$can/secret")" = "$inode0" ] ||
    fail "$1: the canary file was replaced or touched"
  [ -e "$TEST_DIR/fifo-was-opened" ] && fail "$1: the canary FIFO was opened"
  [ "$(cat "$can/dir/file")" = keep ] || fail "$1: the canary directory changed"
  pid_alive "$sleep_pid" || fail "$1: the canary process was killed"
  _made=$(ls "$can" | grep '^created' || true)
  [ -z "$_made" ] || fail "$1: $_made appeared beside the canaries"
  return 0
}

# vm NAME ARGV-JSON-ITEMS: a VM description with one qcow2 disk.
vm ()
{
  printf '{"name":"%s","argv":["qemu","-nodefaults","-display","none"%s,"-blockdev","driver=file,filename=/s/%s.qcow2,node-name=f","-blockdev","driver=qcow2,file=f,node-name=d","-device","virtio-blk-pci,drive=d"],"disks":[{"id":"d","path":"/s/%s.qcow2","format":"qcow2","virtual_size":1048576,"allocated":0,"read_only":false}],"machine":"pc-q35-7.2","memory":67108864,"cpu_vendor":"","qemu_version":70200}' \
    "$1" "$2" "$1" "$1"
}

# hostile NAME PATTERN ARGV-JSON-ITEMS: refused with a 4xx naming
#   PATTERN, and every canary untouched.
hostile ()
{
  n=$((n + 1))
  post /v1/prepare "{\"id\":\"h$n\",\"host\":\"$DST_IP\",\"vm\":$(vm "$1" "$3")}"
  case "$ST" in
    4??) ;;
    *) echo "$REPLY"; fail "$1: HTTP $ST, expected a refusal" ;;
  esac
  echo "$REPLY" | grep -q -- "$2" || { echo "$REPLY"; fail "$1: no '$2'"; }
  echo "$1: HTTP $ST $(echo "$REPLY" | jq -r .error)"
  canaries_ok "$1"
}

# accepted NAME ARGV-JSON-ITEMS: prepared (a paused skeleton runs);
#   sets RUN to its run directory and QPID to its QEMU.
accepted ()
{
  n=$((n + 1))
  ID=h$n
  post /v1/prepare "{\"id\":\"$ID\",\"host\":\"$DST_IP\",\"vm\":$(vm "$1" "$2")}"
  [ "$ST" = 200 ] || { echo "$REPLY"; fail "$1: HTTP $ST, expected 200"; }
  RUN=$(echo "$REPLY" | jq -r .run_dir)
  QPID=$(cat "$RUN/vmferry-qemu.pid")
  pid_alive "$QPID" || fail "$1: no skeleton QEMU"
  echo "$1: prepared, QEMU $QPID in $RUN"
  canaries_ok "$1"
}

abort_job ()
{
  post /v1/abort "{\"id\":\"$ID\"}"
  [ "$ST" = 200 ] || { echo "$REPLY"; fail "abort $ID: HTTP $ST"; }
  pid_alive "$QPID" && fail "abort $ID: the skeleton still runs"
  return 0
}

netdev() { printf ',"-netdev","%s","-device","virtio-net-pci,netdev=n"' "$1"; }

# 1: commands run as root.
hostile helper "'helper'" "$(netdev "tap,id=n,helper=$can/mk")"
hostile script-twice "twice" "$(netdev "tap,id=n,script=no,script=$can/mk")"
hostile script-json "script" \
  ",\"-netdev\",\"{\\\"type\\\":\\\"tap\\\",\\\"id\\\":\\\"n\\\",\\\"script\\\":\\\"$can/mk\\\"}\""
hostile guestfwd "'guestfwd'" "$(netdev "user,id=n,guestfwd=tcp:10.0.2.9:1-cmd:$can/mk")"
hostile tftp "'tftp'" "$(netdev "user,id=n,tftp=$can")"
hostile nic-script "script" ",\"-nic\",\"tap,script=$can/mk\""
# 2: host files through the block layer.
hostile quorum "array" \
  ",\"-blockdev\",\"{\\\"driver\\\":\\\"quorum\\\",\\\"node-name\\\":\\\"q\\\",\\\"children\\\":[{\\\"driver\\\":\\\"file\\\",\\\"filename\\\":\\\"$can/secret\\\"}]}\""
hostile fifo-disk "not a regular file" ",\"-drive\",\"file=$can/fifo,readonly=on,format=raw,if=virtio\""
hostile etc-disk "outside the directories" ",\"-drive\",\"file=/etc/passwd,readonly=on,format=raw,if=virtio\""
hostile slashslash "not a usable" ",\"-drive\",\"file=//dev/zero,readonly=on,format=raw\""
hostile vvfat "vvfat" ",\"-blockdev\",\"driver=vvfat,dir=$can/dir,node-name=v\""
hostile nbd "nbd" ",\"-blockdev\",\"driver=nbd,server.path=$can/nbd,node-name=x\""
hostile fifo-kernel "not a regular file" ",\"-kernel\",\"$can/fifo\""
# 3: host files created, truncated, unlinked or loaded.
hostile path-twice "twice" ",\"-chardev\",\"file,id=c,path=$can/created-a,path=$can/created-b\""
hostile vnc-unix "-vnc" ",\"-vnc\",\"unix:$can/created-vnc\""
hostile rrfile "'rrfile'" ",\"-icount\",\"shift=1,rrfile=$can/created-rr,rr=record\""
hostile machine-kernel "'kernel'" ",\"-machine\",\"pc-q35-7.2,kernel=$can/secret\""
hostile smbios-file "'file'" ",\"-smbios\",\"type=1,file=$can/secret\""
hostile global-romfile "romfile" ",\"-global\",\"virtio-net-pci.romfile=$can/secret\""
hostile qom-type "qom-type" ",\"-object\",\"memory-backend-ram,id=m,size=64M,qom-type=memory-backend-file,mem-path=$can/created-mem\""
hostile memfile "memory-backend-file" ",\"-object\",\"memory-backend-file,id=m,size=64M,mem-path=$can/created-mem\""
hostile loader "loader" ",\"-device\",\"loader,file=$can/secret,addr=0x1000\""
hostile usb-mtp "usb-mtp" ",\"-device\",\"usb-mtp,rootdir=$can/dir\""
hostile vfio "vfio-pci-nohotplug" ",\"-device\",\"vfio-pci-nohotplug,host=00:01.0\""
hostile vhost-scsi "vhost-scsi-pci" ",\"-device\",\"vhost-scsi-pci,wwpn=x\""

# Accepted shapes naming host paths land in the run directory, and the
# skeleton is confined.
start=$(date +%s)
accepted mapped ",\"-sandbox\",\"off\",\"-runas\",\"root\",\"-chardev\",\"socket,id=c,path=$can/secret,server=on,wait=on\",\"-chardev\",\"file,id=f,path=$can/dir/log.txt\",\"-serial\",\"mon:file:$can/created-serial\""
took=$(( $(date +%s) - start ))
echo "a socket that waited for a client: prepared in $took s"
[ "$took" -lt 40 ] || fail "prepare took $took s: QEMU waited for a client"
[ -S "$RUN/secret" ] || fail "the socket is not in the run directory"
[ -f "$RUN/created-serial" ] || fail "mon:file: did not land in the run directory"
[ -f "$RUN/log.txt" ] || fail "the chardev file did not land in the run directory"
qemu_user=$(id -u vmferry-qemu)
grep -q "^Uid:[[:space:]]*$qemu_user[[:space:]]" "/proc/$QPID/status" ||
  fail "the skeleton does not run as vmferry-qemu: $(grep ^Uid: "/proc/$QPID/status")"
grep -q '^Seccomp:[[:space:]]*2' "/proc/$QPID/status" ||
  fail "the skeleton has no seccomp filter"
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$QPID/status" ||
  fail "the skeleton may gain privileges"
[ "$(readlink "/proc/$QPID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] ||
  fail "the skeleton shares vmferryd's mount namespace"
for p in "$can/secret" /etc/shadow /root "$DST_STORAGE/.vmferryd-journal" \
         "$MIG_CA" "$DST_TLS"; do
  [ -e "/proc/$QPID/root$p" ] && fail "the skeleton sees $p"
done
[ -d "/proc/$QPID/root$RUN" ] || fail "the skeleton does not see its run directory"
tr '\0' '\n' < "/proc/$QPID/cmdline" | grep -q '^spawn=deny\|,spawn=deny' ||
  fail "the skeleton's sandbox does not deny spawning"
abort_job
canaries_ok "after abort"

# Two skeletons whose sockets would wait, at once: neither holds an
# admission slot for ever.
for k in 1 2; do
  n=$((n + 1))
  ( post /v1/prepare "{\"id\":\"w$k\",\"host\":\"$DST_IP\",\"vm\":$(vm "w$k" ",\"-chardev\",\"socket,id=c,path=/s/wait.sock,server=on,wait=on\"")}"
    echo "$ST" > "$TEST_DIR/wait$k" ) &
done
wait_for=0
while [ ! -s "$TEST_DIR/wait1" ] || [ ! -s "$TEST_DIR/wait2" ]; do
  wait_for=$((wait_for + 1))
  [ $wait_for -lt 600 ] || fail "two waiting-socket prepares hang"
  sleep 0.1
done
[ "$(cat "$TEST_DIR/wait1") $(cat "$TEST_DIR/wait2")" = "200 200" ] ||
  fail "waiting-socket prepares: HTTP $(cat "$TEST_DIR/wait1") $(cat "$TEST_DIR/wait2")"
for k in 1 2; do
  post /v1/abort "{\"id\":\"w$k\"}"
  [ "$ST" = 200 ] || fail "abort w$k: HTTP $ST"
done

canaries_ok "the end"
# shellcheck disable=SC2086
st=$(ip netns exec "$SRC_NS" curl -s -o /dev/null -w '%{http_code}' \
       --cacert "$MIG_CA/ca-cert.pem" $good "$url/v1/status")
[ "$st" = 200 ] || fail "status after the attacks: HTTP $st"
mig_dest_clean
echo "$n hostile requests: refused or confined, every canary untouched"
exit 0
