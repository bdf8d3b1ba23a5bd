#!/bin/sh
# libvirt-lab.sh: the libvirt lab itself (libvirt-functions.sh), with
# libvirt's own migration and no vmferry: two libvirtd in their own
# network, mount and UTS namespaces, a TCG domain of the test guest
# with a local qcow2 disk, migrated live by libvirt (peer to peer over
# qemu+tcp, --copy-storage-all: QEMU's NBD mirror, then its memory
# migration over TCP) while the guest writes.  Afterwards the domain
# runs on the destination only, persistent there and undefined on the
# source; the guest verifies its memory and disk, check-image accepts
# the destination's image; and the source image is still there:
# libvirt never deletes it (vmferry does, libvirt-migrate.sh).

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"
. "$abs_top_srcdir/tests/libvirt-functions.sh"

guest_test_init
lv_hosts
lv_guest lab1

[ "$(lv_in src hostname)" = lv-src ] && [ "$(lv_in dst hostname)" = lv-dst ] ||
  fail "the hosts do not have their own hostnames"
lv_in src virsh -q migrate --live --p2p --copy-storage-all --persistent \
  --undefinesource lab1 "$LV_DST_URI" "tcp://$DST_IP" ||
  fail "libvirt's own migration failed"
[ "$(lv_persistent dst lab1)" = yes ] || fail "lab1 is not persistent on dst"
[ "$(lv_state src lab1)" = none ] || fail "lab1 is still defined on src"
[ -f "$LV_SRC_IMG" ] || fail "the source image is gone (libvirt deleted it?)"
lv_verify_moved lab1
exit 0
