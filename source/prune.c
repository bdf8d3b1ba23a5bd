/* prune.c: vmferry status's and migrate's clean-up of RUN_DIR: the
 * directories of migrations that ended long ago.
 *
 * A directory goes when all of this holds: its state has a result (the
 * migration ended), its vmferry process is gone, its journal is closed
 * (vmferry recover has nothing to do), no quarantine waits there
 * (quarantine.json absent, or its files deleted or kept for good), and
 * its state file was last written more than max_age_s ago.  Anything
 * else, including directories that are not a migration's, stays.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "internal.h"

/* Is the quarantine of RUN_DIR/ID over (or was there none)? */
static bool
quarantine_over (const char *dir)
{
  CLEANUP_FREE char *path = xasprintf ("%s/quarantine.json", dir);
  json_auto_t *q = NULL;
  const char *st;

  if (path == NULL)
    return false;
  if (access (path, F_OK) == -1)
    return errno == ENOENT;
  q = json_load_file (path, 0, NULL);
  st = json_string_value (json_object_get (q, "state"));
  return st && (strcmp (st, "deleted") == 0 || strcmp (st, "kept") == 0);
}

/* May the migration directory dir go? */
static bool
prunable (const char *dir, uint64_t max_age_s)
{
  CLEANUP_FREE char *path = xasprintf ("%s/state.json", dir);
  json_auto_t *st = NULL;
  struct stat sb;

  if (path == NULL || stat (path, &sb) == -1 ||
      (uint64_t) (time (NULL) - sb.st_mtime) <= max_age_s)
    return false;
  st = json_load_file (path, 0, NULL);
  return st && json_object_get (st, "result") &&
    !pid_alive (json_integer_value (json_object_get (st, "pid"))) &&
    !json_is_true (json_object_get (json_object_get (st, "journal"),
                                    "open")) &&
    quarantine_over (dir);
}

int
mig_state_prune (const char *run_dir, uint64_t max_age_s)
{
  DIR *d = opendir (run_dir);
  struct dirent *e;
  int n = 0;

  if (d == NULL) {
    if (errno == ENOENT)
      return 0;
    set_error (errno, "%s", run_dir);
    return -1;
  }
  while ((e = readdir (d)) != NULL) {
    CLEANUP_FREE char *dir = NULL;
    if (e->d_name[0] == '.' || !mig_safe_name (e->d_name))
      continue;
    dir = xasprintf ("%s/%s", run_dir, e->d_name);
    if (dir && prunable (dir, max_age_s)) {
      if (remove_tree (dir) == -1)
        debug ("prune: %s", get_error ());
      else {
        debug ("prune: removed %s", dir);
        n++;
      }
    }
  }
  closedir (d);
  return n;
}
