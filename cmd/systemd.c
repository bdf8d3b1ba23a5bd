/* systemd.c: vmferryd under systemd: readiness (Type=notify) and the
 * journal with structured fields.  With libsystemd (configure found
 * it) sd_notify() and sd_journal_sendv(); without it, readiness is the
 * same datagram sent by hand (the protocol is documented and stable)
 * and log lines go to stderr, which systemd connects to the journal
 * anyway (without the fields).  Where systemd did not start vmferryd
 * (no NOTIFY_SOCKET, no JOURNAL_STREAM) both do nothing.
 */
#include <config.h>

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#endif

#include "utils.h"
#include "vmferryd.h"

#ifdef HAVE_LIBSYSTEMD
void
cmd_notify (const char *state)
{
  int r = sd_notify (0, state);

  if (r < 0)
    debug ("sd_notify %s: %s", state, strerror (-r));
}
#else
/* NOTIFY_SOCKET: a path, or '@' for the abstract namespace. */
void
cmd_notify (const char *state)
{
  const char *path = getenv ("NOTIFY_SOCKET");
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  CLEANUP_CLOSE int fd = -1;
  size_t n;

  if (path == NULL || (path[0] != '/' && path[0] != '@') ||
      (n = strlen (path)) >= sizeof sa.sun_path)
    return;
  memcpy (sa.sun_path, path, n);
  if (sa.sun_path[0] == '@')
    sa.sun_path[0] = '\0';
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd == -1 ||
      sendto (fd, state, strlen (state), MSG_NOSIGNAL,
              (struct sockaddr *) &sa,
              offsetof (struct sockaddr_un, sun_path) + n) == -1)
    debug ("notify %s: %m", state);
}
#endif

#ifdef HAVE_LIBSYSTEMD
/* log.c's sink: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and the fields. */
static int
journal_sink (enum log_level l, const char *const *fields, const char *msg)
{
  struct iovec iov[16];
  char prio[16];
  CLEANUP_FREE char *m = xasprintf ("MESSAGE=%s", msg);
  size_t n = 0, i;

  if (m == NULL)
    return -1;
  snprintf (prio, sizeof prio, "PRIORITY=%d", (int) l);
  iov[n++] = (struct iovec) { m, strlen (m) };
  iov[n++] = (struct iovec) { prio, strlen (prio) };
  iov[n++] = (struct iovec) { (char *) "SYSLOG_IDENTIFIER=vmferryd", 26 };
  for (i = 0; fields && fields[i] && n < sizeof iov / sizeof iov[0]; i++)
    iov[n++] = (struct iovec) { (char *) fields[i], strlen (fields[i]) };
  return sd_journal_sendv (iov, n) < 0 ? -1 : 0;
}
#endif

/* Is stderr the journal?  systemd says so in JOURNAL_STREAM, "DEV:INO"
 * of the stream it connected (systemd.exec(5)).
 */
static bool
stderr_is_journal (void)
{
  const char *js = getenv ("JOURNAL_STREAM");
  unsigned long long dev, ino;
  struct stat st;

  return js && sscanf (js, "%llu:%llu", &dev, &ino) == 2 &&
    fstat (STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

log_sink_fn
cmd_journal_sink (void)
{
#ifdef HAVE_LIBSYSTEMD
  if (stderr_is_journal ())
    return journal_sink;
#else
  (void) stderr_is_journal;
#endif
  return NULL;
}
