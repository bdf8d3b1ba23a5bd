#!/bin/sh
# run-fuzz.sh TARGET SEEDS SECONDS WORKDIR: run the libFuzzer binary
# TARGET for SECONDS seconds, starting from the seed corpus SEEDS (copied
# to WORKDIR, where new inputs go).  Exits non-zero, naming the input
# saved in WORKDIR, on any crash, leak, timeout (5 s for one input) or
# memory use above 1 GiB.
set -eu
target=$1 seeds=$2 seconds=$3 work=$4

mkdir -p "$work"
cp "$seeds"/* "$work"/
echo "run-fuzz: $target for ${seconds}s from $seeds"
if ! "$target" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 \
     -max_len=65536 -print_final_stats=1 -artifact_prefix="$work." \
     "$work" >"$work.log" 2>&1; then
  tail -n 60 "$work.log" >&2
  echo "run-fuzz: $target FAILED: see $work.log and the input saved as $work.crash-* (or leak-, timeout-, oom-)" >&2
  exit 1
fi
grep -E '^stat::number_of_executed_units|^Done' "$work.log" || true
