#!/bin/sh
# one-run.sh ENGINE LINK WORKLOAD OUTDIR: one measured migration of the
# test guest between two fresh namespace hosts (see bench.sh).  ENGINE:
# vmferry, qemu (QEMU-native: blockdev-mirror, QEMU's plain migration,
# --transport direct) or qemu-zstd (the same with QEMU's multifd, 2
# channels, zstd: the memory reference);
# BENCH_OPTS adds vmferry migrate options (e.g. "--transport tcp
# --channels 2") and BENCH_DOPTS vmferryd options (e.g. --verbose).
# BENCH_MEM sets the guest's RAM (QEMU -m syntax; default 512 MiB +
# 8 KiB, see tests/functions.sh.in).  BENCH_VERDICT=record records a
# failed integrity check in result.json ("outcome", see stale-memory.sh)
# instead of failing the run.
# Writes
# OUTDIR/result.json with the measurements; exits non-zero if the
# migration or (unless BENCH_VERDICT=record) any integrity check failed.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

engine=$1 link=$2 workload=$3 out=$4
mkdir -p "$out" || exit 1
guest_test_init
mig_hosts "$link"
# Congestion control of both hosts: loss-based like Debian's default
# (cubic, which this machine's kernel does not allow in a namespace:
# reno stands in) unless BENCH_CC says otherwise.  vmferry's data
# channel picks its own (BBR).
for ns in "$SRC_NS" "$DST_NS"; do
  ip netns exec "$ns" sysctl -q -w \
    net.ipv4.tcp_congestion_control="${BENCH_CC:-reno}" || fail "sysctl"
done
# shellcheck disable=SC2086
mig_start_vmferryd --once ${BENCH_DOPTS:-}

src="$TEST_DIR/src"
img="$src/disk0.qcow2"
mkdir -p "$src"
size=2G data=300 opts="vmferry.disk_rate=20 vmferry.hb=20"
case $workload in
  idle)   fill=pattern; opts="$opts vmferry.mem_rate=0" ;;
  text)   fill=text; opts="$opts vmferry.mem=256 vmferry.mem_rate=200 vmferry.mem_content=text" ;;
  random) fill=random; opts="$opts vmferry.mem=256 vmferry.mem_rate=200 vmferry.mem_content=random" ;;
  # Memory dirtied at about half the link's payload rate (4 KiB pages/s).
  dirty)  fill=pattern
          case $link in
            1gbit) rate=14500 ;; 100mbit) rate=1450 ;; *) rate=max ;;
          esac
          opts="$opts vmferry.mem=256 vmferry.mem_rate=$rate vmferry.mem_content=random" ;;
  sparse) fill=pattern size=16G data=100; opts="$opts vmferry.mem_rate=0" ;;
  # sparse's data on a 1 GiB disk: sparse - small = the cost of 15 GiB
  # of unallocated disk.
  small)  fill=pattern size=1G data=100; opts="$opts vmferry.mem_rate=0" ;;
  # The switchover's disk work: the same guest with one disk, and with
  # three more (raw and qcow2 mixed, 64 MiB of random data each, idle).
  disks1|disks4) fill=pattern; opts="$opts vmferry.mem_rate=0" ;;
  *) fail "unknown workload $workload" ;;
esac

# The disk: DATA MiB of pattern, text-like or random bytes.
qemu-img create -q -f qcow2 "$img" "$size" || fail "qemu-img create"
case $fill in
  pattern) qemu-io -f qcow2 -c "write -P 0x5a 0 ${data}M" "$img" >/dev/null ;;
  text) yes 'the migration moves text that compresses well, line after line' |
          head -c "${data}M" > "$TEST_DIR/fill" &&
        qemu-io -f qcow2 -c "write -s $TEST_DIR/fill 0 ${data}M" "$img" >/dev/null ;;
  random) head -c "${data}M" /dev/urandom > "$TEST_DIR/fill" &&
          qemu-io -f qcow2 -c "write -s $TEST_DIR/fill 0 ${data}M" "$img" >/dev/null ;;
esac || fail "filling the disk"
alloc=$(qemu-img info --output=json "$img" | jq '."actual-size"')
if [ "$workload" = disks4 ]; then
  head -c 64M /dev/urandom > "$TEST_DIR/fill" || fail "random data"
  VM_QEMU_ARGS=
  for x in 1:raw 2:qcow2 3:raw; do
    f="$src/extra${x%%:*}.${x#*:}"
    qemu-img create -q -f "${x#*:}" "$f" 256M &&
      qemu-io -f "${x#*:}" -c "write -s $TEST_DIR/fill 0 64M" "$f" >/dev/null ||
      fail "making $f"
    alloc=$((alloc + $(qemu-img info --output=json "$f" | jq '."actual-size"')))
    VM_QEMU_ARGS="$VM_QEMU_ARGS -drive file=$f,if=virtio,format=${x#*:},cache=none"
  done
  export VM_QEMU_ARGS
