#!/bin/sh
# stale-memory.sh: how often a TCG guest's memory ends older than its
# disk after a migration, with vmferry and with the QEMU-native path
# (QEMU 7.2's TCG dirty tracking loses writes when the guest's RAM is a
# multiple of 256 KiB: vmferry(1) BUGS).
#
#   RUNS=6 MEMS="512M 524296K" LINK=1gbit WORKLOAD=text \
#     ENGINES="vmferry qemu" bench/stale-memory.sh
#
# Each run is bench/one-run.sh with the guest's RAM from MEMS
# (BENCH_MEM) and its integrity checks recorded rather than fatal
# (BENCH_VERDICT=record): outcome ok, mem-older (a disk slot holds a
# later record than the guest's memory says it wrote), mem-stale (a page
# of its pattern memory lost a rewrite), no-verdict (the guest stopped
# answering; ",panic" when its console says so) or other; with QEMU's
# dirty-bitmap syncs (the last pre-copy pass vmferry saw) and whether
# the host checker accepted the image.  Prints one line per run, then
# the counts per RAM size and engine.  Results in
# bench/results/stale-<date>/.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
RUNS=${RUNS:-6}
MEMS=${MEMS:-512M}
LINK=${LINK:-1gbit}
WORKLOAD=${WORKLOAD:-text}
ENGINES=${ENGINES:-"vmferry qemu"}
out="$here/results/stale-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out/runs"

for r in $(seq "$RUNS"); do
  for mem in $MEMS; do
    for e in $ENGINES; do
      d="$out/runs/$mem-$e-$r"
      echo "== $mem $e run $r"
      # One guest test at a time on this machine (tests take it too).
      if ! BENCH_MEM=$mem BENCH_VERDICT=record \
           flock /tmp/vmferry-vmtests.lock \
           "$top/run" sh "$here/one-run.sh" "$e" "$LINK" "$WORKLOAD" "$d" \
           > "$d.log" 2>&1; then
        tail -n 5 "$d.log"
        echo "stale-memory: $mem $e run $r did not complete (log: $d.log)" >&2
        continue
      fi
      jq -r '"\(.guest_mem) \(.engine): \(.outcome), image \(if .image_ok then "ok" else "rejected" end), \(.dirty_syncs) syncs, memory \(.memory_s) s"' \
        "$d/result.json"
    done
  done
done

jq -s '.' "$out"/runs/*/result.json > "$out/results.json" 2>/dev/null ||
  { echo "stale-memory: no run completed" >&2; exit 1; }
echo
echo "outcomes per RAM size and engine (runs; dirty syncs seen):"
jq -r 'group_by([.guest_mem, .engine])[] |
  "\(.[0].guest_mem) \(.[0].engine): \(length) runs: " +
  (group_by(.outcome) | map("\(.[0].outcome) \(length)") | join(", ")) +
  "; syncs \(map(.dirty_syncs) | sort | map(tostring) | join(" "))"' \
  "$out/results.json" | tee "$out/summary.txt"
echo "stale-memory: results in $out"
