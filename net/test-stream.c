/* test-stream.c: the data channel's pieces: the rate limit's arithmetic,
 * the auto rule, and frames over real TLS (certificates made with
 * api_pki_* in a temporary directory) between two threads on loopback
 * TCP: round trip, a peer of another CA refused, a truncated or corrupt
 * stream refused without a crash; a channel's hello and flush barrier
 * against a fake receiver.
 */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/socket.h>

#include "utils.h"
#include "net.h"
#include "api.h"
#include "test-fixture.h"

/* ---- pace ---- */

static void
test_pace (void **state)
{
  struct net_pace *p = net_pace_new (1000000, false); /* 1 MB/s, burst 50 KB */
  int64_t t = 1000000000;

  (void) state;
  assert_null (net_pace_new (0, false));
  assert_non_null (p);
  assert_int_equal (net_pace_reserve (p, 50000, t), 0);  /* the burst */
  /* 100 KB more at once: 100 ms of debt. */
  assert_int_equal (net_pace_reserve (p, 100000, t), 100000000);
  /* Another stream queues behind that debt. */
  assert_int_equal (net_pace_reserve (p, 10000, t), 110000000);
  /* 1 s later the debt is paid and the bucket refilled to the burst only. */
  assert_int_equal (net_pace_reserve (p, 50000, t + 1110000000), 0);
  assert_true (net_pace_reserve (p, 1000, t + 1110000000) > 0);
  net_pace_free (p);
  net_pace_free (NULL);
}

/* ---- auto ---- */

/* What each codec does to the data: wire/raw ratio, CPU ns per byte. */
struct model {
  double r[NET_CODEC_N], c[NET_CODEC_N];
};

static const struct model TEXT = { { 1, 0.22, 0.03 }, { 0, 0.65, 0.4 } };
static const struct model RANDOM = { { 1, 1, 1 }, { 0, 0.3, 0.3 } };
static const struct model SLOW_CPU = { { 1, 0.3, 0.1 }, { 0, 2, 4 } };

/* Feed n frames of 1 MB of data m over a link of l ns per wire byte;
 * count the frames of each codec into k.
 */
static void
feed (struct net_auto *a, int n, const struct model *m, double l,
      int k[NET_CODEC_N])
{
  int i;

  memset (k, 0, NET_CODEC_N * sizeof *k);
  for (i = 0; i < n; i++) {
    enum net_codec z = net_auto_choose (a);
    uint64_t wire = (uint64_t) (1e6 * m->r[z]);

    assert_true (z < NET_CODEC_N);
    k[z]++;
    net_auto_record (a, z, 1000000, wire, (uint64_t) (1e6 * m->c[z]),
                     (uint64_t) (wire * l));
  }
}

static void
test_auto (void **state)
{
  struct net_auto a;
  int k[NET_CODEC_N];

  (void) state;
  net_auto_init (&a, NET_TRANSPORT_TCP);
  a.zstd = true;
  feed (&a, 20, &TEXT, 80, k);
  assert_int_equal (k[NET_CODEC_RAW], 20);
  /* compress: lz4 only, unless the receiver decodes zstd. */
  net_auto_init (&a, NET_TRANSPORT_COMPRESS);
  feed (&a, 20, &RANDOM, 0.1, k);
  assert_int_equal (k[NET_CODEC_LZ4], 20);
  /* auto, to a receiver without zstd: lz4, raw probed. */
  net_auto_init (&a, NET_TRANSPORT_AUTO);
  feed (&a, 100, &TEXT, 80, k);
  assert_int_equal (k[NET_CODEC_ZSTD], 0);
  assert_true (k[NET_CODEC_LZ4] >= 100 - 7);
  /* compress with zstd: the cheaper of the two, never plain raw. */
  net_auto_init (&a, NET_TRANSPORT_COMPRESS);
  a.zstd = true;
  feed (&a, 161, &TEXT, 80, k);
  assert_int_equal (k[NET_CODEC_RAW], 0);
  assert_int_equal (k[NET_CODEC_LZ4], 2);       /* tries; probes are rare */
  feed (&a, 161, &RANDOM, 0.5, k);              /* ties: the cheaper CPU */
  assert_true (k[NET_CODEC_LZ4] > 140);
  assert_int_equal (k[NET_CODEC_RAW], 0);
}

