/* test-netsel.c: CIDR matching for the migration network. */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "utils.h"
#include "net.h"

static void
ipv4 (void **state)
{
  assert_true (net_addr_in_cidr ("198.19.251.2", "198.19.251.0/24"));
  assert_false (net_addr_in_cidr ("198.19.250.2", "198.19.251.0/24"));
  assert_true (net_addr_in_cidr ("10.1.2.3", "10.0.0.0/8"));
  assert_true (net_addr_in_cidr ("10.1.2.3", "0.0.0.0/0"));
  assert_true (net_addr_in_cidr ("10.1.2.3", "10.1.2.3"));
  assert_false (net_addr_in_cidr ("10.1.2.4", "10.1.2.3"));
  assert_true (net_addr_in_cidr ("10.1.2.3", NULL));
}

static void
ipv6 (void **state)
{
  assert_true (net_addr_in_cidr ("fd00:1::5", "fd00:1::/64"));
  assert_false (net_addr_in_cidr ("fd00:2::5", "fd00:1::/64"));
  assert_false (net_addr_in_cidr ("10.0.0.1", "fd00:1::/64"));
}

static void
malformed (void **state)
{
  assert_false (net_cidr_valid ("10.0.0.0/33"));
  assert_false (net_cidr_valid ("10.0.0/8"));
  assert_false (net_cidr_valid ("/8"));
  assert_false (net_cidr_valid ("10.0.0.0/"));
  assert_false (net_cidr_valid ("10.0.0.0/8x"));
  assert_false (net_cidr_valid (NULL));
  assert_true (net_cidr_valid ("fd00::/128"));
  assert_false (net_addr_in_cidr ("not-an-ip", "10.0.0.0/8"));
}

static void
pick (void **state)
{
  char *addrs[] = { "192.0.2.77", "127.0.0.1", NULL };

  /* 192.0.2.77 (TEST-NET-1) is not configured here. */
  assert_string_equal (net_pick_addr (addrs, NULL), "127.0.0.1");
  assert_null (net_pick_addr (addrs, "192.0.2.0/24"));
}

/* "data_from": this host's addresses, loopback aside, each one that
 * net_local_addr_in finds too.
 */
static void
local_addrs (void **state)
{
  json_auto_t *list = net_local_addrs_json ();
  json_t *v;
  size_t i;
  char cidr[64], out[64];

  assert_non_null (list);
  assert_true (json_array_size (list) <= NET_MAX_LOCAL_ADDRS);
  json_array_foreach (list, i, v) {
    const char *a = json_string_value (v);
    assert_non_null (a);
    assert_string_not_equal (a, "127.0.0.1");
    assert_string_not_equal (a, "::1");
    snprintf (cidr, sizeof cidr, "%s/%d", a, strchr (a, ':') ? 128 : 32);
    assert_int_equal (net_local_addr_in (cidr, out, sizeof out), 0);
    assert_string_equal (out, a);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (ipv4),
    cmocka_unit_test (ipv6),
    cmocka_unit_test (malformed),
    cmocka_unit_test (pick),
    cmocka_unit_test (local_addrs),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
