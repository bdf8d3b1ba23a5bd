#!/bin/sh
# api-hostile-requests.sh: prepare requests that would make vmferryd
# touch host files outside its roots are refused with a 4xx, and nothing
# is created (issue 8).  With curl and good client certificates against
# a real vmferryd in a network namespace:
#  - destination paths that are not a plain file directly in the VM's
#    own directory STORAGE_ROOT/NAME: "..", a symlink inside the root
#    that points outside (as a directory and as the image itself), the
#    journal and partial-image directories, another VM's directory, a
#    subdirectory, a dot file; a disk whose source path ends in ".." or
#    ".";
#  - VM names that are paths;
#  - command lines that would open host files or devices: -drive and
#    -blockdev (JSON) on /etc/shadow, -kernel on a block device node,
#    -initrd and -bios on character devices, -chardev serial/tty,
#    -serial on a host tty, -object memory-backend-file, -netdev tap
#    with script= or downscript=, -add-fd, -readconfig;
#  - the same for an offline move ("offline": true), plus a command line
#    with a newline (the saved argv file is one argument per line) and
#    read-only disks (the agent would serve them writable); an empty
#    command line is refused for a live VM.
# Device nodes are refused for -kernel/-initrd/-bios/-dtb/-L: only
# regular files (and directories, for -L) may be read, and only from
# under vmferryd's read directories (here its defaults, QEMU's firmware
# directories): -kernel /etc/shadow and -initrd /etc/passwd are refused.
# The existing api-security.sh covers the certificates, malformed JSON,
# the file outside the storage root and pass-through devices.
# A refusal must come before anything runs: vmferryd's QEMU, qemu-nbd
# and qemu-img are logging wrappers (mig_spawn_log) and none may have
# run for a request (an empty root would not show a QEMU or qemu-nbd
# that was started on a host file and cleaned up); the host files the
# requests name (/etc/shadow, /etc/passwd, a device node) are canaries.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

requires_root
requires curl --version
requires jq --version
test_tmpdir
mig_hosts
mig_spawn_log
mig_start_vmferryd
mig_spawn_mark
mig_canaries /etc/shadow /etc/passwd

url="https://$DST_IP:7480"
good="--cert $SRC_TLS/client-cert.pem --key $SRC_TLS/client-key.pem"

# A directory outside the roots that the attacks aim at: it must stay
# empty.  A symlink to it inside the storage root, made by "someone
# else" (the only entry the storage root may hold at the end).
outside="$TEST_DIR/outside"
mkdir "$outside" || fail "mkdir outside"
ln -s "$outside" "$DST_STORAGE/link" || fail "symlink"
ln -s "$outside/img.qcow2" "$DST_STORAGE/dangling.qcow2" || fail "symlink 2"
# A block device node (loop0's numbers; nothing opens it) to read as a
# kernel: real /dev/sdX differ between machines.
mknod "$TEST_DIR/blockdev" b 7 0 || fail "mknod"

n=0
# hostile NAME STATUS PATTERN VM-JSON [FIELDS]: POST a prepare request
#   for the VM description VM-JSON (plus the JSON members FIELDS); expect
#   HTTP STATUS and PATTERN in the message.
hostile ()
{
  n=$((n + 1))
  # shellcheck disable=SC2086
  _st=$(ip netns exec "$SRC_NS" curl -s -o "$TEST_DIR/$1" \
          -w '%{http_code}' --cacert "$MIG_CA/ca-cert.pem" $good \
          -X POST -H 'Content-Type: application/json' --data-binary \
          "{\"id\":\"h$n\",\"host\":\"$DST_IP\",\"vm\":$4${5:+,$5}}" \
          "$url/v1/prepare")
  [ "$_st" = "$2" ] || { cat "$TEST_DIR/$1"; fail "$1: HTTP $_st, expected $2"; }
  grep -q -- "$3" "$TEST_DIR/$1" ||
    { cat "$TEST_DIR/$1"; fail "$1: no '$3' in the reply"; }
  echo "$1: HTTP $_st $(jq -r .error "$TEST_DIR/$1" 2>/dev/null)"
}
# vm NAME ARGV-JSON-ITEMS [DISKS-JSON-ITEMS]
vm ()
{
  echo "{\"name\":\"$1\",\"argv\":[\"qemu\"$2],\"disks\":[${3:-}],\"machine\":\"pc-q35-7.2\",\"memory\":67108864,\"cpu_vendor\":\"\",\"qemu_version\":70200}"
}
# disk PATH [DEST_PATH]: one writable qcow2 disk (id d).
disk ()
{
  echo "{\"id\":\"d\",\"path\":\"$1\",\"format\":\"qcow2\",\"virtual_size\":1048576,\"allocated\":0,\"read_only\":false${2:+,\"dest_path\":\"$2\"}}"
}
drive=',"-drive","file=/s/d.qcow2,if=virtio"'