static void
test_auto_picks (void **state)
{
  struct net_auto a;
  int k[NET_CODEC_N];

  (void) state;
  /* Text over 100 Mbit/s (80 ns a byte): zstd.  lz4 costs 6.5 times
   * as much: probed every 32 x 5.5 frames; raw never (its cost is l).
   */
  net_auto_init (&a, NET_TRANSPORT_AUTO);
  a.zstd = true;
  feed (&a, 600, &TEXT, 80, k);
  assert_int_equal (k[NET_CODEC_LZ4], 2 + 3);   /* the tries, probes */
  assert_int_equal (k[NET_CODEC_RAW], 0);
  assert_int_equal (k[NET_CODEC_ZSTD], 600 - 5);
  /* Random data: raw; only the probes compress. */
  net_auto_init (&a, NET_TRANSPORT_AUTO);
  a.zstd = true;
  feed (&a, 161, &RANDOM, 80, k);
  assert_int_equal (k[NET_CODEC_LZ4], 2 + 9);
  assert_int_equal (k[NET_CODEC_ZSTD], 2 + 9);
  assert_int_equal (k[NET_CODEC_RAW], 161 - 22);
  /* A link faster than the CPU: raw at 0.5 ns a byte (lz4 probed once,
   * after 4 + 32 x 3.3 frames), lz4 at 8.
   */
  net_auto_init (&a, NET_TRANSPORT_AUTO);
  a.zstd = true;
  feed (&a, 161, &SLOW_CPU, 0.5, k);
  assert_int_equal (k[NET_CODEC_LZ4], 2 + 1);
  assert_int_equal (k[NET_CODEC_RAW], 161 - 5);
  feed (&a, 161, &SLOW_CPU, 8, k);                /* after a few frames */
  assert_true (k[NET_CODEC_LZ4] >= 161 - 30);
  /* The data turns to text: the next zstd probe switches to it. */
  feed (&a, 40, &TEXT, 80, k);
  assert_true (k[NET_CODEC_ZSTD] >= 40 - 17);
  /* A 5-byte frame's fixed cost (20 us) does not price zstd out: the
   * rates are ratios of sums.
   */
  net_auto_record (&a, NET_CODEC_ZSTD, 5, 32, 20000, 1000);
  assert_true (a.cpu_ns[NET_CODEC_ZSTD] < 1);
  assert_int_equal (net_auto_choose (&a), NET_CODEC_ZSTD);
}

/* ---- streams over TLS ---- */

struct peer {
  const char *dir;
  int fd;
  struct net_stream *s;         /* NULL if the handshake failed */
  char error[512];
};

static void *
server_side (void *opaque)
{
  struct peer *p = opaque;
  int fd = net_accept (p->fd);
  struct net_tls *t = fd >= 0 ? net_tls_start (fd, p->dir, true) : NULL;

  p->s = t ? net_stream_new (t, NET_TRANSPORT_TCP, NULL) : NULL;
  if (p->s == NULL)
    snprintf (p->error, sizeof p->error, "%s", get_error ());
  return NULL;
}

/* Connect a client with certificates cdir to a server with sdir. */
static void
pair (const char *sdir, const char *cdir, enum net_transport mode,
      struct net_stream **server, struct net_stream **client)
{
  struct peer sp = { .dir = sdir };
  pthread_t th;
  int port, fd;
  struct net_tls *t;

  int rcvbuf = 8 << 20;

