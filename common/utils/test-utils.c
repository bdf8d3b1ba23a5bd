/* test-utils.c: unit tests of the error rule, string vectors and
 * remove_tree.
 */
#include <config.h>

#include <errno.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "utils.h"

static void
test_error_errno_and_prefix (void **state)
{
  clear_error ();
  assert_string_equal (get_error (), "");
  set_error (ENOENT, "open: %s", "/x");
  assert_string_equal (get_error (), "open: /x: No such file or directory");
  assert_int_equal (get_errno (), ENOENT);
  prefix_error ("disk %d", 0);
  assert_string_equal (get_error (),
                       "disk 0: open: /x: No such file or directory");
  set_error (0, "plain");
  assert_string_equal (get_error (), "plain");
  assert_int_equal (get_errno (), 0);
}

static void *
thread_sets_error (void *arg)
{
  set_error (0, "from thread");
  return NULL;
}

static void
test_error_is_thread_local (void **state)
{
  pthread_t t;

  set_error (0, "main");
  pthread_create (&t, NULL, thread_sets_error, NULL);
  pthread_join (t, NULL);
  assert_string_equal (get_error (), "main");
}

static void
test_strv (void **state)
{
  CLEANUP_STRV char **v = NULL;

  assert_int_equal (strv_len (v), 0);
  assert_int_equal (strv_push (&v, "a"), 0);
  assert_int_equal (strv_push (&v, "b"), 0);
  assert_int_equal (strv_len (v), 2);
  assert_string_equal (v[1], "b");
  assert_null (v[2]);
}

static void
test_remove_tree (void **state)
{
  char tmpl[] = "/tmp/vmferry-test-XXXXXX";
  char *dir = mkdtemp (tmpl);
  CLEANUP_FREE char *sub = NULL, *file = NULL, *link = NULL;
  FILE *fp;

  assert_non_null (dir);
  sub = xasprintf ("%s/a/b", dir);
  assert_int_equal (mkdir_p (sub, 0700), 0);
  file = xasprintf ("%s/a/b/f", dir);
  fp = fopen (file, "w");
  assert_non_null (fp);
  fclose (fp);
  /* A symlink to /tmp must be removed, not followed. */
  link = xasprintf ("%s/a/l", dir);
  assert_int_equal (symlink ("/tmp", link), 0);
  assert_int_equal (remove_tree (dir), 0);
  assert_int_equal (access (dir, F_OK), -1);
  assert_int_equal (access ("/tmp", F_OK), 0);
  assert_int_equal (remove_tree (dir), 0); /* missing: fine */
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_error_errno_and_prefix),
    cmocka_unit_test (test_error_is_thread_local),
    cmocka_unit_test (test_strv),
    cmocka_unit_test (test_remove_tree),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
