/* test-ssh.c: the one-shot's target parser and shell quoting. */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include "internal.h"

/* Parse t and compare with user/host/port (NULL: absent). */
static void
check_ok (const char *t, const char *user, const char *host,
          const char *port)
{
  struct mig_ssh_target tg;

  assert_int_equal (mig_ssh_parse_target (t, &tg), 0);
  if (user)
    assert_string_equal (tg.user, user);
  else
    assert_null (tg.user);
  assert_string_equal (tg.host, host);
  if (port)
    assert_string_equal (tg.port, port);
  else
    assert_null (tg.port);
  mig_ssh_target_clear (&tg);
}

static void
test_targets (void **state)
{
  check_ok ("ssh://hostb", NULL, "hostb", NULL);
  check_ok ("ssh://root@hostb", "root", "hostb", NULL);
  check_ok ("ssh://root@198.18.0.2:2222", "root", "198.18.0.2", "2222");
  check_ok ("ssh://[2001:db8::2]", NULL, "2001:db8::2", NULL);
  check_ok ("ssh://u@[2001:db8::2]:22", "u", "2001:db8::2", "22");
}

static void
test_bad_targets (void **state)
{
  const char *bad[] = {
    "hostb", "ssh:/hostb", "ssh://", "ssh://@hostb", "ssh://root@",
    "ssh://hostb:", "ssh://hostb:x", "ssh://hostb:123456",
    "ssh://[::1", "ssh://[::1]x", "ssh://[]",
    /* Option injection and paths. */
    "ssh://-oProxyCommand=sh", "ssh://-l@hostb", "ssh://root@-hostb",
    "ssh://hostb/path", "ssh://a@b@hostb", "ssh://ho st",
    NULL
  };
  struct mig_ssh_target tg;
  size_t i;

  for (i = 0; bad[i]; i++) {
    clear_error ();
    assert_int_equal (mig_ssh_parse_target (bad[i], &tg), -1);
    assert_null (tg.host);
    assert_non_null (strstr (get_error (), "is not ssh://[USER@]HOST"));
  }
}

static void
test_sh_quote (void **state)
{
  char *q;

  q = mig_sh_quote ("/var/lib/vmferry");
  assert_string_equal (q, "'/var/lib/vmferry'");
  free (q);
  q = mig_sh_quote ("it's $HOME `x`");
  assert_string_equal (q, "'it'\\''s $HOME `x`'");
  free (q);
  q = mig_sh_quote ("");
  assert_string_equal (q, "''");
  free (q);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_targets),
    cmocka_unit_test (test_bad_targets),
    cmocka_unit_test (test_sh_quote),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
