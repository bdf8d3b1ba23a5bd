/* ports.c: TCP ports and URIs for QEMU's migration and NBD listeners,
 * the range vmferryd may open them in, and host names.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
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


struct net_ports {
  pthread_mutex_t lock;         /* protects the fields below */
  int low, high;                /* 0, 0: no range */
  int next;                     /* the next candidate */
};

struct net_ports *
net_ports_new (int low, int high)
{
  struct net_ports *p = calloc (1, sizeof *p);

  if (p == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  pthread_mutex_init (&p->lock, NULL);
  net_ports_set (p, low, high);
  return p;
}

void
net_ports_free (struct net_ports *p)
{
  if (p == NULL)
    return;
  pthread_mutex_destroy (&p->lock);
  free (p);
}

void
net_ports_set (struct net_ports *p, int low, int high)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&p->lock);
  p->low = low;
  p->high = high;
  if (p->next < low || p->next > high)
    p->next = low;
}

void
net_ports_get (struct net_ports *p, int *low, int *high)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&p->lock);
  *low = p->low;
  *high = p->high;
}

/* Is port free on host?  Binding it says (and releases it at once). */
static bool
port_free (const char *host, int port)
{
  int p = port, fd = net_listen_port (host, &p);

  if (fd == -1)
    return false;
  close (fd);
  return true;
}

/* The next candidate of the range (lock held), moving past it. */
static int
next_locked (struct net_ports *p)
{
  int port = p->next;

  p->next = port >= p->high ? p->low : port + 1;
  return port;
}

static int
exhausted (struct net_ports *p, int low, int high)
{
  set_error_class (EADDRNOTAVAIL, "no free port in --port-range %d-%d "
                   "(each incoming migration needs up to 3: QEMU's NBD "
                   "server, its incoming migration, the data channel): "
                   "widen the range or wait for migrations to end",
                   low, high);
  return -1;
}

int
net_ports_pick (struct net_ports *p, const char *host, int avoid)
{
  int low, high, i, port;

  net_ports_get (p, &low, &high);
  if (low == 0) {
    do
      port = net_free_port (host);
    while (port != -1 && port == avoid);
    return port;
  }
  for (i = low; i <= high; i++) {
    pthread_mutex_lock (&p->lock);
    port = next_locked (p);
    pthread_mutex_unlock (&p->lock);
    if (port != avoid && port_free (host, port))
      return port;
  }
  return exhausted (p, low, high);
}

int
net_ports_listen (struct net_ports *p, const char *host, int *port)
{
  int low, high, i, fd;

  net_ports_get (p, &low, &high);
  if (low == 0)
    return net_listen (host, port);
  for (i = low; i <= high; i++) {
    pthread_mutex_lock (&p->lock);
    *port = next_locked (p);
    pthread_mutex_unlock (&p->lock);
    if ((fd = net_listen_port (host, port)) >= 0)
      return fd;
  }
  return exhausted (p, low, high);
}

int
net_ports_parse (const char *s, int *low, int *high)
{
  char *e;
  long l, h;

  errno = 0;
  l = strtol (s, &e, 10);
  if (errno || e == s || *e != '-' || !isdigit ((unsigned char) e[1]))
    goto bad;
  h = strtol (e + 1, &e, 10);
  if (errno || *e)
    goto bad;
  if (l < 1 || h > 65535 || l > h) {
    set_error (0, "port-range: '%s': the ports must be from 1 to 65535, "
               "the low one first", s);
    return -1;
  }
  *low = l;
  *high = h;
  return 0;
 bad:
  set_error (0, "port-range: '%s' is not LOW-HIGH (e.g. 49152-49215)", s);
  return -1;
}

int
net_resolve (const char *host, char *buf, size_t n)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
  struct addrinfo *ai = NULL, *a, *pick = NULL;
  int r;

  if ((r = getaddrinfo (host, NULL, &hints, &ai)) != 0) {
    set_error (0, "%s: %s", host, r == EAI_SYSTEM ? strerror (errno)
               : gai_strerror (r));
    return -1;
  }
  for (a = ai; a && pick == NULL; a = a->ai_next)
    if (a->ai_family == AF_INET)
      pick = a;
  for (a = ai; a && pick == NULL; a = a->ai_next)
    if (a->ai_family == AF_INET6)
      pick = a;
  r = pick ? getnameinfo (pick->ai_addr, pick->ai_addrlen, buf, n, NULL, 0,
                          NI_NUMERICHOST) : EAI_FAMILY;
  freeaddrinfo (ai);
  if (r != 0) {
    set_error (0, "%s: no IPv4 or IPv6 address (%s)", host,
               gai_strerror (r));
    return -1;
  }
  return 0;
}
