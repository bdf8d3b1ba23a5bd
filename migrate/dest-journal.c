/* dest-journal.c: vmferryd's crash-safe journal, one file per incoming
 * migration in STORAGE_ROOT/.vmferryd-journal/ID.json (the storage root
 * outlives a reboot, as do the images the journal accounts for):
 *
 *   {"version": 1, "id", "vm", "state", "qemu_pid", "pidfile", "qmp",
 *    "run_dir", "vm_dir", "images": [...], "prepared": {...}, "peer"}
 *
 * "peer": the CN of the client certificate that prepared the migration,
 * its owner (dest.h); a VM loaded as running keeps it.  An entry
 * without one (written by an older vmferryd) makes a job that no
 * certificate may finish, abort or send back.
 *
 * state: "preparing" (things are being created: each is recorded
 * before it is made), "prepared" (the skeleton waits), "finishing"
 * (finish began: the VM may be resumed any moment), "running" (the VM
 * runs here: the entry stays, as the record that vmferry recover on the
 * source relies on: a migration vmferryd does not know never ran here).
 * An aborted migration's entry is deleted.
 *
 * At start-up (mig_dest_recover) every entry is settled before the API
 * listens: "running", or "finishing" with the skeleton running, is
 * loaded as a finished migration; anything else is rolled back: the
 * skeleton QEMU is killed by its recorded PID (only if its command line
 * names the migration's run directory), its files removed, the entry
 * deleted.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "dest.h"

#define JOURNAL_DIR ".vmferryd-journal"

static char *
entry_path (struct mig_dest *d, const char *id)
{
  return xasprintf ("%s/" JOURNAL_DIR "/%s.json", d->p.storage_root, id);
}

static json_t *
images_json (struct dest_job *j)
{
  json_t *a = json_array ();
  size_t i;

  for (i = 0; a && j->images && j->images[i]; i++)
    json_array_append_new (a, json_string (j->images[i]));
  return a;
}

int
mig_dest_journal_write (struct mig_dest *d, struct dest_job *j,
                        const char *state)
{
  CLEANUP_FREE char *path = entry_path (d, j->id);
  CLEANUP_FREE char *dir = xasprintf ("%s/" JOURNAL_DIR, d->p.storage_root);
  json_auto_t *e = json_pack ("{s:i, s:s, s:s, s:s, s:i, s:s?, s:s?, s:s?,"
                              " s:s?, s:o, s:O?, s:s?}", "version", 1,
                              "id", j->id, "vm", j->vm ? j->vm->name : "",
                              "state", state, "qemu_pid", (int) j->qemu_pid,
                              "pidfile", j->pidfile, "qmp", j->qmp_path,
                              "run_dir", j->run_dir, "vm_dir", j->vm_dir,
                              "images", images_json (j),
                              "prepared", j->prepared, "peer", j->peer);

  if (path == NULL || dir == NULL || e == NULL) {
    set_error (0, "journal of migration %s: out of memory", j->id);
    return -1;
  }
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->journal_lock);
  if (mkdir (dir, 0700) == -1 && errno != EEXIST) {
    set_error (errno, "mkdir %s", dir);
    return -1;
  }
  return mig_json_save (path, e);
}

void
mig_dest_journal_remove (struct mig_dest *d, struct dest_job *j)
{
  CLEANUP_FREE char *path = entry_path (d, j->id);
  CLEANUP_FREE char *dir = xasprintf ("%s/" JOURNAL_DIR, d->p.storage_root);

  if (path == NULL || dir == NULL)
    return;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->journal_lock);
  if (unlink_durable (path) == -1)
    debug ("journal: %s", get_error ());
  rmdir (dir);                  /* the last one leaves no trace */
}

/* ---- start-up recovery ---- */

/* path lies strictly inside root. */
static bool
inside (const char *path, const char *root)
{
  size_t n = strlen (root);

  return path && strncmp (path, root, n) == 0 && path[n] == '/' &&
    !strstr (path, "/../");
}

/* The skeleton's PID, from the entry or its pidfile, if that process is
 * still the skeleton (its command line names the run directory).
 */
static pid_t
skeleton_pid (json_t *e)
{
  const char *run_dir = json_string_value (json_object_get (e, "run_dir"));
  const char *pidfile = json_string_value (json_object_get (e, "pidfile"));
  pid_t pid = json_integer_value (json_object_get (e, "qemu_pid"));
  CLEANUP_FREE char *text = NULL;
  CLEANUP_STRV char **argv = NULL;
  size_t i;

  if (pid <= 1 && pidfile && (text = read_file (pidfile, NULL)) != NULL)
    pid = strtol (text, NULL, 10);
  if (pid <= 1 || run_dir == NULL || !pid_alive (pid) ||
      (argv = mig_cmdline_read (pid)) == NULL)
    return 0;
  for (i = 0; argv[i]; i++)
    if (strstr (argv[i], run_dir))
      return pid;
  return 0;
}

