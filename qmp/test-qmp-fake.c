/* test-qmp-fake.c: the QMP client against a scripted fake QMP server.
 *
 * Each test starts a server thread on a unix socket in a temporary
 * directory.  The thread accepts one connection and runs the test's
 * script on it.  Scripts never call cmocka's assertions (they are not
 * thread-safe): they record their first failure in fake->failure, which
 * the test checks after joining the thread.
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

#define SERVER_TIMEOUT_MS 10000  /* a server thread never waits longer */
#define GREETING \
  "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 3, \"minor\": 2, " \
  "\"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"

struct fake;
typedef void (*script_fn) (struct fake *f, int conn);

struct fake {
  char dir[64];                 /* temporary directory */
  char path[128];               /* the socket in it */
  int listen_fd;
  int stop[2];                  /* writing to stop[1] ends the server */
  pthread_t thread;
  bool started;
  script_fn script;
  const char *line;             /* a parameter of the script */
  int passed_fd;                /* received by SCM_RIGHTS, or -1 */
  char failure[256];            /* first failure in the server, or "" */
};

/* --- server side (runs in the server thread) --- */

static void
srv_fail (struct fake *f, const char *msg)
{
  if (f->failure[0] == '\0')
    snprintf (f->failure, sizeof f->failure, "server: %s", msg);
}

/* Wait until fd is readable: 1, or 0 when stopped or timed out. */
static int
srv_wait (struct fake *f, int fd)
{
  struct pollfd p[2] = {
    { .fd = fd, .events = POLLIN }, { .fd = f->stop[0], .events = POLLIN },
  };

  if (poll (p, 2, SERVER_TIMEOUT_MS) <= 0 || p[1].revents != 0)
    return 0;
  return 1;
}

static void
srv_send (int conn, const char *text)
{
  size_t len = strlen (text);
  ssize_t r;

  while (len > 0 && (r = send (conn, text, len, MSG_NOSIGNAL)) > 0) {
    text += r;
    len -= r;
  }
}

/* Send text in two pieces, 50 ms apart. */
static void
srv_send_split (int conn, const char *text)
{
  size_t half = strlen (text) / 2;

  if (send (conn, text, half, MSG_NOSIGNAL) == (ssize_t) half) {
    poll (NULL, 0, 50);
    srv_send (conn, text + half);
  }
}

/* Receive one byte, keeping a passed file descriptor: 1, 0 at EOF or
 * when stopped, -1 on error.
 */
