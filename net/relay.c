/* relay.c: QEMU's migration connections relayed over the data channel
 * (net.h describes the protocol).
 *
 * Threads: an acceptor takes QEMU's connections one at a time and opens
 * each one's stream before it accepts the next (so vmferryd connects to
 * the skeleton in QEMU's order); a pump per connection owns its socket
 * and stream and moves bytes until QEMU's end of stream.  The relay's
 * lock protects the list of pumps, their state and the first error.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include "utils.h"
#include "net.h"
#include "internal.h"

#define MAX_CONNS 64

struct pump {
  struct net_relay *r;
  pthread_t thread;
  unsigned idx;                 /* connection number */
  int fd;                       /* QEMU's connection, owned */
  struct net_stream *s;         /* owned */
  bool done;                    /* the thread is ending (r->lock) */
};

struct net_relay {
  struct net_relay_params p;    /* p.ch's strings borrowed from the caller */
  char *path;                   /* the socket (p.path points to it) */
  int lfd;                      /* the unix listener */
  int stop_pipe[2];
  pthread_t acceptor;
  pthread_mutex_t lock;         /* protects the fields below */
  pthread_cond_t cond;          /* a pump ended */
  struct pump *pumps[MAX_CONNS];
  unsigned n;
  char *error;                  /* the first failure, or NULL */
  uint64_t wire;                /* bytes sent so far (atomic, no lock) */
};

/* Remember the first failure (the thread-local error). */
static void
fail (struct net_relay *r, const char *what, unsigned idx)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&r->lock);

  if (r->error == NULL)
    r->error = xasprintf ("memory relay, connection %u: %s: %s", idx, what,
                          get_error ());
}

static void *
pump_thread (void *opaque)
{
  struct pump *pp = opaque;
  struct net_relay *r = pp->r;

  if (net_duplex_send (pp->fd, pp->s, pp->idx, &r->wire) == -1)
    fail (r, "relaying", pp->idx);
  /* QEMU sees its connection end (an error, if it was still sending). */
  shutdown (pp->fd, SHUT_RDWR);
  pthread_mutex_lock (&r->lock);
  pp->done = true;
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
  return NULL;
}

/* Open connection fd's stream and start its pump (fd is closed on
 * failure: QEMU's migration then fails).
 */
static void
start_pump (struct net_relay *r, int fd)
{
  struct pump *pp = calloc (1, sizeof *pp);
  unsigned idx = r->n;

  if (pp == NULL || idx >= r->p.max_conns || idx >= MAX_CONNS) {
    set_error (errno, "more connections than expected (%u)", idx + 1);
    goto err;
  }
  *pp = (struct pump) { .r = r, .idx = idx, .fd = fd };
  pp->s = net_channel_open_stream (&r->p.ch, r->p.ch.pace, idx);
  if (pp->s == NULL || net_control_send (pp->s, "relay", idx) == -1 ||
      net_control_expect (pp->s, "ok", idx) == -1)
    goto err;
  pthread_mutex_lock (&r->lock);
  if (pthread_create (&pp->thread, NULL, pump_thread, pp) != 0) {
    pthread_mutex_unlock (&r->lock);
    set_error (errno, "pthread_create");
    goto err;
  }
  r->pumps[r->n++] = pp;
  pthread_mutex_unlock (&r->lock);
  return;
 err:
  fail (r, "opening its stream", idx);
  close (fd);
  if (pp)
    net_stream_free (pp->s);
  free (pp);
}

static void *
accept_loop (void *opaque)
{
  struct net_relay *r = opaque;

  for (;;) {
    struct pollfd pfd[2] = { { .fd = r->lfd, .events = POLLIN },
                             { .fd = r->stop_pipe[0], .events = POLLIN } };
    int fd;

    if (poll (pfd, 2, -1) == -1 && errno != EINTR)
      break;
    if (pfd[1].revents)
      break;
    if (!(pfd[0].revents & POLLIN))
      continue;
    do
      fd = accept4 (r->lfd, NULL, NULL, SOCK_CLOEXEC);
    while (fd == -1 && errno == EINTR);
    if (fd >= 0)
      start_pump (r, fd);
  }
  return NULL;
}

