/* qemu-start.c: a QEMU started confined (confine.c) and ready: it
 * answers on its monitor; and how one is stopped for good.
 */
#include <config.h>

#include <errno.h>
#include <signal.h>

#include "internal.h"
#include "qmp.h"

/* The last line of the log (QEMU's error), malloc'd or NULL. */
static char *
last_line (const char *log)
{
  char *text = read_file (log, NULL), *nl;

  if (text == NULL)
    return NULL;
  while ((nl = strrchr (text, '\n')) && nl[1] == '\0')
    *nl = '\0';
  nl = strrchr (text, '\n');
  if (nl)
    memmove (text, nl + 1, strlen (nl + 1) + 1);
  return text;
}

struct qmp *
mig_qemu_start (char *const *argv, const struct vm_confine *c,
                const char *qmp, pid_t *pid)
{
  int64_t end = now_ms () + MIG_QEMU_START_MS;
  CLEANUP_FREE char *why = NULL;
  struct qmp *q;

  *pid = vm_spawn_confined (argv, c);
  if (*pid == -1) {
    *pid = 0;
    return NULL;
  }
  while (now_ms () < end && pid_alive (*pid)) {
    q = qmp_connect (qmp, (int) (end - now_ms ()));
    if (q)
      return q;
    if (get_errno () != ENOENT && get_errno () != ECONNREFUSED)
      break;
    usleep (20000);
  }
  /* QEMU's own message, once it is gone (if it goes). */
  while (now_ms () < end && pid_alive (*pid) && get_errno () != ETIMEDOUT)
    usleep (20000);
  why = last_line (c->log);
  set_error (0, "QEMU did not start%s: %s", pid_alive (*pid)
             ? " in time" : "", why && *why ? why : "no message");
  return NULL;
}

/* Kill the skeleton and wait (up to 5 s) until it is gone. */
int
mig_qemu_kill (pid_t pid)
{
  int i;

  if (pid <= 1)
    return 0;
  kill (pid, SIGKILL);
  for (i = 0; i < 500; i++) {
    if (!pid_alive (pid))
      return 0;
    usleep (10000);
  }
  set_error (0, "QEMU process %d does not die", (int) pid);
  return -1;
}

