/* copy.c: copy blocks from one NBD export to another, the engine's
 * workhorse (shaped like nbdcopy: N workers, each owning one connection
 * to each side and its own buffer, take ranges from a shared cursor).
 *
 * Only allocated data is read and written: extents the source reports as
 * zero or holes (base:allocation) become NBD zero requests, or nothing at
 * all when the destination is known to read as zeroes (a fresh image), so
 * it stays sparse.  The destination is an ops table (storage.h): an NBD
 * export (nbd-ops.c) or vmferry's data channel (channel-ops.c).
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <libnbd.h>

#include "utils.h"
#include "storage.h"

#define MAX_RANGE (1u << 20)    /* bytes a worker takes at a time */
#define MAX_EXTENTS 64

struct copier {
  const struct storage_copy_params *p;
  int64_t size;                 /* of the source export */
  uint64_t nblocks;
  pthread_mutex_t lock;         /* protects everything below */
  uint64_t cursor;              /* next block to consider */
  bool failed;
  char error[1024];             /* the first worker error */
  struct storage_copy_stats stats;
  const struct storage_dst_ops *ops;    /* the destination back-end */
  void *dst_opaque;                     /* its argument */
};

struct worker_arg {
  struct copier *c;
  unsigned index;               /* 0 .. workers-1 */
};

struct extent {
  uint64_t offset, length;
  bool zero;
};

struct extents {
  struct extent e[MAX_EXTENTS];
  size_t n;
};

/* Record a worker's error (the first one wins) and stop the others. */
static void
fail (struct copier *c, const char *what)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  if (!c->failed)
    snprintf (c->error, sizeof c->error, "%s: %s", what, get_error ());
  c->failed = true;
}

/* Has the caller asked to stop (cancel_fd readable)? */
static bool
cancelled (const struct copier *c)
{
  struct pollfd pfd = { .fd = c->p->cancel_fd ? *c->p->cancel_fd : -1,
                        .events = POLLIN };

  return pfd.fd >= 0 && poll (&pfd, 1, 0) == 1;
}

/* Take the next run of wanted blocks, at most MAX_RANGE bytes. */
static bool
take_range (struct copier *c, uint64_t *offset, uint64_t *len)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  uint64_t bs = c->p->block_size, first, end, max = MAX_RANGE / bs;

  if (!c->failed && cancelled (c)) {
    snprintf (c->error, sizeof c->error, "cancelled by the user");
    c->failed = true;
  }
  if (c->failed)
    return false;
  first = c->p->blocks ? storage_bitmap_next (c->p->blocks, c->cursor)
    : c->cursor;
  if (first >= c->nblocks)
    return false;
  for (end = first + 1; end < c->nblocks && end - first < (max ? max : 1) &&
         (!c->p->blocks || storage_bitmap_test (c->p->blocks, end)); end++)
    ;
  c->cursor = end;
  *offset = first * bs;
  *len = end * bs > (uint64_t) c->size ? c->size - *offset : (end - first) * bs;
  return true;
}

