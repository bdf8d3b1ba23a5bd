/* nbd-ops.c: the NBD destination back-end of the copier (libnbd, one
 * connection per worker), and opening either side of a copy.  vmferryd's
 * data channel receiver writes through it too.
 */
#include <config.h>

#include <libnbd.h>

#include "utils.h"
#include "storage.h"

struct nbd_handle *
storage_nbd_open (const char *uri, bool src)
{
  struct nbd_handle *h = nbd_create ();

  if (h == NULL) {
    set_error (0, "nbd_create: %s", nbd_get_error ());
    return NULL;
  }
  if ((src && nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1)
      || nbd_set_uri_allow_local_file (h, true) == -1 ||
      nbd_connect_uri (h, uri) == -1) {
    set_error (0, "%s %s: %s", src ? "source" : "destination", uri,
               nbd_get_error ());
    nbd_close (h);
    return NULL;
  }
  return h;
}

/* opaque: the destination's URI. */
static void *
nbd_dst_open (void *opaque, unsigned worker)
{
  (void) worker;
  return storage_nbd_open (opaque, false);
}

static int
nbd_dst_pwrite (void *h, const void *buf, uint32_t len, uint64_t offset)
{
  if (nbd_pwrite (h, buf, len, offset, 0) == -1) {
    set_error (0, "write: %s", nbd_get_error ());
    return -1;
  }
  return 0;
}

static int
nbd_dst_zero (void *h, uint32_t len, uint64_t offset)
{
  if (nbd_zero (h, len, offset, 0) == -1) {
    set_error (0, "zero: %s", nbd_get_error ());
    return -1;
  }
  return 0;
}

static int
nbd_dst_flush (void *h)
{
  if (nbd_flush (h, 0) == -1) {
    set_error (0, "flushing the destination: %s", nbd_get_error ());
    return -1;
  }
  return 0;
}

static void
nbd_dst_close (void *h)
{
  nbd_close (h);
}

const struct storage_dst_ops storage_nbd_ops = {
  .open = nbd_dst_open,
  .pwrite = nbd_dst_pwrite,
  .zero = nbd_dst_zero,
  .flush = nbd_dst_flush,
  .close = nbd_dst_close,
};
