/* test-qmp-fake.c: the QMP client's commands and events against a
 * scripted fake QMP server (fake-server.h): replies, errors, events,
 * timeouts, a busy socket and passing a file descriptor.
 * test-qmp-fake-bad.c covers malformed, oversized and closing peers.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <cmocka.h>

#include "utils.h"
#include "qmp.h"
#include "internal.h"
#include "fake-server.h"

/* --- the tests --- */

/* A normal command; its reply comes in two pieces and after a blank
 * line.
 */
static void
script_command (struct fake *f, int conn)
{
  CLEANUP_FREE char *text = NULL;
  json_auto_t *cmd = NULL;
  const char *device;
  json_int_t id;

  srv_handshake (f, conn);
  id = srv_expect (f, conn, "query-status");
  text = xasprintf ("\r\n{\"return\": {\"status\": \"running\", "
                    "\"running\": true}, \"id\": %" JSON_INTEGER_FORMAT
                    "}\r\n", id);
  srv_send_split (conn, text);
  cmd = srv_read_cmd (f, conn);
  if (json_unpack (cmd, "{s:I, s:{s:s}}", "id", &id, "arguments",
                   "device", &device) == -1 || strcmp (device, "d0") != 0)
    srv_fail (f, "arguments of block-job-cancel");
  srv_reply (conn, id, "{}");
  srv_wait_close (f, conn);
}

static void
test_command (void **state)
{
  struct fake *f = *state;
  struct qmp *q = connect_ok (f, script_command);
  json_auto_t *status = NULL, *ret = NULL;

  assert_int_equal (qmp_qemu_version (q), 70203);
  assert_int_equal (qmp_peer_pid (q), getpid ());
  assert_true (qmp_fd (q) >= 0);
  assert_true (json_is_object (qmp_greeting (q)));
  status = qmp_command (q, "query-status", NULL, 5000);
  assert_non_null (status);
  assert_string_equal (json_string_value (json_object_get (status, "status")),
                       "running");
  ret = qmp_commandf (q, 5000, "block-job-cancel", "{s:s}", "device", "d0");
  assert_non_null (ret);
  qmp_close (q);
  fake_finish (f);
}

/* An error reply is recorded; the handle stays usable. */
static void
script_error (struct fake *f, int conn)
{
  json_int_t id;
  CLEANUP_FREE char *text = NULL;

  srv_handshake (f, conn);
  id = srv_expect (f, conn, "block-job-cancel");
  text = xasprintf ("{\"id\": %" JSON_INTEGER_FORMAT ", \"error\": "
                    "{\"class\": \"DeviceNotActive\", "
                    "\"desc\": \"No active block job on device 'x'\"}}\n",
                    id);
  srv_send (conn, text);
  srv_reply (conn, srv_expect (f, conn, "query-status"), "{}");
  srv_wait_close (f, conn);
}

static void
test_error_reply (void **state)
{
  struct fake *f = *state;
  struct qmp *q = connect_ok (f, script_error);
  json_auto_t *ret = NULL;

  assert_null (qmp_commandf (q, 5000, "block-job-cancel", "{s:s}",
                             "device", "x"));
  assert_string_equal (get_error (), "block-job-cancel: DeviceNotActive: "
                       "No active block job on device 'x'");
  assert_string_equal (qmp_error_class (q), "DeviceNotActive");
  assert_string_equal (qmp_error_desc (q),
                       "No active block job on device 'x'");
  ret = qmp_command (q, "query-status", NULL, 5000);
  assert_non_null (ret);
  assert_string_equal (qmp_error_class (q), "");
  qmp_close (q);
  fake_finish (f);
}