fi

[ -n "${BENCH_MEM:-}" ] && VM_MEM=$BENCH_MEM
# shellcheck disable=SC2086
vm_start "$src" bench1 "$SRC_NS" "$img" $opts
vm_wait_ready "$src"
sleep 2

# Heartbeats as the host receives them, with host timestamps, from the
# source console and, as soon as it exists, the destination's.
stamp () { perl -MTime::HiRes=time -ne '$|=1; printf "%.4f %s", time, $_'; }
# stop_readers: the console sockets take one client: free them for
# vm_send.
( exec socat -u "UNIX-CONNECT:$src/console.sock" - ) | stamp > "$TEST_DIR/hb-src" &
r1=$!
(
  while [ ! -S "$DST_RUN/bench1/console.sock" ]; do sleep 0.05; done
  exec socat -u "UNIX-CONNECT:$DST_RUN/bench1/console.sock" -
) | stamp > "$TEST_DIR/hb-dst" &
r2=$!
stop_readers () { pkill -f "socat -u UNIX-CONNECT:$TEST_DIR/" 2>/dev/null;
                  pkill -f "socat -u UNIX-CONNECT:$DST_RUN/" 2>/dev/null;
                  kill "$r1" "$r2" 2>/dev/null; wait "$r1" "$r2" 2>/dev/null; }
cleanup_fn stop_readers

flag=
[ "$engine" = qemu ] && flag="--storage-engine qemu --transport direct"
[ "$engine" = qemu-zstd ] && flag="--storage-engine qemu --transport direct
  --channels 2 --qemu-compression zstd"
[ "$engine" = vmferry ] && flag="--storage-engine vmferry"
[ -n "$flag" ] || fail "unknown engine $engine"
# Bytes the source host sent on the link (everything: control, disks,
# memory, TLS), from its side of the veth.
tx () { ip -n "$SRC_NS" -s -j link show "$NETNS_IF" | jq '.[0].stats64.tx.bytes'; }
tx0=$(tx)
# What the migration does to other traffic on the link (and to the
# guest's mirrored writes): round-trip times of pings meanwhile.
ip netns exec "$SRC_NS" ping -D -n -i 0.1 "$DST_IP" > "$TEST_DIR/ping" 2>&1 &
pinger=$!
stop_pinger () { kill "$pinger" 2>/dev/null; wait "$pinger" 2>/dev/null; }
cleanup_fn stop_pinger
t0=$(date +%s.%N)
# shellcheck disable=SC2086
ip netns exec "$SRC_NS" /usr/bin/time -f '%U %S' -o "$TEST_DIR/cpu" \
  vmferry migrate "$src/qmp.sock" --to "$DST_IP" --tls-dir "$SRC_TLS" \
  $flag ${BENCH_OPTS:-} --json > "$TEST_DIR/migrate.out" 2>&1
rc=$?
t1=$(date +%s.%N)
stop_pinger
cp "$TEST_DIR/ping" "$out/ping.txt"
wire=$(( $(tx) - tx0 ))
rtt=$(sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$TEST_DIR/ping" | sort -n |
      awk '{ v[NR] = $1 }
           END { if (NR == 0) { print "null null"; exit }
                 i = int(NR * 0.95 + 0.5); if (i < 1) i = 1
                 printf "%s %s\n", v[int((NR + 1) / 2)], v[i] }')
[ "$rc" = 0 ] || { cat "$TEST_DIR/migrate.out"; fail "migration failed ($rc)"; }
sleep 1
stop_readers
dst="$DST_RUN/bench1"
# The integrity checks.  outcome: ok; mem-older (the guest's memory is
# older than its disk: a disk slot holds a later record than the
# guest's memory says it wrote); mem-stale (a page of the guest's
# pattern memory lost a rewrite); no-verdict (the guest stopped
# answering: a panic, as stale kernel memory typically ends); other.
vm_verify "$dst" 120
vrc=$?
outcome=ok
if [ $vrc != 0 ]; then
  held=$(echo "$VM_VERDICT" | sed -n 's/.*holds seq \([0-9]*\) of run [0-9a-f]*, expected seq \([0-9]*\).*/\1 \2/p')
  case $VM_VERDICT in
    *"disk slot"*"holds seq"*)
      # shellcheck disable=SC2086
      set -- $held
      if [ "$1" -gt "$2" ]; then outcome=mem-older; else outcome=other; fi ;;
    *"mem page"*) outcome=mem-stale ;;
    "") outcome=no-verdict ;;
    *) outcome=other ;;
  esac
  grep -aq 'Kernel panic' "$dst/console.log" && outcome="$outcome,panic"
  echo "guest verdict: ${VM_VERDICT:-none} ($outcome)"
  [ "${BENCH_VERDICT:-}" = record ] || fail "guest verdict: $VM_VERDICT"
