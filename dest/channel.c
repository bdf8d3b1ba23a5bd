/* dest-channel.c: vmferryd's end of the data channel, one per migration
 * whose source asked for it ("channel": true in prepare).
 *
 * A listener on a free port of the data address (prepare answers it as
 * "data_port", and "data_zstd": true: its streams decode zstd frames);
 * an acceptor thread hands each connection to a receiver
 * thread, which shakes hands (TLS, our server certificate, the peer's
 * verified against our CA), takes "hello ID" for this migration only, and
 * then applies the stream's frames in order to the skeleton's NBD exports
 * through its own libnbd connections (TLS, our client certificate):
 * DATA -> write, ZERO -> zero, "flush" -> flush what it wrote, "ack".
 * A stream that starts with "relay" (vmferry relays QEMU's migration
 * connections, net.h) instead carries bytes for the skeleton's incoming
 * migration: the receiver connects to its unix socket (relay_path) and
 * says "ok"; STREAM -> written there; "eof" -> the skeleton sees the end
 * of stream, "ack".
 * A receiver that fails says "error MSG" and closes its stream.
 *
 * Who may connect: the listener is for the migration's source only.  A
 * connection from any other address (the source's are the prepare
 * request's and those it listed in "data_from") is closed as soon as it
 * is accepted, before any TLS.  The source's own connections must finish
 * their TLS handshake within HANDSHAKE_MS of being accepted: the
 * acceptor shuts down the socket of a receiver still in its handshake
 * then (GnuTLS's own handshake timeout counts only the time it spends
 * reading, not waiting for the peer, so a byte a second never reaches
 * it).  At most MAX_HANDSHAKES run at once: beyond that the acceptor
 * leaves connections in the listener's queue until a handshake ends, so
 * connections that never finish theirs take at most that many receivers
 * (and that much CPU), never the slots of the streams that carry data.
 *
 * Threads own their streams and NBD handles; the channel's lock protects
 * only the list of receivers.  Stopping wakes every thread (a pipe for
 * the acceptor, shutdown(2) for receivers) and joins them.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>

#include "internal.h"
#include "net.h"
#include "storage.h"

#define MAX_RECEIVERS 32        /* live streams of one migration */
#define MAX_HANDSHAKES 8        /* receivers in their TLS handshake */
/* The source opens its streams back to back, each handshake takes
 * milliseconds (two round trips, an RSA signature); 5 s leaves room for
 * a loaded host on a slow link.
 */
#define HANDSHAKE_MS 5000

struct dest_receiver {
  struct dest_receiver *next;
  struct dest_channel *ch;
  pthread_t thread;
  int fd;                       /* the socket (the stream has a dup) */
  int mig_fd;                   /* relay: the skeleton's incoming
                                   connection, or -1 (ch->lock) */
  bool done;                    /* the thread is ending (ch->lock) */
  bool handshaking;             /* in its TLS handshake (ch->lock) */
  bool cut;                     /* the acceptor ended it (ch->lock) */
  struct timespec deadline;     /* of the handshake, CLOCK_MONOTONIC */
};

struct dest_channel {
  char *id;                     /* the migration */
  char *tls_dir;
  char **uris;                  /* per disk index; NULL: not copied */
  size_t n_disks;
  char *relay_path;             /* the skeleton's incoming migration socket,
                                   NULL: no relay */
  struct dest_duplex *duplex;   /* a libvirt domain's relayed connections
                                   (the job's, outlives the channel) */
  int lfd;                      /* listener */
  int stop_pipe[2];
  int wake_pipe[2];             /* a handshake ended (non-blocking) */
  struct net_addr *peers;       /* the source's addresses: who may */
  size_t n_peers;               /* connect (constant once started) */
  pthread_t acceptor;
  pthread_mutex_t lock;         /* protects receivers, handshakes, error */
  struct dest_receiver *receivers;
  unsigned handshakes;          /* receivers in their TLS handshake */
  char error[512];              /* the first frame that failed, or "" */
  struct dest_metrics *metrics; /* the agent's (bytes received) */
};