struct net_relay *
net_relay_start (const struct net_relay_params *p)
{
  struct net_relay *r = calloc (1, sizeof *r);

  if (r == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  r->p = *p;
  r->stop_pipe[0] = r->stop_pipe[1] = -1;
  pthread_mutex_init (&r->lock, NULL);
  pthread_cond_init (&r->cond, NULL);
  if ((r->p.path = r->path = strdup (p->path)) == NULL) {
    set_error (errno, "strdup");
    r->lfd = -1;
    goto err;
  }
  if ((r->lfd = net_unix_listen (p->path)) == -1)
    goto err;
  if (pipe2 (r->stop_pipe, O_CLOEXEC) == -1 ||
      pthread_create (&r->acceptor, NULL, accept_loop, r) != 0) {
    set_error (errno, "memory relay: starting");
    goto err;
  }
  return r;
 err:
  if (r->lfd >= 0) {
    close (r->lfd);
    unlink (p->path);
  }
  if (r->stop_pipe[0] >= 0) {
    close (r->stop_pipe[0]);
    close (r->stop_pipe[1]);
  }
  free (r->path);
  pthread_cond_destroy (&r->cond);
  pthread_mutex_destroy (&r->lock);
  free (r);
  return NULL;
}

uint64_t
net_relay_wire_bytes (struct net_relay *r)
{
  return r ? __atomic_load_n (&r->wire, __ATOMIC_RELAXED) : 0;
}

/* Wait until every pump ended, at most grace_ms. */
static void
wait_pumps (struct net_relay *r, int grace_ms)
{
  int64_t deadline = net_internal_clock_ns (CLOCK_REALTIME) +
    (int64_t) grace_ms * 1000000;
  struct timespec ts = { .tv_sec = deadline / 1000000000,
                         .tv_nsec = deadline % 1000000000 };
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&r->lock);

  for (;;) {
    unsigned i, live = 0;
    for (i = 0; i < r->n; i++)
      live += !r->pumps[i]->done;
    if (live == 0 ||
        pthread_cond_timedwait (&r->cond, &r->lock, &ts) == ETIMEDOUT)
      return;
  }
}

int
net_relay_stop (struct net_relay *r, int grace_ms,
                struct net_stream_stats *st, unsigned *conns)
{
  unsigned i;
  int ret;

  if (st)
    memset (st, 0, sizeof *st);
  if (conns)
    *conns = r ? r->n : 0;
  if (r == NULL)
    return 0;
  if (write (r->stop_pipe[1], "x", 1) != 1)
    debug ("relay stop pipe: %m");
  pthread_join (r->acceptor, NULL);
  close (r->lfd);
  unlink (r->p.path);
  if (grace_ms > 0)
    wait_pumps (r, grace_ms);
  for (i = 0; i < r->n; i++) {
    struct pump *pp = r->pumps[i];
    struct net_stream_stats one;
    bool done;
    pthread_mutex_lock (&r->lock);
    done = pp->done;
    pthread_mutex_unlock (&r->lock);
    if (!done) {
      set_error (0, "cut before its end");
      fail (r, "stopped", i);
    }
    shutdown (pp->fd, SHUT_RDWR);
    net_stream_shutdown (pp->s);
    pthread_join (pp->thread, NULL);
    net_stream_get_stats (pp->s, &one);
    if (st) {
      st->frames += one.frames;
      st->raw_bytes += one.raw_bytes;
      st->wire_bytes += one.wire_bytes;
      st->compressed += one.compressed;
      st->zstd += one.zstd;
    }
    net_stream_free (pp->s);
    close (pp->fd);
    free (pp);
  }
  ret = r->error ? -1 : 0;
  if (r->error)
    set_error (0, "%s", r->error);
  free (r->error);
  close (r->stop_pipe[0]);
  close (r->stop_pipe[1]);
  pthread_cond_destroy (&r->cond);
  pthread_mutex_destroy (&r->lock);
  free (r->path);
  free (r);
  return ret;
}