# Destination paths leaving the storage root.
hostile dotdot 422 'directly in the VM' "$(vm v1 "$drive" \
  "$(disk /s/d.qcow2 "$DST_STORAGE/../outside/d.qcow2")")"
hostile symlink-dir 422 'directly in the VM' "$(vm v2 "$drive" \
  "$(disk /s/d.qcow2 "$DST_STORAGE/link/d.qcow2")")"
hostile symlink-file 422 'directly in the VM' "$(vm v3 "$drive" \
  "$(disk /s/d.qcow2 "$DST_STORAGE/dangling.qcow2")")"
hostile elsewhere 422 'directly in the VM' "$(vm v4 "$drive" \
  "$(disk /s/d.qcow2 "$outside/d.qcow2")")"
# Inside the storage root but not a plain file in the VM's own directory
# (STORAGE_ROOT/NAME/): vmferryd's dot-directories, another VM's
# directory, a subdirectory, a dot file.
hostile journal 422 'directly in the VM' "$(vm v22 "$drive" \
  "$(disk /s/d.qcow2 "$DST_STORAGE/.vmferryd-journal/x.json")")"
hostile partial 422 'directly in the VM' "$(vm v23 "$drive" \
  "$(disk /s/d.qcow2 "$DST_STORAGE/.vmferry-partial/v23/disk-0")")"
hostile other-vm 422 'directly in the VM' "$(vm v24 "$drive" \
  "$(disk /s/d.qcow2 "$DST_STORAGE/v1/d.qcow2")")"
hostile subdir 422 'directly in the VM' "$(vm v25 "$drive" \
  "$(disk /s/d.qcow2 "$DST_STORAGE/v25/sub/d.qcow2")")"
hostile dotfile 422 'directly in the VM' "$(vm v26 "$drive" \
  "$(disk /s/d.qcow2 "$DST_STORAGE/v26/.d.qcow2")")"
hostile srcdotdot 400 'unsupported path' \
  "$(vm v5 ',"-drive","file=/s/..,if=virtio"' "$(disk /s/..)")"
hostile srcdot 400 'unsupported path' \
  "$(vm v6 ',"-drive","file=/s/.,if=virtio"' "$(disk /s/.)")"

# VM names that are paths (the VM's directories are named after them).
hostile name-abs 400 'safe file name' "$(vm "$outside/x" '')"
hostile name-slash 400 'safe file name' "$(vm a/b '')"
hostile name-dotdot 400 'safe file name' "$(vm .. '')"

# Command lines that would open host files or devices.
hostile shadow 422 'not among the request.s disks' \
  "$(vm v7 ',"-drive","file=/etc/shadow,if=virtio"')"
hostile shadow-json 422 'not among the request.s disks' \
  "$(vm v8 ',"-blockdev","{\"driver\":\"file\",\"filename\":\"/etc/shadow\",\"node-name\":\"x\"}"')"
hostile kernel-blockdev 422 'not a regular file' \
  "$(vm v9 ",\"-kernel\",\"$TEST_DIR/blockdev\"")"
hostile initrd-chardev 422 'not a regular file' \
  "$(vm v10 ',"-initrd","/dev/zero"')"
hostile bios-mem 422 'not a regular file' \
  "$(vm v11 ',"-bios","/dev/null"')"
hostile chardev-serial 422 'host serial port' \
  "$(vm v12 ',"-chardev","serial,id=s,path=/dev/ttyS0"')"