/* The NBD handle of disk i, opened on first use. */
static struct nbd_handle *
disk_handle (struct dest_channel *ch, struct nbd_handle **h, unsigned i)
{
  if (i >= ch->n_disks || ch->uris[i] == NULL) {
    set_error (0, "no disk %u to write in this migration", i);
    return NULL;
  }
  if (h[i] == NULL)
    h[i] = storage_nbd_open (ch->uris[i], false);
  return h[i];
}

/* "relay": this stream carries the skeleton's incoming migration
 * connection number arg; connect to it.
 */
static int
relay_open (struct dest_receiver *r, struct net_stream *s, uint64_t arg)
{
  struct dest_channel *ch = r->ch;
  int fd;

  if (ch->relay_path == NULL || r->mig_fd >= 0) {
    set_error (0, "no migration to relay on this stream");
    return -1;
  }
  if ((fd = net_unix_connect (ch->relay_path)) == -1)
    return -1;
  pthread_mutex_lock (&ch->lock);
  r->mig_fd = fd;
  pthread_mutex_unlock (&ch->lock);
  debug ("data channel %s: relaying migration connection %" PRIu64, ch->id,
         arg);
  return net_control_send (s, "ok", arg);
}

/* Write a relayed chunk to the skeleton (no SIGPIPE if it is gone). */
static int
relay_write (struct dest_receiver *r, const void *buf, size_t len)
{
  const char *p = buf;

  if (r->mig_fd < 0) {
    set_error (0, "relayed bytes before \"relay\"");
    return -1;
  }
  while (len) {
    ssize_t n = send (r->mig_fd, p, len, MSG_NOSIGNAL);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1) {
      set_error (errno, "writing to the skeleton's incoming migration");
      return -1;
    }
    p += n;
    len -= n;
  }
  return 0;
}

/* "duplex": this stream carries one direction of a connection relayed
 * both ways (net.h, dest-libvirt.c) until its end.
 */
static int
duplex (struct dest_receiver *r, struct net_stream *s, uint64_t arg)
{
  struct dest_channel *ch = r->ch;
  uint64_t n = 0;
  int fd, ret;

  if (r->mig_fd >= 0 || (fd = mig_dest_duplex_connect (ch->duplex, arg)) == -1)
    return -1;
  pthread_mutex_lock (&ch->lock);
  r->mig_fd = fd;
  pthread_mutex_unlock (&ch->lock);
  if (net_control_send (s, "ok", arg) == -1)
    return -1;
  if (arg & 1)
    return net_duplex_send (fd, s, arg >> 8, NULL);
  ret = net_duplex_recv (s, fd, &n);
  mig_dest_duplex_delivered (ch->duplex, n);
  mig_dest_metrics_bytes (ch->metrics, false, (arg >> 1 & 0x7f) == 0, n);
  return ret;
}

/* A CONTROL frame: "flush", or a relay's "relay" and "eof", or
 * "duplex".
 */
static int
control (struct dest_receiver *r, struct net_stream *s,
         struct nbd_handle **h, const struct net_frame *f, const void *pl)
{
  struct dest_channel *ch = r->ch;
  size_t i;

  if (f->raw_len == 5 && memcmp (pl, "relay", 5) == 0)
    return relay_open (r, s, f->arg);
  if (f->raw_len == 6 && memcmp (pl, "duplex", 6) == 0)
    return duplex (r, s, f->arg);
  if (f->raw_len == 3 && memcmp (pl, "eof", 3) == 0 && r->mig_fd >= 0) {
    shutdown (r->mig_fd, SHUT_WR);
    return net_control_send (s, "ack", f->arg);
  }
  if (f->raw_len != 5 || memcmp (pl, "flush", 5) != 0) {
    set_error (0, "unexpected control message");
    return -1;
  }
  for (i = 0; i < ch->n_disks; i++)
    if (h[i] && storage_nbd_ops.flush (h[i]) == -1)
      return -1;
  return net_control_send (s, "ack", f->arg);
}

