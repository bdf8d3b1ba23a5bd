/* dest-journal.c: vmferryd's crash-safe journal, one file per incoming
 * migration in STORAGE_ROOT/.vmferryd-journal/ID.json (the storage root
 * outlives a reboot, as do the images the journal accounts for):
 *
 *   {"version": 1, "id", "vm", "state", "qemu_pid", "qemu_start",
 *    "qemu_argv", "pidfile", "qmp", "run_dir", "vm_dir", "images": [...],
 *    "prepared": {...}, "peer"}
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
 * An aborted migration's entry is deleted.  qemu_start and qemu_argv
 * identify the skeleton beyond its PID: its start time (/proc/PID/stat
 * field 22) and command line, read once, just after it started.
 *
 * At start-up (mig_dest_recover) every entry is settled before the API
 * listens: "running", or "finishing" with the skeleton running, is
 * loaded as a finished migration; anything else is rolled back: the
 * skeleton QEMU is killed, its files removed, the entry deleted.
 *
 * What the journal trusts.  No request can name a file in the journal
 * directory: requests name files in STORAGE_ROOT/NAME/ only, NAME a safe
 * name that never starts with '.' (dest-prepare.c, check_dest_path).
 * Even so recovery acts only on an entry that looks exactly like one
 * vmferryd writes: its "id" (a safe name) is its file name, its run_dir
 * and vm_dir are RUN_ROOT/NAME and STORAGE_ROOT/NAME for its VM name,
 * its images lie directly in that vm_dir, its pidfile directly in that
 * run_dir, its monitor is vmferryd's socket there.  It kills a process
 * only if that process has the recorded PID, start time and command
 * line, and that command line is a skeleton of that run directory
 * (vmferryd's monitor socket there after -qmp, the entry's pidfile after
 * -pidfile, each compared as a whole argument).  Any other entry is left alone, and said so in a
 * note.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "internal.h"

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

/* The skeleton's identity, read from /proc once, at the first write
 * that knows its PID (just after mig_skeleton_spawn()): a later write
 * must not record whatever process has that PID by then.
 */
static void
note_identity (struct dest_job *j)
{
  if (j->qemu_pid <= 1 || j->qemu_argv)
    return;
  if (mig_proc_start_time (j->qemu_pid, &j->qemu_start) == -1 ||
      (j->qemu_argv = mig_cmdline_read (j->qemu_pid)) == NULL)
    debug ("journal of migration %s: the skeleton's identity: %s", j->id,
           get_error ());
}

/* The recorded identity: start time and command line, or NULL. */
static json_t *
identity_json (struct dest_job *j, json_t **start)
{
  json_t *a;
  size_t i;

  *start = NULL;
  if (j->qemu_argv == NULL || (a = json_array ()) == NULL)
    return NULL;
  for (i = 0; j->qemu_argv[i]; i++)
    json_array_append_new (a, json_string (j->qemu_argv[i]));
  *start = json_integer ((json_int_t) j->qemu_start);
  return a;
}

int
mig_dest_journal_write (struct mig_dest *d, struct dest_job *j,
                        const char *state)
{
  CLEANUP_FREE char *path = entry_path (d, j->id);
  CLEANUP_FREE char *dir = xasprintf ("%s/" JOURNAL_DIR, d->p.storage_root);
  json_t *start, *argv;
  json_auto_t *e = NULL;

  note_identity (j);
  argv = identity_json (j, &start);
  e = json_pack ("{s:i, s:s, s:s, s:s, s:i, s:o?, s:o?, s:s?, s:s?, s:s?,"
                 " s:s?, s:o, s:O?, s:s?}", "version", 1,
                 "id", j->id, "vm", j->vm ? j->vm->name : "",
                 "state", state, "qemu_pid", (int) j->qemu_pid,
                 "qemu_start", start, "qemu_argv", argv,
                 "pidfile", j->pidfile, "qmp", j->qmp_path,
                 "run_dir", j->run_dir, "vm_dir", j->vm_dir,
                 "images", images_json (j), "prepared", j->prepared,
                 "peer", j->peer);
  if (path == NULL || dir == NULL || e == NULL) {
    set_error (0, "journal of migration %s: out of memory", j->id);
    return -1;
  }
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->journal_lock);
  if (mkdir (dir, 0700) == -1 && errno != EEXIST) {
    set_error (errno, "mkdir %s", dir);
    return -1;
  }
  return json_state_save (path, e);
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

/* ---- start-up recovery: what the journal trusts (see the top) ---- */

static const char *
str (json_t *e, const char *key)
{
  return json_string_value (json_object_get (e, key));
}

/* path is exactly dir/FILE, FILE one component (not "." or ".."). */
static bool
directly_in (const char *path, const char *dir)
{
  size_t n = strlen (dir);
  const char *base;

  if (path == NULL || strncmp (path, dir, n) != 0 || path[n] != '/')
    return false;
  base = path + n + 1;
  return base[0] != '\0' && strchr (base, '/') == NULL &&
    strcmp (base, ".") != 0 && strcmp (base, "..") != 0;
}

