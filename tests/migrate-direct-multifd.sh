#!/bin/sh
# migrate-direct-multifd.sh: --transport direct --channels 2
# --qemu-compression zstd: QEMU's own multifd with zstd, straight from
# the source QEMU to the skeleton with QEMU's TLS, over a link shaped to
# 100 Mbit/s while the guest rewrites text-filled pages of its RAM.
# QEMU must really have used multifd+zstd: the destination QEMU (the
# former skeleton) reports the multifd capability, 2 channels and zstd,
# the result says the source QEMU used the same, and the bytes on the
# link stay far below the memory QEMU migrated (plain migration sends
# all of it).  The guest must arrive
# whole: it verifies its memory and disk on the destination, the host
# checker accepts the image, and the VM runs on exactly one host.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

guest_test_init
mig_hosts 100mbit
mig_start_vmferryd --once
# 384 MiB of the guest's 512 MiB RAM hold text.
mig_text_guest zstd1

tx0=$(mig_link_tx)
mig_migrate "$src/qmp.sock" --transport direct --channels 2 \
  --qemu-compression zstd --json
[ "$MIG_RC" = 0 ] || fail "vmferry migrate with QEMU's multifd+zstd failed"
wire=$(( $(mig_link_tx) - tx0 ))
mem=$(mig_result_field memory_bytes)
echo "QEMU migrated $mem bytes of memory; $wire bytes left the source host in" \
     "all; downtime $(mig_result_field downtime_ms) ms, STOP to RESUME" \
     "$(mig_result_field stop_to_resume_ms) ms, memory" \
     "$(mig_result_field memory_s) s, total $(mig_result_field total_s) s"
[ "$(mig_result_field multifd_channels)" = 2 ] ||
  fail "the source QEMU did not use 2 multifd channels"
[ "$(mig_result_field multifd_compression)" = zstd ] ||
  fail "the source QEMU did not use zstd"
[ "$(mig_result_field memory_wire_bytes)" = null ] ||
  fail "the memory went through the relay, not directly"

dst="$DST_RUN/zstd1"
dimg="$DST_STORAGE/zstd1/disk0.qcow2"
pid_alive "$src_pid" && fail "the source QEMU still runs"
vm_running "$dst" || fail "no QEMU runs on the destination"
# What the skeleton's incoming migration was set to.
params=$(vm_qmp "$dst" query-migrate-parameters | grep '"return"' | tail -n 1)
caps=$(vm_qmp "$dst" query-migrate-capabilities | grep '"return"' | tail -n 1)
echo "destination: $params"
[ "$(echo "$params" | jq -r '.return."multifd-compression"')" = zstd ] ||
  fail "the destination QEMU did not use zstd"
[ "$(echo "$params" | jq -r '.return."multifd-channels"')" = 2 ] ||
  fail "the destination QEMU did not use 2 multifd channels"
[ "$(echo "$caps" | jq -r '.return[] | select(.capability == "multifd") |
     .state')" = true ] || fail "the destination QEMU did not use multifd"
# The workload alone fills 384 MiB with text; QEMU 7.2 counts the
# pages before multifd compresses them.  Everything on the link (disk,
# mirror, memory, TLS, control) must be a fraction of that.
[ "$mem" -gt $((384 * 1048576)) ] || fail "QEMU migrated only $mem bytes"
[ "$wire" -lt $((mem / 4)) ] ||
  fail "$wire bytes crossed the link for $mem bytes of memory"

mig_verify_moved "$src" "$dst" "$dimg" 20
exit 0
