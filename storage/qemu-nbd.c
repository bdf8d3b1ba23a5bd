/* qemu-nbd.c: serve a disk image that no QEMU has open with qemu-nbd, on
 * a private unix socket (both ends of an offline move, offline.c and
 * dest-offline.c).
 *
 * qemu-nbd takes the image's lock as QEMU does: starting it fails while
 * a QEMU has the image open for writing, and while it runs no QEMU can
 * open the image for writing.  So a read-only qemu-nbd on the source both
 * proves the VM is not running and keeps it from being started during
 * the copy.  On vmferryd's side it runs confined, as every QEMU it
 * starts (the image holds data a peer sent).
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "utils.h"
#include "vm.h"
#include "storage.h"

#define STOP_WAIT_MS 10000

/* The first line of qemu-nbd's log, as the error. */
static void
log_error (const char *log, const char *image)
{
  CLEANUP_FREE char *text = read_file (log, NULL);

  if (text)
    text[strcspn (text, "\n")] = '\0';
  set_error (0, "qemu-nbd %s: %s", image, text && *text ? text
             : "did not start");
}

/* Confined (see vm.h), in the foreground: ready once its socket
 * accepts a connection.
 */
static pid_t
start_confined (const struct mig_qemu_nbd *n, const char *sock,
                const char *log)
{
  char *argv[] = { "qemu-nbd", "-f", (char *) n->format, "-k", (char *) sock,
                   "-e", "16", "-t", (char *) n->image, NULL, NULL };
  char *rw[] = { (char *) n->dir, (char *) n->image, NULL };
  struct vm_confine c = { .user = n->user, .rw_dirs = rw, .log = log };
  int64_t end = now_ms () + 30000;
  pid_t pid;

  if (n->read_only) {
    argv[8] = "-r";
    argv[9] = (char *) n->image;
  }
  pid = vm_spawn_confined (argv, &c);
  if (pid == -1)
    return -1;
  while (now_ms () < end && pid_alive (pid)) {
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    CLEANUP_CLOSE int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf (sun.sun_path, sizeof sun.sun_path, "%s", sock);
    if (fd >= 0 && connect (fd, (struct sockaddr *) &sun, sizeof sun) == 0)
      return pid;
    usleep (20000);
  }
  kill (pid, SIGKILL);
  log_error (log, n->image);
  return -1;
}

pid_t
mig_qemu_nbd_start (const struct mig_qemu_nbd *n)
{
  CLEANUP_FREE char *sock = xasprintf ("%s/%s.sock", n->dir, n->name);
  CLEANUP_FREE char *pidf = xasprintf ("%s/%s.pid", n->dir, n->name);
  CLEANUP_FREE char *log = xasprintf ("%s/%s.log", n->dir, n->name);
  CLEANUP_FREE char *pidtext = NULL;
  char *argv[] = { "qemu-nbd", "-f", (char *) n->format, "-k", sock,
                   "-e", "16", "-t", "--fork", "--pid-file", pidf,
                   (char *) n->image, NULL, NULL };
  long pid;
  int r;

  if (sock == NULL || pidf == NULL || log == NULL)
    return -1;
  if (n->user)
    return start_confined (n, sock, log);
  if (n->read_only) {           /* insert -r before the image */
    argv[11] = "-r";
    argv[12] = (char *) n->image;
  }
  r = run_logged (argv, log);
  if (r == -1)
    return -1;
  if (r != 0) {
    log_error (log, n->image);
    return -1;
  }
  if ((pidtext = read_file (pidf, NULL)) == NULL)
    return -1;
  pid = strtol (pidtext, NULL, 10);
  if (pid <= 1) {
    set_error (0, "qemu-nbd %s: bad pid file %s", n->image, pidf);
    return -1;
  }
  return pid;
}

char *
mig_qemu_nbd_uri (const struct mig_qemu_nbd *n)
{
  return xasprintf ("nbd+unix:///?socket=%s/%s.sock", n->dir, n->name);
}

/* SIGTERM makes qemu-nbd flush the image and close it cleanly. */
int
mig_qemu_nbd_stop (pid_t pid)
{
  int64_t t0 = now_ms ();

  if (pid <= 1)
    return 0;
  kill (pid, SIGTERM);
  while (pid_alive (pid)) {
    if (now_ms () - t0 > STOP_WAIT_MS) {
      kill (pid, SIGKILL);
      set_error (0, "qemu-nbd (pid %d) did not stop: killed", (int) pid);
      return -1;
    }
    usleep (10000);
  }
  return 0;
}
