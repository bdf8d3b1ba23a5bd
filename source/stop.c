/* stop.c: vmferry stop NAME: shut a VM of this host down cleanly.
 *
 * The guest is asked first (system_powerdown, the ACPI power button)
 * and given timeout_s to power off; QEMU then exits by itself (its
 * SHUTDOWN event).  A guest that ignores the button, or a QEMU started
 * with -no-shutdown, is ended with quit after that.  Either way the
 * call returns once the QEMU process is gone: its images are closed and
 * flushed, and the VM can be started again (vmferry start) or moved
 * offline.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>

#include "internal.h"

#define GONE_TIMEOUT_MS 15000   /* for the process to exit after quit */

/* Wait until pid no longer listens on sock and is gone. */
static bool
gone (const char *sock, pid_t pid, int timeout_ms)
{
  int64_t end = now_ms () + timeout_ms;

  while (now_ms () < end) {
    if (qmp_listener_pid (sock) == 0 && (pid <= 1 || !pid_alive (pid)))
      return true;
    poll (NULL, 0, 50);
  }
  return false;
}

int
mig_vm_stop (const char *sock, int timeout_s, FILE *out)
{
  pid_t pid = qmp_listener_pid (sock);
  struct qmp *q;
  json_auto_t *ev = NULL, *r = NULL;

  if (pid == 0) {
    set_error (0, "no QEMU listens on %s: the VM is not running", sock);
    return -1;
  }
  if ((q = qmp_connect (sock, QMP_TIMEOUT_MS)) == NULL)
    return -1;
  r = qmp_command (q, "system_powerdown", NULL, QMP_TIMEOUT_MS);
  if (r != NULL)
    ev = qmp_wait_event (q, "SHUTDOWN", NULL, NULL, timeout_s * 1000);
  if (ev && gone (sock, pid, GONE_TIMEOUT_MS)) {
    qmp_close (q);
    fprintf (out, "powered off by its guest\n");
    return 0;
  }
  json_decref (r);
  r = qmp_command (q, "quit", NULL, QMP_TIMEOUT_MS);
  qmp_close (q);
  if (!gone (sock, pid, GONE_TIMEOUT_MS)) {
    set_error (0, "QEMU (PID %d) did not exit after quit", (int) pid);
    return -1;
  }
  fprintf (out, ev ? "the guest shut down; QEMU ended with quit\n"
           : "the guest did not power off within %d s: QEMU ended with "
           "quit\n", timeout_s);
  return 0;
}
