#!/bin/sh
# migrate-pacing.sh: the data channel paces itself a little below the
# link (the default) over a link shaped to 100 Mbit/s, while the guest
# writes records as fast as it can (mirrored writes share the link with
# the bulk copy).  64 MiB of random disk data keep the link busy for
# seconds.  The summary must report the link's rate as measured from
# the bytes the receiver acknowledged (near 100 Mbit/s, neither 0 nor
# beyond the link) and a pace below it; while the disks copy, the
# kernel must hold the data channel's sockets to that pace
# (SO_MAX_PACING_RATE, seen by ss) and they must not use BBR (its window
# starves under the cap).  Nothing may be lost: the guest verifies on
# the destination, the host checker finds every acknowledged record,
# and the VM runs on exactly one host.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 100mbit
mig_start_vmferryd --once

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mig_disk_with_data "$img" 64 random
vm_start "$src" pace1 "$SRC_NS" "$img" \
  vmferry.disk_rate=0 vmferry.disk_size=16 vmferry.mem_rate=100
src_pid=$VM_PID
vm_wait_ready "$src"
vm_wait_ack "$src" 50

# The data channel's sockets while the migration runs: connections to
# the destination other than its API port (7480) and QEMU's mirror (not
# ours: QEMU's NBD client has no pacing of ours).
ss_log="$TEST_DIR/ss.log"
ip netns exec "$SRC_NS" vmferry migrate "$src/qmp.sock" --to "$DST_IP" \
  --tls-dir "$SRC_TLS" --storage-engine vmferry --json \
  > "$TEST_DIR/migrate.out" 2>&1 &
mig=$!
cleanup_fn "kill $mig 2>/dev/null"
while pid_alive "$mig"; do
  ip netns exec "$SRC_NS" ss -tin dst "$DST_IP" >> "$ss_log" 2>/dev/null
  sleep 0.2
done
# The exit status of the process itself, not what its JSON says.
wait "$mig"
MIG_RC=$?
cat "$TEST_DIR/migrate.out"
[ "$MIG_RC" = 0 ] || fail "vmferry migrate failed (exit code $MIG_RC)"
link=$(mig_result_field link_bytes_per_s)
paced=$(mig_result_field paced_bytes_per_s)
echo "link measured at $link bytes/s, paced at $paced bytes/s"
# 100 Mbit/s carries about 11.9 MB/s of TCP payload.
[ "$link" != null ] && [ "$link" -gt 9000000 ] ||
  fail "the link was not measured ($link bytes/s)"
[ "$link" -lt 13000000 ] || fail "$link bytes/s is beyond the link"
[ "$paced" -lt "$link" ] && [ "$paced" -gt $((link * 9 / 10)) ] ||
  fail "paced at $paced bytes/s for a link of $link"
# ss prints pacing_rate CUR/MAX (bits/s) for a socket with a maximum.
maxes=$(sed -n 's|.*pacing_rate [0-9]*bps/\([0-9]*\)bps.*|\1|p' "$ss_log" |
          awk '{ printf "%d\n", $1 / 1000000 }' | sort -n | uniq -c)
echo "sockets' maximum pacing rates seen (count Mbit/s):"; echo "$maxes"
[ -n "$maxes" ] ||
  fail "no data channel socket was paced by the kernel (ss: $ss_log)"
# Below the link while cruising; a probe (one window in a few seconds)
# goes 10 % above the estimate, never more.  (An exit in a rule would
# run END, whose exit would replace it: the verdict is made in END.)
echo "$maxes" | awk '$2 < 100 { below += $1 } $2 >= 100 { above += $1 }
                     $2 > 110 { over += $1 }
                     END { exit over > 0 || below <= above }' ||
  fail "the sockets were not paced below the link's 100 Mbit/s (at most 110 when probing)"
# This machine's default is BBR: the paced sockets must not keep it.
grep -B1 'pacing_rate [0-9]*bps/' "$ss_log" | grep -q bbr &&
  fail "a paced data channel socket used BBR"

dst="$DST_RUN/pace1"
dimg="$DST_STORAGE/pace1/disk0.qcow2"
pid_alive "$src_pid" && fail "the source QEMU still runs"
vm_running "$dst" || fail "no QEMU runs on the destination"
mig_verify_moved "$src" "$dst" "$dimg" 50
mig_image_starts_with "$dimg" "$TEST_DIR/fill"
exit 0