  sp.fd = net_listen ("127.0.0.1", &port);
  assert_true (sp.fd >= 0);
  /* The tests send several frames before the server reads any: they
   * must fit the receiver's window, since the data channel keeps little
   * unsent in its own (TCP_NOTSENT_LOWAT) and would block.
   */
  setsockopt (sp.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  assert_int_equal (pthread_create (&th, NULL, server_side, &sp), 0);
  fd = net_connect ("127.0.0.1", port, true);
  assert_true (fd >= 0);
  t = net_tls_start (fd, cdir, false);
  *client = t ? net_stream_new (t, mode, NULL) : NULL;
  pthread_join (th, NULL);
  close (sp.fd);
  *server = sp.s;
}

static void
test_round_trip (void **state)
{
  struct fixture *f = *state;
  struct net_stream *srv, *cli;
  struct net_stream_stats st;
  static char text[1 << 20], rnd[300000];
  struct net_frame fr = { .type = NET_FRAME_DATA, .channel = 3,
                          .raw_len = sizeof text, .arg = 4096 }, got;
  const void *pl;
  size_t i;

  for (i = 0; i < sizeof text; i++)
    text[i] = "the quick brown fox jumps over the lazy dog\n"[i % 44];
  for (i = 0; i < sizeof rnd; i++)
    rnd[i] = random ();
  pair (f->host, f->host, NET_TRANSPORT_COMPRESS, &srv, &cli);
  assert_non_null (srv);
  assert_non_null (cli);
  assert_int_equal (net_stream_send (cli, &fr, text), 0);
  fr = (struct net_frame) { .type = NET_FRAME_DATA, .raw_len = sizeof rnd };
  assert_int_equal (net_stream_send (cli, &fr, rnd), 0);
  fr = (struct net_frame) { .type = NET_FRAME_ZERO, .raw_len = 1 << 20,
                            .arg = 1 << 30 };
  assert_int_equal (net_stream_send (cli, &fr, NULL), 0);
  net_stream_get_stats (cli, &st);
  assert_int_equal (st.compressed, 1);  /* text yes, random no */
  assert_true (st.wire_bytes < sizeof rnd + sizeof text / 10);

  assert_int_equal (net_stream_recv (srv, &got, &pl), 0);
  assert_int_equal (got.raw_len, sizeof text);
  assert_int_equal (got.channel, 3);
  assert_int_equal (got.arg, 4096);
  assert_memory_equal (pl, text, sizeof text);
  assert_int_equal (net_stream_recv (srv, &got, &pl), 0);
  assert_memory_equal (pl, rnd, sizeof rnd);
  assert_int_equal (net_stream_recv (srv, &got, &pl), 0);
  assert_int_equal (got.type, NET_FRAME_ZERO);
  assert_int_equal (got.arg, 1 << 30);
  /* The sender goes away: the receiver gets an error, not a hang. */
  net_stream_free (cli);
  assert_int_equal (net_stream_recv (srv, &got, &pl), -1);
  net_stream_free (srv);
}

/* A peer whose certificate comes from another CA is refused, both ways. */
static void
test_other_ca (void **state)
{
  struct fixture *f = *state;
  struct net_stream *srv, *cli;

  /* The server refuses the client (with TLS 1.3 the client may believe
   * it is through: it learns on its first read).
   */
  pair (f->host, f->other, NET_TRANSPORT_TCP, &srv, &cli);
  assert_null (srv);
  net_stream_free (cli);
  /* The client refuses the server. */
  pair (f->other, f->host, NET_TRANSPORT_TCP, &srv, &cli);
  assert_null (cli);
  assert_null (srv);
}

/* Hostile bytes inside a valid session: a corrupt header, a length
 * beyond the limit (4 GiB - 1, and the limit + 1 with a matching wire
 * length), corrupt lz4, and a frame cut short.  Each is refused for
 * its own reason: the peer closing the stream after the bad bytes must
 * not be what makes the receive fail (except for the frame cut short).
 */
static void
test_corrupt (void **state)
{
  struct fixture *f = *state;
  static const uint8_t bad[][NET_FRAME_HEADER] = {
    { 'X', 'M', 'F', 'F', 1 },
    { 'V', 'M', 'F', 'F', 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff },
    { 'V', 'M', 'F', 'F', 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 8 },
    { 'V', 'M', 'F', 'F', 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0 },
    { 'V', 'M', 'F', 'F', 1, 0, 0, 0, 0, 0x40, 0, 1, 0, 0x40, 0, 1 },
  };
  static const char *const why[] = {
    "frame: bad magic",
    "or length 4294967295",
    "frame: corrupt lz4 payload",
    "the peer closed the connection",
    "or length 4194305",        /* NET_FRAME_MAX_PAYLOAD + 1 */
  };
  size_t i;

  assert_int_equal (sizeof why / sizeof why[0], sizeof bad / sizeof bad[0]);
  assert_int_equal (NET_FRAME_MAX_PAYLOAD + 1, 0x400001);

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct net_stream *srv, *cli;
    struct net_frame got;
    const void *pl;
    struct net_tls *raw;

    pair (f->host, f->host, NET_TRANSPORT_TCP, &srv, &cli);
    assert_non_null (srv);
    assert_non_null (cli);
    /* Write below the framing: the stream's first member is its TLS. */
    raw = *(struct net_tls **) cli;
    assert_int_equal (net_tls_write (raw, bad[i], sizeof bad[i]), 0);
    if (i == 2)         /* lz4 "payload" of 8 garbage bytes */
      assert_int_equal (net_tls_write (raw, "\xff\xff\xff\xff\xff\xff\xff"
                                       "\xff", 8), 0);
    net_stream_free (cli);      /* i == 3: cut short after the header */
    assert_int_equal (net_stream_recv (srv, &got, &pl), -1);
    if (strstr (get_error (), why[i]) == NULL)
      fail_msg ("bad frame %zu: \"%s\", expected \"%s\"", i, get_error (),
                why[i]);
    net_stream_free (srv);
  }
}

