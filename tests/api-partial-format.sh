#!/bin/sh
# api-partial-format.sh: a partial image kept for a resumed copy is
# reused only as the format it was created in, and only if that format
# names no other file (vmferryd(8), "Resumed copies").  Each case plants
# a kept partial image (STORAGE_ROOT/.vmferry-partial/NAME, as an
# aborted copy leaves it) whose content is a qcow2 header with a backing
# file: a FIFO, the canary.  A writer waits on the FIFO, so any program
# that opens the canary leaves a mark.  Then a prepare (curl, a good
# client certificate) names the partial image's token:
#  c1  offline move, the image pinned and sent as qcow2 (qemu-nbd -f
#      qcow2 would follow the backing file): not reused;
#  c2  offline move without a command line, pinned and sent as raw:
#      not reused (qemu-nbd -f raw would only serve the header as data,
#      but whoever starts the stored VM may let QEMU probe it);
#  c3  offline move, a plain raw image pinned and sent as raw: reused
#      (the control);
#  c4  live, pinned and sent as raw, the command line opens it with
#      -drive format=qcow2: not reused;
#  c5  live, pinned and sent as raw, -drive without a format (QEMU would
#      probe qcow2): not reused;
#  c6  live, pinned and sent as raw, -blockdev driver=qcow2 over the
#      file node (the test guest's shape): not reused;
#  c7  live, a plain qcow2 image pinned, sent and opened as qcow2 in the
#      test guest's shape: reused (the control).
# In every case the canary is never opened.  c4 to c7 start a QEMU (the
# paused skeleton, never a guest): SKIP them with VMFERRY_SKIP_VM_TESTS=1.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

requires_root
requires curl --version
requires jq --version
requires qemu-img --version
requires qemu-nbd --version
test_tmpdir
mig_hosts
mig_start_vmferryd

url="https://$DST_IP:7480"
# api NAME METHOD PATH [BODY]: a request with the source's certificate;
#   prints the HTTP status, the reply is in $TEST_DIR/NAME.
api ()
{
  ip netns exec "$SRC_NS" curl -s --max-time 120 -o "$TEST_DIR/$1" \
    -w '%{http_code}' --cacert "$MIG_CA/ca-cert.pem" \
    --cert "$SRC_TLS/client-cert.pem" --key "$SRC_TLS/client-key.pem" \
    -X "$2" -H 'Content-Type: application/json' ${4:+--data-binary "$4"} \
    "$url$3"
}

# The canary: a FIFO.  Opening it (even with O_NONBLOCK, even for a
# moment) lets the writer's open return, which then marks $opened; it
# ignores SIGPIPE (the reader may be gone) and loops, so that a second
# opener does not hang.
canary="$TEST_DIR/canary"
opened="$TEST_DIR/canary-opened"
mkfifo "$canary" || fail "mkfifo"
( trap '' PIPE
  while :; do
    { echo opened >> "$opened"; echo data 2>/dev/null; } > "$canary"
  done ) &
writer=$!
cleanup_fn "kill $writer 2>/dev/null"

