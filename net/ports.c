/* ports.c: TCP ports and URIs for QEMU's migration and NBD listeners. */
#include <config.h>

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <jansson.h>

#include "utils.h"
#include "net.h"

/* Find a free TCP port on host by binding port 0.  The port is free when
 * this returns; QEMU binds it a moment later (a race only with other
 * programs picking ports the same way, which fails loudly at bind).
 */
int
net_free_port (const char *host)
{
  struct sockaddr_storage ss = { 0 };
  socklen_t len = sizeof ss;
  CLEANUP_CLOSE int fd = -1;
  struct sockaddr_in *in4 = (struct sockaddr_in *) &ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;

  if (inet_pton (AF_INET, host, &in4->sin_addr) == 1)
    in4->sin_family = AF_INET;
  else if (inet_pton (AF_INET6, host, &in6->sin6_addr) == 1)
    in6->sin6_family = AF_INET6;
  else {
    set_error (0, "'%s' is not an IP address", host);
    return -1;
  }
  fd = socket (ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1 || bind (fd, (struct sockaddr *) &ss,
                        ss.ss_family == AF_INET ? sizeof *in4 : sizeof *in6)
      == -1 || getsockname (fd, (struct sockaddr *) &ss, &len) == -1) {
    set_error (errno, "bind %s", host);
    return -1;
  }
  return ntohs (ss.ss_family == AF_INET ? in4->sin_port : in6->sin6_port);
}

/* "tcp:HOST:PORT" with brackets around an IPv6 host. */
char *
net_tcp_uri (const char *host, int port)
{
  return strchr (host, ':') ? xasprintf ("tcp:[%s]:%d", host, port)
    : xasprintf ("tcp:%s:%d", host, port);
}

