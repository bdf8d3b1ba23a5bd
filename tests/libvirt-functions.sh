# libvirt-functions.sh: the libvirt lab (sourced after functions.sh and
# mig-functions.sh).  Two "hosts" as in mig_hosts (network namespaces
# joined by a veth pair, certificates), each with its own libvirtd in
# its own mount and UTS namespace: its own /etc/libvirt, /var/lib/libvirt,
# /run/libvirt, /var/log/libvirt, /var/cache/libvirt (bind mounts of
# directories under $TEST_DIR/host-NAME), its own hostname and
# host_uuid.  The peers talk qemu+tcp (no authentication: test only)
# on the veth.  LV_ROOT ($TEST_DIR/lv) is one path that each host backs
# with its own directory ($TEST_DIR/host-src/lv, $TEST_DIR/host-dst/lv):
# libvirt migrates a domain's XML unchanged, so disk images, console
# sockets and logs must live at the same path on both hosts, and
# libvirt's unix-socket migration listens on the destination at the
# path the source connects to.  From outside, the test reads a host's
# files under $TEST_DIR/host-NAME/lv.
#
# Domains are of type qemu (TCG, -cpu qemu64), the test guest with a
# local qcow2 disk in the storage pool "vmf" (LV_ROOT/images on both
# hosts: libvirt creates the destination's image there for a
# non-shared-disk migration).  QEMU runs as root, without a security
# driver: the lab is about the data path, not libvirt's confinement.
# Everything is cleaned up by the PIDs and names created here.

# lv_requires: skip unless libvirtd, virsh, nsenter and libvirt's QEMU
#   driver are here, and the user libvirt-qemu exists (libvirt's QEMU
#   driver refuses to start without it, whatever qemu.conf says).
lv_requires ()
{
  requires libvirtd --version
  requires virsh --version
  requires nsenter --version
  requires unshare --version
  requires test -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so
  requires getent passwd libvirt-qemu
}

# lv_hosts [RATE]: mig_hosts [RATE], then a libvirtd on each host
#   (lv_host_start).  Sets LV_ROOT, LV_SRC_URI / LV_DST_URI (each
#   host's libvirt as the other one reaches it).
lv_hosts ()
{
  lv_requires
  mig_hosts "$@"
  LV_ROOT="$TEST_DIR/lv"
  mkdir -p "$LV_ROOT" || fail "mkdir $LV_ROOT"
  lv_host_start src "$SRC_NS" "$SRC_IP"
  lv_host_start dst "$DST_NS" "$DST_IP"
  LV_SRC_URI="qemu+tcp://$SRC_IP/system" LV_DST_URI="qemu+tcp://$DST_IP/system"
}