/* A fake receiver: accepts one stream, takes its hello, answers reply
 * ("ok" or "error ..."), then answers one flush with "ack" ARG+skew.
 */
struct fake {
  const char *dir;
  int lfd;
  const char *reply;
  uint64_t skew;
  char hello[128];
};

static void *
fake_receiver (void *opaque)
{
  struct fake *k = opaque;
  int fd = net_accept (k->lfd);
  struct net_tls *t = fd >= 0 ? net_tls_start (fd, k->dir, true) : NULL;
  struct net_stream *s = t ? net_stream_new (t, NET_TRANSPORT_TCP, NULL)
    : NULL;
  char msg[128];
  uint64_t arg;

  if (s && net_control_recv (s, k->hello, sizeof k->hello, &arg) == 0 &&
      net_control_send (s, k->reply, arg) == 0 &&
      net_control_recv (s, msg, sizeof msg, &arg) == 0 &&
      strcmp (msg, "flush") == 0)
    net_control_send (s, "ack", arg + k->skew);
  net_stream_free (s);
  return NULL;
}

/* Connect a one-stream channel to a fake receiver; barrier once. */
static int
channel_run (struct fixture *f, struct fake *k, int *barrier)
{
  pthread_t th;
  int port;
  struct net_channel_params p = { .host = "127.0.0.1", .tls_dir = f->host,
                                  .id = "mig42", .streams = 1,
                                  .mode = NET_TRANSPORT_AUTO,
                                  .bandwidth = 1 << 20 };
  struct net_channel *ch;

  k->dir = f->host;
  k->lfd = net_listen ("127.0.0.1", &port);
  assert_true (k->lfd >= 0);
  p.port = port;
  assert_int_equal (pthread_create (&th, NULL, fake_receiver, k), 0);
  ch = net_channel_connect (&p);
  if (ch) {
    assert_int_equal (net_channel_streams (ch), 1);
    assert_null (net_channel_stream (ch, 1));
    *barrier = net_stream_barrier (net_channel_stream (ch, 0), 7);
  }
  net_channel_free (ch);
  pthread_join (th, NULL);
  close (k->lfd);
  return ch ? 0 : -1;
}

static void
test_channel (void **state)
{
  struct fake ok = { .reply = "ok" }, skew = { .reply = "ok", .skew = 1 };
  struct fake refused = { .reply = "error this data listener belongs to "
                          "another migration" };
  int b = 99;

  assert_int_equal (channel_run (*state, &ok, &b), 0);
  assert_string_equal (ok.hello, "hello mig42");
  assert_int_equal (b, 0);
  /* An ack for another barrier is not an ack. */
  assert_int_equal (channel_run (*state, &skew, &b), 0);
  assert_int_equal (b, -1);
  /* A refused hello fails the connect, with the receiver's reason. */
  assert_int_equal (channel_run (*state, &refused, &b), -1);
  assert_non_null (strstr (get_error (), "another migration"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_pace),
    cmocka_unit_test (test_auto),
    cmocka_unit_test (test_auto_picks),
    cmocka_unit_test (test_round_trip),
    cmocka_unit_test (test_other_ca),
    cmocka_unit_test (test_corrupt),
    cmocka_unit_test (test_channel),
  };

  return cmocka_run_group_tests (tests, fixture_setup, fixture_teardown);
}
