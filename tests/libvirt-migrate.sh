#!/bin/sh
# libvirt-migrate.sh: vmferry migrate libvirt:DOMAIN in the libvirt lab
# (libvirt-functions.sh).  libvirt migrates a running TCG domain with a
# local qcow2 disk peer to peer while its guest writes; its NBD mirror
# and its memory migration go to unix sockets, which vmferry relays both
# ways through its data channel (mutual TLS, compressed frames) to
# vmferryd, into the destination QEMU's sockets.  Afterwards: vmferry
# says migrated (exit 0) with libvirt's figures, and events that match
# the schema; the data went through vmferry's channel: vmferryd wrote
# into the destination QEMU's sockets what vmferry read from the
# source QEMU (more than libvirt's memory and disk bytes), and the link
# between the hosts carried less than that (compressed frames: not
# libvirt's raw stream); the domain runs on the destination only,
# persistent there, undefined on the source; the source image is
# deleted (and gone from the source's storage pool); nothing of the
# relay is left on either host; the guest verifies its memory and
# disk, and check-image accepts the destination's image.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"
. "$abs_top_srcdir/tests/libvirt-functions.sh"

guest_test_init
lv_hosts
lv_start_vmferryd --once
lv_guest lvm1

# vmferry check first: it can move; its report covers the disk's pool
# there, the CPU and memory.
lv_in src vmferry check libvirt:lvm1 --to "$DST_IP" --tls-dir "$SRC_TLS" \
  --libvirt-peer-uri "$LV_DST_URI" --json > "$TEST_DIR/check.json" ||
  { cat "$TEST_DIR/check.json"; fail "vmferry check libvirt:lvm1 refused"; }
cat "$TEST_DIR/check.json"
[ "$(jq -r .can_move "$TEST_DIR/check.json")" = true ] || fail "check: can_move is not true"
for f in disk cpu; do
  jq -e ".findings[] | select(.id == \"$f\")" "$TEST_DIR/check.json" > /dev/null ||
    fail "check reported nothing about $f"
done
# ... and it cannot when the destination's libvirt cannot be reached,
# or the domain does not exist (one clear line, exit 2).
lv_in src vmferry check libvirt:lvm1 --to "$DST_IP" --tls-dir "$SRC_TLS" \
  --libvirt-peer-uri "qemu+tcp://$DST_IP:1/system" > "$TEST_DIR/check2.out" 2>&1
rc=$?
cat "$TEST_DIR/check2.out"
[ $rc = 2 ] && grep -q "libvirt-peer" "$TEST_DIR/check2.out" ||
  fail "check with an unreachable peer libvirt: exit $rc"
lv_in src vmferry migrate libvirt:nosuch --to "$DST_IP" --tls-dir "$SRC_TLS" \
  --run-dir "$TEST_DIR/vmferry-run" \
  --libvirt-peer-uri "$LV_DST_URI" > "$TEST_DIR/nosuch.out" 2>&1
rc=$?
cat "$TEST_DIR/nosuch.out"
[ $rc = 2 ] && grep -q "nosuch" "$TEST_DIR/nosuch.out" ||
  fail "migrate libvirt:nosuch: exit $rc"

rx0=$(lv_link_rx)
lv_migrate libvirt:lvm1 --json
rx=$(( $(lv_link_rx) - rx0 ))
[ "$MIG_RC" = 0 ] || fail "vmferry migrate libvirt:lvm1 failed"
[ "$(mig_result_field result)" = migrated ] || fail "result is not migrated"
mig_check_events
conns=$(mig_result_field libvirt.relay_connections)
raw=$(mig_result_field libvirt.relay_raw_bytes)
wire=$(mig_result_field libvirt.relay_wire_bytes)
delivered=$(mig_result_field libvirt.delivered_bytes)
mem=$(mig_result_field memory_bytes)
disk=$(mig_result_field storage_bytes)
echo "libvirt: memory $mem bytes, disk $disk bytes, downtime" \
     "$(mig_result_field downtime_ms) ms, job $(mig_result_field libvirt.time_ms)" \
     "ms, vmferry total $(mig_result_field total_s) s; the relay read $raw" \
     "bytes here over $conns connection(s), sent them as $wire, vmferryd" \
     "delivered $delivered; the link carried $rx bytes to dst"
# The migration stream and one NBD connection (the disk's mirror).
[ "$conns" -ge 2 ] || fail "the relay carried $conns connection(s)"
# libvirt's disk figure counts the whole virtual disk (holes too): the
# disk's data that must cross is its 16 MiB of records.
[ "$delivered" -ge $((mem + 16 * 1048576)) ] ||
  fail "vmferryd delivered $delivered bytes, libvirt migrated $mem of memory + 16 MiB of disk data"
# What the source QEMU wrote reached the destination QEMU whole (the
# raw count also has the few bytes of each stream's control frames).
[ "$delivered" -le "$raw" ] && [ $((raw - delivered)) -lt $((conns * 4096)) ] ||
  fail "vmferry read $raw bytes here, vmferryd delivered $delivered there"
[ "$wire" -lt "$raw" ] || fail "nothing was compressed ($wire of $raw bytes)"
[ "$rx" -ge "$wire" ] && [ "$rx" -lt "$delivered" ] ||
  fail "the link carried $rx bytes: not vmferry's $wire compressed bytes"
grep -q '"event":"memory"' "$TEST_DIR/migrate.out" ||
  fail "no memory progress from libvirt's job"
id=$(mig_result_field id)
lv_in src vmferry status "$id" --run-dir "$TEST_DIR/vmferry-run" \
  > "$TEST_DIR/status.out" 2>&1
cat "$TEST_DIR/status.out"
grep -q "migrated" "$TEST_DIR/status.out" || fail "vmferry status $id does not say migrated"

[ "$(lv_persistent dst lvm1)" = yes ] || fail "lvm1 is not persistent on dst"
[ "$(lv_state src lvm1)" = none ] || fail "lvm1 is still defined on src"
lv_in src virsh -q list --all --name | grep -qx lvm1 && fail "virsh list on src shows lvm1"
lv_in dst virsh -q list --name | grep -qx lvm1 || fail "virsh list on dst does not show lvm1 running"
[ ! -e "$LV_SRC_IMG" ] || fail "the source image $LV_SRC_IMG is still there"
lv_in src virsh -q vol-list vmf | grep -q lvm1 &&
  fail "the source pool still lists the image"
[ "$(mig_result_field 'libvirt.source_files_deleted[0]')" = "$LV_ROOT/images/lvm1.qcow2" ] ||
  fail "source_files_deleted does not name the image"
lv_relay_clean
lv_verify_moved lvm1
exit 0