static bool
same (const char *a, const char *b)
{
  return a && b && strcmp (a, b) == 0;
}

/* The paths prepare gives a VM (dest-prepare.c): its run and image
 * directories, vmferryd's monitor socket there and the -qmp argument
 * naming it.
 */
struct vm_paths {
  char *run_dir, *vm_dir, *qmp, *qmp_arg;
};

static void
vm_paths_free (struct vm_paths *p)
{
  free (p->run_dir);
  free (p->vm_dir);
  free (p->qmp);
  free (p->qmp_arg);
}

/* Fill p for VM vm.  -1 + set_error. */
static int
vm_paths (struct mig_dest *d, const char *vm, struct vm_paths *p)
{
  p->run_dir = xasprintf ("%s/%s", d->p.run_root, vm);
  p->vm_dir = xasprintf ("%s/%s", d->p.storage_root, vm);
  p->qmp = p->run_dir ? xasprintf ("%s/vmferry-qmp.sock", p->run_dir) : NULL;
  /* As start_skeleton() passes it to -qmp (dest-prepare.c). */
  p->qmp_arg = p->qmp ? xasprintf ("unix:%s,server=on,wait=off", p->qmp) : NULL;
  return p->run_dir && p->vm_dir && p->qmp && p->qmp_arg ? 0 : -1;
}

/* Why entry e, read from file, is not one that vmferryd wrote, or
 * NULL.
 */
static const char *
untrusted (json_t *e, const char *file, const struct vm_paths *p)
{
  const char *id = str (e, "id"), *state = str (e, "state");
  size_t n = id ? strlen (id) : 0, i;
  json_t *img;

  if (json_integer_value (json_object_get (e, "version")) != 1)
    return "unknown version";
  if (!mig_safe_name (id) || strncmp (file, id, n) != 0 ||
      strcmp (file + n, ".json") != 0)
    return "its \"id\" is not its file name";
  if (state == NULL ||
      (strcmp (state, "preparing") != 0 && strcmp (state, "prepared") != 0 &&
       strcmp (state, "finishing") != 0 && strcmp (state, "running") != 0))
    return "unknown state";
  if (!same (str (e, "run_dir"), p->run_dir) ||
      !same (str (e, "vm_dir"), p->vm_dir))
    return "its run_dir or vm_dir is not RUN_ROOT/NAME or "
      "STORAGE_ROOT/NAME for its VM";
  if ((json_object_get (e, "pidfile") &&
       !directly_in (str (e, "pidfile"), p->run_dir)) ||
      (json_object_get (e, "qmp") && !same (str (e, "qmp"), p->qmp)))
    return "its pidfile or monitor is not in its run_dir";
  if (!json_is_array (json_object_get (e, "images")))
    return "no list of images";
  json_array_foreach (json_object_get (e, "images"), i, img)
    if (!directly_in (json_string_value (img), p->vm_dir))
      return "an image is not directly in its vm_dir";
  return NULL;
}

/* Does argv give opt with exactly value, as two whole arguments? */
static bool
has_option (char *const *argv, const char *opt, const char *value)
{
  size_t i;

  for (i = 1; argv[i] && argv[i + 1]; i++)
    if (strcmp (argv[i], opt) == 0 && strcmp (argv[i + 1], value) == 0)
      return true;
  return false;
}

/* argv is a skeleton of the VM's run directory: vmferryd's monitor
 * socket there is the argument of a -qmp, and the entry's pidfile that
 * of a -pidfile, each as a whole argument.  (Not argv[0]: --qemu may
 * be a wrapper that execs QEMU.)
 */
static bool
is_skeleton (json_t *e, char *const *argv, const struct vm_paths *p)
{
  const char *pidfile = str (e, "pidfile");

  return argv && argv[0] && has_option (argv, "-qmp", p->qmp_arg) &&
    (pidfile == NULL || has_option (argv, "-pidfile", pidfile));
}

/* The command line recorded in entry e equals argv, argument by
 * argument.
 */
static bool
same_argv (json_t *e, char *const *argv)
{
  json_t *a = json_object_get (e, "qemu_argv"), *v;
  size_t i;

  if (!json_is_array (a) || json_array_size (a) != strv_len (argv))
    return false;
  json_array_foreach (a, i, v)
    if (!same (json_string_value (v), argv[i]))
      return false;
  return true;
}

/* The skeleton of trusted entry e: its PID if it runs, proven by the
 * recorded start time and command line; 0 if it does not run (the PID
 * is free, or another process started at another time has it: never
 * signalled); -1 if a process runs that may be the skeleton but cannot
 * be proven to be (no start time recorded, or the recorded identity
 * does not describe a skeleton): the entry is then left alone.
 */
