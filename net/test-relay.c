/* test-relay.c: the memory relay (relay.c) between a unix socket and a
 * fake vmferryd over real TLS on loopback: a connection's bytes arrive
 * whole and in order, compressed on the wire, its end travels as "eof"
 * and is acknowledged; with a receiver that decodes zstd, text-like
 * pages travel as zstd frames sharing one history; a receiver that
 * drops the stream mid-way makes the writer's connection fail and
 * net_relay_stop() report it.
 */
#include <config.h>

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/socket.h>

#include "minmax.h"
#include "utils.h"
#include "net.h"
#include "api.h"
#include "test-fixture.h"

#define SIZE (3u << 20)
#define CUT_ROUNDS 64

/* A fake vmferryd: one stream; hello and relay answered "ok"; STREAM
 * payloads kept in got; "eof" answered "ack".  With cut_at, it drops the
 * stream once it holds that many bytes.
 */
struct fake {
  const char *dir;
  int lfd;
  size_t cut_at;
  char *got;
  size_t len;
  bool eof;
};

static int
fake_frame (struct fake *k, struct net_stream *s, const struct net_frame *f,
            const void *pl)
{
  if (f->type == NET_FRAME_STREAM) {
    memcpy (k->got + k->len, pl, f->raw_len);
    k->len += f->raw_len;
    return k->cut_at && k->len >= k->cut_at ? -1 : 0;
  }
  if (f->raw_len == 5 && memcmp (pl, "relay", 5) == 0)
    return net_control_send (s, "ok", f->arg);
  if (f->raw_len == 3 && memcmp (pl, "eof", 3) == 0) {
    k->eof = true;
    return net_control_send (s, "ack", f->arg);
  }
  return -1;
}

static void *
fake_vmferryd (void *opaque)
{
  struct fake *k = opaque;
  int fd = net_accept (k->lfd);
  struct net_tls *t = fd >= 0 ? net_tls_start (fd, k->dir, true) : NULL;
  struct net_stream *s = t ? net_stream_new (t, NET_TRANSPORT_TCP, NULL)
    : NULL;
  struct net_frame f;
  const void *pl;
  char msg[128];
  uint64_t arg;

  if (s && net_control_recv (s, msg, sizeof msg, &arg) == 0 &&
      net_control_send (s, "ok", arg) == 0)
    while (net_stream_recv (s, &f, &pl) == 0 &&
           k->len + f.raw_len <= 2 * SIZE && fake_frame (k, s, &f, pl) == 0)
      ;
  net_stream_free (s);
  return NULL;
}

/* Text that lz4 compresses. */
static char *
text (void)
{
  char *b = malloc (SIZE);
  size_t i;

  assert_non_null (b);
  for (i = 0; i < SIZE; i++)
    b[i] = "the relay moves QEMU's migration stream\n"[i % 40] + i / 4096 % 3;
  return b;
}

/* Write buf rounds times to the relay's socket as QEMU would: 0 when
 * all went, -1 if the connection fails (the relay closed it), -2 if a
 * write waited WRITER_WAIT_S for room (the relay stopped reading but
 * left the connection open).
 */
#define WRITER_WAIT_S 20
static int
qemu_side (const char *path, const char *buf, size_t len, unsigned rounds)
{
  struct timeval tv = { .tv_sec = WRITER_WAIT_S };
  int fd = net_unix_connect (path);
  size_t off = 0, total = len * rounds;
  int r = 0;

  assert_true (fd >= 0);
  assert_int_equal (setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv),
                    0);
  while (off < total && r == 0) {
    size_t at = off % len;
    ssize_t n = send (fd, buf + at, MIN (len - at, 65536u), MSG_NOSIGNAL);
    if (n <= 0)
      r = n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) ? -2 : -1;
    else
      off += n;
  }
  shutdown (fd, SHUT_WR);
  close (fd);
  return r;
}

/* Pages like the test guest's text memory: each 4 KiB page a window of
 * one 64 KiB corpus of words.
 */
static char *
guest_pages (void)
{
  static const char *const words[] = {
    "the", "guest", "memory", "page", "is", "copied", "while", "it",
    "runs", "dirty", "pages", "are", "sent", "again", "until", "disk",
  };
  CLEANUP_FREE char *corpus = malloc (65536);
  char *b = malloc (SIZE);
  size_t off = 0, i, n;
  uint64_t x = 1;

  assert_non_null (b);
  assert_non_null (corpus);
  while (off < 65536) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    n = MIN (strlen (words[(x >> 33) % 16]), 65536 - off);
    memcpy (corpus + off, words[(x >> 33) % 16], n);
    off += n;
    if (off < 65536)
      corpus[off++] = ' ';
  }
  for (i = 0; i < SIZE; i += 4096) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    memcpy (b + i, corpus + (x >> 33) % (65536 - 4096), 4096);
  }
  return b;
}

