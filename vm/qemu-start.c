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

/* "state S, in WCHAN" of a process that did not get ready, or NULL. */
static char *
hang_point (pid_t pid)
{
  CLEANUP_FREE char *stat = NULL, *wchan = NULL, *sp = NULL, *wp = NULL;
  const char *st;

  sp = xasprintf ("/proc/%d/stat", (int) pid);
  wp = xasprintf ("/proc/%d/wchan", (int) pid);
  stat = sp ? read_file (sp, NULL) : NULL;
  wchan = wp ? read_file (wp, NULL) : NULL;
  st = stat ? strrchr (stat, ')') : NULL;
  return xasprintf ("pid %d, state %c, in %s", (int) pid,
                    st && st[1] && st[2] ? st[2] : '?',
                    wchan && *wchan ? wchan : "?");
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
  if (pid_alive (*pid)) {
    /* Where it hangs, for whoever reads the error (state and wchan). */
    CLEANUP_FREE char *where = hang_point (*pid);
    set_error (0, "QEMU did not start in time (%s): %s",
               where ? where : "?", why && *why ? why : "no message");
  }
  else
    set_error (0, "QEMU did not start: %s", why && *why ? why : "no message");
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