/* Apply one frame. */
static int
apply (struct dest_receiver *r, struct net_stream *s, struct nbd_handle **h,
       const struct net_frame *f, const void *pl)
{
  const struct storage_dst_ops *o = &storage_nbd_ops;
  struct nbd_handle *d;

  if (f->type == NET_FRAME_CONTROL)
    return control (r, s, h, f, pl);
  mig_dest_metrics_bytes (r->ch->metrics, false,
                          f->type == NET_FRAME_STREAM, f->raw_len);
  if (f->type == NET_FRAME_STREAM)
    return relay_write (r, pl, f->raw_len);
  if (f->type != NET_FRAME_DATA && f->type != NET_FRAME_ZERO) {
    set_error (0, "unexpected frame of type %d", f->type);
    return -1;
  }
  if ((d = disk_handle (r->ch, h, f->channel)) == NULL)
    return -1;
  return f->type == NET_FRAME_DATA ? o->pwrite (d, pl, f->raw_len, f->arg)
    : o->zero (d, f->raw_len, f->arg);
}

/* The stream's hello must name our migration. */
static int
hello (struct dest_channel *ch, struct net_stream *s)
{
  char msg[256];
  uint64_t i;

  if (net_control_recv (s, msg, sizeof msg, &i) == -1)
    return -1;
  if (strncmp (msg, "hello ", 6) != 0 || strcmp (msg + 6, ch->id) != 0) {
    set_error (0, "a stream not of migration %s refused", ch->id);
    net_control_send (s, "error this data listener belongs to another "
                      "migration", i);
    return -1;
  }
  return net_control_send (s, "ok", i);
}

/* Receive frames until the stream ends (0) or a frame fails (-1, the
 * sender was told why).
 */
static int
serve (struct dest_receiver *r, struct net_stream *s)
{
  struct dest_channel *ch = r->ch;
  CLEANUP_FREE struct nbd_handle **h = calloc (ch->n_disks, sizeof *h);
  struct net_frame f;
  const void *pl;
  size_t i;
  int ret = 0;

  while (h && net_stream_recv (s, &f, &pl) == 0)
    if (apply (r, s, h, &f, pl) == -1) {
      CLEANUP_FREE char *m = xasprintf ("error %s", get_error ());
      debug ("data channel %s: %s", ch->id, get_error ());
      pthread_mutex_lock (&ch->lock);
      if (ch->error[0] == '\0')
        snprintf (ch->error, sizeof ch->error, "%s", get_error ());
      pthread_mutex_unlock (&ch->lock);
      net_control_send (s, m ? m : "error", f.arg);
      ret = -1;
      break;
    }
  for (i = 0; h && i < ch->n_disks; i++)
    if (h[i])
      storage_nbd_ops.close (h[i]);
  return ret;
}

/* After a failed frame the sender may be blocked in a write with our
 * receive window full: it would wait forever.  Shut the connection down
 * (our FIN follows the error message) and discard what is queued; the
 * window opens, and TCP answers data that arrives after the shutdown
 * with a reset, which fails the sender's write.
 */
static void
refuse_rest (int fd)
{
  char buf[65536];

  shutdown (fd, SHUT_RDWR);
  while (read (fd, buf, sizeof buf) > 0)
    ;
}

/* A receiver's handshake ended (either way): one more may start. */
static void
handshake_done (struct dest_receiver *r)
{
  struct dest_channel *ch = r->ch;

  pthread_mutex_lock (&ch->lock);
  r->handshaking = false;
  ch->handshakes--;
  pthread_mutex_unlock (&ch->lock);
  if (write (ch->wake_pipe[1], "x", 1) == -1 && errno != EAGAIN)
    debug ("data channel wake pipe: %m");
}

