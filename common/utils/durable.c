/* durable.c: replace a small file so that a crash at any moment leaves
 * either the old or the new content, never a torn one (the journals of
 * vmferry and vmferryd rely on it).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>

#include "utils.h"

/* fsync the directory holding path, so that a rename in it persists. */
static int
sync_parent (const char *path)
{
  CLEANUP_FREE char *copy = strdup (path);
  int fd, r;

  if (copy == NULL) {
    set_error (errno, "strdup");
    return -1;
  }
  fd = open (dirname (copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1) {
    set_error (errno, "open the directory of %s", path);
    return -1;
  }
  r = fsync (fd);
  if (r == -1)
    set_error (errno, "fsync the directory of %s", path);
  close (fd);
  return r;
}

int
write_file_durable (const char *path, const void *buf, size_t len)
{
  CLEANUP_FREE char *tmp = xasprintf ("%s.tmp", path);
  int fd;

  if (tmp == NULL)
    return -1;
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd == -1) {
    set_error (errno, "create %s", tmp);
    return -1;
  }
  if (write_all (fd, buf, len) == -1 ||
      (fsync (fd) == -1 && (set_error (errno, "fsync %s", tmp), 1))) {
    close (fd);
    unlink (tmp);
    return -1;
  }
  if (close (fd) == -1 || rename (tmp, path) == -1) {
    set_error (errno, "replace %s", path);
    unlink (tmp);
    return -1;
  }
  return sync_parent (path);
}

int
unlink_durable (const char *path)
{
  if (unlink (path) == -1 && errno != ENOENT) {
    set_error (errno, "delete %s", path);
    return -1;
  }
  return sync_parent (path);
}