/* Events before the reply are queued; another arrives later. */
static void
script_events (struct fake *f, int conn)
{
  json_int_t id;

  srv_handshake (f, conn);
  id = srv_expect (f, conn, "stop");
  srv_send (conn, "{\"event\": \"STOP\", \"data\": {}}\r\n"
            "{\"event\": \"MIGRATION\", \"data\": {\"status\": \"setup\"}}\n"
            "{\"event\": \"MIGRATION\", \"data\": {\"status\": \"active\"}}\n");
  srv_reply (conn, id, "{}");
  poll (NULL, 0, 100);
  srv_send (conn, "{\"event\": \"RESUME\", \"data\": {}}\r\n");
  srv_wait_close (f, conn);
}

static bool
status_is (json_t *event, void *opaque)
{
  const char *status = NULL;

  json_unpack (event, "{s:{s:s}}", "data", "status", &status);
  return status != NULL && strcmp (status, opaque) == 0;
}

static void
test_events (void **state)
{
  struct fake *f = *state;
  struct qmp *q = connect_ok (f, script_events);
  json_auto_t *ret = NULL, *active = NULL, *setup = NULL, *stop = NULL;
  json_auto_t *resume = NULL;

  ret = qmp_command (q, "stop", NULL, 5000);
  assert_non_null (ret);
  active = qmp_wait_event (q, "MIGRATION", status_is, "active", 1000);
  assert_non_null (active);
  assert_true (status_is (active, "active"));
  setup = qmp_poll_event (q, "MIGRATION", NULL, NULL);
  assert_non_null (setup);
  assert_true (status_is (setup, "setup"));
  stop = qmp_poll_event (q, NULL, NULL, NULL);
  assert_non_null (stop);
  assert_null (qmp_poll_event (q, "STOP", NULL, NULL));
  assert_int_equal (get_errno (), 0);
  resume = qmp_wait_event (q, "RESUME", NULL, NULL, 5000);
  assert_non_null (resume);
  qmp_clear_events (q);
  qmp_close (q);
  fake_finish (f);
}

/* More events than the queue keeps: the oldest are dropped. */
#define FLOOD (QMP_MAX_QUEUED_EVENTS + 100)

static void
script_flood (struct fake *f, int conn)
{
  json_int_t id;
  char event[64];
  int i;

  srv_handshake (f, conn);
  id = srv_expect (f, conn, "query-status");
  for (i = 0; i < FLOOD; i++) {
    snprintf (event, sizeof event, "{\"event\": \"E\", \"data\": %d}\n", i);
    srv_send (conn, event);
  }
  srv_reply (conn, id, "{}");
  srv_wait_close (f, conn);
}

static void
test_event_flood (void **state)
{
  struct fake *f = *state;
  struct qmp *q = connect_ok (f, script_flood);
  json_auto_t *ret = NULL, *oldest = NULL;

  ret = qmp_command (q, "query-status", NULL, 10000);
  assert_non_null (ret);
  assert_int_equal (json_array_size (q->events), QMP_MAX_QUEUED_EVENTS);
  oldest = qmp_poll_event (q, "E", NULL, NULL);
  assert_non_null (oldest);
  assert_int_equal (json_integer_value (json_object_get (oldest, "data")),
                    FLOOD - QMP_MAX_QUEUED_EVENTS);
  qmp_close (q);
  fake_finish (f);
}

/* Waiting for an event times out on time, signals or not, and leaves the
 * handle usable.
 */
static void
script_idle_then_command (struct fake *f, int conn)
{
  srv_handshake (f, conn);
  srv_reply (conn, srv_expect (f, conn, "query-status"), "{}");
  srv_wait_close (f, conn);
}

static void
on_alarm (int sig)
{
}

static void
test_wait_timeout (void **state)
{
  struct fake *f = *state;
  struct qmp *q = connect_ok (f, script_idle_then_command);
  struct sigaction sa = { .sa_handler = on_alarm };
  struct itimerval every_5ms = { { 0, 5000 }, { 0, 5000 } }, off = { 0 };
  json_auto_t *ret = NULL;
  int64_t t;

  sigaction (SIGALRM, &sa, NULL);        /* no SA_RESTART: EINTR */
  setitimer (ITIMER_REAL, &every_5ms, NULL);
  t = now_ms ();
  assert_null (qmp_wait_event (q, "STOP", NULL, NULL, 300));
  t = now_ms () - t;
  setitimer (ITIMER_REAL, &off, NULL);
  assert_error (ETIMEDOUT, "STOP");
  assert_true (t >= 300 && t < 2000);
  ret = qmp_command (q, "query-status", NULL, 5000);
  assert_non_null (ret);
  qmp_close (q);
  fake_finish (f);
}

