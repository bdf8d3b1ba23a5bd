/* sock.c: the data channel's TCP sockets: a listener on a free port of
 * a given address, and a connection with a timeout.  TCP_NODELAY: frames
 * are written whole, and a flush barrier's ack must not wait for Nagle.
 * A dead link must not hang either end for the kernel's default (about
 * 15 minutes of retransmissions, or forever for a reader waiting on an
 * idle connection): keepalive probes after LINK_IDLE_S of silence and
 * TCP_USER_TIMEOUT end the connection once nothing was acknowledged for
 * LINK_TIMEOUT_MS, so blocked reads and writes fail (ETIMEDOUT).  A
 * shorter outage (seconds) is ridden out by TCP's retransmissions.
 *
 * TCP_NOTSENT_LOWAT keeps the bytes written but not yet sent small
 * (UNSENT_MAX): the kernel would otherwise queue megabytes in the send
 * buffer, which a slow link takes a long time to drain.  Whatever sits
 * there delays what is written next (a mirrored guest write's
 * acknowledgement, the last pages at switchover) and makes the sender
 * (QEMU, through the relay) believe the link is faster than it is.
 *
 * Pacing: by default the sending side paces itself a little below the
 * link's measured rate (pace.c, link.c: the kernel spaces each socket's
 * packets, SO_MAX_PACING_RATE), so the bottleneck's queue stays empty
 * and other traffic, QEMU's mirrored guest writes among it, does not wait
 * behind megabytes of disk data.  Its sockets use loss-based congestion
 * control (CUBIC, else Reno), never BBR, whatever the system's default
 * (this machine's is BBR): BBR's window, sized from its bandwidth estimate
 * (held down by the cap) times the path's minimum RTT, starved the
 * streams on a short path (1 Gbit/s here: 3.1 s instead of 2.85 s for
 * the same memory).  Without that pacing (--no-link-pacing) and on the
 * receiving side, the streams ask for BBR where the kernel has it (Linux
 * 4.9 and later; the module loads on demand for root): it sends at its
 * estimate of the bottleneck's rate instead of filling the queues along
 * the path until packets drop as loss-based control (CUBIC, Debian's
 * default) does.
 */
#include <config.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>

#include "utils.h"
#include "net.h"

#define CONNECT_TIMEOUT_MS 10000
#define LINK_TIMEOUT_MS 30000
#define LINK_IDLE_S 10
#define LINK_PROBE_S 5
#define UNSENT_MAX (128 * 1024)
#define PACED_CC "bbr"
/* Under our own pacing: loss-based control, which the cap keeps from
 * loss (CUBIC, Debian's default; Reno is always built in).
 */
static const char *const loss_cc[] = { "cubic", "reno" };

static int
set_cc (int fd, const char *cc)
{
  return setsockopt (fd, IPPROTO_TCP, TCP_CONGESTION, cc, strlen (cc));
}

/* TCP_NODELAY, the dead-link bounds (best effort: a kernel without
 * them still works, only slower to give up), BBR if bbr, else
 * loss-based control whatever the system's default is.
 */
static void
tune (int fd, bool bbr)
{
  int one = 1, idle = LINK_IDLE_S, intvl = LINK_PROBE_S, unsent = UNSENT_MAX;
  unsigned int timeout = LINK_TIMEOUT_MS;

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt (fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt (fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout);
  setsockopt (fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &unsent, sizeof unsent);
  if (bbr) {
    if (set_cc (fd, PACED_CC) == -1)
      debug ("data channel: no %s congestion control (%m): the kernel's "
             "default paces", PACED_CC);
  }
  else if (set_cc (fd, loss_cc[0]) == -1 && set_cc (fd, loss_cc[1]) == -1)
    debug ("data channel: neither %s nor %s (%m): the kernel's default "
           "stays", loss_cc[0], loss_cc[1]);
}

int
net_listen (const char *addr, int *port)
{
  *port = 0;
  return net_listen_port (addr, port);
}

int
net_listen_port (const char *addr, int *port)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
  struct addrinfo *ai = NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int fd = -1, r, one = 1;
  char service[16];

  snprintf (service, sizeof service, "%d", *port);
  if ((r = getaddrinfo (addr, service, &hints, &ai)) != 0) {
    set_error (0, "data listener: address %s: %s", addr, gai_strerror (r));
    return -1;
  }
  fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1 ||
      setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
      bind (fd, ai->ai_addr, ai->ai_addrlen) == -1 || listen (fd, 64) == -1 ||
      getsockname (fd, (struct sockaddr *) &ss, &len) == -1) {
    set_error (errno, "data listener on %s", addr);
    if (fd >= 0)
      close (fd);
    freeaddrinfo (ai);
    return -1;
  }
  freeaddrinfo (ai);
  *port = ntohs (ss.ss_family == AF_INET6
                 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                 : ((struct sockaddr_in *) &ss)->sin_port);
  return fd;
}

