#!/bin/sh
# migrate-relay.sh: QEMU's memory migration relayed through vmferry's
# data channel (--transport compress: the cheaper of lz4 per frame and
# zstd with one history per connection, which must be zstd here) over a
# link shaped to 100 Mbit/s, while the guest rewrites text-filled pages
# of its RAM.  The bytes the source host sends on the link must be far
# below the RAM QEMU migrated (a ratio of the data, not a time), the
# relay must have carried QEMU's stream (MIG_CHANNELS connections: 1, or
# multifd's main + N), and the guest must arrive whole: it verifies its
# memory and disk on the destination, the host checker accepts the
# image, and the VM runs on exactly one host.  MIG_CHANNELS=N runs it
# with --channels N (migrate-relay-multifd.sh); MIG_TRANSPORT picks
# --transport.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

channels=${MIG_CHANNELS:-1}
transport=${MIG_TRANSPORT:-compress}
guest_test_init
mig_hosts 100mbit
mig_start_vmferryd --once
mig_text_guest relay1

tx0=$(mig_link_tx)
mig_migrate "$src/qmp.sock" --transport "$transport" --channels "$channels" \
  --json
[ "$MIG_RC" = 0 ] || fail "vmferry migrate through the memory relay failed"
wire=$(( $(mig_link_tx) - tx0 ))
mem=$(mig_result_field memory_bytes)
mem_wire=$(mig_result_field memory_wire_bytes)
conns=$(mig_result_field memory_connections)
echo "QEMU migrated $mem bytes of memory, the relay sent $mem_wire bytes" \
     "over $conns connection(s); $wire bytes left the source host in all;" \
     "downtime $(mig_result_field downtime_ms) ms, STOP to RESUME" \
     "$(mig_result_field stop_to_resume_ms) ms, total $(mig_result_field total_s) s"
want=$((channels > 1 ? channels + 1 : 1))
[ "$conns" = "$want" ] ||
  fail "the relay carried $conns connection(s), expected $want"
# The guest's workload alone fills 384 MiB with text.
[ "$mem" -gt $((384 * 1048576)) ] || fail "QEMU migrated only $mem bytes"
[ "$mem_wire" -lt $((mem / 3)) ] || fail "the memory stream was not compressed"
# vmferryd decodes zstd (prepare's data_zstd): the text pages go as zstd
# frames sharing one history per connection (about 10x here; lz4 per
# frame got 3.5x).
zstd=$(sed -n 's/.*memory relay: .*, \([0-9]*\) with zstd).*/\1/p' \
         "$TEST_DIR/migrate.out")
[ "${zstd:-0}" -gt 0 ] || fail "no memory relay frame was sent with zstd"
[ "$mem_wire" -lt $((mem / 6)) ] ||
  fail "the memory stream compressed only to $mem_wire of $mem bytes"
# Everything on the link (disk, mirror, memory, TLS, control).
[ "$wire" -lt $((mem / 3)) ] ||
  fail "$wire bytes crossed the link for $mem bytes of memory"

dst="$DST_RUN/relay1"
dimg="$DST_STORAGE/relay1/disk0.qcow2"
pid_alive "$src_pid" && fail "the source QEMU still runs"
vm_running "$dst" || fail "no QEMU runs on the destination"
mig_verify_moved "$src" "$dst" "$dimg" 20
exit 0
