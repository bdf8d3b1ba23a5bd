/* broken.c: the "unusable after a timeout or protocol error" state.  Once
 * a reply may be lost or half read, later replies can no longer be
 * matched to commands, so the handle refuses further commands with the
 * reason it broke.
 */
#include <config.h>

#include <errno.h>
#include <sys/socket.h>

#include "utils.h"
#include "internal.h"

void
qmp_internal_break (struct qmp *q)
{
  const char *msg = get_error ();
  int errnum = get_errno ();
  const char *suffix = errnum != 0 ? strerror (errnum) : "";
  size_t n = strlen (msg), sn = strlen (suffix);

  if (q->broken)
    return;
  q->broken = true;
  q->broken_errno = errnum;
  /* Keep the message without its ": strerror" suffix, which set_error
   * adds again when the handle refuses a command.
   */
  if (sn > 0 && n >= sn + 2 && strcmp (msg + n - sn, suffix) == 0)
    n -= sn + 2;
  q->broken_msg = strndup (msg, n);
  shutdown (q->fd, SHUT_RDWR);
}

int
qmp_internal_check_usable (struct qmp *q)
{
  if (!q->broken)
    return 0;
  set_error (q->broken_errno,
             "QMP socket %s unusable after an earlier error: %s",
             q->path, q->broken_msg ? q->broken_msg : "(out of memory)");
  return -1;
}
