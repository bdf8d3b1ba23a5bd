/* frame.c: encode and decode data channel frames (format in net.h). */
#include <config.h>

#include <lz4.h>
#include <zstd.h>

#include "utils.h"
#include "minmax.h"
#include "net.h"

static void
put32 (uint8_t *p, uint32_t v)
{
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t
get32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 |
    (uint32_t) p[2] << 8 | p[3];
}

/* The largest wire_len a frame of raw_len bytes may have with flags. */
static size_t
max_wire (uint8_t flags, uint32_t raw_len)
{
  if (flags & NET_FRAME_ZSTD)
    return ZSTD_compressBound (raw_len);
  if (flags & NET_FRAME_LZ4)
    return LZ4_compressBound (raw_len);
  return raw_len;
}

size_t
net_frame_bound (size_t len)
{
  size_t lz, zs;

  if (len > NET_FRAME_MAX_PAYLOAD)
    return NET_FRAME_HEADER + len;
  lz = MAX (len, max_wire (NET_FRAME_LZ4, len));
  zs = max_wire (NET_FRAME_ZSTD, len);
  return NET_FRAME_HEADER + MAX (lz, zs);
}

/* The payload with the stream's zstd context, no larger than a receiver
 * accepts.
 */
static int
encode_zstd (struct net_frame *f, const void *payload, struct net_zstd *z,
             uint8_t *out, size_t cap)
{
  long n = net_zstd_compress (z, payload, f->raw_len, out,
                              MIN (cap, max_wire (NET_FRAME_ZSTD,
                                                  f->raw_len)));

  if (n == -1)
    return -1;
  f->flags |= NET_FRAME_ZSTD;
  f->wire_len = n;
  return 0;
}

/* The payload into out: zstd, or lz4 if it shrinks, else raw.  Sets
 * flags and wire_len in *f.
 */
static int
encode_payload (struct net_frame *f, const void *payload,
                enum net_codec codec, struct net_zstd *z, uint8_t *out,
                size_t cap)
{
  int n = 0;

  if (f->type == NET_FRAME_ZERO) {
    f->wire_len = 0;
    return 0;
  }
  if (codec == NET_CODEC_ZSTD && f->raw_len > 0)
    return encode_zstd (f, payload, z, out, cap);
  if (codec == NET_CODEC_LZ4 && f->raw_len > 0)
    n = LZ4_compress_default (payload, (char *) out, f->raw_len, cap);
  if (n > 0 && (uint32_t) n < f->raw_len) {
    f->flags |= NET_FRAME_LZ4;
    f->wire_len = n;
    return 0;
  }
  if (cap < f->raw_len) {
    set_error (0, "frame: output buffer too small");
    return -1;
  }
  if (f->raw_len)
    memcpy (out, payload, f->raw_len);
  f->wire_len = f->raw_len;
  return 0;
}

long
net_frame_encode (const struct net_frame *in, const void *payload,
                  enum net_codec codec, struct net_zstd *z,
                  void *out, size_t out_cap)
{
  struct net_frame f = *in;
  uint8_t *o = out;

  if (f.type < 1 || f.type > NET_FRAME_TYPE_MAX ||
      f.raw_len > NET_FRAME_MAX_PAYLOAD || out_cap < NET_FRAME_HEADER) {
    set_error (0, "frame: bad type %d or length %" PRIu32, f.type,
               f.raw_len);
    return -1;
  }
  if (z && net_zstd_broken (z)) {
    set_error (0, "frame: the stream's zstd context failed earlier");
    return -1;
  }
  f.flags = 0;
  if (encode_payload (&f, payload, codec, z, o + NET_FRAME_HEADER,
                      out_cap - NET_FRAME_HEADER) == -1)
    return -1;
  put32 (o, NET_FRAME_MAGIC);
  o[4] = f.type;
  o[5] = f.flags;
  o[6] = f.channel >> 8;
  o[7] = f.channel;
  put32 (o + 8, f.raw_len);
  put32 (o + 12, f.wire_len);
  put32 (o + 16, f.arg >> 32);
  put32 (o + 20, f.arg);
  return NET_FRAME_HEADER + (long) f.wire_len;
}

int
net_frame_decode_header (const void *hdr, struct net_frame *f)
{
  const uint8_t *h = hdr;
  uint8_t codec;

  if (get32 (h) != NET_FRAME_MAGIC) {
    set_error (0, "frame: bad magic 0x%08" PRIx32, get32 (h));
    return -1;
  }
  f->type = h[4];
  f->flags = h[5];
  f->channel = (uint16_t) (h[6] << 8 | h[7]);
  f->raw_len = get32 (h + 8);
  f->wire_len = get32 (h + 12);
  f->arg = (uint64_t) get32 (h + 16) << 32 | get32 (h + 20);
  codec = f->flags & (NET_FRAME_LZ4 | NET_FRAME_ZSTD);
  if (f->type < 1 || f->type > NET_FRAME_TYPE_MAX ||
      (f->flags & ~codec) || f->raw_len > NET_FRAME_MAX_PAYLOAD ||
      codec == (NET_FRAME_LZ4 | NET_FRAME_ZSTD) ||
      (codec && f->type == NET_FRAME_ZERO)) {
    set_error (0, "frame: bad type %u, flags 0x%x or length %" PRIu32,
               h[4], f->flags, f->raw_len);
    return -1;
  }
  if (f->type == NET_FRAME_ZERO ? f->wire_len != 0
      : codec ? f->wire_len > max_wire (codec, f->raw_len) ||
                (f->raw_len > 0 && f->wire_len == 0)
      : f->wire_len != f->raw_len) {
    set_error (0, "frame: payload of %" PRIu32 " bytes for %" PRIu32
               " raw bytes", f->wire_len, f->raw_len);
    return -1;
  }
  return 0;
}

int
net_frame_decode_payload (const struct net_frame *f, const void *wire,
                          struct net_zstd *z, void *out)
{
  int n;

  if (z && net_zstd_broken (z)) {
    set_error (0, "frame: the stream's zstd payloads failed earlier");
    return -1;
  }
  if (f->type == NET_FRAME_ZERO) {
    memset (out, 0, f->raw_len);
    return 0;
  }
  if (f->flags & NET_FRAME_ZSTD) {
    if (z == NULL) {
      set_error (0, "frame: a zstd payload on a stream without zstd");
      return -1;
    }
    return net_zstd_decompress (z, wire, f->wire_len, out, f->raw_len);
  }
  if (!(f->flags & NET_FRAME_LZ4)) {
    if (f->raw_len)
      memcpy (out, wire, f->raw_len);
    return 0;
  }
  n = LZ4_decompress_safe (wire, out, f->wire_len, f->raw_len);
  if (n < 0 || (uint32_t) n != f->raw_len) {
    set_error (0, "frame: corrupt lz4 payload (%d of %" PRIu32 " bytes)",
               n, f->raw_len);
    return -1;
  }
  return 0;
}
