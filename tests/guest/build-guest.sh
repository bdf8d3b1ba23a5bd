#!/bin/sh
# build-guest.sh: build the vmferry test guest, or find it in the cache.
#
# Usage: build-guest.sh        (no arguments)
#
# Prints the guest's directory as the last line of stdout; it holds
#   vmlinuz      the Debian cloud kernel (linux-image-*-cloud-amd64-unsigned)
#   initrd.img   busybox-static, the virtio modules, /init and the static
#                workload (tests/guest/init, tests/guest/workload.c,
#                disk.c, mem.c)
#   manifest     what it was built from
# Everything else goes to stderr.
#
# Built from Debian packages only: the kernel package is downloaded with
# apt-get download and unpacked with dpkg -x into a temporary directory
# (never installed).  The initramfs is reproducible: sorted names, owner
# 0:0, mtime 0, renumbered inodes, gzip -n.
#
# Cache: ${VMFERRY_GUEST_CACHE:-/var/cache/vmferry/guest}/<key>/, where
# <key> hashes every build input (this script, init, workload.c,
# disk.c, mem.c, workload.h, record.h, the kernel package and version,
# busybox-static's and gcc's versions).  A build happens in a temporary
# directory inside the cache and is renamed into place, so concurrent
# runs never see a half-built guest; the loser of a race throws its
# copy away.  Guests unused for a week are pruned.  The downloaded .deb
# is kept in <cache>/debs/ (never pruned), and the kernel package name
# and version in <cache>/kernel-package (apt-cache takes about a second
# here; the memo is redone when the apt lists change).
#
# Environment: VMFERRY_GUEST_CACHE (above); VMFERRY_GUEST_KERNEL_PKG to
# pick another kernel package than the one linux-image-cloud-amd64
# depends on (its -unsigned variant).

set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${VMFERRY_GUEST_CACHE:-/var/cache/vmferry/guest}
# Load order: every module's depends= must come earlier in this list.
modules="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev
         virtio_pci virtio_blk failover net_failover virtio_net"
workload_src="$here/workload.c $here/disk.c $here/mem.c"
inputs="$here/build-guest.sh $here/init $workload_src $here/workload.h
        $here/record.h"

msg () { echo "build-guest: $*" >&2; }
die () { msg "error: $*"; exit 1; }

mkdir -p "$cache" 2>/dev/null || die "cannot create the cache $cache"
[ -w "$cache" ] || die "cache $cache is not writable (set VMFERRY_GUEST_CACHE)"

# Fingerprint of the apt package lists: the kernel memo is valid while
# it is unchanged.
lists_fingerprint ()
{
  stat -c '%n %s %Y' /var/lib/apt/lists/*Packages* 2>/dev/null | cksum
}

# Set kpkg and kver from apt (slow), running apt-get update if needed.
resolve_kernel_apt ()
{
  kpkg=${VMFERRY_GUEST_KERNEL_PKG:-}
  if [ -z "$kpkg" ]; then
    abi=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
          sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' |
          head -n 1)
    if [ -z "$abi" ]; then
      msg "no linux-image-cloud-amd64 in the apt lists: apt-get update"
      apt-get update -q >&2 || die "apt-get update failed"
      abi=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
            sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' |
            head -n 1)
    fi
    [ -n "$abi" ] || die "cannot find the cloud kernel package with apt-cache"
    kpkg="$abi-unsigned"
  fi
  kver=$(apt-cache show --no-all-versions "$kpkg" 2>/dev/null |
         sed -n 's/^Version: //p' | head -n 1)
  [ -n "$kver" ] || die "apt-cache knows no package $kpkg"
}

# Set kpkg and kver, from the memo when the apt lists have not changed.
resolve_kernel ()
{
  memo="$cache/kernel-package"
  fp="$(lists_fingerprint) ${VMFERRY_GUEST_KERNEL_PKG:-}"
  if [ -f "$memo" ] && [ "$(sed -n 1p "$memo")" = "$fp" ]; then
    kpkg=$(sed -n 2p "$memo")
    kver=$(sed -n 3p "$memo")
    [ -n "$kpkg" ] && [ -n "$kver" ] && return 0
  fi
  resolve_kernel_apt
  # apt-get update may have changed the lists.
  fp="$(lists_fingerprint) ${VMFERRY_GUEST_KERNEL_PKG:-}"
  printf '%s\n%s\n%s\n' "$fp" "$kpkg" "$kver" > "$memo.$$"
  mv -f "$memo.$$" "$memo"
}

resolve_kernel
busybox_ver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null) ||
  die "busybox-static is not installed (scripts/install-deps)"
gcc_ver=$(gcc -dumpfullversion 2>/dev/null) || die "gcc is not installed"

key=$( {
  printf 'kernel %s %s\nbusybox-static %s\ngcc %s\n' \
    "$kpkg" "$kver" "$busybox_ver" "$gcc_ver"
  # shellcheck disable=SC2086
  cat $inputs
} | sha256sum | cut -c1-16)
out="$cache/$key"

if [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ]; then
  touch "$out" 2>/dev/null || :     # marks it as used, for the pruning
  echo "$out"
  exit 0
fi

msg "building the test guest ($kpkg $kver) in $out"
tmp=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The kernel package, downloaded once per version.
deb="$cache/debs/${kpkg}_${kver}_amd64.deb"
if [ ! -s "$deb" ]; then
  mkdir -p "$cache/debs" "$tmp/dl"
  (cd "$tmp/dl" &&
   apt-get download -q -o APT::Sandbox::User=root "$kpkg=$kver") >&2 ||
    die "apt-get download $kpkg=$kver failed"
  mv -f "$tmp"/dl/*.deb "$deb"
fi
dpkg -x "$deb" "$tmp/kernel" || die "dpkg -x $deb failed"
vmlinuz=$(ls "$tmp"/kernel/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$vmlinuz" ] || die "no /boot/vmlinuz-* in $deb"
kabi=${vmlinuz##*/vmlinuz-}
moddir="$tmp/kernel/lib/modules/$kabi"