/* Connect fd to ai within the timeout. */
static int
connect_timeout (int fd, const struct addrinfo *ai)
{
  struct pollfd pfd = { .fd = fd, .events = POLLOUT };
  int err = 0, fl = fcntl (fd, F_GETFL);
  socklen_t len = sizeof err;

  fcntl (fd, F_SETFL, fl | O_NONBLOCK);
  if (connect (fd, ai->ai_addr, ai->ai_addrlen) == -1) {
    if (errno != EINPROGRESS)
      return -1;
    if (poll (&pfd, 1, CONNECT_TIMEOUT_MS) != 1) {
      errno = ETIMEDOUT;
      return -1;
    }
    if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err) {
      errno = err ? err : errno;
      return -1;
    }
  }
  fcntl (fd, F_SETFL, fl);
  return 0;
}

int
net_connect (const char *host, int port, bool bbr)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
  struct addrinfo *ai = NULL;
  char service[16];
  int fd, r;

  snprintf (service, sizeof service, "%d", port);
  if ((r = getaddrinfo (host, service, &hints, &ai)) != 0) {
    set_error (0, "data channel: %s: %s", host, gai_strerror (r));
    return -1;
  }
  fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1 || connect_timeout (fd, ai) == -1) {
    set_error (errno, "data channel: connecting to %s port %d", host, port);
    if (fd >= 0)
      close (fd);
    freeaddrinfo (ai);
    return -1;
  }
  freeaddrinfo (ai);
  tune (fd, bbr);
  return fd;
}

int
net_accept_peer (int lfd, struct net_addr *peer)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int fd;

  do
    fd = accept4 (lfd, (struct sockaddr *) &ss, &len, SOCK_CLOEXEC);
  while (fd == -1 && errno == EINTR);
  if (fd == -1) {
    set_error (errno, "data listener: accept");
    return -1;
  }
  if (peer && net_addr_from_sockaddr ((struct sockaddr *) &ss, peer) == -1) {
    close (fd);
    return -1;
  }
  tune (fd, true);
  return fd;
}

int
net_accept (int lfd)
{
  return net_accept_peer (lfd, NULL);
}

/* Fill a unix socket address; -1 if path does not fit. */
static int
unix_addr (const char *path, struct sockaddr_un *sun)
{
  memset (sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  if (strlen (path) >= sizeof sun->sun_path) {
    set_error (ENAMETOOLONG, "unix socket %s", path);
    return -1;
  }
  memcpy (sun->sun_path, path, strlen (path) + 1);
  return 0;
}

int
net_unix_listen (const char *path)
{
  struct sockaddr_un sun;
  int fd;

  if (unix_addr (path, &sun) == -1)
    return -1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1 || bind (fd, (struct sockaddr *) &sun, sizeof sun) == -1 ||
      listen (fd, 16) == -1) {
    set_error (errno, "listening on %s", path);
    if (fd >= 0)
      close (fd);
    return -1;
  }
  return fd;
}

int
net_unix_connect (const char *path)
{
  struct sockaddr_un sun;
  int fd;

  if (unix_addr (path, &sun) == -1)
    return -1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1 || connect (fd, (struct sockaddr *) &sun, sizeof sun) == -1) {
    set_error (errno, "connecting to %s", path);
    if (fd >= 0)
      close (fd);
    return -1;
  }
  return fd;
}

void
net_sock_max_rate (int fd, uint64_t bytes_per_sec)
{
  unsigned int rate = bytes_per_sec == 0 || bytes_per_sec >= UINT_MAX
    ? UINT_MAX : (unsigned int) bytes_per_sec;

  if (setsockopt (fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate,
                  sizeof rate) == -1)
    debug ("data channel: SO_MAX_PACING_RATE: %m");
}
