/* fake-server.c: a scripted fake QMP server for the cmocka tests of qmp/.
 *
 * See fake-server.h.  The server thread blocks every signal (they are
 * for the client's thread) and never waits longer than
 * SERVER_TIMEOUT_MS.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "utils.h"
#include "qmp.h"
#include "fake-server.h"

#define SERVER_TIMEOUT_MS 10000  /* a server thread never waits longer */
#define GREETING \
  "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 3, \"minor\": 2, " \
  "\"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"

/* --- server side (runs in the server thread) --- */

void
srv_fail (struct fake *f, const char *msg)
{
  if (f->failure[0] == '\0')
    snprintf (f->failure, sizeof f->failure, "server: %s", msg);
}

/* Wait until fd is readable: 1, or 0 when stopped or timed out. */
int
srv_wait (struct fake *f, int fd)
{
  struct pollfd p[2] = {
    { .fd = fd, .events = POLLIN }, { .fd = f->stop[0], .events = POLLIN },
  };

  if (poll (p, 2, SERVER_TIMEOUT_MS) <= 0 || p[1].revents != 0)
    return 0;
  return 1;
}

void
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
void
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
int
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
json_t *
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
json_int_t
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

void
srv_reply (int conn, json_int_t id, const char *value)
{
  CLEANUP_FREE char *text =
    xasprintf ("{\"return\": %s, \"id\": %" JSON_INTEGER_FORMAT "}\r\n",
               value, id);

  srv_send (conn, text);
}

void
srv_handshake (struct fake *f, int conn)
{
  srv_send (conn, GREETING);
  srv_reply (conn, srv_expect (f, conn, "qmp_capabilities"), "{}");
}

/* Wait until the client closes the connection (or the test stops us). */
void
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

int
fake_setup (void **state)
{
  struct fake *f = calloc (1, sizeof *f);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };

  assert_non_null (f);
  f->passed_fd = f->listen_fd = -1;
  snprintf (f->dir, sizeof f->dir, "/tmp/test-qmp-XXXXXX");
  assert_non_null (mkdtemp (f->dir));
  snprintf (f->path, sizeof f->path, "%s/qmp.sock", f->dir);
  assert_true (strlen (f->path) < sizeof addr.sun_path);
  memcpy (addr.sun_path, f->path, strlen (f->path) + 1);
  f->listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_not_equal (f->listen_fd, -1);
  assert_int_equal (bind (f->listen_fd, (struct sockaddr *) &addr,
                          sizeof addr), 0);
  assert_int_equal (listen (f->listen_fd, 4), 0);
  assert_int_equal (pipe2 (f->stop, O_CLOEXEC), 0);
  *state = f;
  return 0;
}

void
fake_start (struct fake *f, script_fn script)
{
  f->script = script;
  assert_int_equal (pthread_create (&f->thread, NULL, server_thread, f), 0);
  f->started = true;
}

/* Stop the server thread and check that its script found no fault. */
void
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

int
fake_teardown (void **state)
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

struct qmp *
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
void
assert_error (int errnum, const char *needle)
{
  if (get_errno () != errnum || strstr (get_error (), needle) == NULL)
    fail_msg ("expected errno %d and \"%s\", got errno %d: %s",
              errnum, needle, get_errno (), get_error ());
}
