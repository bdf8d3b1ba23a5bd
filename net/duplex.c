/* duplex.c: byte streams over the data channel, one way (the pumps,
 * also used by relay.c and by vmferryd) and both ways (net_duplex:
 * libvirt's migration and NBD connections, net.h describes it).
 *
 * Threads of a net_duplex: an acceptor takes the local connections
 * from its listeners, opens each one's up and down streams (so
 * vmferryd connects to the far end in the local order), and starts two
 * pumps per connection, each owning one stream: up reads the local
 * socket and sends, down receives and writes the local socket.  The
 * lock protects the list of connections, their state and the first
 * error.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include "utils.h"
#include "net.h"
#include "internal.h"

#define FRAME_TARGET (256 * 1024)  /* bytes gathered for one frame */
#define MAX_CONNS 64

/* Read what the local end wrote: block for the first bytes, then take
 * what else is already there up to FRAME_TARGET.  Returns the bytes
 * read, 0 at its end of stream (*eof), -1 on error.
 */
static ssize_t
gather (int fd, char *buf, bool *eof)
{
  ssize_t n, m;

  do
    n = read (fd, buf, FRAME_TARGET);
  while (n == -1 && errno == EINTR);
  if (n <= 0) {
    *eof = n == 0;
    if (n == -1)
      set_error (errno, "reading the relayed connection");
    return n;
  }
  while (n < FRAME_TARGET) {
    m = recv (fd, buf + n, FRAME_TARGET - n, MSG_DONTWAIT);
    if (m == 0)
      *eof = true;
    if (m <= 0)
      break;
    n += m;
  }
  return n;
}

int
net_duplex_send (int fd, struct net_stream *s, uint16_t channel,
                 uint64_t *wire)
{
  CLEANUP_FREE char *buf = malloc (FRAME_TARGET);
  struct net_frame f = { .type = NET_FRAME_STREAM, .channel = channel };
  bool eof = false;
  uint64_t seq = 0, before;
  struct net_stream_stats st;
  ssize_t n;

  if (buf == NULL) {
    set_error (errno, "malloc");
    return -1;
  }
  while (!eof) {
    if ((n = gather (fd, buf, &eof)) == -1)
      return -1;
    if (n == 0)
      break;
    f.raw_len = n;
    f.arg = seq++;
    net_stream_get_stats (s, &st);
    before = st.wire_bytes;
    if (net_stream_send (s, &f, buf) == -1)
      return -1;
    net_stream_get_stats (s, &st);
    if (wire)
      __atomic_add_fetch (wire, st.wire_bytes - before, __ATOMIC_RELAXED);
  }
  if (net_control_send (s, "eof", seq) == -1 ||
      net_control_expect (s, "ack", seq) == -1)
    return -1;
  return 0;
}

/* Write all of len bytes to fd (no SIGPIPE if its reader is gone). */
static int
send_all (int fd, const char *p, size_t len)
{
  while (len) {
    ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1) {
      set_error (errno, "writing the relayed connection");
      return -1;
    }
    p += n;
    len -= n;
  }
  return 0;
}

int
net_duplex_recv (struct net_stream *s, int fd, uint64_t *raw)
{
  struct net_frame f;
  const void *pl;

  for (;;) {
    if (net_stream_recv (s, &f, &pl) == -1)
      return -1;
    if (f.type == NET_FRAME_STREAM) {
      if (send_all (fd, pl, f.raw_len) == -1)
        return -1;
      if (raw)
        __atomic_add_fetch (raw, f.raw_len, __ATOMIC_RELAXED);
      continue;
    }
    if (f.type == NET_FRAME_CONTROL && f.raw_len == 3 &&
        memcmp (pl, "eof", 3) == 0) {
      shutdown (fd, SHUT_WR);
      return net_control_send (s, "ack", f.arg);
    }
    if (f.type == NET_FRAME_CONTROL && f.raw_len > 6 &&
        memcmp (pl, "error ", 6) == 0)
      set_error (0, "the far end failed: %.*s", (int) f.raw_len - 6,
                 (const char *) pl + 6);
    else
      set_error (0, "unexpected frame of type %d in a relayed stream",
                 f.type);
    return -1;
  }
}

/* ---- net_duplex: the local side's listeners and connections ---- */

struct conn;

struct pump {
  struct conn *c;
  pthread_t thread;
  bool down;                    /* receives (down) or sends (up) */
  struct net_stream *s;         /* owned */
  bool started, done;           /* (d->lock) */
};

struct conn {
  struct net_duplex *d;
  unsigned idx, target;
  int fd;                       /* the local connection, owned */
  struct pump up, down;
};

struct net_duplex {
  struct net_duplex_params p;   /* p.ch's strings borrowed */
  char *paths[NET_DUPLEX_TARGETS]; /* ours; p.paths point to them */
  int lfd[NET_DUPLEX_TARGETS];  /* listeners, -1: none */
  int stop_pipe[2];
  pthread_t acceptor;
  bool acceptor_started;
  pthread_mutex_t lock;         /* protects the fields below */
  pthread_cond_t cond;          /* a pump ended */
  struct conn *conns[MAX_CONNS];
  unsigned n;
  char *error;                  /* the first failure, or NULL */
  uint64_t wire;                /* bytes sent so far (atomic) */
};

