/* test-qmp-qemu.c: the QMP client against a real QEMU.
 *
 * Each test starts "qemu-system-x86_64 -M q35 -accel tcg -S" (paused, no
 * disks, no kernel) with a QMP socket in a temporary directory, and kills
 * it afterwards whatever happened.  Exits 77 (SKIP) when
 * qemu-system-x86_64 is not installed.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "utils.h"
#include "qmp.h"

#define QEMU "qemu-system-x86_64"
#define START_TIMEOUT_MS 30000  /* QEMU under TCG on a busy machine */

struct vm {
  char dir[64];                 /* temporary directory */
  char sock[128];               /* QMP socket in it */
  pid_t pid;                    /* QEMU, or -1 */
  struct qmp *q;                /* connected to QEMU */
};

static void
exec_qemu (struct vm *vm)
{
  CLEANUP_FREE char *qmp = xasprintf ("unix:%s,server=on,wait=off",
                                      vm->sock);
  CLEANUP_FREE char *log = xasprintf ("%s/qemu.log", vm->dir);
  int fd = log ? open (log, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;

  prctl (PR_SET_PDEATHSIG, SIGKILL);    /* never outlive the test */
  if (qmp == NULL || fd == -1 || dup2 (fd, 1) == -1 || dup2 (fd, 2) == -1)
    _exit (126);
  execlp (QEMU, QEMU, "-M", "q35", "-accel", "tcg", "-S", "-nodefaults",
          "-display", "none", "-m", "64", "-qmp", qmp, (char *) NULL);
  _exit (127);
}

/* Connect once QEMU has created its socket.  NULL (with a message
 * printed) on failure.
 */
static struct qmp *
connect_when_ready (struct vm *vm)
{
  int64_t end = now_ms () + START_TIMEOUT_MS;
  struct qmp *q;

  for (;;) {
    q = qmp_connect (vm->sock, 5000);
    if (q != NULL)
      return q;
    if (get_errno () != ENOENT && get_errno () != ECONNREFUSED)
      break;
    if (waitpid (vm->pid, NULL, WNOHANG) == vm->pid) {
      vm->pid = -1;
      set_error (0, "QEMU exited early, see %s/qemu.log", vm->dir);
      break;
    }
    if (now_ms () > end)
      break;
    poll (NULL, 0, 50);
  }
  print_error ("starting QEMU: %s\n", get_error ());
  return NULL;
}

static int
teardown (void **state)
{
  struct vm *vm = *state;

  if (vm == NULL)
    return 0;
  qmp_close (vm->q);
  if (vm->pid > 0) {
    kill (vm->pid, SIGCONT);
    kill (vm->pid, SIGKILL);
    waitpid (vm->pid, NULL, 0);
  }
  remove_tree (vm->dir);
  free (vm);
  return 0;
}

static int
setup (void **state)
{
  struct vm *vm = calloc (1, sizeof *vm);

  if (vm == NULL)
    return -1;
  vm->pid = -1;
  snprintf (vm->dir, sizeof vm->dir, "/tmp/test-qmp-qemu-XXXXXX");
  if (mkdtemp (vm->dir) == NULL) {
    free (vm);
    return -1;
  }
  *state = vm;
  snprintf (vm->sock, sizeof vm->sock, "%s/qmp.sock", vm->dir);
  vm->pid = fork ();
  if (vm->pid == 0)
    exec_qemu (vm);
  vm->q = vm->pid > 0 ? connect_when_ready (vm) : NULL;
  if (vm->q == NULL) {
    teardown (state);
    *state = NULL;
    return -1;
  }
  return 0;
}

static void
test_version_and_pid (void **state)
{
  struct vm *vm = *state;
  json_auto_t *v = NULL;
  int major, minor, micro;

  v = qmp_command (vm->q, "query-version", NULL, 5000);
  assert_non_null (v);
  assert_int_equal (json_unpack (v, "{s:{s:i,s:i,s:i}}", "qemu", "major",
                                 &major, "minor", &minor, "micro", &micro),
                    0);
  assert_int_equal (qmp_qemu_version (vm->q),
                    major * 10000 + minor * 100 + micro);
  assert_int_equal (qmp_peer_pid (vm->q), vm->pid);
}

static void
test_unknown_command (void **state)
{
  struct vm *vm = *state;
  json_auto_t *ret = NULL;

  assert_null (qmp_command (vm->q, "no-such-command", NULL, 5000));
  assert_string_equal (qmp_error_class (vm->q), "CommandNotFound");
  assert_non_null (strstr (get_error (),
                           "no-such-command: CommandNotFound: "));
  ret = qmp_command (vm->q, "query-status", NULL, 5000);
  assert_non_null (ret);
}

static void
test_stop_cont_events (void **state)
{
  struct vm *vm = *state;
  json_auto_t *r1 = NULL, *r2 = NULL, *resume = NULL, *stop = NULL;

  r1 = qmp_command (vm->q, "cont", NULL, 5000);
  assert_non_null (r1);
  resume = qmp_wait_event (vm->q, "RESUME", NULL, NULL, 5000);
  assert_non_null (resume);
  r2 = qmp_command (vm->q, "stop", NULL, 5000);
  assert_non_null (r2);
  stop = qmp_wait_event (vm->q, "STOP", NULL, NULL, 5000);
  assert_non_null (stop);
  assert_null (qmp_poll_event (vm->q, "STOP", NULL, NULL));
  assert_int_equal (get_errno (), 0);
}

static void
test_getfd_closefd (void **state)
{
  struct vm *vm = *state;
  json_auto_t *ret = NULL;
  int p[2];

  assert_int_equal (pipe2 (p, O_CLOEXEC), 0);
  assert_int_equal (qmp_send_fd (vm->q, p[0], "pipe0", 5000), 0);
  close (p[0]);
  close (p[1]);
  ret = qmp_commandf (vm->q, 5000, "closefd", "{s:s}", "fdname", "pipe0");
  assert_non_null (ret);
  assert_null (qmp_commandf (vm->q, 5000, "closefd", "{s:s}",
                             "fdname", "pipe0"));
  assert_string_equal (qmp_error_class (vm->q), "GenericError");
}

/* QEMU stopped by SIGSTOP: the command times out on time. */
static void
test_timeout (void **state)
{
  struct vm *vm = *state;
  int64_t t;

  assert_int_equal (kill (vm->pid, SIGSTOP), 0);
  t = now_ms ();
  assert_null (qmp_command (vm->q, "query-status", NULL, 500));
  t = now_ms () - t;
  assert_int_equal (get_errno (), ETIMEDOUT);
  /* On time: not before, and far below vmferry's usual 10 s (a loaded
   * 2-core machine can return from a 500 ms wait late, never seconds
   * late; the bound only has to tell the 500 ms from a 10 s or endless
   * wait).
   */
  assert_true (t >= 500 && t < 5000);
  assert_null (qmp_command (vm->q, "query-status", NULL, 500));
  assert_non_null (strstr (get_error (), "unusable"));
}

static void *
kill_later (void *arg)
{
  struct vm *vm = arg;

  poll (NULL, 0, 300);
  kill (vm->pid, SIGKILL);
  return NULL;
}

/* QEMU dies while a command waits for its reply. */
static void
test_killed_mid_command (void **state)
{
  struct vm *vm = *state;
  pthread_t killer;
  int64_t t;

  assert_int_equal (kill (vm->pid, SIGSTOP), 0);
  assert_int_equal (pthread_create (&killer, NULL, kill_later, vm), 0);
  t = now_ms ();
  assert_null (qmp_command (vm->q, "query-status", NULL, 20000));
  t = now_ms () - t;
  pthread_join (killer, NULL);
  assert_int_equal (get_errno (), ECONNRESET);
  assert_non_null (strstr (get_error (), "closed the QMP connection"));
  assert_true (t < 10000);
}

/* A second client gets no greeting: "busy", naming the first (us). */
static void
test_busy (void **state)
{
  struct vm *vm = *state;
  char who[64];

  assert_null (qmp_connect (vm->sock, 500));
  assert_int_equal (get_errno (), ETIMEDOUT);
  snprintf (who, sizeof who, "is busy: another client (pid %d, ",
            (int) getpid ());
  if (strstr (get_error (), who) == NULL)
    fail_msg ("unexpected error: %s", get_error ());
}

static bool
have_program (const char *name)
{
  CLEANUP_FREE char *cmd = xasprintf ("command -v %s >/dev/null", name);

  return cmd != NULL && system (cmd) == 0;
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown (fn, setup, teardown)
    T (test_version_and_pid), T (test_unknown_command),
    T (test_stop_cont_events), T (test_getfd_closefd), T (test_timeout),
    T (test_killed_mid_command), T (test_busy),
#undef T
  };

  if (!have_program (QEMU)) {
    fprintf (stderr, "%s not found: skipping\n", QEMU);
    return 77;
  }
  return cmocka_run_group_tests (tests, NULL, NULL);
}
