#!/bin/sh
# migrate-live.sh: the first real shared-nothing live migration.  The
# test guest runs its workload (disk records and memory rewrites) on a
# 1 GiB disk with 300 MiB of other data; vmferry moves it to a second
# host (network namespace) over mutual TLS, on a link shaped to 500
# Mbit/s so that memory takes several pre-copy rounds.  Afterwards: the guest on
# the destination verifies its disk and memory, the host checker finds
# every acknowledged record in the destination image, the source QEMU is
# gone and the source image deleted, and the VM runs on exactly one host;
# the summary's write latency per phase counts the guest's writes.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 500mbit
mig_start_vmferryd --once

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 300
vm_start "$src" live1 "$SRC_NS" "$img" \
  vmferry.disk_rate=100 vmferry.mem_rate=2000
src_pid=$VM_PID
vm_wait_ready "$src"
vm_wait_ack "$src" 20

ack0=$(vm_last_ack "$src")
mig_migrate "$src/qmp.sock" --json
[ "$MIG_RC" = 0 ] || fail "vmferry migrate failed"
[ "$(mig_result_field result)" = migrated ] || fail "result is not migrated"
mig_check_events
dst="$DST_RUN/live1"
dimg="$DST_STORAGE/live1/disk0.qcow2"
[ "$(mig_result_field qmp)" = "$dst/qmp.sock" ] ||
  fail "summary does not name the destination's QMP socket"
grep -q '"event":"memory"' "$TEST_DIR/migrate.out" ||
  fail "no memory progress was reported"
echo "downtime (QEMU): $(mig_result_field downtime_ms) ms," \
  "STOP to RESUME: $(mig_result_field stop_to_resume_ms) ms"

# What the guest felt: its writes per phase, from QEMU's latency
# histograms.  The guest acknowledged records during the migration: the
# writes counted cover them (the count starts after the preflight, a
# fraction of a second in), and the bounds are ordered.
acks=$(( $(vm_last_ack "$src") - ack0 ))
lat=$(grep '"event":"result"' "$TEST_DIR/migrate.out" | jq -c .write_latency)
echo "records acknowledged during the migration: $acks; write latency: $lat"
writes=$(echo "$lat" | jq '[.[] | .writes] | add')
[ "${writes:-0}" -ge $((acks / 2)) ] && [ "$writes" -gt 0 ] ||
  fail "the write latency counted $writes writes for $acks records"
for ph in copy mirror_memory; do
  echo "$lat" | jq -e ".$ph | .writes > 0 and .p50_us > 0 and
    .p50_us <= .p99_us and .p99_us <= .max_us" > /dev/null ||
    fail "no sane write latency for phase $ph: $lat"
done

# Not throttled (the guest's memory converges on this link): the stall
# is the downtime alone.
[ "$(mig_result_field throttled_ms)" = null ] ||
  fail "a throttle was reported for a guest that was not throttled"
[ "$(mig_result_field stall_ms)" = "$(mig_result_field downtime_ms)" ] ||
  fail "the stall is not the downtime"

# Exactly one host runs the VM; the source image is gone.
pid_alive "$src_pid" && fail "the source QEMU still runs"
dst_pid=$(vm_pid "$dst") || fail "no QEMU runs on the destination"
ip netns identify "$dst_pid" | grep -qx "$DST_NS" ||
  fail "the destination QEMU runs outside $DST_NS"
[ -e "$img" ] && fail "the source image was not deleted"
[ -f "$dimg" ] || fail "no destination image $dimg"

# The workload goes on writing on the destination, then verifies; the
# destination image holds every acknowledged record.
echo "last record acknowledged on the source: $(vm_last_ack "$src")"
mig_verify_moved "$src" "$dst" "$dimg" 20

# vmferryd --once has exited; nothing else was left in the roots (dot
# files included: the journal's directory goes with its last entry).
wait_until 30 pid_gone "$VMFERRYD_PID" ||
  fail "vmferryd --once is still running"
mig_dest_holds live1
exit 0
