/* codec.c: the zstd contexts of one stream (NET_FRAME_ZSTD, net.h).
 *
 * The sender compresses each zstd frame's bytes as the next chunk of one
 * endless zstd frame and flushes (ZSTD_e_flush): the chunk decodes on
 * its own given the earlier chunks, and the history (the window) spans
 * frames, which is what makes 4 KiB guest pages drawn from a common
 * corpus compress well.  The receiver feeds each chunk to one decoding
 * context.  Both contexts must see the same chunks in the same order:
 * frames sent raw or lz4 are fed to neither.
 *
 * The receiver's input comes from the network: the window is limited
 * (WINDOW_LOG_MAX), the output must be exactly the frame's raw_len from
 * all of its input, and a chunk must end where a flush ends (on a block
 * boundary, nothing buffered).  After any failure the context's state
 * is unknown: the stream is broken, and its later frames fail too, zstd
 * or not (frame.c asks net_zstd_broken).
 */
#include <config.h>

#include <errno.h>
#include <zstd.h>

#include "utils.h"
#include "net.h"

/* zstd level 1 (as QEMU's multifd-zstd-level): on the test guest's text
 * pages level 3 compresses 2.5 times better, but it costs 5 times the
 * CPU on incompressible data (1.3 against 0.25 ns a byte here), which
 * the auto rule then prices zstd out with for long stretches of a real
 * migration stream: level 3 sent more, not less (see the commits).
 */
#define LEVEL 1
/* The window, both ends: 8 MiB.  The sender asks for all of it (level 1
 * alone uses 512 KiB): the test guest's RAM stream then shrinks 13 %
 * more (357 MB to 32.5 MB instead of 37.2 MB) for the same CPU (0.56
 * against 0.60 ns a byte; 0.17 on random data either way).  Level 3
 * would take 30.1 MB for 0.78 ns a byte.  The decoder refuses more.
 */
#define WINDOW_LOG_MAX 23
/* A block header (RFC 8878 3.1.1.2): what a decoder that stopped on a
 * block boundary asks for next.
 */
#define BLOCK_HEADER 3

struct net_zstd {
  ZSTD_CCtx *c;
  ZSTD_DCtx *d;
  bool c_broken, d_broken;
};

struct net_zstd *
net_zstd_new (void)
{
  struct net_zstd *z = calloc (1, sizeof *z);

  if (z == NULL)
    set_error (errno, "zstd: calloc");
  return z;
}

void
net_zstd_free (struct net_zstd *z)
{
  if (z == NULL)
    return;
  ZSTD_freeCCtx (z->c);
  ZSTD_freeDCtx (z->d);
  free (z);
}

bool
net_zstd_broken (const struct net_zstd *z)
{
  return z->c_broken || z->d_broken;
}

static int
start_cctx (struct net_zstd *z)
{
  if (z->c)
    return 0;
  z->c = ZSTD_createCCtx ();
  if (z->c == NULL ||
      ZSTD_isError (ZSTD_CCtx_setParameter (z->c, ZSTD_c_compressionLevel,
                                            LEVEL)) ||
      ZSTD_isError (ZSTD_CCtx_setParameter (z->c, ZSTD_c_windowLog,
                                            WINDOW_LOG_MAX))) {
    set_error (0, "zstd: cannot create a compression context");
    return -1;
  }
  return 0;
}

long
net_zstd_compress (struct net_zstd *z, const void *in, size_t len,
                   void *out, size_t cap)
{
  ZSTD_inBuffer ib = { in, len, 0 };
  ZSTD_outBuffer ob = { out, cap, 0 };
  size_t left;

  if (z->c_broken) {
    set_error (0, "zstd: the stream's compression failed earlier");
    return -1;
  }
  if (start_cctx (z) == -1) {
    z->c_broken = true;
    return -1;
  }
  do {
    left = ZSTD_compressStream2 (z->c, &ob, &ib, ZSTD_e_flush);
  } while (!ZSTD_isError (left) && left > 0 && ob.pos < ob.size);
  if (ZSTD_isError (left) || left > 0 || ib.pos != len) {
    z->c_broken = true;
    set_error (0, "zstd: compressing %zu bytes: %s", len,
               ZSTD_isError (left) ? ZSTD_getErrorName (left)
               : "output buffer too small");
    return -1;
  }
  return (long) ob.pos;
}

static int
start_dctx (struct net_zstd *z)
{
  if (z->d)
    return 0;
  z->d = ZSTD_createDCtx ();
  if (z->d == NULL ||
      ZSTD_isError (ZSTD_DCtx_setParameter (z->d, ZSTD_d_windowLogMax,
                                            WINDOW_LOG_MAX))) {
    set_error (0, "zstd: cannot create a decompression context");
    return -1;
  }
  return 0;
}

/* Run the decoder over all of wire into out; 0 if it produced exactly
 * len bytes from all of the input and stopped on a block boundary.
 */
static int
decode_chunk (ZSTD_DCtx *d, const void *wire, size_t wire_len, void *out,
              size_t len)
{
  ZSTD_inBuffer ib = { wire, wire_len, 0 };
  ZSTD_outBuffer ob = { out, len, 0 };
  uint8_t extra;
  ZSTD_outBuffer xb = { &extra, 1, 0 };
  ZSTD_inBuffer none = { NULL, 0, 0 };
  size_t r, in0, out0;

  do {
    in0 = ib.pos;
    out0 = ob.pos;
    r = ZSTD_decompressStream (d, &ob, &ib);
    if (ZSTD_isError (r)) {
      set_error (0, "zstd: corrupt payload: %s", ZSTD_getErrorName (r));
      return -1;
    }
  } while (ib.pos < ib.size && (ib.pos != in0 || ob.pos != out0));
  if (ib.pos != ib.size || ob.pos != len) {
    set_error (0, "zstd: payload of %zu bytes decodes to %zu%s bytes, "
               "not %zu", wire_len, ob.pos, ib.pos != ib.size ? "+" : "",
               len);
    return -1;
  }
  /* Nothing pending: no decoded byte held back (the 1-byte probe gets
   * none) and no partial block buffered (the decoder asks for a block
   * header, or the sender ended the zstd frame: 0).
   */
  if (r != BLOCK_HEADER && r != 0) {
    set_error (0, "zstd: payload ends inside a block");
    return -1;
  }
  r = ZSTD_decompressStream (d, &xb, &none);
  if (ZSTD_isError (r) || xb.pos != 0) {
    set_error (0, "zstd: payload decodes to more than %zu bytes", len);
    return -1;
  }
  return 0;
}

int
net_zstd_decompress (struct net_zstd *z, const void *wire, size_t wire_len,
                     void *out, size_t len)
{
  if (z->d_broken) {
    set_error (0, "zstd: the stream's payloads failed to decode earlier");
    return -1;
  }
  if (start_dctx (z) == -1 || decode_chunk (z->d, wire, wire_len, out,
                                            len) == -1) {
    z->d_broken = true;
    return -1;
  }
  return 0;
}