static const char *const target_names[NET_DUPLEX_TARGETS] = {
  "migration", "nbd",
};

static void
fail (struct net_duplex *d, const char *what, unsigned idx, unsigned target)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->lock);

  if (d->error == NULL)
    d->error = xasprintf ("relay of %s connection %u: %s: %s",
                          target_names[target], idx, what, get_error ());
}

static void *
pump_thread (void *opaque)
{
  struct pump *pp = opaque;
  struct conn *c = pp->c;
  struct net_duplex *d = c->d;
  int r = pp->down ? net_duplex_recv (pp->s, c->fd, NULL)
    : net_duplex_send (c->fd, pp->s, c->idx, &d->wire);

  if (r == -1) {
    fail (d, pp->down ? "receiving" : "sending", c->idx, c->target);
    /* The local end sees its connection cut, the far end its stream. */
    shutdown (c->fd, SHUT_RDWR);
    net_stream_shutdown (c->up.s);
    net_stream_shutdown (c->down.s);
  }
  pthread_mutex_lock (&d->lock);
  pp->done = true;
  pthread_cond_broadcast (&d->cond);
  pthread_mutex_unlock (&d->lock);
  return NULL;
}

/* Open one direction's stream: "duplex" ARG, answered "ok". */
static struct net_stream *
open_stream (struct net_duplex *d, struct conn *c, bool down)
{
  uint64_t arg = NET_DUPLEX_ARG (c->idx, c->target, down);
  struct net_stream *s =
    net_channel_open_stream (&d->p.ch, down ? NULL : d->p.ch.pace,
                             c->idx * 2 + down);

  if (s == NULL || net_control_send (s, "duplex", arg) == -1 ||
      net_control_expect (s, "ok", arg) == -1) {
    net_stream_free (s);
    return NULL;
  }
  return s;
}

static void
conn_free (struct conn *c)
{
  if (c == NULL)
    return;
  net_stream_free (c->up.s);
  net_stream_free (c->down.s);
  if (c->fd >= 0)
    close (c->fd);
  free (c);
}

/* Open connection fd's streams and start its pumps (fd is closed on
 * failure: the local end then fails).
 */
static void
start_conn (struct net_duplex *d, int fd, unsigned target)
{
  struct conn *c = calloc (1, sizeof *c);
  unsigned idx = d->n;

  if (c == NULL || idx >= d->p.max_conns || idx >= MAX_CONNS) {
    set_error (errno, "more connections than expected (%u)", idx + 1);
    fail (d, "accepting", idx, target);
    free (c);
    close (fd);
    return;
  }
  *c = (struct conn) { .d = d, .idx = idx, .target = target, .fd = fd,
                       .up = { .c = c }, .down = { .c = c, .down = true } };
  if ((c->up.s = open_stream (d, c, false)) == NULL ||
      (c->down.s = open_stream (d, c, true)) == NULL) {
    fail (d, "opening its streams", idx, target);
    conn_free (c);
    return;
  }
  pthread_mutex_lock (&d->lock);
  d->conns[d->n++] = c;
  c->up.started = pthread_create (&c->up.thread, NULL, pump_thread,
                                  &c->up) == 0;
  c->down.started = pthread_create (&c->down.thread, NULL, pump_thread,
                                    &c->down) == 0;
  c->up.done |= !c->up.started;
  c->down.done |= !c->down.started;
  pthread_mutex_unlock (&d->lock);
  if (!c->up.started || !c->down.started) {
    set_error (EAGAIN, "pthread_create");
    fail (d, "starting", idx, target);
    shutdown (fd, SHUT_RDWR);
  }
}

static void *
accept_loop (void *opaque)
{
  struct net_duplex *d = opaque;

  for (;;) {
    struct pollfd pfd[NET_DUPLEX_TARGETS + 1] = {
      { .fd = d->stop_pipe[0], .events = POLLIN },
    };
    unsigned t;
    int fd;

    for (t = 0; t < NET_DUPLEX_TARGETS; t++)
      pfd[t + 1] = (struct pollfd) { .fd = d->lfd[t], .events = POLLIN };
    if (poll (pfd, NET_DUPLEX_TARGETS + 1, -1) == -1 && errno != EINTR)
      break;
    if (pfd[0].revents)
      break;
    for (t = 0; t < NET_DUPLEX_TARGETS; t++) {
      if (!(pfd[t + 1].revents & POLLIN))
        continue;
      do
        fd = accept4 (d->lfd[t], NULL, NULL, SOCK_CLOEXEC);
      while (fd == -1 && errno == EINTR);
      if (fd >= 0)
        start_conn (d, fd, t);
    }
  }
  return NULL;
}