static void *
receive (void *opaque)
{
  struct dest_receiver *r = opaque;
  struct dest_channel *ch = r->ch;
  int fd = dup (r->fd);
  struct net_tls *t = fd >= 0 ? net_tls_start (fd, ch->tls_dir, true) : NULL;
  struct net_stream *s = t ? net_stream_new (t, NET_TRANSPORT_TCP, NULL)
    : NULL;

  handshake_done (r);

  if (s && hello (ch, s) == 0) {
    if (serve (r, s) == -1)
      refuse_rest (r->fd);
  }
  else
    debug ("data channel %s: %s", ch->id, get_error ());
  net_stream_free (s);
  /* The sender sees the end now, not when the receiver is reaped: a
   * relay that failed must not leave it blocked writing.
   */
  shutdown (r->fd, SHUT_RDWR);
  pthread_mutex_lock (&ch->lock);
  if (r->mig_fd >= 0)
    close (r->mig_fd);         /* the skeleton sees the end (or a cut) */
  r->mig_fd = -1;
  r->done = true;
  pthread_mutex_unlock (&ch->lock);
  return NULL;
}

/* Join and free the receivers that ended (all of them with all). */
static void
reap (struct dest_channel *ch, bool all)
{
  struct dest_receiver **p = &ch->receivers, *r;

  pthread_mutex_lock (&ch->lock);
  for (r = ch->receivers; all && r; r = r->next) {
    shutdown (r->fd, SHUT_RDWR);
    if (r->mig_fd >= 0)
      shutdown (r->mig_fd, SHUT_RDWR);
  }
  while ((r = *p) != NULL) {
    bool done = r->done;
    if (!done && !all) {
      p = &r->next;
      continue;
    }
    *p = r->next;
    pthread_mutex_unlock (&ch->lock);
    pthread_join (r->thread, NULL);
    close (r->fd);
    free (r);
    pthread_mutex_lock (&ch->lock);
  }
  pthread_mutex_unlock (&ch->lock);
}

/* Start a receiver for connection fd (closed if that fails). */
static void
start_receiver (struct dest_channel *ch, int fd)
{
  struct dest_receiver *r = calloc (1, sizeof *r), *x;
  unsigned n = 0;

  pthread_mutex_lock (&ch->lock);
  for (x = ch->receivers; x; x = x->next)
    n++;
  if (r && n < MAX_RECEIVERS) {
    *r = (struct dest_receiver) { .next = ch->receivers, .ch = ch, .fd = fd,
                                  .mig_fd = -1, .handshaking = true };
    clock_gettime (CLOCK_MONOTONIC, &r->deadline);
    r->deadline.tv_sec += HANDSHAKE_MS / 1000;
    r->deadline.tv_nsec += HANDSHAKE_MS % 1000 * 1000000L;
    if (r->deadline.tv_nsec >= 1000000000L) {
      r->deadline.tv_sec++;
      r->deadline.tv_nsec -= 1000000000L;
    }
    if (pthread_create (&r->thread, NULL, receive, r) == 0) {
      ch->receivers = r;
      ch->handshakes++;
      r = NULL;
      fd = -1;
    }
  }
  pthread_mutex_unlock (&ch->lock);
  free (r);
  if (fd >= 0)
    close (fd);
}

/* Is peer one of the source's addresses? */
static bool
from_source (const struct dest_channel *ch, const struct net_addr *peer)
{
  size_t i;

  for (i = 0; i < ch->n_peers; i++)
    if (net_addr_equal (&ch->peers[i], peer))
      return true;
  return false;
}

/* Accept one connection: a receiver for the source's, the end for
 * anyone else's (before any TLS).
 */