static int
extent_cb (void *opaque, const char *ctx, uint64_t offset, uint32_t *ent,
           size_t n, int *error)
{
  struct extents *x = opaque;
  size_t i;

  if (strcmp (ctx, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0)
    return 0;
  for (i = 0; i + 1 < n && x->n < MAX_EXTENTS; i += 2) {
    x->e[x->n].offset = offset;
    x->e[x->n].length = ent[i];
    x->e[x->n].zero = ent[i + 1] & LIBNBD_STATE_ZERO;
    offset += ent[i];
    x->n++;
  }
  return 0;
}

/* Tell the caller about bytes covered (serialized by the lock). */
static void
report (struct copier *c, uint64_t bytes)
{
  if (c->p->progress) {
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
    c->p->progress (c->p->opaque, bytes);
  }
}

/* Copy one extent (clipped to [off, end)). */
static int
copy_extent (struct copier *c, struct nbd_handle *src, void *dst,
             const struct extent *e, uint64_t end, char *buf,
             struct storage_copy_stats *st)
{
  uint64_t len = e->offset + e->length > end ? end - e->offset : e->length;

  report (c, len);
  if (e->zero) {
    if (c->p->dst_is_zero) {
      st->skipped_bytes += len;
      return 0;
    }
    st->zero_bytes += len;
    return c->ops->zero (dst, len, e->offset);
  }
  st->data_bytes += len;
  if (nbd_pread (src, buf, len, e->offset, 0) == -1) {
    set_error (0, "read: %s", nbd_get_error ());
    return -1;
  }
  return c->ops->pwrite (dst, buf, len, e->offset);
}

/* Copy [off, off+len): ask the source what is allocated, piece by piece. */
static int
copy_range (struct copier *c, struct nbd_handle *src, void *dst,
            uint64_t off, uint64_t len, char *buf,
            struct storage_copy_stats *st)
{
  uint64_t end = off + len;

  while (off < end) {
    struct extents x = { .n = 0 };
    size_t i;

    if (nbd_block_status (src, end - off, off,
                          (nbd_extent_callback) { .callback = extent_cb,
                                                  .user_data = &x }, 0) == -1) {
      set_error (0, "block status: %s", nbd_get_error ());
      return -1;
    }
    if (x.n == 0) {             /* the server said nothing: copy as data */
      x.e[0] = (struct extent) { .offset = off, .length = end - off };
      x.n = 1;
    }
    for (i = 0; i < x.n && off < end; i++) {
      if (x.e[i].offset != off)
        break;
      if (copy_extent (c, src, dst, &x.e[i], end, buf, st) == -1)
        return -1;
      off += x.e[i].length > end - off ? end - off : x.e[i].length;
    }
  }
  return 0;
}

static void *
worker (void *opaque)
{
  struct worker_arg *a = opaque;
  struct copier *c = a->c;
  unsigned w = a->index;
  struct storage_copy_stats st = { 0 };
  struct nbd_handle *src = storage_nbd_open (c->p->src_uri, true);
  void *dst = src ? c->ops->open (c->dst_opaque, w) : NULL;
  CLEANUP_FREE char *buf = malloc (MAX_RANGE > c->p->block_size ? MAX_RANGE
                                   : c->p->block_size);
  uint64_t off, len;

  if (src == NULL || dst == NULL || buf == NULL)
    fail (c, "connecting");
  while (src && dst && buf && take_range (c, &off, &len))
    if (copy_range (c, src, dst, off, len, buf, &st) == -1) {
      fail (c, "copying");
      break;
    }
  if (dst && !c->failed && c->ops->flush (dst) == -1)
    fail (c, "flushing the destination");
  nbd_close (src);
  if (dst)
    c->ops->close (dst);
  pthread_mutex_lock (&c->lock);
  c->stats.data_bytes += st.data_bytes;
  c->stats.zero_bytes += st.zero_bytes;
  c->stats.skipped_bytes += st.skipped_bytes;
  pthread_mutex_unlock (&c->lock);
  return NULL;
}

/* Sizes of both exports; the destination must hold the source. */
static int
check_sizes (struct copier *c)
{
  struct nbd_handle *s = storage_nbd_open (c->p->src_uri, true);
  struct nbd_handle *d = s ? storage_nbd_open (c->p->dst_uri, false) : NULL;
  int64_t dsize = d ? nbd_get_size (d) : -1;
  int r = -1;

  c->size = s ? nbd_get_size (s) : -1;
  if (s && d && (c->size == -1 || dsize == -1))
    set_error (0, "export size: %s", nbd_get_error ());
  else if (s && d && dsize < c->size)
    set_error (0, "the destination (%" PRId64 " bytes) is smaller than the "
               "source (%" PRId64 " bytes)", dsize, c->size);
  else if (s && d && nbd_is_read_only (d) == 1)
    set_error (0, "the destination export is read-only");
  else if (s && d)
    r = 0;
  nbd_close (s);
  nbd_close (d);
  return r;
}

int
storage_copy (const struct storage_copy_params *p,
              struct storage_copy_stats *stats)
{
  struct copier c = { .p = p, .ops = p->dst_ops ? p->dst_ops : &storage_nbd_ops,
                      .dst_opaque = p->dst_ops ? p->dst_opaque
                      : (void *) p->dst_uri };
  unsigned n = p->workers ? p->workers : 4, i;
  CLEANUP_FREE pthread_t *t = calloc (n, sizeof *t);
  CLEANUP_FREE struct worker_arg *args = calloc (n, sizeof *args);

  if (t == NULL || args == NULL || p->block_size == 0 ||
      (p->block_size & (p->block_size - 1))) {
    set_error (errno, "storage copy: bad block size %" PRIu32,
               p->block_size);
    return -1;
  }
  c.size = p->size;
  /* Only an NBD destination can be asked its size; the channel's caller
   * passes it.
   */
  if (c.size <= 0 && (p->dst_ops || check_sizes (&c) == -1)) {
    if (p->dst_ops)
      set_error (0, "storage copy: the export size is required");
    return -1;
  }
  c.nblocks = (c.size + p->block_size - 1) / p->block_size;
  if (p->blocks && p->blocks->nbits < c.nblocks) {
    set_error (0, "storage copy: bitmap of %" PRIu64 " blocks for a disk "
               "of %" PRIu64, p->blocks->nbits, c.nblocks);
    return -1;
  }
  pthread_mutex_init (&c.lock, NULL);
  for (i = 0; i < n; i++) {
    args[i] = (struct worker_arg) { .c = &c, .index = i };
    if (pthread_create (&t[i], NULL, worker, &args[i]) != 0) {
      fail (&c, "starting a worker");
      break;
    }
  }
  while (i-- > 0)
    pthread_join (t[i], NULL);
  pthread_mutex_destroy (&c.lock);
  if (stats)
    *stats = c.stats;
  if (c.failed) {
    set_error (0, "storage copy: %s", c.error);
    return -1;
  }
  return 0;
}
