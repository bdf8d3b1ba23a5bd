#!/bin/sh
# qemu-backport.sh: fetch QEMU 10.0 from Debian's bookworm-backports into
# a private prefix, without touching the system's QEMU, and print the
# path of a wrapper script that runs it (last line of output).
#
# The prefix is cached in ${VMFERRY_QEMU10_CACHE:-/var/cache/vmferry/qemu-10.0}.
# The packages are unpacked with dpkg -x (not installed).  The wrapper
# sets QEMU_MODULE_DIR (else QEMU 10.0 would load 7.2's modules) and
# adds -L for the prefix's firmware, so that vmferryd --qemu and tests
# can use it as one binary.  Adds a bookworm-backports entry to APT's
# sources only when none exists; backports have a low priority, so no
# installed package is upgraded by it.
#
# Exit status: 0 ready; 77 the archive cannot be reached (reason on
# stderr); 1 anything else.
set -u

cache=${VMFERRY_QEMU10_CACHE:-/var/cache/vmferry/qemu-10.0}
wrapper="$cache/qemu-system-x86_64"
pkgs="qemu-system-x86 qemu-system-common qemu-system-data qemu-utils seabios"

if [ -x "$wrapper" ] && "$wrapper" -version 2>/dev/null | grep -q 'version 10\.'
then
  echo "$wrapper"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "qemu-backport: needs root" >&2; exit 77; }

if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list \
     /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" \
    > /etc/apt/sources.list.d/vmferry-backports.list || exit 1
fi
in_backports ()
{
  apt-cache policy qemu-system-x86 2>/dev/null | grep -q bookworm-backports
}
in_backports || apt-get update -q >/dev/null 2>&1
if ! in_backports; then
  echo "qemu-backport: bookworm-backports cannot be reached" \
    "(no qemu-system-x86 there after apt-get update)" >&2
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmf-qemu10.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
for p in $pkgs; do
  (cd "$tmp" && apt-get download -q "$p/bookworm-backports" >/dev/null 2>&1) ||
    { echo "qemu-backport: cannot download $p from bookworm-backports" >&2
      exit 77; }
done
rm -rf "$cache.new"
mkdir -p "$cache.new/prefix" || exit 1
for d in "$tmp"/*.deb; do
  dpkg -x "$d" "$cache.new/prefix" || exit 1
done
p="$cache/prefix"
cat > "$cache.new/qemu-system-x86_64" <<EOF
#!/bin/sh
# Runs QEMU from bookworm-backports out of its private prefix.
QEMU_MODULE_DIR=$p/usr/lib/x86_64-linux-gnu/qemu
export QEMU_MODULE_DIR
exec $p/usr/bin/qemu-system-x86_64 -L $p/usr/share/qemu \\
  -L $p/usr/share/seabios "\$@"
EOF
chmod +x "$cache.new/qemu-system-x86_64"
rm -rf "$cache"
mv "$cache.new" "$cache" || exit 1
"$wrapper" -version | grep -q 'version 10\.' ||
  { echo "qemu-backport: $wrapper does not run QEMU 10" >&2; exit 1; }
echo "$wrapper"
