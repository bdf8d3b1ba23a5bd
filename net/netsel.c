/* netsel.c: the migration network.  vmferryd may name the addresses on
 * which its NBD exports and incoming migrations listen (--migration-
 * address, tried in order); vmferry may ask for a network
 * (--migration-network CIDR).  The first of the agent's addresses that
 * is configured on its host and inside the CIDR wins.
 */
#include <config.h>

#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>

#include "utils.h"
#include "net.h"

/* Parse "ADDR/BITS" (or a bare address: all bits). */
static int
parse_cidr (const char *cidr, int *family, unsigned char net[16],
            unsigned *bits)
{
  char addr[INET6_ADDRSTRLEN + 1];
  const char *slash = strchr (cidr, '/');
  size_t len = slash ? (size_t) (slash - cidr) : strlen (cidr);
  char *end;
  unsigned long b;

  if (len == 0 || len >= sizeof addr)
    return -1;
  memcpy (addr, cidr, len);
  addr[len] = '\0';
  *family = strchr (addr, ':') ? AF_INET6 : AF_INET;
  if (inet_pton (*family, addr, net) != 1)
    return -1;
  b = *family == AF_INET ? 32 : 128;
  if (slash) {
    errno = 0;
    b = strtoul (slash + 1, &end, 10);
    if (errno || *end || end == slash + 1 ||
        b > (*family == AF_INET ? 32u : 128u))
      return -1;
  }
  *bits = b;
  return 0;
}

bool
net_cidr_valid (const char *cidr)
{
  unsigned char net[16];
  unsigned bits;
  int family;

  return cidr && parse_cidr (cidr, &family, net, &bits) == 0;
}

bool
net_addr_in_cidr (const char *addr, const char *cidr)
{
  unsigned char net[16], a[16];
  unsigned bits, i;
  int family;

  if (cidr == NULL)
    return true;
  if (parse_cidr (cidr, &family, net, &bits) == -1 ||
      inet_pton (family, addr, a) != 1)
    return false;
  for (i = 0; i < bits; i++) {
    unsigned char m = 0x80 >> (i % 8);
    if ((a[i / 8] & m) != (net[i / 8] & m))
      return false;
  }
  return true;
}

/* Is addr configured on this host (can a socket bind to it)? */
static bool
is_local (const char *addr)
{
  struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE,
                            .ai_socktype = SOCK_STREAM }, *ai;
  bool ok = false;
  int fd;

  if (getaddrinfo (addr, "0", &hints, &ai) != 0)
    return false;
  fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ok = fd >= 0 && bind (fd, ai->ai_addr, ai->ai_addrlen) == 0;
  if (fd >= 0)
    close (fd);
  freeaddrinfo (ai);
  return ok;
}

const char *
net_pick_addr (char *const *addrs, const char *cidr)
{
  size_t i;

  for (i = 0; addrs && addrs[i]; i++)
    if (net_addr_in_cidr (addrs[i], cidr) && is_local (addrs[i]))
      return addrs[i];
  return NULL;
}

json_t *
net_local_addrs_json (void)
{
  struct ifaddrs *ifa, *i;
  json_t *list;
  char buf[INET6_ADDRSTRLEN];

  if (getifaddrs (&ifa) == -1)
    return NULL;
  list = json_array ();
  for (i = ifa; i && list && json_array_size (list) < NET_MAX_LOCAL_ADDRS;
       i = i->ifa_next) {
    const void *a;
    if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP) ||
        (i->ifa_flags & IFF_LOOPBACK) ||
        (i->ifa_addr->sa_family != AF_INET &&
         i->ifa_addr->sa_family != AF_INET6))
      continue;
    a = i->ifa_addr->sa_family == AF_INET
      ? (const void *) &((struct sockaddr_in *) i->ifa_addr)->sin_addr
      : (const void *) &((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr;
    if (inet_ntop (i->ifa_addr->sa_family, a, buf, sizeof buf))
      json_array_append_new (list, json_string (buf));
  }
  freeifaddrs (ifa);
  return list;
}

int
net_local_addr_in (const char *cidr, char *out, size_t n)
{
  struct ifaddrs *ifa, *i;
  int r = -1;

  if (getifaddrs (&ifa) == -1) {
    set_error (errno, "getifaddrs");
    return -1;
  }
  for (i = ifa; i && r == -1; i = i->ifa_next) {
    const void *a;
    if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
                                i->ifa_addr->sa_family != AF_INET6))
      continue;
    a = i->ifa_addr->sa_family == AF_INET
      ? (const void *) &((struct sockaddr_in *) i->ifa_addr)->sin_addr
      : (const void *) &((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr;
    if (inet_ntop (i->ifa_addr->sa_family, a, out, n) &&
        net_addr_in_cidr (out, cidr))
      r = 0;
  }
  freeifaddrs (ifa);
  if (r == -1)
    set_error (0, "this host has no address in the migration network %s",
               cidr);
  return r;
}
