/* test-zstd.c: zstd frames (NET_FRAME_ZSTD): a stream's frames share one
 * history, raw and lz4 frames between them leave both contexts in step,
 * and hostile input fails cleanly, breaking the stream for good.
 */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include "utils.h"
#include "minmax.h"
#include "net.h"

#define CORPUS (64 * 1024)

/* A sender and a receiver, each with its own context, as two hosts. */
struct link {
  struct net_zstd *tx, *rx;
  uint8_t buf[NET_FRAME_HEADER + (5u << 20)];
  uint8_t out[NET_FRAME_MAX_PAYLOAD];
};

static int
setup (void **state)
{
  struct link *l = malloc (sizeof *l);

  if (l == NULL || (l->tx = net_zstd_new ()) == NULL ||
      (l->rx = net_zstd_new ()) == NULL)
    return -1;
  *state = l;
  return 0;
}

static int
teardown (void **state)
{
  struct link *l = *state;

  net_zstd_free (l->tx);
  net_zstd_free (l->rx);
  free (l);
  return 0;
}

/* Text like the test guest's: words from a small set, pseudo-random. */
static void
text_fill (uint8_t *p, size_t len, uint64_t seed)
{
  static const char *const words[] = {
    "the", "guest", "memory", "page", "is", "copied", "while", "it",
    "runs", "dirty", "pages", "are", "sent", "again", "until", "disk",
  };
  size_t off = 0, n;
  const char *w;

  while (off < len) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    w = words[(seed >> 33) % 16];
    n = MIN (strlen (w), len - off);
    memcpy (p + off, w, n);
    off += n;
    if (off < len)
      p[off++] = (seed >> 40) % 9 ? ' ' : '\n';
  }
}

static void
random_fill (uint8_t *p, size_t len, uint64_t x)
{
  size_t i;

  for (i = 0; i < len; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    p[i] = x;
  }
}

/* Encode len bytes with codec, decode them on the other side; the
 * frame's wire_len.
 */
static uint32_t
send_one (struct link *l, enum net_codec codec, const uint8_t *data,
          uint32_t len)
{
  struct net_frame f = { .type = NET_FRAME_STREAM, .raw_len = len, .arg = 9 };
  long n = net_frame_encode (&f, data, codec, l->tx, l->buf, sizeof l->buf);

  assert_true (n >= NET_FRAME_HEADER);
  assert_int_equal (net_frame_decode_header (l->buf, &f), 0);
  assert_int_equal (f.wire_len + NET_FRAME_HEADER, n);
  assert_true (len == 0 || codec != NET_CODEC_ZSTD ||
               (f.flags & NET_FRAME_ZSTD));
  assert_int_equal (net_frame_decode_payload (&f, l->buf + NET_FRAME_HEADER,
                                              l->rx, l->out), 0);
  assert_memory_equal (l->out, data, len);
  return f.wire_len;
}

/* The point of the shared context: the second copy of 64 KiB of text,
 * in 4 KiB frames, costs a small fraction of the first.
 */
static void
test_history_spans_frames (void **state)
{
  struct link *l = *state;
  static uint8_t text[CORPUS];
  uint64_t first = 0, second = 0;
  size_t i;

  text_fill (text, sizeof text, 1);
  for (i = 0; i < CORPUS; i += 4096)
    first += send_one (l, NET_CODEC_ZSTD, text + i, 4096);
  for (i = 0; i < CORPUS; i += 4096)
    second += send_one (l, NET_CODEC_ZSTD, text + i, 4096);
  print_message ("64 KiB of text: %" PRIu64 " then %" PRIu64 " bytes\n",
                 first, second);
  assert_true (first < CORPUS / 2);
  assert_true (second * 20 < first);
}

/* Many frames, every codec, random sizes up to the maximum, text and
 * random data: all decode, and the zstd contexts stay in step.
 */
static void
test_interleaved_codecs (void **state)
{
  struct link *l = *state;
  static uint8_t data[NET_FRAME_MAX_PAYLOAD];
  uint64_t x = 7;
  unsigned i;
  uint32_t len, wire;

  text_fill (data, sizeof data / 2, 2);
  random_fill (data + sizeof data / 2, sizeof data / 2, 3);
  for (i = 0; i < 200; i++) {
    enum net_codec codec = i % 3;
    const uint8_t *p;

    x = x * 6364136223846793005ULL + 1;
    len = i == 100 ? NET_FRAME_MAX_PAYLOAD : (x >> 33) % 70000;
    p = data + (i == 100 ? 0 : (x >> 20) % (sizeof data - len));
    wire = send_one (l, codec, p, len);
    assert_true (wire <= net_frame_bound (len) - NET_FRAME_HEADER);
  }
  /* Incompressible data grows by zstd's block headers only. */
  random_fill (data, 1 << 20, 4);
  wire = send_one (l, NET_CODEC_ZSTD, data, 1 << 20);
  assert_true (wire <= (1 << 20) + 64);
}

/* Encode one zstd frame of len text bytes into l->buf (not decoded). */
static void
encode_text (struct link *l, struct net_frame *f, uint32_t len, uint64_t seed)
{
  static uint8_t text[8192];

  text_fill (text, len, seed);
  *f = (struct net_frame) { .type = NET_FRAME_DATA, .raw_len = len };
  assert_true (net_frame_encode (f, text, NET_CODEC_ZSTD, l->tx, l->buf,
                                 sizeof l->buf) > NET_FRAME_HEADER);
  assert_int_equal (net_frame_decode_header (l->buf, f), 0);
}