root="$tmp/root"
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" \
         "$root/lib/modules" "$tmp/out"

# Modules, decompressed, each after its dependencies.
loaded=
for m in $modules; do
  f=$(find "$moddir" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" |
      head -n 1)
  [ -n "$f" ] || die "module $m not found in $kpkg"
  case "$f" in
    *.xz) xz -dc "$f" > "$root/lib/modules/$m.ko" ;;
    *.zst) zstd -qdc "$f" > "$root/lib/modules/$m.ko" ;;
    *) cp "$f" "$root/lib/modules/$m.ko" ;;
  esac
  deps=$(strings "$root/lib/modules/$m.ko" | sed -n 's/^depends=//p' |
         tr ',' ' ')
  for d in $deps; do
    case " $loaded " in
      *" $d "*) ;;
      *) die "module $m depends on $d, which is not loaded before it" ;;
    esac
  done
  loaded="$loaded $m"
  echo "$m" >> "$root/lib/modules/order"
done

cp /bin/busybox "$root/bin/busybox"
cp "$here/init" "$root/init"
# shellcheck disable=SC2086
gcc -static -O2 -Wall -Wextra -Werror -pthread -s \
  -o "$root/workload" $workload_src >&2 ||
  die "cannot compile the workload"

chmod 755 "$root" "$root"/bin "$root"/dev "$root"/proc "$root"/sys \
          "$root"/lib "$root"/lib/modules \
          "$root"/init "$root"/workload "$root"/bin/busybox
chmod 644 "$root"/lib/modules/*
find "$root" -exec touch -h -d @0 {} +

# /dev/console in a second newc archive appended to the first (the kernel
# unpacks both), so that making the node needs no root: 020600, 5:1.
console_cpio ()
{
  printf '070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x' \
    1048576 8576 0 0 1 0 0 0 0 5 1 12 0
  printf 'dev/console\000\000\000'
  printf '070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x' \
    0 0 0 0 1 0 0 0 0 0 0 11 0
  printf 'TRAILER!!!\000\000\000\000'
}

{
  (cd "$root" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
   cpio -o -H newc -R 0:0 --reproducible --quiet)
  console_cpio
} | gzip -n -9 > "$tmp/out/initrd.img"
cp "$vmlinuz" "$tmp/out/vmlinuz"
chmod 644 "$tmp/out/vmlinuz" "$tmp/out/initrd.img"

cat > "$tmp/out/manifest" <<EOF
key $key
kernel-package $kpkg $kver
kernel $kabi
modules $(echo $modules)
busybox-static $busybox_ver
gcc $gcc_ver
vmlinuz-sha256 $(sha256sum < "$tmp/out/vmlinuz" | cut -d' ' -f1)
initrd-sha256 $(sha256sum < "$tmp/out/initrd.img" | cut -d' ' -f1)
EOF
chmod 755 "$tmp/out"

if ! mv -T "$tmp/out" "$out" 2>/dev/null; then
  # Someone else finished the same build first: use theirs.
  [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] ||
    die "cannot move the guest into $out"
fi
# Prune guests unused for a week (every source change makes a new key)
# and build directories left by killed runs.
hex='[0-9a-f][0-9a-f][0-9a-f][0-9a-f]'
find "$cache" -mindepth 1 -maxdepth 1 -type d -mtime +7 \
  -name "$hex$hex$hex$hex" -exec rm -rf {} + 2>/dev/null || :
find "$cache" -mindepth 1 -maxdepth 1 -type d -name '.build.*' -mtime +1 \
  -exec rm -rf {} + 2>/dev/null || :
msg "done"
echo "$out"
