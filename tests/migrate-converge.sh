#!/bin/sh
# migrate-converge.sh: a guest that rewrites its 32 MiB working set as
# fast as it can, behind a 100 Mbit/s link: pre-copy alone does not
# converge.  vmferry's policy forecasts that, detects the stall, and
# throttles the guest (then may raise the downtime up to 2 s), and the
# migration completes within --timeout.  Afterwards the guest verifies
# its disk and memory on the destination, the host checker accepts the
# destination image, and the VM runs on exactly one host.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 100mbit
mig_start_vmferryd --once

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mkdir -p "$src"
disk_create "$img" 1G 40
vm_start "$src" conv1 "$SRC_NS" "$img" \
  vmferry.disk_rate=50 vmferry.mem=32 vmferry.mem_rate=max \
  vmferry.mem_content=random
src_pid=$VM_PID
vm_wait_ready "$src"
vm_wait_ack "$src" 20

# --transport tcp: the forecast takes the link rate from the disk copy,
# and this disk's data would shrink to nothing under lz4.
mig_migrate "$src/qmp.sock" --json --timeout 150 --max-downtime 2000 \
  --transport tcp
[ "$MIG_RC" = 0 ] || fail "vmferry migrate failed"
out="$TEST_DIR/migrate.out"
mig_check_events "$out"

# The forecast came first and said it would not converge unaided.
grep '"event":"forecast"' "$out" | grep -q '"converges":false' ||
  fail "no forecast saying pre-copy would not converge"
# The first remedy was throttling, before any other.
first=$(grep '"event":"converge"' "$out" | head -n 1 | jq -r .action)
[ "$first" = throttle ] || fail "first convergence action: '$first'"
grep '"event":"memory"' "$out" | grep -q '"throttle_percent":[1-9]' ||
  fail "QEMU never reported a throttled guest"
# The summary's stall: the downtime plus the time the vCPUs were
# throttled, which began with the throttle action (before the memory
# phase ended): more than the downtime, at most the memory phase longer.
down=$(mig_result_field downtime_ms) thr=$(mig_result_field throttled_ms)
stall=$(mig_result_field stall_ms) mem=$(mig_result_field memory_s)
echo "downtime $down ms, throttled $thr ms (max" \
  "$(mig_result_field throttle_max_percent) %), stall $stall ms"
[ "$thr" -gt 0 ] && [ "$stall" = $((down + thr)) ] ||
  fail "the stall is not the downtime plus the throttled time"
[ "$thr" -le "$(echo "$mem" | awk '{ printf "%d", $1 * 1000 + 1 }')" ] ||
  fail "throttled longer ($thr ms) than the memory phase ($mem s)"
[ "$(mig_result_field throttle_max_percent)" -ge 1 ] ||
  fail "no throttle percentage in the summary"

dst="$DST_RUN/conv1"
dimg="$DST_STORAGE/conv1/disk0.qcow2"
pid_alive "$src_pid" && fail "the source QEMU still runs"
vm_running "$dst" || fail "no QEMU runs on the destination"
[ -e "$img" ] && fail "the source image was not deleted"

mig_verify_moved "$src" "$dst" "$dimg"
exit 0
