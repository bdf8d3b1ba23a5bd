/* test-ports.c: vmferryd's port range (--port-range) and host names. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "utils.h"
#include "net.h"

static void
parse (void **state)
{
  int l, h;

  assert_int_equal (net_ports_parse ("49152-49215", &l, &h), 0);
  assert_int_equal (l, 49152);
  assert_int_equal (h, 49215);
  assert_int_equal (net_ports_parse ("7000-7000", &l, &h), 0);
  assert_int_equal (net_ports_parse ("7001-7000", &l, &h), -1);
  assert_non_null (strstr (get_error (), "the low one first"));
  assert_int_equal (net_ports_parse ("0-10", &l, &h), -1);
  assert_int_equal (net_ports_parse ("1-65536", &l, &h), -1);
  assert_int_equal (net_ports_parse ("1000", &l, &h), -1);
  assert_non_null (strstr (get_error (), "is not LOW-HIGH"));
  assert_int_equal (net_ports_parse ("1000-x", &l, &h), -1);
  assert_int_equal (net_ports_parse ("-1-5", &l, &h), -1);
}

/* A one-port range: picked while free, exhausted while held (also for
 * a listener), and never the port to avoid.
 */
static void
one_port (void **state)
{
  int port = net_free_port ("127.0.0.1"), p, fd;
  struct net_ports *r;

  assert_true (port > 0);
  r = net_ports_new (port, port);
  assert_non_null (r);
  assert_int_equal (net_ports_pick (r, "127.0.0.1", 0), port);
  assert_int_equal (net_ports_pick (r, "127.0.0.1", port), -1);
  assert_int_equal (get_errno (), EADDRNOTAVAIL);
  p = port;
  fd = net_listen_port ("127.0.0.1", &p);
  assert_true (fd >= 0);
  assert_int_equal (net_ports_pick (r, "127.0.0.1", 0), -1);
  assert_non_null (strstr (get_error (), "no free port in --port-range"));
  assert_int_equal (net_ports_listen (r, "127.0.0.1", &p), -1);
  assert_int_equal (get_errno (), EADDRNOTAVAIL);
  close (fd);
  fd = net_ports_listen (r, "127.0.0.1", &p);
  assert_true (fd >= 0);
  assert_int_equal (p, port);
  close (fd);
  net_ports_free (r);
}

/* Without a range: the kernel's free ports, never the one to avoid. */
static void
no_range (void **state)
{
  struct net_ports *r = net_ports_new (0, 0);
  int a, b, p, fd;

  a = net_ports_pick (r, "127.0.0.1", 0);
  assert_true (a > 0);
  b = net_ports_pick (r, "127.0.0.1", a);
  assert_true (b > 0 && b != a);
  fd = net_ports_listen (r, "127.0.0.1", &p);
  assert_true (fd >= 0 && p > 0);
  close (fd);
  net_ports_free (r);
}

static void
resolve (void **state)
{
  char buf[64];

  assert_int_equal (net_resolve ("localhost", buf, sizeof buf), 0);
  assert_true (strcmp (buf, "127.0.0.1") == 0 || strcmp (buf, "::1") == 0);
  assert_int_equal (net_resolve ("192.0.2.7", buf, sizeof buf), 0);
  assert_string_equal (buf, "192.0.2.7");
  assert_int_equal (net_resolve ("2001:db8::1", buf, sizeof buf), 0);
  assert_string_equal (buf, "2001:db8::1");
  assert_int_equal (net_resolve ("no-such-host.invalid", buf, sizeof buf),
                    -1);
  assert_non_null (strstr (get_error (), "no-such-host.invalid"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (parse),
    cmocka_unit_test (one_port),
    cmocka_unit_test (no_range),
    cmocka_unit_test (resolve),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
