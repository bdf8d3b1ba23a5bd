/* server-guard.c: connections that have not shown a client certificate
 * yet: a deadline, and a cap per address.
 *
 * Anybody on the network may connect; only a request with an accepted
 * client certificate (server-peer.c) makes a connection trusted.  Until
 * then it holds a thread and one of the daemon's connection slots for
 * nothing, so:
 *
 *  - it must make such a request within API_PENDING_TIMEOUT_S of being
 *    accepted: TCP, TLS handshake and request headers together, however
 *    slowly their bytes come (libmicrohttpd's own timeout counts idle
 *    time only, so a byte a second would keep a connection forever).  A
 *    watchdog thread shuts the socket down when the deadline passes; the
 *    connection's thread then sees the end and libmicrohttpd closes it.
 *  - one address may hold at most API_PENDING_PER_ADDR of them: a
 *    connection beyond that is shut down as soon as it is accepted.
 *
 * A connection whose request had an accepted certificate leaves the list
 * and gets the long idle timeout (API_IDLE_TIMEOUT_S) for its body.
 *
 * Why not MHD_OPTION_PER_IP_CONNECTION_LIMIT: it counts the connections
 * of trusted requests as well, and a source host has one open per
 * migration while its handler runs (finish waits minutes; vmferry
 * --parallel N migrates N at once).  Why not
 * gnutls_handshake_set_timeout() on libmicrohttpd's session (possible
 * in MHD_CONNECTION_NOTIFY_STARTED, the session exists then): GnuTLS
 * (3.7.9, _gnutls_stream_read) counts against it only the time spent
 * reading, not waiting for the peer, so a byte a second never reaches
 * it; with it GnuTLS would also wait for bytes in its own poll(), inside
 * libmicrohttpd's non-blocking loop; and it would not cover the request
 * headers that follow the handshake.
 *
 * Locking: guard_lock protects the list and the entries' fields.  A
 * listed entry's socket is open: libmicrohttpd calls
 * MHD_CONNECTION_NOTIFY_CLOSED, which unlists it, before it closes the
 * socket.
 */
#include <config.h>

#include <errno.h>
#include <netdb.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "internal.h"

/* One connection, the socket_context of libmicrohttpd. */
struct api_pending {
  struct api_pending *next;     /* s->pending, while listed */
  int fd;                       /* its socket */
  struct sockaddr_storage addr; /* the client's address */
  struct timespec deadline;     /* CLOCK_MONOTONIC */
  bool listed;                  /* no accepted certificate yet */
};

/* Same IP address (ports aside)? */
static bool
same_host (const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
  if (a->ss_family != b->ss_family)
    return false;
  if (a->ss_family == AF_INET)
    return memcmp (&((const struct sockaddr_in *) a)->sin_addr,
                   &((const struct sockaddr_in *) b)->sin_addr,
                   sizeof (struct in_addr)) == 0;
  if (a->ss_family == AF_INET6)
    return memcmp (&((const struct sockaddr_in6 *) a)->sin6_addr,
                   &((const struct sockaddr_in6 *) b)->sin6_addr,
                   sizeof (struct in6_addr)) == 0;
  return false;
}

void
api_internal_addr_text (const struct sockaddr *sa, char *buf, size_t n)
{
  socklen_t len = sa->sa_family == AF_INET6 ? sizeof (struct sockaddr_in6)
                                            : sizeof (struct sockaddr_in);

  if (getnameinfo (sa, len, buf, n, NULL, 0, NI_NUMERICHOST) != 0)
    snprintf (buf, n, "?");
}

