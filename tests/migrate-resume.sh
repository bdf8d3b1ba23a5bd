#!/bin/sh
# migrate-resume.sh: a cancelled copy of vmferry's engine is resumed by
# the next attempt.  A 1 GiB disk holds 200 MiB of data; the link is
# shaped to 100 Mbit/s; the guest writes records all along.
#   1. SIGINT after about half the data went: exit 3, the source VM
#      runs, its image holds the persistent write record and a state
#      file, the destination keeps the partial image (and nothing else).
#   2. The partial image is removed on the destination (as if it had
#      expired): the next attempt cannot resume, says why, and copies
#      everything (its first progress covers the whole disk); cancelled
#      again at about half.
#   3. The next attempt resumes what 2 copied: it completes, the disk
#      data it copies is well below the 200 MiB of a fresh copy (< 70 %),
#      by its own count and on the link (what the source host sent,
#      less the memory QEMU says it migrated: --transport tcp does not
#      compress), the guest verifies on the destination, the image
#      checks, the VM runs on one host, and no resume state is left on
#      either side.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 100mbit
mig_start_vmferryd

src="$TEST_DIR/src"
img="$src/resume.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 200
vm_start "$src" resume1 "$SRC_NS" "$img" \
  vmferry.disk_rate=50 vmferry.mem=16 vmferry.mem_rate=100
src_pid=$VM_PID
vm_wait_ready "$src"
vm_wait_ack "$src" 20
partial="$DST_STORAGE/.vmferry-partial/resume1"
out="$TEST_DIR/migrate.out"
opts="--storage-engine vmferry --transport tcp --json"

# start_and_cancel: migrate in the background, SIGINT once more than
#   100 MiB of the disk went; exit code 3 expected.
start_and_cancel ()
{
  ip netns exec "$SRC_NS" vmferry migrate "$src/qmp.sock" --to "$DST_IP" \
    --tls-dir "$SRC_TLS" $opts > "$out" 2>&1 &
  mig_pid=$!
  cleanup_fn "kill $mig_pid 2>/dev/null"
  for i in $(seq 600); do
    done_bytes=$(grep '"event":"storage"' "$out" | tail -n 1 |
                   jq -r .done 2>/dev/null)
    [ -n "$done_bytes" ] && [ "$done_bytes" -gt 104857600 ] && break
    pid_alive "$mig_pid" || break
    sleep 0.1
  done
  [ -n "$done_bytes" ] && [ "$done_bytes" -gt 104857600 ] ||
    { cat "$out"; fail "the disk copy did not get far enough"; }
  echo "interrupting after $done_bytes bytes"
  kill -INT "$mig_pid"
  wait "$mig_pid"
  rc=$?
  cat "$out"
  [ "$rc" = 3 ] || fail "exit code $rc, expected 3"
  grep -q 'keeps the partial disk images' "$out" ||
    fail "the destination did not keep the partial image"
  vm_running "$src" || fail "the source VM is gone"
  [ -f "$partial/marker.json" ] && [ -f "$partial/disk-0" ] ||
    { ls -laR "$DST_STORAGE"; fail "no partial image on the destination"; }
  # Nothing else is left there.
  [ "$(ls -A "$DST_STORAGE")" = .vmferry-partial ] ||
    { ls -laR "$DST_STORAGE"; fail "more than the partial image left"; }
  mig_dir_empty "$DST_RUN" || { ls -R "$DST_RUN"; fail "run root not empty"; }
  [ -f "$img.vmferry-resume" ] || fail "no resume state beside the image"
  vm_qmp "$src" query-block | grep -q '"name": "vmferry-resume-' ||
    fail "no persistent write record on the source disk"
}

# first storage progress event's total (bytes to copy).
first_total ()
{
  grep '"event":"storage"' "$out" | head -n 1 | jq -r .total
}

echo "== 1. first attempt, cancelled"
start_and_cancel
[ "$(first_total)" = 1073741824 ] || fail "the first attempt did not copy it all"

echo "== 2. no partial image on the destination: full copy, cancelled"
rm -rf "$DST_STORAGE/.vmferry-partial"
start_and_cancel
grep -q 'cannot resume the earlier copy (this host holds no partial image' \
  "$out" || fail "no reason given for the full copy"
[ "$(first_total)" = 1073741824 ] || fail "the second attempt did not copy it all"

echo "== 3. resumed"
tx0=$(mig_link_tx)
ip netns exec "$SRC_NS" vmferry migrate "$src/qmp.sock" --to "$DST_IP" \
  --tls-dir "$SRC_TLS" $opts > "$out" 2>&1
rc=$?
wire=$(( $(mig_link_tx) - tx0 ))
cat "$out"
[ "$rc" = 0 ] || fail "the resumed migration failed ($rc)"
grep -q 'resuming the earlier copy' "$out" || fail "it did not resume"
bytes=$(mig_result_field storage_bytes)
echo "the resumed attempt copied $bytes bytes of disk data"
total=$(first_total)
[ "$total" -lt 1073741824 ] || fail "the resumed attempt planned the whole disk"
[ "$bytes" -lt $((200 * 1048576 * 70 / 100)) ] ||
  fail "$bytes bytes copied: not much less than a fresh copy"
mem=$(mig_result_field memory_bytes)
echo "the source host sent $wire bytes on the link, $mem of them QEMU's memory"
[ $((wire - mem)) -lt $((200 * 1048576 * 70 / 100)) ] ||
  fail "$((wire - mem)) bytes crossed the link besides the memory: not much less than a fresh copy"

dst="$DST_RUN/resume1"
dimg="$DST_STORAGE/resume1/resume.qcow2"
pid_alive "$src_pid" && fail "the source QEMU still runs"
vm_running "$dst" || fail "no QEMU runs on the destination"
[ -e "$img" ] && fail "the source image was not deleted"
[ -e "$img.vmferry-resume" ] && fail "the resume state is left on the source"
[ -e "$DST_STORAGE/.vmferry-partial" ] && fail "the partial area is left"
mig_verify_moved "$src" "$dst" "$dimg" 20
# The prefilled data arrived whole (outside the record region).
mig_image_has_pattern "$dimg" 0x5a 0 200M
exit 0
