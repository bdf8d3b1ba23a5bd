/* test-utils.c: unit tests of the error rule, string vectors,
 * remove_tree and run_capture_timeout.
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

/* write_file_durable replaces the content whole and leaves no
 * temporary file; unlink_durable accepts a missing file.
 */
static void
test_durable (void **state)
{
  char tmpl[] = "/tmp/vmferry-test-XXXXXX";
  char *dir = mkdtemp (tmpl);
  CLEANUP_FREE char *path = NULL, *tmp = NULL, *got = NULL;
  size_t len;

  assert_non_null (dir);
  path = xasprintf ("%s/j.json", dir);
  tmp = xasprintf ("%s/j.json.tmp", dir);
  assert_int_equal (write_file_durable (path, "first, longer\n", 14), 0);
  assert_int_equal (write_file_durable (path, "second\n", 7), 0);
  got = read_file (path, &len);
  assert_non_null (got);
  assert_int_equal (len, 7);
  assert_string_equal (got, "second\n");
  assert_int_equal (access (tmp, F_OK), -1);
  assert_int_equal (unlink_durable (path), 0);
  assert_int_equal (access (path, F_OK), -1);
  assert_int_equal (unlink_durable (path), 0);
  /* A directory that does not exist: an error, nothing made. */
  free (path);
  path = xasprintf ("%s/no/j.json", dir);
  assert_int_equal (write_file_durable (path, "x", 1), -1);
  assert_non_null (strstr (get_error (), "no/j.json.tmp"));
  assert_int_equal (remove_tree (dir), 0);
}

/* A test_hold call in a thread of its own, so that the test can see
 * whether it waits.
 */
struct hold_call {
  const char *point;
  pthread_t t;
  bool done;                    /* test_hold returned (atomic) */
};

static void *
hold_thread (void *opaque)
{
  struct hold_call *h = opaque;

  test_hold ("test", h->point);
  __atomic_store_n (&h->done, true, __ATOMIC_SEQ_CST);
  return NULL;
}

static void
hold_start (struct hold_call *h, const char *point)
{
  h->point = point;
  h->done = false;
  assert_int_equal (pthread_create (&h->t, NULL, hold_thread, h), 0);
}

/* Has the call returned within ms milliseconds? */
static bool
hold_returned (struct hold_call *h, int ms)
{
  int i;

  for (i = 0; i <= ms / 10; i++) {
    if (__atomic_load_n (&h->done, __ATOMIC_SEQ_CST))
      return true;
    usleep (10000);
  }
  return false;
}

/* test_hold returns at once for a point VMFERRY_TEST_HOLD does not
 * name (or names only a prefix of), and for one it names, it waits
 * while the file is missing and returns once it exists.
 */
static void
test_hold_points (void **state)
{
  char tmpl[] = "/tmp/vmferry-test-XXXXXX";
  char *dir = mkdtemp (tmpl);
  CLEANUP_FREE char *file = NULL, *env = NULL;
  struct hold_call h;
  FILE *fp;

  assert_non_null (dir);
  file = xasprintf ("%s/go", dir);
  env = xasprintf ("other,storage:%s", file);
  setenv ("VMFERRY_TEST_HOLD", env, 1);
  assert_true (test_hold_wanted ("storage"));
  assert_true (test_hold_wanted ("other"));
  assert_false (test_hold_wanted ("stor"));
  assert_false (test_hold_wanted ("setup"));
  hold_start (&h, "setup");             /* not named: no wait */
  assert_true (hold_returned (&h, 5000));
  pthread_join (h.t, NULL);
  hold_start (&h, "stor");              /* a prefix is not a match */
  assert_true (hold_returned (&h, 5000));
  pthread_join (h.t, NULL);
  hold_start (&h, "storage");           /* named, no file: it waits */
  assert_false (hold_returned (&h, 500));
  fp = fopen (file, "w");
  assert_non_null (fp);
  fclose (fp);
  assert_true (hold_returned (&h, 5000)); /* the file is there: it goes */
  pthread_join (h.t, NULL);
  unsetenv ("VMFERRY_TEST_HOLD");
  assert_int_equal (remove_tree (dir), 0);
}

/* run_capture_timeout returns the output of a quick program and kills
 * one that runs past its limit.
 */
static void
test_run_timeout (void **state)
{
  char *echo[] = { "echo", "hi", NULL };
  char *slow[] = { "sleep", "10", NULL };
  CLEANUP_FREE char *out = NULL;
  int64_t t0;

  assert_int_equal (run_capture_timeout (echo, &out, 5000), 0);
  assert_string_equal (out, "hi\n");
  t0 = now_ms ();
  assert_int_equal (run_capture_timeout (slow, NULL, 200), -1);
  assert_true (now_ms () - t0 < 5000);
  assert_non_null (strstr (get_error (), "no answer in 200 ms"));
}

/* conf_read: comments after values, "FILE:LINE" errors; conf_bool's
 * words.
 */
static int
collect (void *opaque, const char *key, const char *value)
{
  char ***kv = opaque;

  if (strcmp (key, "bad") == 0) {
    set_error (0, "bad: no");
    return -1;
  }
  return strv_push (kv, key) == -1 || strv_push (kv, value) == -1 ? -1 : 0;
}

static void
test_conf (void **state)
{
  char path[] = "/tmp/vmferry-test-conf-XXXXXX";
  const char *text = "# comment\n a = 1   # after\nb=x#y\n\nc = # empty\n"
    "bad = 1\n";
  CLEANUP_STRV char **kv = NULL;
  int fd = mkstemp (path);
  bool v = false;

  assert_true (fd >= 0);
  assert_int_equal (write_all (fd, text, strlen (text)), 0);
  close (fd);
  assert_int_equal (conf_read (path, collect, &kv), -1);
  assert_non_null (strstr (get_error (), path));
  assert_non_null (strstr (get_error (), ":6: bad: no"));
  unlink (path);
  assert_int_equal (strv_len (kv), 6);
  assert_string_equal (kv[1], "1");
  assert_string_equal (kv[3], "x#y");
  assert_string_equal (kv[5], "");

  assert_int_equal (conf_bool ("q", "YES", &v), 0);
  assert_true (v);
  assert_int_equal (conf_bool ("q", "off", &v), 0);
  assert_false (v);
  assert_int_equal (conf_bool ("q", "0", &v), 0);
  assert_int_equal (conf_bool ("q", "yess", &v), -1);
  assert_non_null (strstr (get_error (), "q: 'yess' is not a boolean"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_error_errno_and_prefix),
    cmocka_unit_test (test_error_is_thread_local),
    cmocka_unit_test (test_strv),
    cmocka_unit_test (test_remove_tree),
    cmocka_unit_test (test_durable),
    cmocka_unit_test (test_hold_points),
    cmocka_unit_test (test_run_timeout),
    cmocka_unit_test (test_conf),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