/* Is the skeleton of a "finishing" entry running its VM? */
static bool
skeleton_resumed (json_t *e)
{
  const char *qmp = json_string_value (json_object_get (e, "qmp"));
  struct qmp *q = qmp && skeleton_pid (e) ? qmp_connect (qmp, 5000) : NULL;
  json_auto_t *st = q ? qmp_command (q, "query-status", NULL, 5000) : NULL;
  const char *s = json_string_value (json_object_get (st, "status"));
  bool running = s && strcmp (s, "running") == 0;

  qmp_close (q);
  return running;
}

/* Undo an unfinished migration; a note says what was done. */
static char *
roll_back (struct mig_dest *d, json_t *e)
{
  const char *run_dir = json_string_value (json_object_get (e, "run_dir"));
  const char *vm_dir = json_string_value (json_object_get (e, "vm_dir"));
  pid_t pid = skeleton_pid (e);
  bool ok = mig_skeleton_kill (pid) == 0;
  json_t *img;
  size_t i;

  json_array_foreach (json_object_get (e, "images"), i, img) {
    const char *p = json_string_value (img);
    if (inside (p, d->p.storage_root) && unlink (p) == -1 && errno != ENOENT)
      ok = false;
  }
  if (inside (run_dir, d->p.run_root) && remove_tree (run_dir) == -1)
    ok = false;
  if (inside (vm_dir, d->p.storage_root) && rmdir (vm_dir) == -1 &&
      errno != ENOENT)
    ok = false;
  return xasprintf ("migration %s (VM %s) was not finished: rolled back "
                    "(%s%s)%s", json_string_value (json_object_get (e, "id")),
                    json_string_value (json_object_get (e, "vm")),
                    pid ? "skeleton QEMU killed, " : "no skeleton QEMU, ",
                    "files removed", ok ? "" : "; some files could not be "
                    "removed");
}

/* Load a finished migration so that status/abort/finish know it. */
static int
load_running (struct mig_dest *d, json_t *e)
{
  struct dest_job *j = calloc (1, sizeof *j);
  const char *peer;

  if (j == NULL || (j->vm = calloc (1, sizeof *j->vm)) == NULL ||
      (j->id = strdup (json_string_value (json_object_get (e, "id"))))
      == NULL ||
      (j->vm->name = strdup (json_string_value (json_object_get (e, "vm"))))
      == NULL) {
    if (j)
      mig_vm_free (j->vm);
    free (j);
    set_error (errno, "calloc");
    return -1;
  }
  j->state = JOB_RUNNING;
  peer = json_string_value (json_object_get (e, "peer"));
  if (peer && (j->peer = strdup (peer)) == NULL) {
    mig_vm_free (j->vm);
    free (j->id);
    free (j);
    set_error (errno, "strdup");
    return -1;
  }
  j->prepared = json_incref (json_object_get (e, "prepared"));
  if (j->prepared == NULL)
    j->prepared = json_object ();
  pthread_mutex_init (&j->lock, NULL);
  j->next = d->jobs;
  d->jobs = j;
  return 0;
}

/* Settle one entry; a note (malloc'd) or NULL if there is nothing to
 * say.
 */
static char *
settle (struct mig_dest *d, const char *path)
{
  json_error_t err;
  json_auto_t *e = json_load_file (path, 0, &err);
  const char *state = json_string_value (json_object_get (e, "state"));
  const char *id = json_string_value (json_object_get (e, "id"));
  char *note;

  if (state == NULL || !mig_safe_name (id))
    return xasprintf ("%s: unreadable journal entry, left alone", path);
  if (strcmp (state, "running") == 0 ||
      (strcmp (state, "finishing") == 0 && skeleton_resumed (e))) {
    if (load_running (d, e) == -1)
      return NULL;
    if (strcmp (state, "finishing") == 0) {
      json_object_set_new (e, "state", json_string ("running"));
      if (mig_json_save (path, e) == -1)
        debug ("journal %s: %s", path, get_error ());
      return xasprintf ("migration %s (VM %s) was resumed here before "
                        "vmferryd stopped: the VM runs here", id,
                        json_string_value (json_object_get (e, "vm")));
    }
    return NULL;
  }
  note = roll_back (d, e);
  if (unlink_durable (path) == -1)
    debug ("journal: %s", get_error ());
  return note;
}

int
mig_dest_recover (struct mig_dest *d)
{
  CLEANUP_FREE char *dir = xasprintf ("%s/" JOURNAL_DIR, d->p.storage_root);
  DIR *dh;
  struct dirent *de;

  if (dir == NULL)
    return -1;
  if ((dh = opendir (dir)) == NULL)
    return errno == ENOENT ? 0 : (set_error (errno, "%s", dir), -1);
  while ((de = readdir (dh)) != NULL) {
    size_t n = strlen (de->d_name);
    CLEANUP_FREE char *path = NULL;
    char *note;
    if (n < 6 || strcmp (de->d_name + n - 5, ".json") != 0 ||
        de->d_name[0] == '.')
      continue;
    path = xasprintf ("%s/%s", dir, de->d_name);
    note = path ? settle (d, path) : NULL;
    if (note && strv_push (&d->recovered, note) == -1)
      debug ("recovered: %s", note);
    free (note);
  }
  closedir (dh);
  rmdir (dir);                  /* empty: leave no trace */
  return 0;
}

char *const *
mig_dest_recovered (struct mig_dest *d)
{
  return d->recovered;
}
