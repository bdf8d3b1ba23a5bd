#!/bin/sh
# table.sh RESULTS.JSON: the markdown table of a benchmark run (medians
# per link, workload and engine; ratio against the QEMU-native path),
# then, for the workloads with qemu-zstd runs (bench.sh ZSTD_WORKLOADS),
# the memory references: vmferry, QEMU's plain migration and QEMU's
# multifd+zstd side by side for the memory phase alone.  Without
# qemu-zstd runs there is no second table.
set -eu
jq -r '
  def median: sort | if length == 0 then null
    else .[(length - 1) / 2 | floor] end;
  def rate: {"1gbit": 1e9, "100mbit": 1e8, "500mbit": 5e8}[.] * 0.95 / 8;
  group_by([.link, .workload]) | map(
    . as $g | ($g[0].link) as $link | ($g[0].workload) as $w |
    [ "vmferry", "qemu" ] | map(. as $e | [$g[] | select(.engine == $e)] |
      { engine: $e,
        t: (map(.total_s) | median),
        dt: (map(.downtime_ms) | median),
        gap: (map(.hb_gap_ms) | median),
        wire: (map((.wire_bytes // ((.storage_bytes + .memory_bytes))) / 1048576) | median),
        cpu: (map(.vmferry_cpu_s) | median),
        dcpu: (map(.vmferryd_cpu_s // 0) | median),
        s: (map(.allocated_bytes + .memory_bytes) | median) }) as $m |
    "| \($link) | \($w) | " +
    ($m | map(if .t == null then "-" else
      "\(.t * 10 | round / 10) s, \(.dt) ms / \(.gap) ms, \(.wire | round) MiB, cpu \(.cpu * 100 | round / 100) / \(.dcpu * 100 | round / 100) s" end)
      | join(" | ")) +
    " | " + (if $m[0].t and $m[1].t then "\($m[0].t / $m[1].t * 100 | round / 100)" else "-" end) +
    " | " + (if $m[0].t then "\($m[0].t / ($m[0].s / ($link | rate)) * 100 | round / 100)" else "-" end) + " |")
  | (["| link | workload | vmferry: total, downtime (QEMU / heartbeat gap), MiB sent on the link, CPU of vmferry / vmferryd | QEMU-native: same | ratio | vmferry T/(S/B) |",
      "|---|---|---|---|---|---|"] + .) | .[]' "$1"

# Memory on the link: the relay's bytes for vmferry; for the QEMU-native
# paths (no relay) the source's link bytes less the allocated disk
# bytes that the mirror sent (QEMU 7.2 counts memory before multifd's
# compression).
jq -r '
  def median: sort | if length == 0 then null
    else .[(length - 1) / 2 | floor] end;
  def memwire: if .engine == "vmferry" then .memory_wire_bytes
    else .wire_bytes - .allocated_bytes end;
  [group_by([.link, .workload])[] | select(any(.[]; .engine == "qemu-zstd"))]
  | select(length > 0) | map(
    . as $g |
    "| \($g[0].link) | \($g[0].workload) | " +
    ([ "vmferry", "qemu", "qemu-zstd" ] | map(. as $e |
      [$g[] | select(.engine == $e)] |
      if length == 0 then "-" else
        "\(map(.memory_s) | median * 10 | round / 10) s, " +
        "\(map(.downtime_ms) | median) ms / " +
        "\(map(.hb_gap_ms) | median) ms, " +
        "\(map(memwire // 0) | median / 1048576 | round) MiB" end)
      | join(" | ")) + " |")
  | ["", "Memory references (memory phase only): memory_s, downtime (QEMU / heartbeat gap), memory MiB on the link",
     "",
     "| link | workload | vmferry (relay) | QEMU plain | QEMU multifd+zstd (2 channels) |",
     "|---|---|---|---|---|"] + . | .[]' "$1"

# Other traffic on the link: a ping every 100 ms from source to
# destination during each migration (one-run.sh), median of the runs'
# p50 and p95 RTT.  QEMU's mirrored guest writes cross the same
# bottleneck queue.
jq -r '
  def median: sort | if length == 0 then null
    else .[(length - 1) / 2 | floor] end;
  [group_by([.link, .workload])[] | select(any(.[]; .ping_p50_ms != null))]
  | select(length > 0) | map(
    . as $g |
    "| \($g[0].link) | \($g[0].workload) | " +
    ([ "vmferry", "qemu" ] | map(. as $e |
      [$g[] | select(.engine == $e and .ping_p50_ms != null)] |
      if length == 0 then "-" else
        "\(map(.ping_p50_ms) | median) / \(map(.ping_p95_ms) | median) ms"
      end) | join(" | ")) + " |")
  | ["", "Other traffic during the migration: ping RTT p50 / p95 (median of the runs)",
     "",
     "| link | workload | vmferry | QEMU-native |",
     "|---|---|---|---|"] + . | .[]' "$1"