/* Take p off the list (caller holds guard_lock). */
static void
unlist_locked (struct api_server *s, struct api_pending *p)
{
  struct api_pending **pp;

  if (!p->listed)
    return;
  for (pp = &s->pending; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  p->listed = false;
}

/* a is earlier than b. */
static bool
before (const struct timespec *a, const struct timespec *b)
{
  return a->tv_sec < b->tv_sec ||
         (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Shut down the connections past their deadline; the earliest deadline
 * of the others in *next (false if none).  Caller holds guard_lock.
 */
static bool
expire_locked (struct api_server *s, struct timespec *next)
{
  struct api_pending *p, *n;
  struct timespec now;
  bool any = false;

  clock_gettime (CLOCK_MONOTONIC, &now);
  for (p = s->pending; p; p = n) {
    n = p->next;
    if (!before (&now, &p->deadline)) {
      char who[NI_MAXHOST];
      api_internal_addr_text ((struct sockaddr *) &p->addr, who, sizeof who);
      debug ("api: closing a connection from %s: no request with an "
             "accepted client certificate within %d s",
             who, API_PENDING_TIMEOUT_S);
      shutdown (p->fd, SHUT_RDWR);
      unlist_locked (s, p);
    }
    else if (!any || before (&p->deadline, next)) {
      *next = p->deadline;
      any = true;
    }
  }
  return any;
}

static void *
watchdog (void *opaque)
{
  struct api_server *s = opaque;
  struct timespec next;

  pthread_mutex_lock (&s->guard_lock);
  while (!s->guard_stop) {
    if (expire_locked (s, &next))
      pthread_cond_timedwait (&s->guard_cond, &s->guard_lock, &next);
    else
      pthread_cond_wait (&s->guard_cond, &s->guard_lock);
  }
  pthread_mutex_unlock (&s->guard_lock);
  return NULL;
}

/* A new connection: list it with its deadline, or shut it down if its
 * address holds too many already.  Runs in libmicrohttpd's listening
 * thread, before the connection's own thread starts.
 */
static void
started (struct api_server *s, struct MHD_Connection *c, void **ctx)
{
  const union MHD_ConnectionInfo *fd = MHD_get_connection_info (
    c, MHD_CONNECTION_INFO_CONNECTION_FD);
  const union MHD_ConnectionInfo *ad = MHD_get_connection_info (
    c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  struct api_pending *p = calloc (1, sizeof *p), *x;
  char who[NI_MAXHOST];
  unsigned n = 0;

  if (p == NULL || fd == NULL || ad == NULL) {
    if (fd)
      shutdown (fd->connect_fd, SHUT_RDWR);
    free (p);
    return;
  }
  p->fd = fd->connect_fd;
  memcpy (&p->addr, ad->client_addr,
          ad->client_addr->sa_family == AF_INET6 ? sizeof (struct sockaddr_in6)
                                                 : sizeof (struct sockaddr_in));
  clock_gettime (CLOCK_MONOTONIC, &p->deadline);
  p->deadline.tv_sec += API_PENDING_TIMEOUT_S;
  *ctx = p;

  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&s->guard_lock);
  for (x = s->pending; x; x = x->next)
    if (same_host (&x->addr, &p->addr))
      n++;
  if (n >= API_PENDING_PER_ADDR) {
    api_internal_addr_text (ad->client_addr, who, sizeof who);
    debug ("api: refusing a connection from %s: it has %u connections "
           "without an accepted client certificate already",
           who, n);
    shutdown (p->fd, SHUT_RDWR);
    return;
  }
  p->listed = true;
  p->next = s->pending;
  s->pending = p;
  pthread_cond_signal (&s->guard_cond);
}

void
api_internal_notify_connection (void *cls, struct MHD_Connection *c,
                                void **socket_context,
                                enum MHD_ConnectionNotificationCode toe)
{
  struct api_server *s = cls;
  struct api_pending *p = *socket_context;

  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    started (s, c, socket_context);
    return;
  }
  if (p) {
    pthread_mutex_lock (&s->guard_lock);
    unlist_locked (s, p);
    pthread_mutex_unlock (&s->guard_lock);
    free (p);
    *socket_context = NULL;
  }
}

void
api_internal_trusted (struct api_server *s, struct MHD_Connection *c)
{
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info (
    c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  struct api_pending *p = ci ? ci->socket_context : NULL;
  bool was_listed = false;

  if (p) {
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&s->guard_lock);
    was_listed = p->listed;
    unlist_locked (s, p);
  }
  if (was_listed)
    MHD_set_connection_option (c, MHD_CONNECTION_OPTION_TIMEOUT,
                               (unsigned) API_IDLE_TIMEOUT_S);
}

void
api_internal_guard_close_all (struct api_server *s)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&s->guard_lock);
  struct api_pending *p;

  while ((p = s->pending) != NULL) {
    shutdown (p->fd, SHUT_RDWR);
    unlist_locked (s, p);
  }
}

int
api_internal_guard_start (struct api_server *s)
{
  int r = pthread_create (&s->guard_thread, NULL, watchdog, s);

  if (r != 0) {
    set_error (r, "api server: starting the connection watchdog");
    return -1;
  }
  s->guard_started = true;
  return 0;
}

void
api_internal_guard_stop (struct api_server *s)
{
  if (!s->guard_started)
    return;
  pthread_mutex_lock (&s->guard_lock);
  s->guard_stop = true;
  pthread_cond_signal (&s->guard_cond);
  pthread_mutex_unlock (&s->guard_lock);
  pthread_join (s->guard_thread, NULL);
  s->guard_started = false;
}
