/* socket.c: connecting to the QMP unix socket, with a deadline and clear
 * messages for the usual failures.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "utils.h"
#include "internal.h"

/* How long to sleep between tries while the listen queue is full. */
#define RETRY_MS 10

static void
set_connect_error (const char *path, int errnum)
{
  switch (errnum) {
  case ENOENT:
    set_error (errnum, "QMP socket %s does not exist", path);
    break;
  case ECONNREFUSED:
    set_error (errnum, "QMP socket %s: nobody is listening (QEMU gone?)",
               path);
    break;
  default:
    set_error (errnum, "QMP socket %s: connect", path);
  }
}

/* Connect fd to addr.  A full listen queue (EAGAIN) means other clients
 * are waiting for QEMU already: retry until the deadline.  0 or -1 +
 * set_error.
 */
static int
connect_until (int fd, const struct sockaddr_un *addr, const char *path,
               int64_t deadline)
{
  int left;

  for (;;) {
    if (connect (fd, (const struct sockaddr *) addr, sizeof *addr) == 0)
      return 0;
    if (errno == EISCONN)
      return 0;
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN) {
      set_connect_error (path, errno);
      return -1;
    }
    left = qmp_internal_remaining (deadline);
    if (left == 0) {
      qmp_internal_busy_error (path, -1);
      return -1;
    }
    poll (NULL, 0, left > 0 && left < RETRY_MS ? left : RETRY_MS);
  }
}

static pid_t
peer_pid (int fd)
{
  struct ucred cred;
  socklen_t len = sizeof cred;

  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
    return -1;
  return cred.pid;
}

int
qmp_internal_open_socket (const char *path, int64_t deadline,
                          pid_t *peer)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  CLEANUP_CLOSE int fd = -1;
  int ret;

  if (strlen (path) >= sizeof addr.sun_path) {
    set_error (ENAMETOOLONG, "QMP socket %s", path);
    return -1;
  }
  memcpy (addr.sun_path, path, strlen (path));
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd == -1) {
    set_error (errno, "socket");
    return -1;
  }
  if (connect_until (fd, &addr, path, deadline) == -1)
    return -1;
  *peer = peer_pid (fd);
  ret = fd;
  fd = -1;
  return ret;
}

pid_t
qmp_listener_pid (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  CLEANUP_CLOSE int fd = -1;

  if (strlen (path) >= sizeof addr.sun_path)
    return 0;
  memcpy (addr.sun_path, path, strlen (path));
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd == -1)
    return 0;
  if (connect (fd, (const struct sockaddr *) &addr, sizeof addr) == 0)
    return peer_pid (fd) > 0 ? peer_pid (fd) : 1;
  return errno == EAGAIN ? 1 : 0;   /* a full queue: someone listens */
}
