/* misc.c: clocks, whole-buffer I/O, formatted allocation. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <sys/stat.h>

#include "utils.h"

int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
wall_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;

  while (len > 0) {
    ssize_t r = write (fd, p, len);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      set_error (errno, "write");
      return -1;
    }
    p += r;
    len -= r;
  }
  return 0;
}

char *
read_file (const char *path, size_t *len_out)
{
  CLEANUP_CLOSE int fd = open (path, O_RDONLY | O_CLOEXEC);
  char *buf = NULL, *nbuf;
  size_t len = 0, cap = 0;
  ssize_t r;

  if (fd == -1) {
    set_error (errno, "open: %s", path);
    return NULL;
  }
  for (;;) {
    if (cap - len < 4096) {
      cap = cap ? cap * 2 : 8192;
      nbuf = realloc (buf, cap);
      if (nbuf == NULL) {
        set_error (errno, "realloc");
        free (buf);
        return NULL;
      }
      buf = nbuf;
    }
    r = read (fd, buf + len, cap - len - 1);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      set_error (errno, "read: %s", path);
      free (buf);
      return NULL;
    }
    if (r == 0)
      break;
    len += r;
  }
  buf[len] = '\0';
  if (len_out)
    *len_out = len;
  return buf;
}

char *
xasprintf (const char *fmt, ...)
{
  va_list ap;
  char *s;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (r == -1) {
    set_error (errno, "vasprintf");
    return NULL;
  }
  return s;
}

int
mkdir_p (const char *path, mode_t mode)
{
  CLEANUP_FREE char *copy = strdup (path);
  char *p;

  if (copy == NULL) {
    set_error (errno, "strdup");
    return -1;
  }
  for (p = copy + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir (copy, mode) == -1 && errno != EEXIST) {
      set_error (errno, "mkdir: %s", copy);
      return -1;
    }
    *p = '/';
  }
  if (mkdir (copy, mode) == -1 && errno != EEXIST) {
    set_error (errno, "mkdir: %s", copy);
    return -1;
  }
  return 0;
}

bool
pid_alive (pid_t pid)
{
  char path[64], buf[256], *p;
  CLEANUP_CLOSE int fd = -1;
  ssize_t n;

  if (pid <= 0 || (kill (pid, 0) == -1 && errno == ESRCH))
    return false;
  /* A zombie (state Z) has exited; its parent may not have reaped it
   * (e.g. a daemonized QEMU whose new parent is a lazy init).
   */
  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    return errno != ENOENT;
  n = read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return true;
  buf[n] = '\0';
  p = strrchr (buf, ')');
  return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}
