#!/bin/sh
# api-journal-forgery.sh: a peer with a good client certificate cannot
# make vmferryd's start-up recovery act on anything but what vmferryd
# itself made (vmferryd(8), "What the journal trusts").  A real vmferryd
# in a network namespace, requests with curl:
#  (a) while a stored move ("offline", served by qemu-nbd: no QEMU)
#      keeps the journal directory in place, prepares whose disk
#      dest_path names a file in that directory, in that VM's directory,
#      or directly in the storage root are refused, and the journal
#      directory and the other VM's directory are unchanged;
#  (b) journal entries planted in the journal directory (as if a request
#      had written them) name canaries: a process matched only by a
#      substring of its command line, a process whose start time and
#      command line the entry copies, the parent of the run root
#      ("RUN_ROOT/.."), another VM's image, and a run directory under an
#      entry whose "id" is not its file name.  After a restart of
#      vmferryd the canaries are untouched and the entries left alone,
#      while a well-formed entry of a dead skeleton (the control) is
#      still rolled back;
#  (c) the control with a real skeleton (a paused QEMU, never a guest;
#      skipped with VMFERRY_SKIP_VM_TESTS=1): vmferryd killed with -9
#      after a prepare, restarted: the skeleton, proven by the start time
#      and command line in its entry, is killed and the migration rolled
#      back.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