static int
srv_recv_byte (struct fake *f, int conn, char *c)
{
  union {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = { .iov_base = c, .iov_len = 1 };
  struct msghdr msg = {
    .msg_iov = &iov, .msg_iovlen = 1,
    .msg_control = control.buf, .msg_controllen = sizeof control.buf,
  };
  struct cmsghdr *cmsg;
  ssize_t r;

  if (!srv_wait (f, conn))
    return 0;
  r = recvmsg (conn, &msg, MSG_CMSG_CLOEXEC);
  if (r <= 0)
    return r;
  cmsg = CMSG_FIRSTHDR (&msg);
  if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
    memcpy (&f->passed_fd, CMSG_DATA (cmsg), sizeof (int));
  return 1;
}

/* Read one command sent by the client (NULL at EOF or on a bad line). */
static json_t *
srv_read_cmd (struct fake *f, int conn)
{
  char line[4096];
  size_t n = 0;
  char c;

  while (n < sizeof line && srv_recv_byte (f, conn, &c) == 1) {
    if (c == '\n')
      return json_loadb (line, n, 0, NULL);
    line[n++] = c;
  }
  return NULL;
}

/* Read a command, check its name, and return its id (-1 on failure). */
static json_int_t
srv_expect (struct fake *f, int conn, const char *name)
{
  json_auto_t *cmd = srv_read_cmd (f, conn);
  const char *execute;
  json_int_t id;

  if (json_unpack (cmd, "{s:s, s:I}", "execute", &execute, "id", &id) == -1
      || strcmp (execute, name) != 0) {
    srv_fail (f, name);
    return -1;
  }
  return id;
}

static void
srv_reply (int conn, json_int_t id, const char *value)
{
  CLEANUP_FREE char *text =
    xasprintf ("{\"return\": %s, \"id\": %" JSON_INTEGER_FORMAT "}\r\n",
               value, id);

  srv_send (conn, text);
}

static void
srv_handshake (struct fake *f, int conn)
{
  srv_send (conn, GREETING);
  srv_reply (conn, srv_expect (f, conn, "qmp_capabilities"), "{}");
}

/* Wait until the client closes the connection (or the test stops us). */
static void
srv_wait_close (struct fake *f, int conn)
{
  char c;

  while (srv_recv_byte (f, conn, &c) == 1)
    ;
}

static void *
server_thread (void *arg)
{
  struct fake *f = arg;
  sigset_t all;
  int conn;

  sigfillset (&all);            /* signals are for the client's thread */
  pthread_sigmask (SIG_BLOCK, &all, NULL);
  if (!srv_wait (f, f->listen_fd)) {
    srv_fail (f, "no client");
    return NULL;
  }
  conn = accept4 (f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (conn == -1) {
    srv_fail (f, "accept");
    return NULL;
  }
  f->script (f, conn);
  close (conn);
  return NULL;
}

/* --- test side --- */

static int
setup (void **state)
{
  struct fake *f = calloc (1, sizeof *f);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };

  assert_non_null (f);
  f->passed_fd = f->listen_fd = -1;
  strcpy (f->dir, "/tmp/test-qmp-XXXXXX");
  assert_non_null (mkdtemp (f->dir));
  snprintf (f->path, sizeof f->path, "%s/qmp.sock", f->dir);
  strcpy (addr.sun_path, f->path);
  f->listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_not_equal (f->listen_fd, -1);
  assert_int_equal (bind (f->listen_fd, (struct sockaddr *) &addr,
                          sizeof addr), 0);
  assert_int_equal (listen (f->listen_fd, 4), 0);
  assert_int_equal (pipe2 (f->stop, O_CLOEXEC), 0);
  *state = f;
  return 0;
}

static void
fake_start (struct fake *f, script_fn script)
{
  f->script = script;
  assert_int_equal (pthread_create (&f->thread, NULL, server_thread, f), 0);
  f->started = true;
}

/* Stop the server thread and check that its script found no fault. */
static void
fake_finish (struct fake *f)
{
  if (f->started) {
    if (write (f->stop[1], "x", 1) != 1)
      fail_msg ("write to stop pipe");
    pthread_join (f->thread, NULL);
    f->started = false;
  }
  assert_string_equal (f->failure, "");
}

static int
teardown (void **state)
{
  struct fake *f = *state;

  if (f->started) {
    if (write (f->stop[1], "x", 1) != 1)
      return -1;
    pthread_join (f->thread, NULL);
  }
  close (f->listen_fd);
  close (f->stop[0]);
  close (f->stop[1]);
  if (f->passed_fd >= 0)
    close (f->passed_fd);
  remove_tree (f->dir);
  free (f);
  return 0;
}

static struct qmp *
connect_ok (struct fake *f, script_fn script)
{
  struct qmp *q;

  fake_start (f, script);
  q = qmp_connect (f->path, 5000);
  if (q == NULL)
    fail_msg ("qmp_connect: %s", get_error ());
  return q;
}

/* Assert that the last call failed with errnum and a message containing
 * needle.
 */
static void
assert_error (int errnum, const char *needle)
{
  if (get_errno () != errnum || strstr (get_error (), needle) == NULL)
    fail_msg ("expected errno %d and \"%s\", got errno %d: %s",
              errnum, needle, get_errno (), get_error ());
}

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

  strcpy (addr.sun_path, f->path);
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

/* One bad message from the server breaks the command and the handle. */
static void
script_bad_line (struct fake *f, int conn)
{
  srv_handshake (f, conn);
  srv_expect (f, conn, "query-status");
  srv_send (conn, f->line);
}

static void
check_bad_line (struct fake *f, const char *line, int errnum,
                const char *needle)
{
  struct qmp *q;

  f->line = line;
  q = connect_ok (f, script_bad_line);
  assert_null (qmp_command (q, "query-status", NULL, 5000));
  assert_error (errnum, needle);
  assert_string_equal (qmp_error_class (q), "");
  assert_null (qmp_command (q, "query-status", NULL, 5000));
  assert_error (errnum, "unusable");
  qmp_close (q);
  fake_finish (f);
}

static void
test_malformed_json (void **state)
{
  check_bad_line (*state, "{\"return\": {}, \"id\": \n", EPROTO,
                  "malformed QMP message");
}

static void
test_not_object (void **state)
{
  check_bad_line (*state, "[{\"return\": {}, \"id\": 2}]\n", EPROTO,
                  "not a JSON object");
}

static void
test_wrong_id (void **state)
{
  check_bad_line (*state, "{\"return\": {}, \"id\": 77}\n", EPROTO,
                  "another id");
}

static void
test_no_return (void **state)
{
  check_bad_line (*state, "{\"id\": 2}\n", EPROTO, "neither");
}

static void
test_closed_mid_line (void **state)
{
  check_bad_line (*state, "{\"return\": {", ECONNRESET,
                  "closed the QMP connection in the middle of a message");
}

static void
script_close_after_command (struct fake *f, int conn)
{
  srv_handshake (f, conn);
  srv_expect (f, conn, "query-status");
}

static void
test_closed (void **state)
{
  struct fake *f = *state;
  struct qmp *q = connect_ok (f, script_close_after_command);

  assert_null (qmp_command (q, "query-status", NULL, 5000));
  assert_error (ECONNRESET, "query-status: QEMU closed the QMP connection");
  assert_null (qmp_wait_event (q, NULL, NULL, NULL, 100));
  assert_error (ECONNRESET, "unusable");
  qmp_close (q);
  fake_finish (f);
}

/* Sending to a peer that has gone: ECONNRESET, and no SIGPIPE. */
static void
script_close_after_handshake (struct fake *f, int conn)
{
  srv_handshake (f, conn);
}

static void
test_send_to_closed (void **state)
{
  struct fake *f = *state;
  struct qmp *q = connect_ok (f, script_close_after_handshake);

  fake_finish (f);              /* the server has closed its end */
  assert_null (qmp_command (q, "query-status", NULL, 5000));
  assert_error (ECONNRESET, "closed the QMP connection");
  qmp_close (q);
}

/* 17 MiB without a newline: an error once QMP_MAX_MESSAGE is passed,
 * and the buffer never grows beyond it.
 */
static void
script_huge (struct fake *f, int conn)
{
  static char chunk[65536];
  size_t sent = 0;
  ssize_t r = 0;

  memset (chunk, 'a', sizeof chunk);
  srv_handshake (f, conn);
  srv_expect (f, conn, "query-status");
  srv_send (conn, "{\"return\": \"");
  while (sent < 17 * 1024 * 1024 && r >= 0) {
    r = send (conn, chunk, sizeof chunk, MSG_NOSIGNAL);
    sent += r > 0 ? r : 0;
  }
  srv_wait_close (f, conn);
}

static void
test_oversized (void **state)
{
  struct fake *f = *state;
  struct qmp *q = connect_ok (f, script_huge);

  assert_null (qmp_command (q, "query-status", NULL, 20000));
  assert_error (EPROTO, "longer than");
  assert_true (q->in.cap <= QMP_MAX_MESSAGE + 1);
  qmp_close (q);
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

/* Connecting to nothing says so at once. */
static void
test_connect_errors (void **state)
{
  struct fake *f = *state;
  CLEANUP_FREE char *missing = xasprintf ("%s/missing.sock", f->dir);

  assert_null (qmp_connect (missing, 1000));
  assert_error (ENOENT, "does not exist");
  close (f->listen_fd);         /* the socket file stays, nobody listens */
  f->listen_fd = -1;
  assert_null (qmp_connect (f->path, 1000));
  assert_error (ECONNREFUSED, "nobody is listening");
}

static void
script_no_greeting (struct fake *f, int conn)
{
  srv_send (conn, "{\"event\": \"STOP\"}\n");
  srv_wait_close (f, conn);
}

static void
test_not_a_greeting (void **state)
{
  struct fake *f = *state;

  fake_start (f, script_no_greeting);
  assert_null (qmp_connect (f->path, 5000));
  assert_error (EPROTO, "not a QMP greeting");
  fake_finish (f);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown (fn, setup, teardown)
    T (test_command), T (test_error_reply), T (test_events),
    T (test_event_flood),
    T (test_wait_timeout), T (test_command_timeout), T (test_busy),
    T (test_malformed_json), T (test_not_object), T (test_wrong_id),
    T (test_no_return), T (test_closed_mid_line), T (test_closed),
    T (test_send_to_closed),
    T (test_oversized), T (test_send_fd), T (test_connect_errors),
    T (test_not_a_greeting),
#undef T
  };

  signal (SIGPIPE, SIG_DFL);    /* the client must never raise it */
  return cmocka_run_group_tests (tests, NULL, NULL);
}
