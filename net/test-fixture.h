/* test-fixture.h: the TLS tests' fixture (test-fixture.c): a temporary
 * directory with a CA and a host certificate for 127.0.0.1 ("host"),
 * and another CA with a certificate of its own ("other").
 */
#ifndef VMFERRY_NET_TEST_FIXTURE_H
#define VMFERRY_NET_TEST_FIXTURE_H

struct fixture {
  char tmp[64];
  char ca[96], host[96], other_ca[96], other[96];
};

/* cmocka group setup / teardown: *state is the struct fixture. */
int fixture_setup (void **state);
int fixture_teardown (void **state);

#endif