# lv_host_start NAME NS IP: host NAME's libvirtd in namespace NS,
#   listening on IP:16509 (tcp, no auth), its pool "vmf" on
#   LV_ROOT/images.  Its directories: $TEST_DIR/host-NAME/{etc,lib,run,
#   log,cache,lv}; its log in log/libvirtd.log.  Sets LV_PID_NAME (the
#   libvirtd, whose namespaces lv_in enters).  Cleanup: lv_host_stop.
lv_host_start ()
{
  _h=$1 _ns=$2 _ip=$3
  _b="$TEST_DIR/host-$_h"
  mkdir -p "$_b/etc/qemu" "$_b/lib/qemu" "$_b/run" "$_b/log/qemu" \
    "$_b/cache" "$_b/lv/images" "$_b/lv/vm" "$_b/lv/run" "$_b/lv/storage" ||
    fail "mkdir $_b"
  cat > "$_b/etc/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 1
listen_addr = "$_ip"
auth_tcp = "none"
auth_unix_ro = "none"
auth_unix_rw = "none"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
  # stdio_handler "file": no virtlogd (nothing starts it without systemd).
  cat > "$_b/etc/qemu.conf" <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
stdio_handler = "file"
EOF
  # The mount points, empty directories of the host (as
  # libvirt-daemon-system would make them).
  mkdir -p /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt ||
    fail "mkdir libvirt's directories"
  ip netns exec "$_ns" unshare --mount --uts --propagation private sh -c "
    hostname lv-$_h &&
    mount --bind '$_b/etc' /etc/libvirt &&
    mount --bind '$_b/lib' /var/lib/libvirt &&
    mount --bind '$_b/run' /run/libvirt &&
    mount --bind '$_b/log' /var/log/libvirt &&
    mount --bind '$_b/cache' /var/cache/libvirt &&
    mount --bind '$_b/lv' '$LV_ROOT' &&
    exec libvirtd --listen --pid-file '$_b/libvirtd.pid'" \
    > "$_b/libvirtd.out" 2>&1 < /dev/null &
  eval "LV_PID_$_h=\$!"
  cleanup_fn "lv_host_stop $_h"
  _i=0
  until lv_in "$_h" virsh -q version > /dev/null 2>&1; do
    _i=$((_i + 1))
    if [ $_i -gt 100 ] || ! pid_alive "$(lv_pid "$_h")"; then
      cat "$_b/libvirtd.out" >&2
      tail -n 20 "$_b/log/libvirtd.log" >&2
      fail "libvirtd of $_h did not start"
    fi
    sleep 0.1
  done
  cat > "$_b/pool.xml" <<EOF
<pool type='dir'><name>vmf</name>
  <target><path>$LV_ROOT/images</path></target></pool>
EOF
  lv_in "$_h" virsh -q pool-define "$_b/pool.xml" > /dev/null &&
    lv_in "$_h" virsh -q pool-start vmf > /dev/null ||
    fail "cannot define the storage pool of $_h"
}

# lv_pid NAME: the PID of host NAME's libvirtd.
lv_pid ()
{
  eval "echo \${LV_PID_$1:-}"
}

# lv_in NAME CMD...: run CMD in host NAME (its network, mount and UTS
#   namespaces; relative paths are relative to / there).
lv_in ()
{
  _lp=$(lv_pid "$1")
  shift
  LIBVIRT_DEFAULT_URI=qemu:///system nsenter -t "$_lp" -m -n -u -- "$@"
}

# lv_host_stop NAME: kill the QEMUs host NAME's libvirtd started
#   (virsh destroy), then that libvirtd.  Its mount namespace ends with
#   its last process.
lv_host_stop ()
{
  _sp=$(lv_pid "$1")
  pid_alive "$_sp" || return 0
  for _d in $(lv_in "$1" virsh -q list --name 2>/dev/null); do
    lv_in "$1" virsh -q destroy "$_d" > /dev/null 2>&1
  done
  kill "$_sp" 2>/dev/null
  _i=0
  while [ $_i -lt 50 ] && pid_alive "$_sp"; do
    sleep 0.1
    _i=$((_i + 1))
  done
  pid_alive "$_sp" && kill -9 "$_sp" 2>/dev/null
  return 0
}