hostile chardev-tty 422 'host terminal' \
  "$(vm v13 ',"-chardev","tty,id=t,path=/dev/tty0"')"
hostile serial-tty 422 'terminal' \
  "$(vm v14 ',"-serial","/dev/ttyS0"')"
hostile memfile 422 'host file' \
  "$(vm v15 ",\"-object\",\"memory-backend-file,id=m,mem-path=$outside/mem,size=64M\"")"
hostile tap-script 422 'script' \
  "$(vm v16 ",\"-netdev\",\"tap,id=n,script=$outside/up.sh\"")"
hostile tap-downscript 422 'script' \
  "$(vm v17 ",\"-netdev\",\"tap,id=n,script=no,downscript=$outside/down.sh\"")"
hostile kernel-shadow 422 'outside the directories' \
  "$(vm v20 ',"-kernel","/etc/shadow"')"
hostile initrd-passwd 422 'outside the directories' \
  "$(vm v21 ',"-initrd","/etc/passwd"')"
hostile add-fd 422 'not supported' "$(vm v18 ',"-add-fd","fd=3,set=1"')"
hostile readconfig 422 'not supported' \
  "$(vm v19 ",\"-readconfig\",\"$outside/qemu.conf\"")"

# The same limits for an offline move (vmferry migrate --offline), which
# starts no QEMU but a writable qemu-nbd on each image: paths, the
# command line, and disks it would serve in place.
off='"offline":true,"channel":true'
hostile off-dotdot 422 'directly in the VM' "$(vm o1 "$drive" \
  "$(disk /s/d.qcow2 "$DST_STORAGE/../outside/d.qcow2")")" "$off"
hostile off-shadow 422 'not among the request.s disks' \
  "$(vm o2 ',"-drive","file=/etc/shadow,if=virtio"')" "$off"
hostile off-no-argv 422 'directly in the VM' \
  "{\"name\":\"o3\",\"argv\":[],\"disks\":[$(disk /s/d.qcow2 \
  "$outside/d.qcow2")],\"machine\":\"\",\"memory\":0,\"cpu_vendor\":\"\",\"qemu_version\":0}" \
  "$off"
hostile off-read-only 422 'copies every disk' "$(vm o4 "$drive" \
  "$(disk /s/d.qcow2 | sed 's/"read_only":false/"read_only":true/')")" "$off"
# (dash's echo in vm() turns the two backslashes into one: JSON's \n)
hostile off-newline 422 'newline' \
  "$(vm o5 ',"-name","a\\nb"' "$(disk /s/d.qcow2)")" "$off"
hostile live-no-argv 422 'empty command line' \
  "{\"name\":\"o6\",\"argv\":[],\"disks\":[],\"machine\":\"pc-q35-7.2\",\"memory\":67108864,\"cpu_vendor\":\"\",\"qemu_version\":70200}"

# Nothing was created anywhere, and vmferryd still serves.
[ "$(ls -A "$DST_STORAGE")" = "$(printf 'dangling.qcow2\nlink')" ] ||
  { ls -la "$DST_STORAGE"; fail "the storage root holds new entries"; }
mig_dir_empty "$DST_RUN" || { ls -R "$DST_RUN"; fail "run root not empty"; }
mig_dir_empty "$outside" || { ls -la "$outside"; fail "files made outside"; }
[ -b "$TEST_DIR/blockdev" ] || fail "the device node changed"
[ "$(stat -c '%t:%T' "$TEST_DIR/blockdev")" = 7:0 ] ||
  fail "the device node changed"
mig_canaries_ok "the hostile requests"
[ -z "$(mig_spawned_for_requests)" ] ||
  { mig_spawned_for_requests; fail "refused requests ran the programs above"; }
# shellcheck disable=SC2086
st=$(ip netns exec "$SRC_NS" curl -s -o /dev/null -w '%{http_code}' \
       --cacert "$MIG_CA/ca-cert.pem" $good "$url/v1/status")
[ "$st" = 200 ] || fail "status after the attacks: HTTP $st"
echo "$n hostile requests refused, nothing created"
exit 0
