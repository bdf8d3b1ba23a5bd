/* fuzz-qmp.c: libFuzzer target for the QMP client's reading of what a
 * QEMU monitor sends.  Each input is the whole byte stream of a fake
 * monitor: a thread accepts the client's connection on a unix socket,
 * writes the input, shuts its side down and drains the commands.  The
 * client goes through the real sequence: qmp_connect (greeting,
 * qmp_capabilities with id 1), the QEMU version, one command (id 2) and
 * the events left over.  The monitor's end of file bounds every call;
 * the timeouts are only a safety net (libFuzzer's -timeout reports a
 * hang).
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

struct monitor {
  int listen_fd;
  const uint8_t *data;
  size_t size;
};

static char sock_path[64];

/* The listening socket, made once per process. */
static int
listening (void)
{
  static int fd = -1;
  struct sockaddr_un a = { .sun_family = AF_UNIX };

  if (fd >= 0)
    return fd;
  snprintf (sock_path, sizeof sock_path, "/tmp/vmferry-fuzz-qmp.%d",
            (int) getpid ());
  unlink (sock_path);
  snprintf (a.sun_path, sizeof a.sun_path, "%s", sock_path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1 || bind (fd, (struct sockaddr *) &a, sizeof a) == -1 ||
      listen (fd, 4) == -1) {
    perror (sock_path);
    abort ();
  }
  return fd;
}

static void *
monitor_thread (void *arg)
{
  struct monitor *m = arg;
  int fd = accept (m->listen_fd, NULL, NULL);
  size_t off = 0;
  char buf[4096];
  ssize_t n;

  if (fd == -1)
    return NULL;
  while (off < m->size) {
    n = send (fd, m->data + off, m->size - off, MSG_NOSIGNAL);
    if (n <= 0)
      break;                    /* the client gave up: fine */
    off += n;
  }
  shutdown (fd, SHUT_WR);
  while ((n = read (fd, buf, sizeof buf)) > 0)
    ;
  close (fd);
  return NULL;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct monitor m = { .listen_fd = listening (), .data = data,
                       .size = size };
  pthread_t t;
  struct qmp *q;
  json_t *r;

  if (pthread_create (&t, NULL, monitor_thread, &m) != 0)
    abort ();
  q = qmp_connect (sock_path, 3000);
  if (q) {
    qmp_qemu_version (q);
    r = qmp_command (q, "query-status", NULL, 3000);
    if (r == NULL) {
      qmp_error_class (q);
      qmp_error_desc (q);
    }
    json_decref (r);
    while ((r = qmp_poll_event (q, NULL, NULL, NULL)) != NULL)
      json_decref (r);
    r = qmp_wait_event (q, "STOP", NULL, NULL, 0);
    json_decref (r);
    qmp_close (q);
  }
  /* The monitor sees the end of the connection (closed by qmp_close or
   * by a failed qmp_connect) and returns.
   */
  pthread_join (t, NULL);
  return 0;
}