/* Relay buf (rounds times) through a fake vmferryd (which decodes zstd
 * if zstd) over a link of 10 MB/s if slow; *wrote is the writer's
 * qemu_side(); returns net_relay_stop()'s result.
 */
static int
relay_run (struct fixture *fx, struct fake *k, const char *buf,
           unsigned rounds, bool zstd, bool slow, int *wrote,
           struct net_stream_stats *st)
{
  struct net_pace *pace = slow ? net_pace_new (10000000, false) : NULL;
  pthread_t th;
  unsigned conns;
  int port, r;
  CLEANUP_FREE char *sock = xasprintf ("%s/migration.sock", fx->tmp);
  struct net_relay_params p = {
    .max_conns = 1,
    .ch = { .host = "127.0.0.1", .tls_dir = fx->host, .id = "mig7",
            .mode = NET_TRANSPORT_COMPRESS, .zstd = zstd, .pace = pace },
  };
  struct net_relay *rl;

  k->dir = fx->host;
  k->got = malloc (2 * SIZE);
  assert_non_null (k->got);
  k->lfd = net_listen ("127.0.0.1", &port);
  assert_true (k->lfd >= 0);
  p.ch.port = port;
  assert_int_equal (pthread_create (&th, NULL, fake_vmferryd, k), 0);
  p.path = strdup (sock);       /* the relay keeps its own copy */
  rl = net_relay_start (&p);
  free ((char *) p.path);
  assert_non_null (rl);
  *wrote = qemu_side (sock, buf, SIZE, rounds);
  r = net_relay_stop (rl, 10000, st, &conns);
  net_pace_free (pace);
  assert_int_equal (conns, 1);
  pthread_join (th, NULL);
  close (k->lfd);
  assert_int_equal (access (sock, F_OK), -1);  /* socket removed */
  return r;
}

static void
test_relay (void **state)
{
  CLEANUP_FREE char *buf = text ();
  struct fake k = { 0 };
  struct net_stream_stats st;
  int wrote;

  assert_int_equal (relay_run (*state, &k, buf, 1, false, false, &wrote, &st),
                    0);
  assert_int_equal (wrote, 0);
  assert_true (k.eof);
  assert_int_equal (k.len, SIZE);
  assert_memory_equal (k.got, buf, SIZE);
  /* + control messages both ways */
  assert_true (st.raw_bytes >= SIZE && st.raw_bytes < SIZE + 64);
  assert_true (st.wire_bytes < SIZE / 4);
  assert_int_equal (st.zstd, 0);                /* not offered */
  free (k.got);
}

/* Guest-like pages over a link slow enough for zstd's CPU to pay (on
 * bare loopback lz4 is cheaper), lz4 then zstd: zstd's history makes
 * them a fraction of lz4's size.
 */
static void
test_relay_zstd (void **state)
{
  CLEANUP_FREE char *buf = guest_pages ();
  struct fake k = { 0 }, kz = { 0 };
  struct net_stream_stats st, stz;
  int wrote;

  assert_int_equal (relay_run (*state, &k, buf, 1, false, true, &wrote, &st),
                    0);
  assert_int_equal (relay_run (*state, &kz, buf, 1, true, true, &wrote, &stz),
                    0);
  assert_int_equal (wrote, 0);
  assert_true (kz.eof);
  assert_int_equal (kz.len, SIZE);
  assert_memory_equal (kz.got, buf, SIZE);
  print_message ("%u KiB of guest-like pages: lz4 %" PRIu64 " KiB (%"
                 PRIu64 " of %" PRIu64 " frames), zstd %" PRIu64 " KiB (%"
                 PRIu64 " zstd)\n", SIZE >> 10, st.wire_bytes >> 10,
                 st.compressed, st.frames, stz.wire_bytes >> 10, stz.zstd);
  /* 12 data frames: lz4 and zstd tried twice each, then zstd. */
  assert_true (stz.zstd >= 6);
  assert_true (stz.compressed >= stz.zstd);
  assert_true (stz.wire_bytes * 4 < st.wire_bytes * 3);
  free (k.got);
  free (kz.got);
}

static void
test_cut (void **state)
{
  CLEANUP_FREE char *buf = text ();
  struct fake k = { .cut_at = 1 << 20 };
  struct net_stream_stats st;
  int wrote;

  /* The writer goes on far beyond what the sockets between it and the
   * receiver can hold (CUT_ROUNDS * 3 MiB): its connection must fail,
   * as the source QEMU's migration must when vmferryd drops the stream,
   * and not just stall.
   */
  assert_int_equal (relay_run (*state, &k, buf, CUT_ROUNDS, false, false,
                               &wrote, &st), -1);
  assert_non_null (strstr (get_error (), "memory relay, connection 0"));
  assert_false (k.eof);
  assert_true (k.len < SIZE);
  assert_int_equal (wrote, -1);
  free (k.got);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_relay),
    cmocka_unit_test (test_relay_zstd),
    cmocka_unit_test (test_cut),
  };

  return cmocka_run_group_tests (tests, fixture_setup, fixture_teardown);
}
