#!/bin/sh
# libvirt-cell.sh [LINK [OUTDIR]]: the libvirt benchmark cell (issue 21).
# In the libvirt lab (tests/libvirt-functions.sh) on a link shaped to
# LINK (a tc rate, default 100mbit), the same compressible guest (256 MiB
# of text memory rewritten at 200 pages a second, a 1 GiB qcow2 disk with
# 16 MiB of data and the workload's records) is migrated twice, back to
# back: with libvirt's own transport (virsh migrate --live --p2p
# --copy-storage-all over TCP) and with vmferry migrate libvirt:DOMAIN
# (the same libvirt migration, its streams through vmferry's data
# channel).  Each run is verified (the guest's verdict, check-image):
# the cell records whether it was, and fails if vmferry's run was not.
# Measured: wall time of the command, bytes the link carried to the
# destination, libvirt's downtime and memory bytes.  Writes OUTDIR
# (default bench/results/libvirt-DATE)/result.json and result.md.
# Run as root, one guest test at a time:
#   flock /tmp/vmferry-vmtests.lock ./run sh bench/libvirt-cell.sh 100mbit

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"
. "$abs_top_srcdir/tests/libvirt-functions.sh"

link=${1:-100mbit}
out=${2:-"$abs_top_srcdir/bench/results/libvirt-$(date -u +%Y%m%dT%H%M%SZ)"}
mkdir -p "$out" || exit 1
guest_test_init
lv_hosts "$link"
lv_start_vmferryd
workload="vmferry.disk_rate=20 vmferry.disk_size=16 vmferry.mem=256
  vmferry.mem_content=text vmferry.mem_rate=200"

ms () { date +%s%3N; }

# libvirt's figures of the completed job on dst: "downtime memory".
completed ()
{
  lv_in dst virsh domjobinfo --completed "$1" > "$out/$1.jobinfo"
  cat "$out/$1.jobinfo" >&2
  d=$(sed -n 's/^Total downtime: *\([0-9]*\) *ms/\1/p' "$out/$1.jobinfo")
  m=$(sed -n 's/^Memory processed: *\([0-9.]*\) MiB/\1/p' "$out/$1.jobinfo")
  echo "${d:-null} ${m:-null}"
}

# word list -> workload options
# shellcheck disable=SC2086
lv_guest lvb-libvirt $workload
rx0=$(lv_link_rx) t0=$(ms)
lv_in src virsh -q migrate --live --p2p --copy-storage-all --persistent \
  --undefinesource lvb-libvirt "$LV_DST_URI" "tcp://$DST_IP" ||
  fail "libvirt's own migration failed"
t1=$(ms) rx1=$(lv_link_rx)
set -- $(completed lvb-libvirt)
lv_down=$1 lv_mem=$2
rm -f "$LV_SRC_IMG"             # libvirt leaves it; the next guest's disk
# Its verdict is a result of the cell: the next run goes on either way.
if (lv_verify_moved lvb-libvirt); then lv_ok=true; else lv_ok=false; fi
lv_in dst virsh -q destroy lvb-libvirt > /dev/null 2>&1

# shellcheck disable=SC2086
lv_guest lvb-vmferry $workload
rx2=$(lv_link_rx) t2=$(ms)
lv_migrate libvirt:lvb-vmferry --json
[ "$MIG_RC" = 0 ] || fail "vmferry migrate libvirt:lvb-vmferry failed"
t3=$(ms) rx3=$(lv_link_rx)
vf_down=$(mig_result_field downtime_ms)
vf_mem=$(mig_result_field memory_bytes)
if (lv_verify_moved lvb-vmferry); then vf_ok=true; else vf_ok=false; fi

jq -n --arg link "$link" \
  --argjson lt $((t1 - t0)) --argjson lb $((rx1 - rx0)) \
  --argjson ld "$lv_down" --arg lm "$lv_mem" \
  --argjson vt $((t3 - t2)) --argjson vb $((rx3 - rx2)) \
  --argjson vd "$vf_down" --argjson vm "$vf_mem" \
  --argjson lok "$lv_ok" --argjson vok "$vf_ok" \
  '{link: $link, workload: "text memory 256 MiB, 16 MiB disk",
    libvirt: {time_ms: $lt, link_bytes: $lb, downtime_ms: $ld,
              memory_mib: $lm, verified: $lok},
    vmferry: {time_ms: $vt, link_bytes: $vb, downtime_ms: $vd,
              memory_bytes: $vm, verified: $vok}}' > "$out/result.json"
{
  echo "| $link, compressible | time | bytes on the link | downtime | guest verified |"
  echo "|---|---|---|---|---|"
  echo "| libvirt's own transport | $((t1 - t0)) ms | $((rx1 - rx0)) | $lv_down ms | $lv_ok |"
  echo "| vmferry migrate libvirt: | $((t3 - t2)) ms | $((rx3 - rx2)) | $vf_down ms | $vf_ok |"
} > "$out/result.md"
cat "$out/result.md"
echo "bench: results in $out"
[ "$vf_ok" = true ] || fail "the guest did not verify after vmferry's run"
exit 0
