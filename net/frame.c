/* frame.c: encode and decode data channel frames (format in net.h). */
#include <config.h>

#include <lz4.h>

#include "utils.h"
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

size_t
net_frame_bound (size_t len)
{
  size_t lz = len <= NET_FRAME_MAX_PAYLOAD
    ? (size_t) LZ4_compressBound ((int) len) : len;

  return NET_FRAME_HEADER + (lz > len ? lz : len);
}

/* The payload into out: lz4 if it shrinks, else raw.  Sets flags and
 * wire_len in *f.
 */
static int
encode_payload (struct net_frame *f, const void *payload, bool compress,
                uint8_t *out, size_t cap)
{
  int n = 0;

  if (f->type == NET_FRAME_ZERO) {
    f->wire_len = 0;
    return 0;
  }
  if (compress && f->raw_len > 0)
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
                  bool compress, void *out, size_t out_cap)
{
  struct net_frame f = *in;
  uint8_t *o = out;

  if (f.type < 1 || f.type > NET_FRAME_TYPE_MAX ||
      f.raw_len > NET_FRAME_MAX_PAYLOAD || out_cap < NET_FRAME_HEADER) {
    set_error (0, "frame: bad type %d or length %" PRIu32, f.type,
               f.raw_len);
    return -1;
  }
  f.flags = 0;
  if (encode_payload (&f, payload, compress, o + NET_FRAME_HEADER,
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
  uint32_t max_wire;

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
  if (f->type < 1 || f->type > NET_FRAME_TYPE_MAX ||
      (f->flags & ~NET_FRAME_LZ4) || f->raw_len > NET_FRAME_MAX_PAYLOAD) {
    set_error (0, "frame: bad type %u, flags 0x%x or length %" PRIu32,
               h[4], f->flags, f->raw_len);
    return -1;
  }
  max_wire = f->type == NET_FRAME_ZERO ? 0
    : (f->flags & NET_FRAME_LZ4) ? (uint32_t) LZ4_compressBound (f->raw_len)
    : f->raw_len;
  if ((f->flags & NET_FRAME_LZ4) ? f->wire_len > max_wire
      : f->wire_len != max_wire) {
    set_error (0, "frame: payload of %" PRIu32 " bytes for %" PRIu32
               " raw bytes", f->wire_len, f->raw_len);
    return -1;
  }
  return 0;
}

int
net_frame_decode_payload (const struct net_frame *f, const void *wire,
                          void *out)
{
  int n;

  if (f->type == NET_FRAME_ZERO) {
    memset (out, 0, f->raw_len);
    return 0;
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