# plant NAME FORMAT [clean]: a partial image of VM NAME under token
#   tok-NAME, pinned as FORMAT in its marker: a qcow2 image whose backing
#   file is the canary (with "clean": a plain image of FORMAT).
plant ()
{
  _d="$DST_STORAGE/.vmferry-partial/$1"
  mkdir -p "$_d" || fail "mkdir $_d"
  if [ "${3:-}" = clean ]; then
    qemu-img create -q -f "$2" "$_d/disk-0" 1M
  else
    qemu-img create -q -f qcow2 -u -b "$canary" -F raw "$_d/disk-0" 1M
  fi || fail "making the partial image of $1"
  _now=$(date +%s)
  echo "{\"token\":\"tok-$1\",\"created\":$_now,\"expires\":$((_now + 3600)),
    \"disks\":[{\"index\":0,\"virtual_size\":1048576,\"format\":\"$2\"}]}" \
    > "$_d/marker.json" || fail "marker of $1"
}
# disk NAME FORMAT: the VM's one disk.
disk ()
{
  echo "[{\"id\":\"disk0\",\"path\":\"/src/$1/d0.img\",\"format\":\"$2\",
    \"virtual_size\":1048576,\"allocated\":0,\"read_only\":false}]"
}
# prepare NAME VM-FIELDS [MORE]: a prepare of VM NAME resuming token
#   tok-NAME; prints the HTTP status (reply in $TEST_DIR/NAME).
prepare ()
{
  api "$1" POST /v1/prepare "{\"id\":\"$1\",\"host\":\"$DST_IP\",
    \"resume_token\":\"tok-$1\"${3:+,$3},\"vm\":{\"name\":\"$1\",$2}}"
}
# offline NAME FORMAT: an offline move (qemu-nbd, no QEMU).
offline ()
{
  prepare "$1" "\"argv\":[],\"machine\":\"\",\"memory\":0,
    \"cpu_vendor\":\"\",\"qemu_version\":0,\"disks\":$(disk "$1" "$2")" \
    '"offline":true,"channel":true'
}
# live NAME FORMAT BLOCK-ARGS: a live VM whose command line opens the
#   disk with BLOCK-ARGS (JSON strings).
live ()
{
  prepare "$1" "\"machine\":\"pc-q35-7.2\",\"memory\":67108864,
    \"cpu_vendor\":\"\",\"qemu_version\":70200,
    \"argv\":[\"qemu-system-x86_64\",\"-machine\",\"pc-q35-7.2\",
    \"-accel\",\"tcg\",\"-cpu\",\"qemu64\",\"-m\",\"64\",\"-nodefaults\",
    \"-display\",\"none\",$3],\"disks\":$(disk "$1" "$2")"
}
# outcome NAME STATUS REUSED: the canary was not opened; when STATUS is
#   200, partial_reused is REUSED, and the job is aborted again.
outcome ()
{
  echo "$1: HTTP $2: $(jq -c 'del(.files)' "$TEST_DIR/$1" 2>/dev/null)"
  sleep 0.2
  [ -e "$opened" ] && fail "$1: the canary (the backing file) was opened"
  case $2 in
    200) [ "$(jq -r .partial_reused "$TEST_DIR/$1")" = "$3" ] ||
           fail "$1: partial_reused is not $3"
         st=$(api "abort-$1" POST /v1/abort "{\"id\":\"$1\"}")
         [ "$st" = 200 ] || fail "abort $1: HTTP $st" ;;
    4*) [ "$3" = false ] || fail "$1: refused, expected a reuse"
        # A request whose command line does not open the disk as it is
        # sent is refused before the kept images are looked at: they
        # stay (for a consistent request), unopened; drop them here.
        rm -r "$DST_STORAGE/.vmferry-partial/$1"
        return 0 ;;
    *) fail "$1: HTTP $2" ;;
  esac
  [ "$3" = true ] || [ ! -e "$DST_STORAGE/.vmferry-partial/$1" ] ||
    fail "$1: the unusable partial image is still kept"
}

plant c1 qcow2
outcome c1 "$(offline c1 qcow2)" false
plant c2 raw
outcome c2 "$(offline c2 raw)" false
plant c3 raw clean
outcome c3 "$(offline c3 raw)" true

if [ "${VMFERRY_SKIP_VM_TESTS:-}" = 1 ] ||
     ! qemu-system-x86_64 --version >/dev/null 2>&1; then
  echo "live cases (c4 to c7) skipped"
  exit 0
fi
plant c4 raw
outcome c4 "$(live c4 raw '"-drive","file=/src/c4/d0.img,format=qcow2,if=virtio"')" false
plant c5 raw
outcome c5 "$(live c5 raw '"-drive","file=/src/c5/d0.img,if=virtio,node-name=disk0"')" false
blockdev='"-blockdev","driver=file,filename=/src/NAME/d0.img,node-name=f0",
  "-blockdev","driver=qcow2,file=f0,node-name=disk0",
  "-device","virtio-blk-pci,drive=disk0"'
plant c6 raw
outcome c6 "$(live c6 raw "$(echo "$blockdev" | sed s/NAME/c6/)")" false
plant c7 qcow2 clean
outcome c7 "$(live c7 qcow2 "$(echo "$blockdev" | sed s/NAME/c7/)")" true
mig_dest_clean
echo "no partial image was reused as another format; the canary is unopened"
exit 0
