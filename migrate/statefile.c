/* statefile.c: small JSON state files that survive a crash: written to
 * PATH.tmp, fsynced, renamed over PATH, and the directory fsynced, so
 * that PATH holds either the old or the new object, never a torn one.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>

#include "internal.h"

/* fsync the directory holding path (makes the rename durable). */
static int
sync_dir (const char *path)
{
  CLEANUP_FREE char *copy = strdup (path);
  CLEANUP_CLOSE int fd = -1;

  if (copy == NULL ||
      (fd = open (dirname (copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1
      || fsync (fd) == -1) {
    set_error (errno, "fsync the directory of %s", path);
    return -1;
  }
  return 0;
}

int
mig_json_save (const char *path, json_t *o)
{
  CLEANUP_FREE char *tmp = xasprintf ("%s.tmp", path);
  CLEANUP_FREE char *text = json_dumps (o, JSON_COMPACT);
  int fd;

  if (tmp == NULL || text == NULL) {
    set_error (errno, "%s", path);
    return -1;
  }
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd == -1 || write_all (fd, text, strlen (text)) == -1 ||
      write_all (fd, "\n", 1) == -1 || fsync (fd) == -1) {
    set_error (errno, "write %s", tmp);
    if (fd >= 0)
      close (fd);
    unlink (tmp);
    return -1;
  }
  if (close (fd) == -1 || rename (tmp, path) == -1) {
    set_error (errno, "rename %s", tmp);
    unlink (tmp);
    return -1;
  }
  return sync_dir (path);
}

json_t *
mig_json_load (const char *path)
{
  json_error_t e;
  json_t *o = json_load_file (path, 0, &e);

  if (o == NULL)
    set_error (0, "%s: %s", path, e.text);
  else if (!json_is_object (o)) {
    set_error (0, "%s: not a JSON object", path);
    json_decref (o);
    o = NULL;
  }
  return o;
}

json_t *
mig_resume_state (const char *token, uint64_t size, uint64_t copied_to,
                  const char *dest)
{
  return json_pack ("{s:s, s:I, s:I, s:s, s:I}", "token", token,
                    "virtual_size", (json_int_t) size,
                    "copied_to", (json_int_t) copied_to,
                    "destination", dest,
                    "updated", (json_int_t) (wall_ms () / 1000));
}