requires_root
requires curl --version
requires jq --version
requires qemu-img --version
requires qemu-nbd --version
test_tmpdir
mig_hosts
# The run root lies in a canary directory outside the storage root, so
# that "RUN_ROOT/.." names it.
canary_dir="$TEST_DIR/canary-dir"
DST_RUN="$canary_dir/run"
mkdir -p "$DST_RUN" || fail "mkdir $DST_RUN"
echo keep > "$canary_dir/keep"
journal="$DST_STORAGE/.vmferryd-journal"
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
# offline_prepare ID NAME [DEST_PATH]: an offline move of VM NAME with
#   one 1 MiB raw disk (at DEST_PATH if given); prints the HTTP status.
offline_prepare ()
{
  api "$1" POST /v1/prepare "{\"id\":\"$1\",\"host\":\"$DST_IP\",
    \"offline\":true,\"channel\":true,\"vm\":{\"name\":\"$2\",\"argv\":[],
    \"machine\":\"\",\"memory\":0,\"cpu_vendor\":\"\",\"qemu_version\":0,
    \"disks\":[{\"id\":\"d0\",\"path\":\"/src/$2/d0.img\",\"format\":\"raw\",
    \"virtual_size\":1048576,\"allocated\":0,\"read_only\":false
    ${3:+,\"dest_path\":\"$3\"}}]}}"
}
# snapshot DIR: every file under DIR with its content's checksum.
snapshot ()
{
  (cd "$1" && find . -type f -exec md5sum {} + | sort)
}

echo "--- (a) dest_path naming the journal, another VM, the storage root"
st=$(offline_prepare good good)
[ "$st" = 200 ] || { cat "$TEST_DIR/good"; fail "the control prepare: HTTP $st"; }
[ -d "$journal" ] || fail "no journal directory while a move is prepared"
before=$(snapshot "$journal")
good_before=$(snapshot "$DST_STORAGE/good")
echo "journal: $before"
n=0
for dest in "$journal/forged.json" "$DST_STORAGE/good/evil.img" \
            "$DST_STORAGE/evil.img"; do
  n=$((n + 1))
  st=$(offline_prepare "h$n" "evil$n" "$dest")
  echo "dest_path $dest: HTTP $st $(jq -r .error "$TEST_DIR/h$n")"
  [ "$(snapshot "$journal")" = "$before" ] ||
    { snapshot "$journal"; fail "dest_path $dest changed the journal"; }
  [ "$(snapshot "$DST_STORAGE/good")" = "$good_before" ] ||
    fail "dest_path $dest changed the other VM's directory"
  [ -e "$DST_STORAGE/evil.img" ] && fail "dest_path $dest: a file in the root"
  [ "$st" = 422 ] || fail "dest_path $dest: HTTP $st, expected 422"
  grep -q "evil$n/" "$TEST_DIR/h$n" || fail "no VM directory in the refusal"
done
st=$(api abort-good POST /v1/abort '{"id":"good"}')
[ "$st" = 200 ] || fail "abort good: HTTP $st"
[ -e "$journal" ] && { ls -la "$journal"; fail "the journal outlived its entry"; }

echo "--- (b) forged journal entries"
kill "$VMFERRYD_PID"
for _i in $(seq 100); do pid_alive "$VMFERRYD_PID" || break; sleep 0.1; done
pid_alive "$VMFERRYD_PID" && fail "vmferryd did not stop"

# Canary processes: plain sleep, and a shell whose command line holds a
# would-be run directory.
sleep 1000 &
c1=$!
cleanup_fn "kill $c1 2>/dev/null"
sh -c 'sleep 1000; exit 0' "$DST_RUN/f2/vmferry-qmp.sock" &
c2=$!
sleep 0.2
c2_sleep=$(pgrep -P "$c2")
cleanup_fn "kill $c2 $c2_sleep 2>/dev/null"
c2_start=$(sed 's/.*) //' "/proc/$c2/stat" | cut -d' ' -f20)
c2_argv=$(tr '\0' '\n' < "/proc/$c2/cmdline" | jq -R . | jq -sc .)
# Another VM's image, and a run directory with a file.
mkdir -p "$DST_STORAGE/victim" "$DST_RUN/f5" "$journal"
qemu-img create -q -f raw "$DST_STORAGE/victim/disk.img" 1M || fail "victim"
echo keep > "$DST_RUN/f5/keep"
# The control: a dead skeleton's migration, as vmferryd writes it.
mkdir -p "$DST_STORAGE/g1" "$DST_RUN/g1"
qemu-img create -q -f raw "$DST_STORAGE/g1/d0.img" 1M || fail "g1 image"
: > "$DST_RUN/g1/vmferry-qemu.log"

# entry FILE-ID ID VM RUN_DIR VM_DIR PID IMAGES-JSON [MORE-JSON]
entry ()
{
  echo "{\"version\":1,\"id\":\"$2\",\"vm\":\"$3\",\"state\":\"preparing\",
    \"qemu_pid\":$6,\"pidfile\":\"$4/vmferry-qemu.pid\",
    \"qmp\":\"$4/vmferry-qmp.sock\",\"run_dir\":\"$4\",\"vm_dir\":\"$5\",
    \"images\":$7${8:+,$8}}" > "$journal/$1.json" || fail "planting $1"
}
entry f1 f1 f1 "" "" "$c1" '[]'
entry f2 f2 f2 "$DST_RUN/f2" "$DST_STORAGE/f2" "$c2" '[]' \
  "\"qemu_start\":$c2_start,\"qemu_argv\":$c2_argv"
entry f3 f3 f3 "$DST_RUN/.." "$DST_STORAGE/f3" 0 '[]'
entry f4 f4 f4 "$DST_RUN/f4" "$DST_STORAGE/f4" 0 \
  "[\"$DST_STORAGE/victim/disk.img\"]"
entry f5 other f5 "$DST_RUN/f5" "$DST_STORAGE/f5" 0 '[]'
entry g1 g1 g1 "$DST_RUN/g1" "$DST_STORAGE/g1" 0 \
  "[\"$DST_STORAGE/g1/d0.img\"]"
ls -la "$journal"

mig_start_vmferryd
grep 'recovery' "$TEST_DIR/vmferryd.log"
pid_alive "$c1" || fail "vmferryd killed the canary process $c1 (f1)"
pid_alive "$c2" || fail "vmferryd killed the canary process $c2 (f2)"
[ -f "$canary_dir/keep" ] || fail "vmferryd removed the canary directory (f3)"
[ -f "$DST_STORAGE/victim/disk.img" ] ||
  fail "vmferryd deleted another VM's image (f4)"
[ -f "$DST_RUN/f5/keep" ] || fail "vmferryd removed a run directory (f5)"
for f in f1 f2 f3 f4 f5; do
  [ -f "$journal/$f.json" ] || fail "the forged entry $f was not left alone"
  grep -q "recovery: .*$f.json.*left alone" "$TEST_DIR/vmferryd.log" ||
    fail "no note that $f was left alone"
done
# The control was rolled back.
[ -e "$journal/g1.json" ] && fail "the well-formed entry g1 is still there"
[ -e "$DST_STORAGE/g1" ] && fail "g1's image directory is still there"
[ -e "$DST_RUN/g1" ] && fail "g1's run directory is still there"
grep -q 'migration g1 (VM g1) was not finished: rolled back' \
  "$TEST_DIR/vmferryd.log" || fail "no note of g1's rollback"
echo "forged entries left alone, canaries untouched, the control rolled back"

if [ "${VMFERRY_SKIP_VM_TESTS:-}" = 1 ] ||
     ! qemu-system-x86_64 --version >/dev/null 2>&1; then
  echo "(c) skipped (a real skeleton)"
  exit 0
fi
echo "--- (c) a real skeleton is still recognized, killed and rolled back"
vm='{"name":"real","machine":"pc-q35-7.2","memory":67108864,
 "cpu_vendor":"","qemu_version":70200,
 "argv":["qemu-system-x86_64","-machine","pc-q35-7.2","-accel","tcg",
  "-cpu","qemu64","-m","64","-nodefaults","-display","none",
  "-pidfile","/src/real/qemu.pid",
  "-blockdev","driver=file,filename=/src/real/disk0.qcow2,node-name=f0",
  "-blockdev","driver=qcow2,file=f0,node-name=disk0",
  "-device","virtio-blk-pci,drive=disk0"],
 "disks":[{"id":"disk0","path":"/src/real/disk0.qcow2","format":"qcow2",
  "virtual_size":16777216,"allocated":0,"read_only":false}]}'
