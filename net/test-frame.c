/* test-frame.c: data channel frames: round trips, the raw fallback for
 * incompressible data, zstd's history shared by a stream's frames, and
 * hostile input rejected without overruns.
 */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include "utils.h"
#include "net.h"

/* Encode payload, decode it back, return the encoded size. */
static long
round_trip (const uint8_t *payload, uint32_t len, bool compress,
            struct net_frame *got)
{
  struct net_frame f = { .type = NET_FRAME_DATA, .channel = 7,
                         .raw_len = len, .arg = 0x123456789aULL };
  size_t cap = net_frame_bound (len);
  CLEANUP_FREE uint8_t *buf = malloc (cap);
  CLEANUP_FREE uint8_t *out = malloc (len + 1);
  long n;

  assert_non_null (buf);
  assert_non_null (out);
  n = net_frame_encode (&f, payload, compress ? NET_CODEC_LZ4 : NET_CODEC_RAW,
                        NULL, buf, cap);
  assert_true (n >= NET_FRAME_HEADER);
  assert_int_equal (net_frame_decode_header (buf, got), 0);
  assert_int_equal (got->wire_len + NET_FRAME_HEADER, n);
  assert_int_equal (net_frame_decode_payload (got, buf + NET_FRAME_HEADER,
                                              NULL, out), 0);
  assert_memory_equal (out, payload, len);
  assert_int_equal (got->channel, 7);
  assert_true (got->arg == 0x123456789aULL);
  return n;
}

static void
test_text_is_compressed (void **state)
{
  static const char words[] = "the quick brown fox jumps over the dog ";
  uint8_t data[65536];
  struct net_frame f;
  size_t i;
  long n;

  for (i = 0; i < sizeof data; i++)
    data[i] = words[i % (sizeof words - 1)];
  n = round_trip (data, sizeof data, true, &f);
  assert_true (f.flags & NET_FRAME_LZ4);
  assert_true (n < (long) sizeof data / 10);
}

static void
test_random_goes_raw (void **state)
{
  uint8_t data[65536];
  uint64_t x = 88172645463325252ULL;
  struct net_frame f;
  size_t i;
  long n;

  for (i = 0; i < sizeof data; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    data[i] = x;
  }
  n = round_trip (data, sizeof data, true, &f);
  assert_false (f.flags & NET_FRAME_LZ4);
  assert_int_equal (n, NET_FRAME_HEADER + sizeof data);   /* never grows */
  n = round_trip (data, 0, true, &f);                     /* empty */
  assert_int_equal (n, NET_FRAME_HEADER);
}

static void
test_hostile_headers_and_payloads (void **state)
{
  uint8_t data[4096], buf[8192], out[4096];
  struct net_frame f = { .type = NET_FRAME_DATA, .raw_len = sizeof data };
  long n;

  memset (data, 'a', sizeof data);
  n = net_frame_encode (&f, data, NET_CODEC_LZ4, NULL, buf, sizeof buf);
  assert_true (n > NET_FRAME_HEADER);
  assert_int_equal (net_frame_decode_header (buf, &f), 0);
  /* Corrupt payload: decoding fails, out is not overrun. */
  buf[NET_FRAME_HEADER] ^= 0xff;
  buf[NET_FRAME_HEADER + 1] = 0xff;
  assert_int_equal (net_frame_decode_payload (&f, buf + NET_FRAME_HEADER,
                                              NULL, out), -1);
  /* Bad magic, type, flags, oversized and inconsistent lengths. */
  buf[0] ^= 1;
  assert_int_equal (net_frame_decode_header (buf, &f), -1);
  buf[0] ^= 1;
  buf[4] = 99;
  assert_int_equal (net_frame_decode_header (buf, &f), -1);
  buf[4] = NET_FRAME_DATA;
  buf[5] = 0x80;
  assert_int_equal (net_frame_decode_header (buf, &f), -1);
  buf[5] = 0;                                   /* raw, but wire != raw */
  assert_int_equal (net_frame_decode_header (buf, &f), -1);
  buf[5] = NET_FRAME_LZ4;
  buf[8] = 0x7f;                                /* raw_len way too big */
  assert_int_equal (net_frame_decode_header (buf, &f), -1);
  assert_non_null (strstr (get_error (), "frame:"));
  /* Encoding refuses what it could not describe. */
  f.type = NET_FRAME_DATA;
  f.raw_len = NET_FRAME_MAX_PAYLOAD + 1;
  assert_int_equal (net_frame_encode (&f, data, NET_CODEC_LZ4, NULL, buf,
                                      sizeof buf), -1);
}

static void
test_zero_frames_carry_no_payload (void **state)
{
  uint8_t buf[NET_FRAME_HEADER], out[512];
  struct net_frame f = { .type = NET_FRAME_ZERO, .raw_len = sizeof out,
                         .arg = 4096 };

  assert_int_equal (net_frame_encode (&f, NULL, NET_CODEC_ZSTD, NULL, buf,
                                      sizeof buf), NET_FRAME_HEADER);
  assert_int_equal (net_frame_decode_header (buf, &f), 0);
  memset (out, 1, sizeof out);
  assert_int_equal (net_frame_decode_payload (&f, NULL, NULL, out), 0);
  assert_int_equal (out[0] | out[511], 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_text_is_compressed),
    cmocka_unit_test (test_random_goes_raw),
    cmocka_unit_test (test_hostile_headers_and_payloads),
    cmocka_unit_test (test_zero_frames_carry_no_payload),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