static pid_t
skeleton_pid (json_t *e, const struct vm_paths *p)
{
  const char *pidfile = str (e, "pidfile");
  json_t *start = json_object_get (e, "qemu_start");
  pid_t pid = json_integer_value (json_object_get (e, "qemu_pid"));
  CLEANUP_FREE char *text = NULL;
  CLEANUP_STRV char **argv = NULL;
  uint64_t t;

  if (pid <= 1 && pidfile && (text = read_file (pidfile, NULL)) != NULL)
    pid = strtol (text, NULL, 10);
  if (pid <= 1 || !pid_alive (pid) || (argv = mig_cmdline_read (pid)) == NULL)
    return 0;
  if (!json_is_integer (start))
    return is_skeleton (e, argv, p) ? -1 : 0;
  if (mig_proc_start_time (pid, &t) == -1)
    return pid_alive (pid) ? -1 : 0;
  if (t != (uint64_t) json_integer_value (start))
    return 0;
  return same_argv (e, argv) && is_skeleton (e, argv, p) ? pid : -1;
}

/* Is the skeleton of a "finishing" entry running its VM?  Asked on
 * vmferryd's own monitor socket in the run directory (only a skeleton
 * of this VM listens there); loading the migration as finished is
 * harmless, so this needs no proof of the skeleton's PID.
 */
static bool
skeleton_resumed (const struct vm_paths *p)
{
  struct qmp *q = access (p->qmp, F_OK) == 0 ? qmp_connect (p->qmp, 5000)
    : NULL;
  json_auto_t *st = q ? qmp_command (q, "query-status", NULL, 5000) : NULL;
  const char *s = json_string_value (json_object_get (st, "status"));
  bool running = s && strcmp (s, "running") == 0;

  qmp_close (q);
  return running;
}

/* Undo an unfinished migration of trusted entry e whose skeleton is
 * pid (0: none runs); a note says what was done.
 */
static char *
roll_back (json_t *e, pid_t pid, const struct vm_paths *p)
{
  bool ok = mig_qemu_kill (pid) == 0;
  json_t *img;
  size_t i;

  json_array_foreach (json_object_get (e, "images"), i, img)
    if (unlink (json_string_value (img)) == -1 && errno != ENOENT)
      ok = false;
  if (remove_tree (p->run_dir) == -1)
    ok = false;
  if (rmdir (p->vm_dir) == -1 && errno != ENOENT)
    ok = false;
  return xasprintf ("migration %s (VM %s) was not finished: rolled back "
                    "(%s%s)%s", str (e, "id"), str (e, "vm"),
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

/* Settle one trusted entry e (at path); a note (malloc'd) or NULL if
 * there is nothing to say.
 */
static char *
settle_trusted (struct mig_dest *d, json_t *e, const char *path,
                const struct vm_paths *p)
{
  const char *state = str (e, "state"), *id = str (e, "id");
  pid_t pid;
  char *note;

  if (strcmp (state, "running") == 0 ||
      (strcmp (state, "finishing") == 0 && skeleton_resumed (p))) {
    if (load_running (d, e) == -1)
      return NULL;
    if (strcmp (state, "finishing") == 0) {
      json_object_set_new (e, "state", json_string ("running"));
      if (json_state_save (path, e) == -1)
        debug ("journal %s: %s", path, get_error ());
      return xasprintf ("migration %s (VM %s) was resumed here before "
                        "vmferryd stopped: the VM runs here", id,
                        str (e, "vm"));
    }
    return NULL;
  }
  /* Rolling back kills the skeleton: only a proven one. */
  if ((pid = skeleton_pid (e, p)) == -1)
    return xasprintf ("%s: journal entry left alone: a process that may be "
                      "its skeleton runs and cannot be proven to be", path);
  note = roll_back (e, pid, p);
  if (unlink_durable (path) == -1)
    debug ("journal: %s", get_error ());
  return note;
}

/* Settle the entry in file (in the journal directory, at path); a note
 * (malloc'd) or NULL if there is nothing to say.
 */
static char *
settle (struct mig_dest *d, const char *path, const char *file)
{
  json_error_t err;
  json_auto_t *e = json_load_file (path, 0, &err);
  struct vm_paths p = { 0 };
  const char *why;
  char *note;

  if (e == NULL)
    return xasprintf ("%s: unreadable journal entry, left alone", path);
  if (!mig_safe_name (str (e, "vm")))
    why = "its VM name is not a safe name";
  else if (vm_paths (d, str (e, "vm"), &p) == -1)
    why = "out of memory";
  else
    why = untrusted (e, file, &p);
  note = why ? xasprintf ("%s: journal entry left alone: %s", path, why)
    : settle_trusted (d, e, path, &p);
  vm_paths_free (&p);
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
    note = path ? settle (d, path, de->d_name) : NULL;
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
