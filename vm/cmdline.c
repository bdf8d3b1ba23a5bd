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

int
mig_proc_start_time (pid_t pid, uint64_t *start)
{
  CLEANUP_FREE char *path = xasprintf ("/proc/%d/stat", (int) pid);
  CLEANUP_FREE char *buf = path ? read_file (path, NULL) : NULL;
  const char *p = buf ? strrchr (buf, ')') : NULL;
  char *end;
  int field;

  if (p == NULL) {
    if (buf)
      set_error (0, "%s: unexpected content", path);
    return -1;
  }
  /* The command name (field 2) may hold anything but ends at the last
   * ')'; field 3 follows it.
   */
  for (field = 2; field < 22 && p; field++)
    p = strchr (p + 1, ' ');
  errno = 0;
  *start = p ? strtoull (p + 1, &end, 10) : 0;
  if (p == NULL || errno != 0 || end == p + 1) {
    set_error (0, "%s: no start time", path);
    return -1;
  }
  return 0;
}
