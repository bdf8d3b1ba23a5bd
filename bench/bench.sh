#!/bin/sh
# bench.sh: vmferry against the QEMU-native path, back to back in the
# same run, on two namespace hosts joined by a veth shaped with tc.
#
#   LINKS="1gbit 100mbit" WORKLOADS="idle text random dirty sparse small"
#   ENGINES="vmferry qemu" RUNS=3 bench/bench.sh
#
# Every run ends with the guest's verdict and the host checker (a run
# that loses data fails the benchmark).  Writes results.json and
# results.md (medians, ratio vmferry / QEMU-native, T / (S/B) where S is
# the allocated disk bytes plus the RAM bytes sent and B the link's
# payload rate) to bench/results/<date>/ and prints the table.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
LINKS=${LINKS:-"1gbit 100mbit"}
WORKLOADS=${WORKLOADS:-"idle text random dirty sparse small"}
ENGINES=${ENGINES:-"vmferry qemu"}
RUNS=${RUNS:-3}
out="$here/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out/runs"

for link in $LINKS; do
  for w in $WORKLOADS; do
    for r in $(seq "$RUNS"); do
      for e in $ENGINES; do
        d="$out/runs/$link-$w-$e-$r"
        echo "== $link $w $e run $r"
        # One guest test at a time on this machine (tests take it too).
        if ! flock /tmp/vmferry-vmtests.lock \
             "$top/run" sh "$here/one-run.sh" "$e" "$link" "$w" "$d" \
             > "$d.log" 2>&1; then
          tail -n 20 "$d.log"
          echo "bench: $link $w $e run $r FAILED (log: $d.log)" >&2
          exit 1
        fi
        tail -n 1 "$d.log"
      done
    done
  done
done

jq -s '.' "$out"/runs/*/result.json > "$out/results.json"
"$here/table.sh" "$out/results.json" > "$out/results.md"
cat "$out/results.md"
echo "bench: results in $out"
