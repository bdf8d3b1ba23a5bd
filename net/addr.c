/* addr.c: IP addresses as values, to decide who may connect to a data
 * listener.  An IPv4-mapped IPv6 address (::ffff:192.0.2.1, as a dual
 * stack socket reports IPv4 peers) is the IPv4 address; an IPv6 scope
 * ("%eth0") is ignored: the comparison is of addresses, not routes.
 */
#include <config.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "utils.h"
#include "net.h"

static const unsigned char v4_mapped[12] = {
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* An IPv4-mapped IPv6 address becomes the IPv4 one. */
static void
fold (struct net_addr *a)
{
  if (a->family == AF_INET6 &&
      memcmp (a->bytes, v4_mapped, sizeof v4_mapped) == 0) {
    memmove (a->bytes, a->bytes + 12, 4);
    memset (a->bytes + 4, 0, 12);
    a->family = AF_INET;
  }
}

int
net_addr_parse (const char *text, struct net_addr *a)
{
  char buf[INET6_ADDRSTRLEN];
  size_t n = text ? strcspn (text, "%") : 0;

  memset (a, 0, sizeof *a);
  if (text == NULL || n == 0 || n >= sizeof buf)
    goto bad;
  memcpy (buf, text, n);
  buf[n] = '\0';
  if (inet_pton (AF_INET, buf, a->bytes) == 1)
    a->family = AF_INET;
  else if (inet_pton (AF_INET6, buf, a->bytes) == 1)
    a->family = AF_INET6;
  else
    goto bad;
  if (a->family == AF_INET && text[n] != '\0')
    goto bad;                   /* a scope on an IPv4 address */
  fold (a);
  return 0;
 bad:
  set_error (0, "\"%s\" is not an IP address", text ? text : "(null)");
  return -1;
}

int
net_addr_from_sockaddr (const struct sockaddr *sa, struct net_addr *a)
{
  memset (a, 0, sizeof *a);
  if (sa->sa_family == AF_INET) {
    memcpy (a->bytes, &((const struct sockaddr_in *) sa)->sin_addr, 4);
    a->family = AF_INET;
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    memcpy (a->bytes, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
    a->family = AF_INET6;
    fold (a);
    return 0;
  }
  set_error (0, "not an IP address (family %d)", sa->sa_family);
  return -1;
}

bool
net_addr_equal (const struct net_addr *a, const struct net_addr *b)
{
  return a->family == b->family &&
    memcmp (a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

void
net_addr_text (const struct net_addr *a, char *buf, size_t n)
{
  if (inet_ntop (a->family, a->bytes, buf, n) == NULL)
    snprintf (buf, n, "?");
}
