#!/bin/sh
# bench.sh: vmferry against the QEMU-native path, back to back in the
# same run, on two namespace hosts joined by a veth shaped with tc.
#
#   LINKS="1gbit 100mbit"
#   WORKLOADS="idle text random dirty sparse small disks1 disks4"
#   ENGINES="vmferry qemu" ZSTD_WORKLOADS="text" RUNS=3 bench/bench.sh
#
# disks1 and disks4 are the same idle guest with one disk, and with three
# more (raw and qcow2 mixed): their downtimes side by side show what each
# extra disk adds to the switchover.
# For the workloads in ZSTD_WORKLOADS (default "text"; "" for none) a
# third engine runs back to back with the others: qemu-zstd, the
# QEMU-native path with QEMU's own multifd (2 channels) and zstd, the
# stronger reference for memory alone (its downtime is longer).
# Every run ends with the guest's verdict and the host checker (a run
# that loses data fails the benchmark).  Writes results.json and
# results.md (medians, ratio vmferry / QEMU-native, T / (S/B) where S is
# the allocated disk bytes plus the RAM bytes sent and B the link's
# payload rate) to bench/results/<date>/ and prints the table, then the
# memory references table (table.sh) when qemu-zstd ran.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
LINKS=${LINKS:-"1gbit 100mbit"}
WORKLOADS=${WORKLOADS:-"idle text random dirty sparse small disks1 disks4"}
ENGINES=${ENGINES:-"vmferry qemu"}
ZSTD_WORKLOADS=${ZSTD_WORKLOADS-text}
RUNS=${RUNS:-3}
out="$here/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out/runs"

for link in $LINKS; do
  for w in $WORKLOADS; do
    for r in $(seq "$RUNS"); do
      engines=$ENGINES
      case " $ZSTD_WORKLOADS " in
        *" $w "*) engines="$engines qemu-zstd" ;;
      esac
      for e in $engines; do
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
