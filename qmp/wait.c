/* wait.c: deadlines and waiting for the socket with poll(2). */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>

#include "utils.h"
#include "internal.h"

int64_t
qmp_internal_deadline (int timeout_ms)
{
  if (timeout_ms < 0)
    return -1;
  return now_ms () + timeout_ms;
}

int
qmp_internal_remaining (int64_t deadline)
{
  int64_t left;

  if (deadline == -1)
    return -1;
  left = deadline - now_ms ();
  if (left <= 0)
    return 0;
  return left > INT_MAX ? INT_MAX : (int) left;
}

/* Retrying after EINTR recomputes the time left, so a stream of signals
 * cannot stretch the wait past the deadline.
 */
int
qmp_internal_wait_fd (int fd, short events, int64_t deadline)
{
  struct pollfd pfd = { .fd = fd, .events = events };
  int r;

  for (;;) {
    r = poll (&pfd, 1, qmp_internal_remaining (deadline));
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      set_error (errno, "poll");
      return -1;
    }
    /* POLLHUP / POLLERR: let the following recv or send report it. */
    return r > 0 ? 1 : 0;
  }
}
