/* channel-ops.c: the data channel back-end of the copier: worker i sends
 * the disk's blocks as frames on stream i of the channel (net.h), and
 * vmferryd writes them into the destination export.  flush is the
 * barrier: it returns once vmferryd has written and flushed every earlier
 * frame of the stream, which is what the re-copy rule needs at the end
 * of each round.
 */
#include <config.h>

#include <errno.h>

#include "utils.h"
#include "storage.h"

struct chan_dst {
  struct net_stream *s;
  uint16_t disk;
  uint64_t seq;                 /* of the next barrier */
};

/* opaque: struct storage_channel_dst. */
static void *
chan_open (void *opaque, unsigned worker)
{
  const struct storage_channel_dst *c = opaque;
  struct net_stream *s = net_channel_stream (c->ch, c->stream + worker);
  struct chan_dst *d;

  if (s == NULL) {
    set_error (0, "data channel: no stream for worker %u", worker);
    return NULL;
  }
  if ((d = calloc (1, sizeof *d)) == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  d->s = s;
  d->disk = c->disk;
  return d;
}

/* A failed send: vmferryd resets a stream whose frame it could not
 * write (dest-channel.c); its abort reply tells why.
 */
static int
sent (int r)
{
  if (r == -1)
    prefix_error ("sending to vmferryd");
  return r;
}

static int
chan_pwrite (void *h, const void *buf, uint32_t len, uint64_t offset)
{
  struct chan_dst *d = h;
  struct net_frame f = { .type = NET_FRAME_DATA, .channel = d->disk,
                         .raw_len = len, .arg = offset };

  return sent (net_stream_send (d->s, &f, buf));
}

static int
chan_zero (void *h, uint32_t len, uint64_t offset)
{
  struct chan_dst *d = h;
  struct net_frame f = { .type = NET_FRAME_ZERO, .channel = d->disk,
                         .raw_len = len, .arg = offset };

  return sent (net_stream_send (d->s, &f, NULL));
}

static int
chan_flush (void *h)
{
  struct chan_dst *d = h;

  return net_stream_barrier (d->s, d->seq++);
}

const struct storage_dst_ops storage_channel_ops = {
  .open = chan_open,
  .pwrite = chan_pwrite,
  .zero = chan_zero,
  .flush = chan_flush,
  .close = free,
};
