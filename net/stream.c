/* stream.c: frames over one TLS session: the sender compresses (per its
 * transport mode and the auto rule, auto.c; zstd with the stream's
 * context, codec.c), paces (pace.c) and writes;
 * the receiver reads a header, validates it before trusting any length,
 * reads the payload and decodes it.  One owner thread per stream.
 */
#include <config.h>

#include <errno.h>
#include <time.h>

#include "utils.h"
#include "net.h"
#include "internal.h"

struct net_stream {
  struct net_tls *tls;          /* owned */
  struct net_pace *pace;        /* shared with the other streams; may be NULL */
  struct net_auto au;
  struct net_zstd *zstd;        /* zstd history, each direction */
  uint8_t *wire;                /* net_frame_bound (MAX_PAYLOAD) bytes */
  uint8_t *raw;                 /* MAX_PAYLOAD bytes: a received payload */
  struct net_stream_stats stats;
};

struct net_stream *
net_stream_new (struct net_tls *tls, enum net_transport mode,
                struct net_pace *pace)
{
  struct net_stream *s = calloc (1, sizeof *s);

  if (s == NULL || (s->wire = malloc (net_frame_bound
                                      (NET_FRAME_MAX_PAYLOAD))) == NULL ||
      (s->raw = malloc (NET_FRAME_MAX_PAYLOAD)) == NULL ||
      (s->zstd = net_zstd_new ()) == NULL) {
    set_error (errno, "stream: malloc");
    if (s) {
      free (s->wire);
      free (s->raw);
    }
    free (s);
    net_tls_close (tls);
    return NULL;
  }
  s->tls = tls;
  s->pace = pace;
  net_pace_add_fd (pace, net_tls_fd (tls));
  net_auto_init (&s->au, mode);
  return s;
}

void
net_stream_free (struct net_stream *s)
{
  if (s == NULL)
    return;
  net_pace_remove_fd (s->pace, net_tls_fd (s->tls));
  net_tls_close (s->tls);
  free (s->wire);
  free (s->raw);
  net_zstd_free (s->zstd);
  free (s);
}

void
net_stream_allow_zstd (struct net_stream *s, bool yes)
{
  s->au.zstd = yes;
}

void
net_stream_shutdown (struct net_stream *s)
{
  if (s)
    net_tls_shutdown (s->tls);
}

int
net_stream_send (struct net_stream *s, const struct net_frame *f,
                 const void *payload)
{
  bool data = f->type == NET_FRAME_DATA || f->type == NET_FRAME_STREAM;
  enum net_codec codec = data ? net_auto_choose (&s->au) : NET_CODEC_RAW;
  int64_t t0 = net_internal_clock_ns (CLOCK_THREAD_CPUTIME_ID), t1, t2;
  long n = net_frame_encode (f, payload, codec, s->zstd, s->wire,
                             net_frame_bound (NET_FRAME_MAX_PAYLOAD));

  if (n == -1)
    return -1;
  t1 = net_internal_clock_ns (CLOCK_THREAD_CPUTIME_ID);
  t2 = net_internal_clock_ns (CLOCK_MONOTONIC);
  net_pace_take (s->pace, n);
  if (net_tls_write (s->tls, s->wire, n) == -1)
    return -1;
  if (data)
    net_auto_record (&s->au, codec, f->raw_len, n - NET_FRAME_HEADER,
                     t1 - t0, net_internal_clock_ns (CLOCK_MONOTONIC) - t2);
  s->stats.frames++;
  s->stats.raw_bytes += f->type == NET_FRAME_ZERO ? 0 : f->raw_len;
  s->stats.wire_bytes += n;
  s->stats.compressed += (s->wire[5] & (NET_FRAME_LZ4 | NET_FRAME_ZSTD)) != 0;
  s->stats.zstd += (s->wire[5] & NET_FRAME_ZSTD) != 0;
  return 0;
}

int
net_stream_recv (struct net_stream *s, struct net_frame *f,
                 const void **payload)
{
  if (net_tls_read (s->tls, s->wire, NET_FRAME_HEADER) == -1 ||
      net_frame_decode_header (s->wire, f) == -1)
    return -1;
  if (f->wire_len &&
      net_tls_read (s->tls, s->wire + NET_FRAME_HEADER, f->wire_len) == -1)
    return -1;
  if (f->type != NET_FRAME_ZERO &&
      net_frame_decode_payload (f, s->wire + NET_FRAME_HEADER, s->zstd,
                                s->raw) == -1)
    return -1;
  *payload = s->raw;
  s->stats.frames++;
  s->stats.raw_bytes += f->type == NET_FRAME_ZERO ? 0 : f->raw_len;
  s->stats.wire_bytes += NET_FRAME_HEADER + f->wire_len;
  return 0;
}

void
net_stream_get_stats (const struct net_stream *s,
                      struct net_stream_stats *st)
{
  *st = s->stats;
}