/* No reply in time: ETIMEDOUT, then the handle refuses commands. */
static void
script_no_reply (struct fake *f, int conn)
{
  srv_handshake (f, conn);
  srv_expect (f, conn, "query-status");
  srv_wait_close (f, conn);
}

static void
test_command_timeout (void **state)
{
  struct fake *f = *state;
  struct qmp *q = connect_ok (f, script_no_reply);
  int64_t t = now_ms ();

  assert_null (qmp_command (q, "query-status", NULL, 200));
  t = now_ms () - t;
  assert_error (ETIMEDOUT, "query-status");
  assert_true (t >= 200 && t < 2000);
  assert_null (qmp_command (q, "cont", NULL, 200));
  assert_error (ETIMEDOUT, "unusable");
  qmp_close (q);
  fake_finish (f);
}

/* Another client holds the socket: the server never greets us. */
static void
script_hold (struct fake *f, int conn)
{
  srv_wait_close (f, conn);
}

static void
test_busy (void **state)
{
  struct fake *f = *state;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  CLEANUP_CLOSE int holder = socket (AF_UNIX, SOCK_STREAM, 0);
  char who[64];
  int64_t t;

  assert_true (strlen (f->path) < sizeof addr.sun_path);
  memcpy (addr.sun_path, f->path, strlen (f->path) + 1);
  assert_int_equal (connect (holder, (struct sockaddr *) &addr,
                             sizeof addr), 0);
  fake_start (f, script_hold);
  t = now_ms ();
  assert_null (qmp_connect (f->path, 300));
  t = now_ms () - t;
  assert_true (t >= 300 && t < 2000);
  snprintf (who, sizeof who, "(pid %d, ", (int) getpid ());
  assert_error (ETIMEDOUT, "is busy: another client");
  assert_error (ETIMEDOUT, who);
  fake_finish (f);
}

/* getfd: the server receives the fd and writes into it. */
static void
script_getfd (struct fake *f, int conn)
{
  json_auto_t *cmd = NULL;
  const char *name = "";
  json_int_t id = 0;

  srv_handshake (f, conn);
  cmd = srv_read_cmd (f, conn);
  json_unpack (cmd, "{s:I, s:{s:s}}", "id", &id, "arguments", "fdname",
               &name);
  if (strcmp (name, "pipe0") != 0 || f->passed_fd < 0 ||
      write (f->passed_fd, "hello", 5) != 5)
    srv_fail (f, "getfd: no working fd named pipe0");
  srv_reply (conn, id, "{}");
  srv_wait_close (f, conn);
}

static void
test_send_fd (void **state)
{
  struct fake *f = *state;
  struct qmp *q = connect_ok (f, script_getfd);
  int p[2];
  char buf[8] = "";

  assert_int_equal (pipe (p), 0);
  assert_int_equal (qmp_send_fd (q, p[1], "pipe0", 5000), 0);
  close (p[1]);
  close (f->passed_fd);
  f->passed_fd = -1;
  assert_int_equal (read (p[0], buf, sizeof buf), 5);
  assert_memory_equal (buf, "hello", 5);
  close (p[0]);
  qmp_close (q);
  fake_finish (f);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown (fn, fake_setup, fake_teardown)
    T (test_command), T (test_error_reply), T (test_events),
    T (test_event_flood),
    T (test_wait_timeout), T (test_command_timeout), T (test_busy),
    T (test_send_fd),
#undef T
  };

  signal (SIGPIPE, SIG_DFL);    /* the client must never raise it */
  return cmocka_run_group_tests (tests, NULL, NULL);
}