fi
vm_stop "$dst"
vm_check_image "$DST_STORAGE/bench1/disk0.qcow2" "$src/console.log" \
  "$dst/console.log" >/dev/null
crc=$?
[ $crc = 0 ] || [ "${BENCH_VERDICT:-}" = record ] || fail "check-image failed"
# QEMU's dirty-bitmap syncs (its pre-copy passes), as last seen.
syncs=$(grep '"event":"memory"' "$TEST_DIR/migrate.out" | jq -r '.round // empty' |
        sort -n | tail -n 1)
# The other disks of disks4, there: the random data, then zeroes (a
# compare of unequal sizes wants the larger one's tail zero).  No copies
# made beforehand: their writeback would slow the run's flushes.
if [ "$workload" = disks4 ]; then
  for x in 1:raw 2:qcow2 3:raw; do
    qemu-img compare -U -q -f raw -F "${x#*:}" "$TEST_DIR/fill" \
      "$DST_STORAGE/bench1/extra${x%%:*}.${x#*:}" ||
      fail "extra${x%%:*}.${x#*:} differs on the destination"
  done
fi

# vmferryd --once stops after the migration and logs its CPU time.
for _i in $(seq 100); do pid_alive "$VMFERRYD_PID" || break; sleep 0.1; done
dcpu=$(sed -n 's/.*stopped (cpu: \([0-9.]*\) s user, \([0-9.]*\) s system).*/\1 \2/p' \
  "$TEST_DIR/vmferryd.log")
[ -n "$dcpu" ] || dcpu="0 0"

# The largest gap between heartbeats seen by the host.
gap=$(cat "$TEST_DIR/hb-src" "$TEST_DIR/hb-dst" | grep ' HB ' | sort -n |
      awk 'NR > 1 && $1 - p > g { g = $1 - p } { p = $1 } END { printf "%d", g * 1000 }')
cp "$TEST_DIR/migrate.out" "$out/migrate.json"
cp "$TEST_DIR/vmferryd.log" "$out/vmferryd.log"
sum=$(grep '"event":"result"' "$TEST_DIR/migrate.out" | tail -n 1)
jq -n --argjson s "$sum" --arg engine "$engine" --arg link "$link" \
  --arg workload "$workload" --argjson alloc "$alloc" --argjson gap "$gap" \
  --argjson wall "$(echo "$t1 - $t0" | bc)" \
  --arg cpu "$(cat "$TEST_DIR/cpu")" --arg dcpu "$dcpu" --argjson wire "$wire" \
  --arg opts "${BENCH_OPTS:-}" --arg rtt "$rtt" \
  --arg cc "${BENCH_CC:-reno}" --arg outcome "$outcome" \
  --argjson image_ok "$([ $crc = 0 ] && echo true || echo false)" \
  --argjson syncs "${syncs:-null}" --arg mem "${VM_MEM:-524296K}" \
  '{engine: $engine, opts: $opts, link: $link, workload: $workload, cc: $cc,
    guest_mem: $mem, outcome: $outcome, image_ok: $image_ok,
    dirty_syncs: $syncs,
    ping_p50_ms: ($rtt | split(" ")[0] | fromjson),
    ping_p95_ms: ($rtt | split(" ")[1] | fromjson),
    total_s: $wall, memory_s: $s.memory_s,
    downtime_ms: $s.downtime_ms, stop_to_resume_ms: $s.stop_to_resume_ms,
    hb_gap_ms: $gap,
    storage_bytes: $s.storage_bytes, memory_bytes: $s.memory_bytes,
    memory_wire_bytes: $s.memory_wire_bytes,
    multifd_channels: $s.multifd_channels,
    multifd_compression: $s.multifd_compression,
    allocated_bytes: $alloc, wire_bytes: $wire,
    vmferry_cpu_s: ($cpu | split(" ") | map(tonumber) | add),
    vmferryd_cpu_s: ($dcpu | split(" ") | map(tonumber) | add)}' \
  > "$out/result.json" || fail "writing the result"
cat "$out/result.json"
