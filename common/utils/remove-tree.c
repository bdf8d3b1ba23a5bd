/* remove-tree.c: rm -rf without following symlinks. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>

#include "utils.h"

/* Remove everything inside the directory open as dirfd, then nothing else:
 * the caller removes the directory itself.
 */
static int
remove_contents (int dirfd)
{
  DIR *d = fdopendir (dirfd);
  struct dirent *e;
  int r = 0;

  if (d == NULL) {
    set_error (errno, "fdopendir");
    close (dirfd);
    return -1;
  }
  while ((e = readdir (d)) != NULL) {
    if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
      continue;
    if (unlinkat (dirfd, e->d_name, 0) == 0)
      continue;
    if (errno == EISDIR || errno == EPERM) {
      int sub = openat (dirfd, e->d_name,
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub == -1 || remove_contents (sub) == -1 ||
          unlinkat (dirfd, e->d_name, AT_REMOVEDIR) == -1) {
        set_error (errno, "remove: %s", e->d_name);
        r = -1;
      }
    }
    else if (errno != ENOENT) {
      set_error (errno, "unlink: %s", e->d_name);
      r = -1;
    }
  }
  closedir (d);
  return r;
}

int
remove_tree (const char *path)
{
  int fd;

  if (unlink (path) == 0 || errno == ENOENT)
    return 0;
  fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd == -1) {
    set_error (errno, "open: %s", path);
    return -1;
  }
  if (remove_contents (fd) == -1)
    return -1;
  if (rmdir (path) == -1 && errno != ENOENT) {
    set_error (errno, "rmdir: %s", path);
    return -1;
  }
  return 0;
}
