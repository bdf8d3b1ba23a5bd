/* schema-backend.c: the back-ends of -netdev, -nic, -chardev and
 * -object a migrated VM may use.
 *
 * Network: user (without tftp=, bootfile=, smb= or guestfwd=, which reach
 * host files or run commands), tap and bridge.  A tap's descriptor is
 * always opened by vmferryd on the destination and handed to QEMU, so
 * script=, downscript=, helper=, fd= and friends are never passed (only
 * script=no and downscript=no are accepted, and dropped).
 * Character devices: socket (server only), file, null and ringbuf; their
 * files are created in the VM's run directory.  Objects: iothreads,
 * random number sources reading /dev/urandom or /dev/random, anonymous
 * memory back-ends (ram, memfd) and throttle groups.
 */
#include <config.h>

#include "internal.h"

static const char *const no[] = { "no", NULL };
static const char *const rng_files[] = { "/dev/urandom", "/dev/random",
                                         NULL };
static const char *const policy[] = { "default", "preferred", "bind",
                                      "interleave", NULL };
static const char *const nic_models[] = {
  "virtio-net-pci", "virtio", "e1000", "e1000e", "rtl8139", NULL
};

static const struct vm_key netdev_id[] = {
  { "id", VT_ID },
  { NULL }
};

static const struct vm_key user_keys[] = {
  { "net", VT_CIDR },
  { "host", VT_IP },
  { "ipv4", VT_BOOL },
  { "ipv6", VT_BOOL },
  { "ipv6-net", VT_CIDR },
  { "ipv6-host", VT_IP },
  { "restrict", VT_BOOL },
  { "hostname", VT_TOKEN },
  { "dhcpstart", VT_IP },
  { "dns", VT_IP },
  { "ipv6-dns", VT_IP },
  { "dnssearch", VT_TOKEN, NULL, VK_LIST },
  { "domainname", VT_TOKEN },
  { "hostfwd", VT_HOSTFWD, NULL, VK_LIST },
  { NULL }
};

static const struct vm_key tap_keys[] = {
  { "ifname", VT_TOKEN },
  { "script", VT_ENUM, no },
  { "downscript", VT_ENUM, no },
  { "vhost", VT_BOOL },
  { "vnet_hdr", VT_BOOL },
  { "queues", VT_UINT },
  { "sndbuf", VT_SIZE },
  { "poll-us", VT_UINT },
  { NULL }
};

/* bridge: QEMU's own keys, plus those of the tap vmferryd makes for it
 * (vmferry's wire form of a tap on a bridge carries them).
 */
static const struct vm_key bridge_keys[] = {
  { "br", VT_TOKEN },
  { "vhost", VT_BOOL },
  { "vnet_hdr", VT_BOOL },
  { "sndbuf", VT_SIZE },
  { "poll-us", VT_UINT },
  { NULL }
};

const struct vm_driver vm_netdev_drivers[] = {
  { "user", { netdev_id, user_keys } },
  { "tap", { netdev_id, tap_keys } },
  { "bridge", { netdev_id, bridge_keys } },
  { NULL }
};

/* -nic: a back-end and its NIC model in one option. */
static const struct vm_key nic_front[] = {
  { "model", VT_ENUM, nic_models },
  { "mac", VT_MAC },
  { NULL }
};

const struct vm_driver vm_nic_drivers[] = {
  { "user", { nic_front, user_keys } },
  { "tap", { nic_front, tap_keys } },
  { "bridge", { nic_front, bridge_keys } },
  { "none", { NULL } },
  { NULL }
};

static const struct vm_key chardev_common[] = {
  { "id", VT_ID },
  { "logfile", VT_RUNFILE },
  { "logappend", VT_BOOL },
  { "mux", VT_BOOL },
  { NULL }
};

static const struct vm_key socket_keys[] = {
  { "path", VT_RUNFILE },
  { "host", VT_TOKEN },
  { "port", VT_UINT },
  { "to", VT_UINT },
  { "ipv4", VT_BOOL },
  { "ipv6", VT_BOOL },
  { "server", VT_BOOL },
  { "wait", VT_BOOL },
  { "telnet", VT_BOOL },
  { "tn3270", VT_BOOL },
  { "websocket", VT_BOOL },
  { "nodelay", VT_BOOL },
  { NULL }
};

static const struct vm_key file_keys[] = {
  { "path", VT_RUNFILE },
  { "append", VT_BOOL },
  { NULL }
};

static const struct vm_key ringbuf_keys[] = {
  { "size", VT_SIZE },
  { NULL }
};

const struct vm_driver vm_chardev_drivers[] = {
  { "socket", { chardev_common, socket_keys } },
  { "file", { chardev_common, file_keys } },
  { "null", { chardev_common } },
  { "ringbuf", { chardev_common, ringbuf_keys } },
  { "memory", { chardev_common, ringbuf_keys } },
  { NULL }
};

static const struct vm_key object_id[] = {
  { "id", VT_ID },
  { NULL }
};

static const struct vm_key iothread_keys[] = {
  { "poll-max-ns", VT_UINT },
  { "poll-grow", VT_UINT },
  { "poll-shrink", VT_UINT },
  { "aio-max-batch", VT_UINT },
  { NULL }
};

static const struct vm_key rng_random_keys[] = {
  { "filename", VT_ENUM, rng_files },
  { NULL }
};

static const struct vm_key memdev_keys[] = {
  { "size", VT_SIZE },
  { "share", VT_BOOL },
  { "merge", VT_BOOL },
  { "dump", VT_BOOL },
  { "prealloc", VT_BOOL },
  { "prealloc-threads", VT_UINT },
  { "policy", VT_ENUM, policy },
  { "reserve", VT_BOOL },
  { "x-use-canonical-path-for-ramblock-id", VT_BOOL },
  { NULL }
};

static const struct vm_key memfd_keys[] = {
  { "hugetlb", VT_BOOL },
  { "hugetlbsize", VT_SIZE },
  { "seal", VT_BOOL },
  { NULL }
};

static const struct vm_key throttle_group_keys[] = {
  { "x-bps-total", VT_UINT },
  { "x-bps-read", VT_UINT },
  { "x-bps-write", VT_UINT },
  { "x-iops-total", VT_UINT },
  { "x-iops-read", VT_UINT },
  { "x-iops-write", VT_UINT },
  { "x-bps-total-max", VT_UINT },
  { "x-iops-total-max", VT_UINT },
  { "x-iops-size", VT_UINT },
  { "limits.bps-total", VT_UINT },
  { "limits.bps-read", VT_UINT },
  { "limits.bps-write", VT_UINT },
  { "limits.iops-total", VT_UINT },
  { "limits.iops-read", VT_UINT },
  { "limits.iops-write", VT_UINT },
  { NULL }
};

const struct vm_driver vm_object_drivers[] = {
  { "iothread", { object_id, iothread_keys } },
  { "rng-random", { object_id, rng_random_keys } },
  { "rng-builtin", { object_id } },
  { "memory-backend-ram", { object_id, memdev_keys } },
  { "memory-backend-memfd", { object_id, memdev_keys, memfd_keys } },
  { "throttle-group", { object_id, throttle_group_keys } },
  { NULL }
};