st=$(api real1 POST /v1/prepare "{\"id\":\"real1\",\"host\":\"$DST_IP\",\"vm\":$vm}")
[ "$st" = 200 ] || { cat "$TEST_DIR/real1"; fail "prepare real1: HTTP $st"; }
jq -c '{qemu_pid, qemu_start, pidfile, qmp, images}' "$journal/real1.json"
skel=$(jq -r .qemu_pid "$journal/real1.json")
pid_alive "$skel" || fail "no skeleton"
jq -e '.qemu_start > 0 and (.qemu_argv | index("-qmp") != null)' \
  "$journal/real1.json" >/dev/null || fail "the skeleton's identity is not journaled"
# vmferryd dies without cleaning up (kill -9), and starts again.
kill -9 "$VMFERRYD_PID"
for _i in $(seq 100); do pid_alive "$VMFERRYD_PID" || break; sleep 0.1; done
pid_alive "$skel" || fail "the skeleton died with vmferryd"
mig_start_vmferryd
grep 'recovery: migration real1' "$TEST_DIR/vmferryd.log" ||
  fail "no note of real1's rollback"
grep -q 'real1 (VM real) was not finished: rolled back (skeleton QEMU killed' \
  "$TEST_DIR/vmferryd.log" || fail "real1's skeleton was not killed"
pid_alive "$skel" && fail "the skeleton $skel still runs"
[ -e "$journal/real1.json" ] || [ -e "$DST_STORAGE/real" ] ||
  [ -e "$DST_RUN/real" ] && fail "real1 left files behind"
pid_alive "$c1" && pid_alive "$c2" || fail "a canary process died"
echo "the real skeleton was killed and its migration rolled back"
exit 0
