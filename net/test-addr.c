/* test-addr.c: IP addresses as values (addr.c): the rule that decides
 * whether a connection to a data listener comes from the migration's
 * source.  IPv4 as an IPv4-mapped IPv6 peer is the same host, a scope
 * does not matter, anything else is a different host; text that is not
 * an address is refused.  And net_accept_peer reports the peer.
 */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "utils.h"
#include "net.h"

static struct net_addr
parse (const char *text)
{
  struct net_addr a;

  assert_int_equal (net_addr_parse (text, &a), 0);
  return a;
}

static void
test_same_host (void **state)
{
  struct net_addr a = parse ("192.0.2.1"), b = parse ("::ffff:192.0.2.1");
  struct net_addr c = parse ("fe80::1%eth0"), d = parse ("fe80::1");
  char text[NET_ADDR_TEXT_MAX];

  assert_true (net_addr_equal (&a, &b));
  assert_int_equal (b.family, AF_INET);
  assert_true (net_addr_equal (&c, &d));
  net_addr_text (&b, text, sizeof text);
  assert_string_equal (text, "192.0.2.1");
  net_addr_text (&c, text, sizeof text);
  assert_string_equal (text, "fe80::1");
}

static void
test_other_hosts (void **state)
{
  struct net_addr a = parse ("192.0.2.1");
  struct net_addr others[] = {
    parse ("192.0.2.2"), parse ("::1"), parse ("2001:db8::c000:201"),
    parse ("::192.0.2.1"),      /* IPv4-compatible, not mapped */
    parse ("1.2.0.192"),
  };
  size_t i;

  for (i = 0; i < sizeof others / sizeof others[0]; i++)
    assert_false (net_addr_equal (&a, &others[i]));
}

static void
test_not_addresses (void **state)
{
  const char *bad[] = { "", "host.example", "192.0.2.1%eth0", "192.0.2",
                        "192.0.2.1:80", "%eth0", "1::2::3",
                        "192.0.2.256", " 192.0.2.1" };
  struct net_addr a;
  size_t i;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal (net_addr_parse (bad[i], &a), -1);
    assert_non_null (strstr (get_error (), "not an IP address"));
  }
  assert_int_equal (net_addr_parse (NULL, &a), -1);
}

static void
test_sockaddr (void **state)
{
  struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
  struct sockaddr_in s4 = { .sin_family = AF_INET };
  struct sockaddr un = { .sa_family = AF_UNIX };
  struct net_addr a, b;

  assert_int_equal (inet_pton (AF_INET6, "::ffff:198.51.100.7",
                               &s6.sin6_addr), 1);
  assert_int_equal (inet_pton (AF_INET, "198.51.100.7", &s4.sin_addr), 1);
  assert_int_equal (net_addr_from_sockaddr ((struct sockaddr *) &s6, &a), 0);
  assert_int_equal (net_addr_from_sockaddr ((struct sockaddr *) &s4, &b), 0);
  assert_true (net_addr_equal (&a, &b));
  assert_int_equal (net_addr_from_sockaddr (&un, &a), -1);
}

/* A connection from 127.0.0.1 is accepted with that peer address. */
static void
test_accept_peer (void **state)
{
  struct net_addr peer, lo = parse ("127.0.0.1");
  int port, lfd = net_listen ("127.0.0.1", &port);
  int cfd, afd;

  assert_true (lfd >= 0);
  cfd = net_connect ("127.0.0.1", port, false);
  assert_true (cfd >= 0);
  afd = net_accept_peer (lfd, &peer);
  assert_true (afd >= 0);
  assert_true (net_addr_equal (&peer, &lo));
  close (afd);
  close (cfd);
  close (lfd);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_same_host),
    cmocka_unit_test (test_other_hosts),
    cmocka_unit_test (test_not_addresses),
    cmocka_unit_test (test_sockaddr),
    cmocka_unit_test (test_accept_peer),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