/* A corrupted payload fails, and so does every later frame (the
 * receiver's context is unknown: the stream is broken), zstd or not.
 */
static void
test_corruption_breaks_the_stream (void **state)
{
  struct link *l = *state;
  static uint8_t text[8192];
  struct net_frame f;

  text_fill (text, sizeof text, 5);
  send_one (l, NET_CODEC_ZSTD, text, sizeof text);
  encode_text (l, &f, 8192, 6);
  l->buf[NET_FRAME_HEADER + f.wire_len / 2] ^= 0x5a;
  l->buf[NET_FRAME_HEADER + 1] ^= 0xff;
  assert_int_equal (net_frame_decode_payload (&f, l->buf + NET_FRAME_HEADER,
                                              l->rx, l->out), -1);
  assert_non_null (strstr (get_error (), "zstd"));
  encode_text (l, &f, 100, 7);                  /* valid, but too late */
  assert_int_equal (net_frame_decode_payload (&f, l->buf + NET_FRAME_HEADER,
                                              l->rx, l->out), -1);
  assert_non_null (strstr (get_error (), "earlier"));
  f = (struct net_frame) { .type = NET_FRAME_DATA, .raw_len = 100 };
  assert_int_equal (net_frame_encode (&f, text, NET_CODEC_RAW, NULL, l->buf,
                                      sizeof l->buf), NET_FRAME_HEADER + 100);
  assert_int_equal (net_frame_decode_header (l->buf, &f), 0);
  assert_int_equal (net_frame_decode_payload (&f, l->buf + NET_FRAME_HEADER,
                                              l->rx, l->out), -1);
  assert_int_equal (net_frame_decode_payload (&f, l->buf + NET_FRAME_HEADER,
                                              NULL, l->out), 0);
}

/* Decode the wire_len bytes at l->buf's payload (maybe more or less
 * than f's own) as frame f.
 */
static int
decode_as (struct link *l, struct net_frame f, uint32_t wire_len)
{
  f.wire_len = wire_len;
  return net_frame_decode_payload (&f, l->buf + NET_FRAME_HEADER, l->rx,
                                   l->out);
}

/* A chunk must decode to exactly raw_len bytes from all of its input
 * and end on a flush: short, long and overlong payloads fail.
 */
static void
test_chunk_boundaries (void **state)
{
  struct link *l = *state;
  struct net_frame f, g;
  uint32_t first;

  /* Output short of raw_len. */
  encode_text (l, &f, 4096, 8);
  f.raw_len++;
  assert_int_equal (decode_as (l, f, f.wire_len), -1);
  net_zstd_free (l->rx);
  assert_non_null (l->rx = net_zstd_new ());
  /* Two chunks as one frame of the first's length: more than raw_len. */
  net_zstd_free (l->tx);
  assert_non_null (l->tx = net_zstd_new ());
  encode_text (l, &f, 4096, 9);
  first = f.wire_len;
  memmove (l->buf + sizeof l->buf / 2, l->buf + NET_FRAME_HEADER, first);
  encode_text (l, &g, 4096, 10);
  memmove (l->buf + NET_FRAME_HEADER + first, l->buf + NET_FRAME_HEADER,
           g.wire_len);
  memmove (l->buf + NET_FRAME_HEADER, l->buf + sizeof l->buf / 2, first);
  assert_int_equal (decode_as (l, f, first + g.wire_len), -1);
  net_zstd_free (l->rx);
  assert_non_null (l->rx = net_zstd_new ());
  /* The first chunk and 2 bytes of the next: ends inside a block. */
  assert_int_equal (decode_as (l, f, first + 2), -1);
  assert_non_null (strstr (get_error (), "inside a block"));
  net_zstd_free (l->rx);
  assert_non_null (l->rx = net_zstd_new ());
  /* Both, each as its own frame: fine. */
  assert_int_equal (decode_as (l, f, first), 0);
  memmove (l->buf + NET_FRAME_HEADER, l->buf + NET_FRAME_HEADER + first,
           g.wire_len);
  assert_int_equal (decode_as (l, g, g.wire_len), 0);
}

/* Headers: both codec bits, zstd on ZERO, zstd larger than its bound;
 * a zstd frame on a stream without a context.
 */
static void
test_zstd_headers (void **state)
{
  struct link *l = *state;
  struct net_frame f;

  encode_text (l, &f, 1000, 11);
  l->buf[5] = NET_FRAME_LZ4 | NET_FRAME_ZSTD;
  assert_int_equal (net_frame_decode_header (l->buf, &f), -1);
  l->buf[5] = NET_FRAME_ZSTD;
  l->buf[4] = NET_FRAME_ZERO;
  assert_int_equal (net_frame_decode_header (l->buf, &f), -1);
  l->buf[4] = NET_FRAME_DATA;
  l->buf[12] = 0x01;                            /* wire_len > bound */
  assert_int_equal (net_frame_decode_header (l->buf, &f), -1);
  l->buf[12] = 0;
  assert_int_equal (net_frame_decode_header (l->buf, &f), 0);
  assert_int_equal (net_frame_decode_payload (&f, l->buf + NET_FRAME_HEADER,
                                              NULL, l->out), -1);
  assert_int_equal (net_frame_decode_payload (&f, l->buf + NET_FRAME_HEADER,
                                              l->rx, l->out), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_history_spans_frames, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (test_interleaved_codecs, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (test_corruption_breaks_the_stream,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (test_chunk_boundaries, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (test_zstd_headers, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
