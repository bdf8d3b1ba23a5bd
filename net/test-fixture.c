/* test-fixture.c: certificates for the TLS tests (test-fixture.h). */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include "utils.h"
#include "api.h"
#include "test-fixture.h"

int
fixture_setup (void **state)
{
  static char *ips[] = { "127.0.0.1", NULL };
  struct fixture *f = calloc (1, sizeof *f);

  assert_non_null (f);
  snprintf (f->tmp, sizeof f->tmp, "/tmp/vmferry-test-net.XXXXXX");
  assert_non_null (mkdtemp (f->tmp));
  snprintf (f->ca, sizeof f->ca, "%s/ca", f->tmp);
  snprintf (f->host, sizeof f->host, "%s/host", f->tmp);
  snprintf (f->other_ca, sizeof f->other_ca, "%s/other-ca", f->tmp);
  snprintf (f->other, sizeof f->other, "%s/other", f->tmp);
  *state = f;
  if (api_pki_init (f->ca) == -1 ||
      api_pki_issue (f->ca, f->host, "localhost", ips, 0) == -1 ||
      api_pki_init (f->other_ca) == -1 ||
      api_pki_issue (f->other_ca, f->other, "localhost", ips, 0) == -1) {
    fprintf (stderr, "setup: %s\n", get_error ());
    return -1;
  }
  return 0;
}

int
fixture_teardown (void **state)
{
  struct fixture *f = *state;

  remove_tree (f->tmp);
  free (f);
  return 0;
}
