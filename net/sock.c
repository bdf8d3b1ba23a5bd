/* sock.c: the data channel's TCP sockets: a listener on a free port of
 * a given address, and a connection with a timeout.  TCP_NODELAY: frames
 * are written whole, and a flush barrier's ack must not wait for Nagle.
 */
#include <config.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>

#include "utils.h"
#include "net.h"

#define CONNECT_TIMEOUT_MS 10000

static void
nodelay (int fd)
{
  int one = 1;

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int
net_listen (const char *addr, int *port)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
  struct addrinfo *ai = NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int fd = -1, r, one = 1;

  if ((r = getaddrinfo (addr, "0", &hints, &ai)) != 0) {
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
net_connect (const char *host, int port)
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
  nodelay (fd);
  return fd;
}

int
net_accept (int lfd)
{
  int fd;

  do
    fd = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC);
  while (fd == -1 && errno == EINTR);
  if (fd == -1) {
    set_error (errno, "data listener: accept");
    return -1;
  }
  nodelay (fd);
  return fd;
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
  strcpy (sun->sun_path, path);
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
