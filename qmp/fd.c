/* fd.c: passing a file descriptor to QEMU ("getfd" with SCM_RIGHTS). */
#include <config.h>

#include <errno.h>

#include "utils.h"
#include "internal.h"

int
qmp_send_fd (struct qmp *q, int fd, const char *fdname, int timeout_ms)
{
  json_t *args, *ret;

  if (fd < 0) {
    set_error (EBADF, "getfd %s", fdname);
    return -1;
  }
  args = json_pack ("{s:s}", "fdname", fdname);
  if (args == NULL) {
    set_error (EINVAL, "getfd: invalid fdname");
    return -1;
  }
  ret = qmp_internal_execute (q, "getfd", args, fd,
                              qmp_internal_deadline (timeout_ms));
  if (ret == NULL)
    return -1;
  json_decref (ret);
  return 0;
}
