/* test-qmp-fake-bad.c: the QMP client against misbehaving peers of the
 * scripted fake QMP server (fake-server.h): malformed, wrong or
 * oversized messages, peers that close, missing sockets and a peer
 * that does not greet.  Each leaves a clear error and, once connected,
 * a handle that refuses further use.
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
/* A QEMU version that does not fit (found by fuzz-qmp: the encoding
 * overflowed): an error, not a wrong number.
 */
static void
script_huge_version (struct fake *f, int conn)
{
  srv_send (conn, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, "
            "\"minor\": 2, \"major\": 55555555555555557}, \"package\": "
            "\"\"}, \"capabilities\": []}}\r\n");
  srv_reply (conn, srv_expect (f, conn, "qmp_capabilities"), "{}");
  srv_wait_close (f, conn);
}

static void
test_huge_version (void **state)
{
  struct qmp *q = connect_ok (*state, script_huge_version);

  assert_int_equal (qmp_qemu_version (q), -1);
  assert_error (EPROTO, "impossible QEMU version");
  qmp_close (q);
  fake_finish (*state);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown (fn, fake_setup, fake_teardown)
    T (test_malformed_json), T (test_not_object), T (test_wrong_id),
    T (test_no_return), T (test_closed_mid_line), T (test_closed),
    T (test_send_to_closed),
    T (test_oversized), T (test_connect_errors),
    T (test_not_a_greeting), T (test_huge_version),
#undef T
  };

  signal (SIGPIPE, SIG_DFL);    /* the client must never raise it */
  return cmocka_run_group_tests (tests, NULL, NULL);
}