static void
accept_one (struct dest_channel *ch)
{
  char who[NET_ADDR_TEXT_MAX];
  struct net_addr peer;
  int fd = net_accept_peer (ch->lfd, &peer);

  if (fd == -1)
    return;
  if (!from_source (ch, &peer)) {
    net_addr_text (&peer, who, sizeof who);
    debug ("data channel %s: connection from %s refused: not an address "
           "of the migration's source", ch->id, who);
    close (fd);
    return;
  }
  start_receiver (ch, fd);
}

/* ms from now to t, 0 if past (at most INT_MAX). */
static int
ms_until (const struct timespec *t, const struct timespec *now)
{
  int64_t ms = (t->tv_sec - now->tv_sec) * 1000 +
    (t->tv_nsec - now->tv_nsec) / 1000000;

  return ms <= 0 ? 0 : ms > INT_MAX ? INT_MAX : (int) ms;
}

/* End the handshakes past their deadline (the receiver sees its socket
 * shut down and fails); the poll timeout until the next deadline (-1:
 * none); *full: MAX_HANDSHAKES run.
 */
static int
expire_handshakes (struct dest_channel *ch, bool *full)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&ch->lock);
  struct dest_receiver *r;
  struct timespec now;
  int next = -1, ms;

  clock_gettime (CLOCK_MONOTONIC, &now);
  for (r = ch->receivers; r; r = r->next) {
    if (!r->handshaking || r->cut)
      continue;
    ms = ms_until (&r->deadline, &now);
    if (ms == 0) {
      debug ("data channel %s: a connection did not finish its TLS "
             "handshake within %d ms: closed", ch->id, HANDSHAKE_MS);
      shutdown (r->fd, SHUT_RDWR);
      r->cut = true;
    }
    else if (next == -1 || ms < next)
      next = ms;
  }
  *full = ch->handshakes >= MAX_HANDSHAKES;
  return next;
}

static void *
accept_loop (void *opaque)
{
  struct dest_channel *ch = opaque;
  char buf[64];

  for (;;) {
    bool full;
    int timeout = expire_handshakes (ch, &full);
    /* With MAX_HANDSHAKES running, the listener is not watched: new
     * connections wait in its queue until a handshake ends.
     */
    struct pollfd pfd[3] = {
      { .fd = ch->stop_pipe[0], .events = POLLIN },
      { .fd = ch->wake_pipe[0], .events = POLLIN },
      { .fd = full ? -1 : ch->lfd, .events = POLLIN },
    };

    if (poll (pfd, 3, timeout) == -1 && errno != EINTR)
      break;
    if (pfd[0].revents)
      break;
    if (pfd[1].revents)
      while (read (ch->wake_pipe[0], buf, sizeof buf) > 0)
        ;
    reap (ch, false);
    if (pfd[2].revents & POLLIN)
      accept_one (ch);
  }
  return NULL;
}

/* Free a URI vector of n entries, some NULL. */
static void
free_uris (char **uris, size_t n)
{
  size_t i;

  for (i = 0; uris && i < n; i++)
    free (uris[i]);
  free (uris);
}

void
mig_dest_channel_error (struct dest_job *j, char *buf, size_t n)
{
  struct dest_channel *ch = j->channel;

  buf[0] = '\0';
  if (ch == NULL)
    return;
  pthread_mutex_lock (&ch->lock);
  snprintf (buf, n, "%s", ch->error);
  pthread_mutex_unlock (&ch->lock);
}

void
mig_dest_channel_stop (struct dest_job *j)
{
  struct dest_channel *ch = j->channel;

  if (ch == NULL)
    return;
  j->channel = NULL;
  if (ch->lfd >= 0) {
    if (write (ch->stop_pipe[1], "x", 1) != 1)
      debug ("data channel stop pipe: %m");
    pthread_join (ch->acceptor, NULL);
    close (ch->lfd);
  }
  reap (ch, true);
  close (ch->stop_pipe[0]);
  close (ch->stop_pipe[1]);
  if (ch->wake_pipe[0] >= 0) {
    close (ch->wake_pipe[0]);
    close (ch->wake_pipe[1]);
  }
  free (ch->peers);
  free_uris (ch->uris, ch->n_disks);
  free (ch->relay_path);
  free (ch->id);
  free (ch->tls_dir);
  pthread_mutex_destroy (&ch->lock);
  free (ch);
}

