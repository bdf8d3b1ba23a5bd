/* send.c: sending a command, optionally with a file descriptor attached
 * (SCM_RIGHTS), without SIGPIPE and without blocking past the deadline.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "utils.h"
#include "internal.h"

/* One sendmsg(2), with fd attached if fd >= 0.  Returns the bytes sent
 * or -1 with errno set.
 */
static ssize_t
send_some (int sock, const char *buf, size_t len, int fd)
{
  union {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
  struct cmsghdr *cmsg;

  if (fd >= 0) {
    memset (&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    cmsg = CMSG_FIRSTHDR (&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN (sizeof (int));
    memcpy (CMSG_DATA (cmsg), &fd, sizeof (int));
  }
  return sendmsg (sock, &msg, MSG_NOSIGNAL);
}

int
qmp_internal_send (struct qmp *q, const char *buf, size_t len, int fd,
                   int64_t deadline)
{
  ssize_t r;

  while (len > 0) {
    r = send_some (q->fd, buf, len, fd);
    if (r > 0) {
      buf += r;
      len -= r;
      fd = -1;                  /* the fd went with the first byte */
      continue;
    }
    if (r == 0)
      errno = EIO;              /* cannot happen on a stream socket */
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      r = qmp_internal_wait_fd (q->fd, POLLOUT, deadline);
      if (r == 1)
        continue;
      if (r == 0)
        set_error (ETIMEDOUT, "QEMU is not reading from the QMP socket");
      break;
    }
    if (errno == EPIPE || errno == ECONNRESET)
      set_error (ECONNRESET, "QEMU closed the QMP connection");
    else
      set_error (errno, "send to QMP socket");
    break;
  }
  if (len == 0)
    return 0;
  qmp_internal_break (q);
  return -1;
}