/* Close the listeners, remove their sockets. */
static void
close_listeners (struct net_duplex *d)
{
  unsigned t;

  for (t = 0; t < NET_DUPLEX_TARGETS; t++) {
    if (d->lfd[t] >= 0) {
      close (d->lfd[t]);
      unlink (d->paths[t]);
    }
    d->lfd[t] = -1;
    free (d->paths[t]);
    d->paths[t] = NULL;
  }
}

static int
listen_all (struct net_duplex *d, const struct net_duplex_params *p)
{
  unsigned t;

  for (t = 0; t < NET_DUPLEX_TARGETS; t++) {
    if (p->paths[t] == NULL)
      continue;
    if ((d->paths[t] = strdup (p->paths[t])) == NULL) {
      set_error (errno, "strdup");
      return -1;
    }
    d->p.paths[t] = d->paths[t];
    if ((d->lfd[t] = net_unix_listen (p->paths[t])) == -1)
      return -1;
  }
  return 0;
}

struct net_duplex *
net_duplex_start (const struct net_duplex_params *p)
{
  struct net_duplex *d = calloc (1, sizeof *d);

  if (d == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  d->p = *p;
  d->lfd[0] = d->lfd[1] = d->stop_pipe[0] = d->stop_pipe[1] = -1;
  pthread_mutex_init (&d->lock, NULL);
  pthread_cond_init (&d->cond, NULL);
  if (listen_all (d, p) == -1)
    goto err;
  if (pipe2 (d->stop_pipe, O_CLOEXEC) == -1 ||
      pthread_create (&d->acceptor, NULL, accept_loop, d) != 0) {
    set_error (errno, "relay: starting");
    goto err;
  }
  d->acceptor_started = true;
  return d;
 err:
  net_duplex_stop (d, 0, NULL, NULL, NULL);
  return NULL;
}

uint64_t
net_duplex_wire_bytes (struct net_duplex *d)
{
  return d ? __atomic_load_n (&d->wire, __ATOMIC_RELAXED) : 0;
}

/* Every pump ended, or grace_ms passed. */
static void
wait_pumps (struct net_duplex *d, int grace_ms)
{
  int64_t deadline = net_internal_clock_ns (CLOCK_REALTIME) +
    (int64_t) grace_ms * 1000000;
  struct timespec ts = { .tv_sec = deadline / 1000000000,
                         .tv_nsec = deadline % 1000000000 };
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->lock);

  for (;;) {
    unsigned i, live = 0;
    for (i = 0; i < d->n; i++)
      live += !d->conns[i]->up.done + !d->conns[i]->down.done;
    if (live == 0 ||
        pthread_cond_timedwait (&d->cond, &d->lock, &ts) == ETIMEDOUT)
      return;
  }
}

static void
add_stats (struct net_stream_stats *sum, const struct net_stream *s)
{
  struct net_stream_stats one;

  if (sum == NULL || s == NULL)
    return;
  net_stream_get_stats (s, &one);
  sum->frames += one.frames;
  sum->raw_bytes += one.raw_bytes;
  sum->wire_bytes += one.wire_bytes;
  sum->compressed += one.compressed;
  sum->zstd += one.zstd;
}

/* Cut connection c if it has not ended, join its pumps, add its
 * statistics.
 */
static void
end_conn (struct net_duplex *d, struct conn *c, struct net_stream_stats *up,
          struct net_stream_stats *down)
{
  bool done;

  pthread_mutex_lock (&d->lock);
  done = c->up.done && c->down.done;
  pthread_mutex_unlock (&d->lock);
  if (!done) {
    set_error (0, "cut before its end");
    fail (d, "stopped", c->idx, c->target);
  }
  shutdown (c->fd, SHUT_RDWR);
  net_stream_shutdown (c->up.s);
  net_stream_shutdown (c->down.s);
  if (c->up.started)
    pthread_join (c->up.thread, NULL);
  if (c->down.started)
    pthread_join (c->down.thread, NULL);
  add_stats (up, c->up.s);
  add_stats (down, c->down.s);
  conn_free (c);
}

int
net_duplex_stop (struct net_duplex *d, int grace_ms,
                 struct net_stream_stats *up, struct net_stream_stats *down,
                 unsigned *conns)
{
  unsigned i;
  int ret;

  if (up)
    memset (up, 0, sizeof *up);
  if (down)
    memset (down, 0, sizeof *down);
  if (conns)
    *conns = d ? d->n : 0;
  if (d == NULL)
    return 0;
  if (d->acceptor_started) {
    if (write (d->stop_pipe[1], "x", 1) != 1)
      debug ("relay stop pipe: %m");
    pthread_join (d->acceptor, NULL);
  }
  close_listeners (d);
  if (grace_ms > 0)
    wait_pumps (d, grace_ms);
  for (i = 0; i < d->n; i++)
    end_conn (d, d->conns[i], up, down);
  ret = d->error ? -1 : 0;
  if (d->error)
    set_error (0, "%s", d->error);
  free (d->error);
  if (d->stop_pipe[0] >= 0) {
    close (d->stop_pipe[0]);
    close (d->stop_pipe[1]);
  }
  pthread_cond_destroy (&d->cond);
  pthread_mutex_destroy (&d->lock);
  free (d);
  return ret;
}