char **
mig_dest_skeleton_uris (struct mig_dest *d, struct dest_job *j,
                        const char *host, int nbd_port)
{
  bool v6 = strchr (host, ':') != NULL;
  size_t i, n = j->vm->n_disks;
  char **uris = calloc (n + 1, sizeof *uris);

  for (i = 0; uris && i < n; i++) {
    const struct mig_disk *k = &j->vm->disks[i];
    if (!mig_disk_copied (k))
      continue;
    uris[i] = xasprintf ("nbds://%s%s%s:%d/%s?tls-certificates=%s",
                         v6 ? "[" : "", host, v6 ? "]" : "", nbd_port,
                         k->id, d->p.tls_dir);
    if (uris[i] == NULL) {
      free_uris (uris, n);
      return NULL;
    }
  }
  if (uris == NULL)
    set_error (errno, "calloc");
  return uris;
}

/* The addresses that may connect, from the job's list (checked by
 * mig_dest_data_peers already).
 */
static int
set_peers (struct dest_channel *ch, char **peers)
{
  size_t n = 0, i;

  while (peers && peers[n])
    n++;
  if (n == 0) {
    set_error (0, "data channel: no address of the source is known");
    return -1;
  }
  if ((ch->peers = calloc (n, sizeof *ch->peers)) == NULL) {
    set_error (errno, "calloc");
    return -1;
  }
  for (i = 0; i < n; i++)
    if (net_addr_parse (peers[i], &ch->peers[i]) == -1)
      return -1;
  ch->n_peers = n;
  return 0;
}

int
mig_dest_channel_start (struct mig_dest *d, struct dest_job *j,
                        const char *host, char **uris,
                        const char *relay_path)
{
  struct dest_channel *ch = calloc (1, sizeof *ch);
  /* A libvirt domain's job has no VM of ours and no disks to write. */
  size_t n_disks = j->vm ? j->vm->n_disks : 0;
  int port = 0;

  if (ch == NULL || (uris == NULL && n_disks)) {
    free (ch);
    free_uris (uris, n_disks);
    set_error (errno, "data channel");
    return -1;
  }
  j->channel = ch;
  ch->metrics = d->metrics;
  ch->uris = uris;
  ch->n_disks = n_disks;
  ch->duplex = j->duplex;
  ch->lfd = ch->stop_pipe[0] = ch->stop_pipe[1] = -1;
  ch->wake_pipe[0] = ch->wake_pipe[1] = -1;
  pthread_mutex_init (&ch->lock, NULL);
  if ((ch->id = strdup (j->id)) == NULL ||
      (ch->tls_dir = strdup (d->p.tls_dir)) == NULL ||
      (relay_path && (ch->relay_path = strdup (relay_path)) == NULL) ||
      pipe2 (ch->stop_pipe, O_CLOEXEC) == -1 ||
      pipe2 (ch->wake_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
    set_error (errno, "data channel");
    return -1;
  }
  if (set_peers (ch, j->data_peers) == -1)
    return -1;
  if ((ch->lfd = net_ports_listen (d->ports, host, &port)) == -1)
    return -1;
  if (pthread_create (&ch->acceptor, NULL, accept_loop, ch) != 0) {
    close (ch->lfd);
    ch->lfd = -1;
    set_error (errno, "data channel: starting the acceptor");
    return -1;
  }
  /* "data_zstd": our streams decode NET_FRAME_ZSTD (an older vmferryd
   * does not say so, and its clients send it lz4 at most).
   */
  return json_object_set_new (j->prepared, "data_zstd", json_true ()) == -1
    ? -1
    : json_object_set_new (j->prepared, "data_port", json_integer (port));
}
