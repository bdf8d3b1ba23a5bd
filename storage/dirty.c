/* dirty.c: read a QEMU dirty bitmap through NBD.
 *
 * QEMU exports a (disabled) dirty bitmap next to the disk as the meta
 * context "qemu:dirty-bitmap:NAME" (block-export-add's "bitmaps", or
 * qemu-nbd -B NAME); block status then reports dirty extents with flag
 * bit 0 set.  The result is a storage_bitmap of block_size blocks: a
 * block is set if any byte of it is dirty.
 */
#include <config.h>

#include <libnbd.h>

#include "utils.h"
#include "storage.h"

#define STATUS_CHUNK (1ULL << 30)       /* bytes asked per block status */

struct dirty_walk {
  const char *ctx;              /* the meta context wanted */
  struct storage_bitmap *out;
  uint32_t block_size;
  uint64_t reached;             /* end of the extents seen so far */
};

static int
dirty_cb (void *opaque, const char *ctx, uint64_t offset, uint32_t *ent,
          size_t n, int *error)
{
  struct dirty_walk *w = opaque;
  size_t i;

  if (strcmp (ctx, w->ctx) != 0)
    return 0;
  for (i = 0; i + 1 < n; i += 2) {
    if (ent[i + 1] & 1) {
      uint64_t first = offset / w->block_size;
      uint64_t last = (offset + ent[i] - 1) / w->block_size;
      storage_bitmap_set_range (w->out, first, last - first + 1);
    }
    offset += ent[i];
  }
  if (offset > w->reached)
    w->reached = offset;
  return 0;
}

int
storage_read_dirty_bitmap (const char *uri, const char *name,
                           uint32_t block_size, struct storage_bitmap *out)
{
  CLEANUP_FREE char *ctx = xasprintf ("qemu:dirty-bitmap:%s", name);
  struct dirty_walk w = { .ctx = ctx, .out = out, .block_size = block_size };
  struct nbd_handle *h = nbd_create ();
  int64_t size;
  int r = -1;

  if (ctx == NULL || h == NULL || nbd_add_meta_context (h, ctx) == -1 ||
      nbd_set_uri_allow_local_file (h, true) == -1 ||
      nbd_connect_uri (h, uri) == -1 || (size = nbd_get_size (h)) == -1) {
    set_error (0, "dirty bitmap %s at %s: %s", name, uri, nbd_get_error ());
    goto out;
  }
  if (nbd_can_meta_context (h, ctx) != 1) {
    set_error (0, "dirty bitmap %s is not exported at %s", name, uri);
    goto out;
  }
  if (storage_bitmap_init (out, (size + block_size - 1) / block_size) == -1)
    goto out;
  while (w.reached < (uint64_t) size) {
    uint64_t len = size - w.reached > STATUS_CHUNK ? STATUS_CHUNK
      : size - w.reached, before = w.reached;
    if (nbd_block_status (h, len, w.reached,
                          (nbd_extent_callback) { .callback = dirty_cb,
                                                  .user_data = &w }, 0) == -1
        || w.reached == before) {
      set_error (0, "dirty bitmap %s: block status: %s", name,
                 nbd_get_error () ? nbd_get_error () : "no progress");
      storage_bitmap_free (out);
      goto out;
    }
  }
  r = 0;
 out:
  nbd_close (h);
  return r;
}