# lv_guest NAME [WORKLOAD_OPTION...]: define and start domain NAME on
#   host src: the test guest (kernel and initrd of guest_build), 1 vCPU,
#   512 MiB + 8 KiB (see vm_start: not a multiple of 256 KiB), a 1 GiB
#   qcow2 disk LV_ROOT/images/NAME.qcow2 with 16 MiB of data, its serial
#   console on LV_ROOT/vm/NAME/console.sock with the log console.log
#   beside it (that directory exists on both hosts: the destination's
#   QEMU makes its socket there).  Waits for the workload's first 20
#   records.  Sets LV_SRC and LV_DST (the guest's directory as seen
#   from here, on each host: the vm_* helpers take them), LV_SRC_IMG,
#   LV_DST_IMG (its image on each host).  Workload options as vm_start's
#   (default: 20 records a second in 16 MiB, 64 MiB of text memory
#   rewritten at 200 pages a second).
lv_guest ()
{
  _n=$1
  shift
  [ $# -gt 0 ] || set -- vmferry.disk_rate=20 vmferry.disk_size=16 \
    vmferry.mem=64 vmferry.mem_content=text vmferry.mem_rate=200
  LV_SRC="$TEST_DIR/host-src/lv/vm/$_n" LV_DST="$TEST_DIR/host-dst/lv/vm/$_n"
  LV_SRC_IMG="$TEST_DIR/host-src/lv/images/$_n.qcow2"
  LV_DST_IMG="$TEST_DIR/host-dst/lv/images/$_n.qcow2"
  for _h in src dst; do
    mkdir -p "$TEST_DIR/host-$_h/lv/vm/$_n" || fail "mkdir"
    echo "$_h $_n" > "$TEST_DIR/host-$_h/lv/vm/$_n/lv-domain"
  done
  disk_create "$LV_SRC_IMG" 1G 16
  lv_domain_xml "$_n" "$*" > "$TEST_DIR/$_n.xml"
  lv_in src virsh -q define "$TEST_DIR/$_n.xml" > /dev/null ||
    fail "virsh define $_n"
  lv_in src virsh -q start "$_n" > /dev/null || fail "virsh start $_n"
  vm_wait_ready "$LV_SRC"
  vm_wait_ack "$LV_SRC" 20
}

# lv_domain_xml NAME APPEND: the domain XML of lv_guest.
lv_domain_xml ()
{
  [ -n "${GUEST_KERNEL:-}" ] || guest_build
  cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='KiB'>524296</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <kernel>$GUEST_KERNEL</kernel>
    <initrd>$GUEST_INITRD</initrd>
    <cmdline>console=ttyS0 quiet $2</cmdline>
  </os>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>qemu64</model>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$QEMU_PATH</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$LV_ROOT/images/$1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <controller type='usb' model='none'/>
    <serial type='unix'>
      <source mode='bind' path='$LV_ROOT/vm/$1/console.sock'/>
      <log file='$LV_ROOT/vm/$1/console.log' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}
QEMU_PATH=$(command -v "$QEMU" 2>/dev/null || echo /usr/bin/qemu-system-x86_64)

# vm_running DIR (functions.sh's, extended): a lab guest's directory
#   (it has an lv-domain file: "HOST DOMAIN") runs while that host's
#   libvirt has a live QEMU for the domain (its pidfile there).
vm_running ()
{
  if [ -f "$1/lv-domain" ]; then
    read -r _rh _rd < "$1/lv-domain"
    _rp=$(cat "$TEST_DIR/host-$_rh/run/qemu/$_rd.pid" 2>/dev/null)
    pid_alive "$_rp"
    return
  fi
  vm_pid "$1" >/dev/null
}

# lv_state HOST NAME: the domain's state on HOST ("running", "shut off",
#   ...), "none" if HOST has no such domain.
lv_state ()
{
  lv_in "$1" virsh -q domstate "$2" 2>/dev/null || echo none
}

# lv_persistent HOST NAME: "yes" or "no" (virsh dominfo), "none".
lv_persistent ()
{
  _pv=$(lv_in "$1" virsh -q dominfo "$2" 2>/dev/null |
        sed -n 's/^Persistent: *//p')
  echo "${_pv:-none}"
}

# lv_verify_moved NAME [MORE_ACKS]: after a migration of lab guest NAME
#   (lv_guest's LV_SRC, LV_DST, LV_DST_IMG) to host dst: the domain runs
#   on dst and not on src; the workload goes on there (MORE_ACKS, 10,
#   records past the last the source logged), verifies its disk and
#   memory, is stopped (SIGTERM: QEMU flushes and quits), and check-image
#   accepts the destination's image with the console log.  The console
#   log is one file per host: the source's QEMU wrote its part on src,
#   the destination's QEMU its part on dst.
lv_verify_moved ()
{
  [ "$(lv_state dst "$1")" = running ] ||
    fail "$1 is not running on the destination: $(lv_state dst "$1")"
  _ss=$(lv_state src "$1")
  [ "$_ss" != running ] && [ "$_ss" != paused ] ||
    fail "$1 still runs on the source ($_ss)"
  _last=$(vm_last_ack "$LV_SRC")
  vm_wait_ack "$LV_DST" $((_last + ${2:-10})) 60
  vm_verify "$LV_DST" 120 || fail "guest verdict on the destination: $VM_VERDICT"
  lv_in dst virsh -q destroy --graceful "$1" > /dev/null ||
    fail "virsh destroy --graceful $1 on the destination"
  vm_check_image "$LV_DST_IMG" "$LV_SRC/console.log" "$LV_DST/console.log" ||
    fail "check-image rejected $LV_DST_IMG"
}

# lv_start_vmferryd [ARG...]: vmferryd in host dst (its namespaces: the
#   relay's sockets are made in its LV_ROOT/run), listening on
#   DST_IP:7480 with DST_TLS, roots LV_ROOT/storage and LV_ROOT/run
#   (DST_RUN and DST_STORAGE as seen from here), plus ARGs.  Log in
#   $TEST_DIR/vmferryd.log.  Sets VMFERRYD_PID.  Cleanup: kill it.
lv_start_vmferryd ()
{
  DST_STORAGE="$TEST_DIR/host-dst/lv/storage" DST_RUN="$TEST_DIR/host-dst/lv/run"
  lv_in dst vmferryd --listen "$DST_IP:7480" \
    --storage-root "$LV_ROOT/storage" --run-root "$LV_ROOT/run" \
    --tls-dir "$DST_TLS" "$@" > "$TEST_DIR/vmferryd.log" 2>&1 < /dev/null &
  VMFERRYD_PID=$!
  cleanup_fn "kill $VMFERRYD_PID 2>/dev/null"
  for _i in $(seq 100); do
    grep -q 'listening on' "$TEST_DIR/vmferryd.log" && return 0
    pid_alive "$VMFERRYD_PID" || break
    sleep 0.1
  done
  cat "$TEST_DIR/vmferryd.log" >&2
  fail "vmferryd did not start"
}

# lv_migrate ARG...: "vmferry migrate ARG... --to DST_IP --tls-dir SRC_TLS
#   --libvirt-peer-uri LV_DST_URI --run-dir $TEST_DIR/vmferry-run" in
#   host src.  Output in $TEST_DIR/migrate.out (shown), exit code in
#   MIG_RC.  With LV_BACKGROUND=1 it runs in the background instead
#   (LV_MIGRATE_PID; wait for it, then read $TEST_DIR/migrate.out).
lv_migrate ()
{
  set -- "$@" --to "$DST_IP" --tls-dir "$SRC_TLS" \
    --libvirt-peer-uri "$LV_DST_URI" --run-dir "$TEST_DIR/vmferry-run"
  if [ "${LV_BACKGROUND:-0}" = 1 ]; then
    lv_in src vmferry migrate "$@" > "$TEST_DIR/migrate.out" 2>&1 \
      < /dev/null &
    LV_MIGRATE_PID=$!
    cleanup_fn "kill $LV_MIGRATE_PID 2>/dev/null"
    return 0
  fi
  lv_in src vmferry migrate "$@" > "$TEST_DIR/migrate.out" 2>&1 < /dev/null
  MIG_RC=$?
  cat "$TEST_DIR/migrate.out"
  echo "vmferry exit code: $MIG_RC"
}

# lv_link_rx: the bytes host dst received on the link from host src so
#   far (the veth's counter in DST_NS): whatever path libvirt's data
#   took between the hosts, it crossed this link.
lv_link_rx ()
{
  ip -n "$DST_NS" -s -j link show dev "$NETNS_IF" | jq '.[0].stats64.rx.bytes'
}

# lv_relay_clean: nothing of the relay is left on either host (the
#   socket directories LV_ROOT/run/libvirt-*, vmferryd's listeners but
#   its API).
lv_relay_clean ()
{
  _lr=$(ls -d "$TEST_DIR"/host-*/lv/run/libvirt-* 2>/dev/null)
  [ -z "$_lr" ] || fail "the relay's directories are left: $_lr"
  _left=$(ip netns exec "$DST_NS" ss -Htln | grep -v -e ":7480 " -e ":16509 ")
  [ -z "$_left" ] || { echo "$_left"; fail "a listener is left on the destination"; }
}
