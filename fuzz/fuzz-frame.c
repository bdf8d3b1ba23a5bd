/* fuzz-frame.c: libFuzzer target for the data channel's frame decoder.
 * The input is a stream of frames as they come from the network: each
 * header is decoded (net_frame_decode_header) and, when valid, its
 * payload (net_frame_decode_payload) into a buffer of exactly raw_len
 * bytes, so that ASan catches any overrun.  The frames share one zstd
 * context, as a stream's do (NET_FRAME_ZSTD).  A valid frame is
 * re-encoded with the codec it came with (zstd through a second pair of
 * contexts, also kept for the whole input) and decoded again: the round
 * trip must give the same bytes.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The round trip's sending and receiving contexts. */
struct pair {
  struct net_zstd *tx, *rx;
};

static void
round_trip (const struct net_frame *f, const void *raw, struct pair *p)
{
  enum net_codec codec = (f->flags & NET_FRAME_ZSTD) ? NET_CODEC_ZSTD
    : NET_CODEC_LZ4;
  size_t cap = net_frame_bound (f->raw_len);
  unsigned char *buf = malloc (cap);
  unsigned char *back = malloc (f->raw_len ? f->raw_len : 1);
  struct net_frame g;
  long n;

  if (buf == NULL || back == NULL)
    abort ();
  n = net_frame_encode (f, raw, codec, p->tx, buf, cap);
  if (n < NET_FRAME_HEADER ||
      net_frame_decode_header (buf, &g) == -1 ||
      (size_t) n != NET_FRAME_HEADER + g.wire_len ||
      g.raw_len != f->raw_len ||
      net_frame_decode_payload (&g, buf + NET_FRAME_HEADER, p->rx,
                                back) == -1 ||
      memcmp (back, raw, f->raw_len) != 0)
    abort ();
  free (back);
  free (buf);
}

static void
decode_all (const uint8_t *data, size_t size, struct net_zstd *z,
            struct pair *p)
{
  while (size >= NET_FRAME_HEADER) {
    struct net_frame f;
    unsigned char *out;

    if (net_frame_decode_header (data, &f) == -1)
      return;
    data += NET_FRAME_HEADER;
    size -= NET_FRAME_HEADER;
    if (f.wire_len > size)
      return;
    out = malloc (f.raw_len ? f.raw_len : 1);
    if (out == NULL)
      abort ();
    if (net_frame_decode_payload (&f, data, z, out) == 0 &&
        f.type != NET_FRAME_ZERO)
      round_trip (&f, out, p);
    free (out);
    data += f.wire_len;
    size -= f.wire_len;
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct net_zstd *z = net_zstd_new ();
  struct pair p = { net_zstd_new (), net_zstd_new () };

  if (z == NULL || p.tx == NULL || p.rx == NULL)
    abort ();
  decode_all (data, size, z, &p);
  net_zstd_free (z);
  net_zstd_free (p.tx);
  net_zstd_free (p.rx);
  return 0;
}
