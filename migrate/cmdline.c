/* cmdline.c: reading the source VM's command line (source side). */
#include <config.h>

#include <errno.h>

#include "internal.h"

/* Read /proc/PID/cmdline into a NULL-terminated vector. */
char **
mig_cmdline_read (pid_t pid)
{
  CLEANUP_FREE char *path = xasprintf ("/proc/%d/cmdline", (int) pid);
  CLEANUP_FREE char *buf = NULL;
  char **v = NULL;
  size_t len, i;

  if (path == NULL || (buf = read_file (path, &len)) == NULL)
    return NULL;
  for (i = 0; i < len; i += strlen (buf + i) + 1) {
    if (strv_push (&v, buf + i) == -1) {
      strv_free (v);
      return NULL;
    }
  }
  if (v == NULL)
    set_error (0, "process %d has an empty command line", (int) pid);
  return v;
}
