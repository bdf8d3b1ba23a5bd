/* schema-block.c: the allow-lists of -blockdev and -drive.
 *
 * Only what a migrated VM needs: image files (the "file" protocol) in
 * qcow2 or raw, and the throttle filter.  Never host_device, host_cdrom,
 * nbd, vvfat, quorum, ssh, http, iscsi, blkdebug or anything else that
 * reaches host devices, other files or the network.  Keys that name
 * other files (qcow2 data-file, encryption secrets) are not listed.
 */
#include <config.h>

#include "internal.h"

const char *const vm_enum_format[] = { "qcow2", "raw", NULL };

bool
vm_format_known (const char *f)
{
  size_t i;

  for (i = 0; f && vm_enum_format[i]; i++)
    if (strcmp (f, vm_enum_format[i]) == 0)
      return true;
  return false;
}
static const char *const discard_node[] = { "ignore", "unmap", NULL };
static const char *const discard_drive[] = { "ignore", "off", "unmap", "on",
                                              NULL };
static const char *const detect_zeroes[] = { "off", "on", "unmap", NULL };
static const char *const aio[] = { "threads", "native", "io_uring", NULL };
static const char *const locking[] = { "auto", "on", "off", NULL };
static const char *const overlap[] = { "none", "constant", "cached", "all",
                                       NULL };
static const char *const cache_modes[] = { "none", "writeback",
                                           "writethrough", "directsync",
                                           "unsafe", NULL };
static const char *const drive_if[] = { "none", "virtio", "ide", NULL };
static const char *const media[] = { "disk", "cdrom", NULL };
static const char *const werror[] = { "enospc", "ignore", "report", "stop",
                                      NULL };
static const char *const rerror[] = { "ignore", "report", "stop", NULL };

/* BlockdevOptionsBase: what every node accepts. */
static const struct vm_key node_keys[] = {
  { "node-name", VT_ID },
  { "discard", VT_ENUM, discard_node },
  { "cache.direct", VT_BOOL },
  { "cache.no-flush", VT_BOOL },
  { "read-only", VT_BOOL },
  { "auto-read-only", VT_BOOL },
  { "force-share", VT_BOOL },
  { "detect-zeroes", VT_ENUM, detect_zeroes },
  { NULL }
};

static const struct vm_key file_keys[] = {
  { "filename", VT_DISK },
  { "aio", VT_ENUM, aio },
  { "aio-max-batch", VT_UINT },
  { "locking", VT_ENUM, locking },
  { "drop-cache", VT_BOOL },
  { NULL }
};

/* qcow2's own options, also accepted by -drive for its format. */
static const struct vm_key qcow2_opts[] = {
  { "lazy-refcounts", VT_BOOL },
  { "pass-discard-request", VT_BOOL },
  { "pass-discard-snapshot", VT_BOOL },
  { "pass-discard-other", VT_BOOL },
  { "overlap-check", VT_ENUM, overlap },
  { "cache-size", VT_SIZE },
  { "l2-cache-size", VT_SIZE },
  { "l2-cache-entry-size", VT_SIZE },
  { "refcount-cache-size", VT_SIZE },
  { "cache-clean-interval", VT_UINT },
  { NULL }
};

static const struct vm_key qcow2_keys[] = {
  { "file", VT_CHILD },
  { "backing", VT_CHILD },
  { NULL }
};

static const struct vm_key raw_keys[] = {
  { "file", VT_CHILD },
  { "offset", VT_SIZE },
  { "size", VT_SIZE },
  { NULL }
};

static const struct vm_key throttle_keys[] = {
  { "file", VT_CHILD },
  { "throttle-group", VT_REF },
  { NULL }
};

const struct vm_driver vm_block_drivers[] = {
  { "file", { file_keys, node_keys } },
  { "qcow2", { qcow2_keys, qcow2_opts, node_keys } },
  { "raw", { raw_keys, node_keys } },
  { "throttle", { throttle_keys, node_keys } },
  { NULL }
};

static const struct vm_key drive_keys[] = {
  { "file", VT_DISK },
  { "format", VT_ENUM, vm_enum_format },
  { "if", VT_ENUM, drive_if },
  { "index", VT_UINT },
  { "bus", VT_UINT },
  { "unit", VT_UINT },
  { "media", VT_ENUM, media },
  { "id", VT_ID },
  { "cache", VT_ENUM, cache_modes },
  { "aio", VT_ENUM, aio },
  { "discard", VT_ENUM, discard_drive },
  { "detect-zeroes", VT_ENUM, detect_zeroes },
  { "readonly", VT_BOOL },
  { "werror", VT_ENUM, werror },
  { "rerror", VT_ENUM, rerror },
  { "copy-on-read", VT_BOOL },
  { "file.locking", VT_ENUM, locking },
  { "file.aio", VT_ENUM, aio },
  { "file.aio-max-batch", VT_UINT },
  { "throttling.bps-total", VT_UINT },
  { "throttling.bps-read", VT_UINT },
  { "throttling.bps-write", VT_UINT },
  { "throttling.iops-total", VT_UINT },
  { "throttling.iops-read", VT_UINT },
  { "throttling.iops-write", VT_UINT },
  { "throttling.bps-total-max", VT_UINT },
  { "throttling.iops-total-max", VT_UINT },
  { "throttling.iops-size", VT_UINT },
  { "throttling.group", VT_REF },
  { NULL }
};

/* -drive: one schema, its own keys plus the node's and qcow2's. */
const struct vm_driver vm_drive_schema[] = {
  { "drive", { drive_keys, node_keys, qcow2_opts } },
  { NULL }
};
