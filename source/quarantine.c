/* quarantine.c: vmferry migrate --keep-source=DURATION.
 *
 * Once the VM runs on the destination, the source images are renamed
 * aside (DISK.vmferry-quarantine-ID) instead of deleted, and a record
 * RUN_DIR/ID/quarantine.json says what and until when:
 *
 *   {"id", "vm", "deadline": EPOCH_S, "files": [{"path", "quarantine"}],
 *    "host", "port", "tls_dir", "state", "reaper_pid", "deleted_at",
 *    "note"}
 *
 * or, for a libvirt domain (libvirt-end.c), "libvirt_uri" and "domain"
 * instead of "host", "port" and "tls_dir": the destination's libvirt
 * says whether the domain runs there.
 *
 * state: "waiting" (until the deadline), "deleted", "kept" (cancelled,
 * or the destination says the VM does not run there), "unconfirmed" (the
 * destination could not be asked; a sweep tries again).
 *
 * vmferry is a one-shot command, so the deletion has an owner of its
 * own: a detached reaper (vmferry quarantine-reap ID, started with
 * setsid, recording its pid) sleeps until the deadline, asks vmferryd
 * whether the VM still runs there (GET /v1/status: state "running" and
 * its QEMU alive), and only then deletes.  mig_quarantine_sweep() does
 * the same for overdue records whose reaper is gone (after a reboot,
 * from vmferry recover), and vmferry cancel ID stops the reaper and
 * keeps the files.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <sys/wait.h>

#include "internal.h"
#include "libvirt.h"

#define API_TIMEOUT 30000
#define CONFIRM_TRIES 60        /* one a minute: an hour, then give up */
#define CONFIRM_PAUSE_S 60
#define REAP_CMD "quarantine-reap"

static char *
record_path (const char *run_dir, const char *id)
{
  return xasprintf ("%s/%s/quarantine.json", run_dir, id);
}

/* The copied disks of s: {"path", "index", "virtual_size", "format"}
 * each (undo reads the last three).
 */
static json_t *
copied_disks (struct source *s)
{
  json_t *files = json_array ();
  size_t i;

  for (i = 0; files && i < s->vm->n_disks; i++) {
    const struct mig_disk *d = &s->vm->disks[i];
    if (src_disk_deletable (s->vm, d))  /* never deleted: never set aside */
      json_array_append_new (files, json_pack ("{s:s, s:I, s:I, s:s}",
                                               "path", d->path, "index",
                                               (json_int_t) i,
                                               "virtual_size", (json_int_t)
                                               d->virtual_size,
                                               "format", d->format));
  }
  return files;
}

/* Rename each of rec's files aside, recording where ("quarantine"). */
static int
rename_aside (json_t *rec, const char *id, struct progress *pr)
{
  json_t *f;
  size_t i;

  json_array_foreach (json_object_get (rec, "files"), i, f) {
    const char *path = json_string_value (json_object_get (f, "path"));
    CLEANUP_FREE char *q = xasprintf ("%s.vmferry-quarantine-%s", path, id);
    if (q == NULL || rename (path, q) == -1) {
      set_error (errno, "rename %s aside", path);
      return -1;
    }
    json_object_set_new (f, "quarantine", json_string (q));
    progress_note (pr, "source disk %s quarantined as %s", path, q);
  }
  return 0;
}

/* Start the detached reaper: a child in its own session that execs
 * vmferry again (the only safe thing after fork in a threaded process).
 * When vmferry exits, init adopts it.  Returns its pid.
 */
static pid_t
spawn_reaper (const char *run_dir, const char *id)
{
  pid_t pid = fork ();

  if (pid == -1) {
    set_error (errno, "fork");
    return -1;
  }
  if (pid == 0) {
    int fd = open ("/dev/null", O_RDWR);
    sigset_t none;
    /* vmferry blocks its cancel signals (for its signalfd): the reaper
     * must die of SIGTERM (vmferry cancel), and hold none of its fds.
     */
    sigemptyset (&none);
    if (setsid () == -1 || fd == -1 || dup2 (fd, 0) == -1 ||
        dup2 (fd, 1) == -1 || dup2 (fd, 2) == -1 ||
        sigprocmask (SIG_SETMASK, &none, NULL) == -1)
      _exit (127);
    close_range (3, ~0U, 0);
    execl ("/proc/self/exe", "vmferry", "--run-dir", run_dir, REAP_CMD, id,
           (char *) NULL);
    _exit (127);
  }
  return pid;
}

int
src_quarantine_files (const char *run_dir, const char *id, json_t *rec,
                      uint64_t seconds, struct progress *pr)
{
  CLEANUP_FREE char *path = NULL;
  pid_t pid;

  if (run_dir == NULL) {
    set_error (0, "no run directory to record the quarantine in: the "
               "source files are kept");
    return -1;
  }
  path = record_path (run_dir, id);
  json_object_set_new (rec, "id", json_string (id));
  json_object_set_new (rec, "deadline",
                       json_integer (wall_ms () / 1000 + seconds));
  json_object_set_new (rec, "state", json_string ("waiting"));
  if (path == NULL)
    return -1;
  /* Record first: a crash after a rename leaves a record to sweep. */
  if (json_state_save (path, rec) == -1 ||
      rename_aside (rec, id, pr) == -1 ||
      json_state_save (path, rec) == -1 ||
      (pid = spawn_reaper (run_dir, id)) == -1)
    return -1;
  /* The reaper only reads the record until it settles it. */
  json_object_set_new (rec, "reaper_pid", json_integer (pid));
  if (json_state_save (path, rec) == -1)
    return -1;
  progress_note (pr, "the source files are deleted after %" PRIu64
                 " s if the VM still runs on the destination then "
                 "(vmferry cancel %s keeps them; reaper pid %d)",
                 seconds, id, (int) pid);
  return 0;
}

int
src_quarantine (struct source *s)
{
  json_auto_t *rec = NULL;

  if (s->ctl == NULL) {
    set_error (0, "no run directory to record the quarantine in: the "
               "source files are kept");
    return -1;
  }
  rec = json_pack ("{s:s, s:o, s:s, s:i, s:s, s:s?, s:s}",
                   "vm", s->vm->name, "files", copied_disks (s),
                   "host", s->p->host, "port", s->p->port,
                   "tls_dir", s->p->tls_dir, "undo_token",
                   s->undo_token[0] ? s->undo_token : NULL,
                   "qemu", s->vm->argv[0]);
  if (rec == NULL)
    return -1;
  return src_quarantine_files (s->p->run_dir, s->id, rec,
                               s->p->quarantine_s, &s->pr);
}

/* Does the destination run the VM of rec?  1 yes, 0 no (it says so),
 * -1 cannot tell (set_error).
 */
static int
confirm (json_t *rec)
{
  const char *id = json_string_value (json_object_get (rec, "id"));
  const char *lv = json_string_value (json_object_get (rec, "libvirt_uri"));
  struct mig_agent *a;
  json_auto_t *reply = NULL;
  json_t *m;
  size_t i;

  /* A libvirt domain: that libvirt says whether it runs there. */
  if (lv)
    return lv_domain_runs_at (lv, json_string_value (json_object_get
                                                     (rec, "domain")));
  a = mig_agent_new
    (json_string_value (json_object_get (rec, "host")),
     json_integer_value (json_object_get (rec, "port")),
     json_string_value (json_object_get (rec, "tls_dir")), NULL);
  reply = a ? mig_agent_status (a, API_TIMEOUT, NULL) : NULL;
  mig_agent_free (a);
  if (reply == NULL)
    return -1;
  json_array_foreach (json_object_get (reply, "migrations"), i, m) {
    const char *mid = json_string_value (json_object_get (m, "id"));
    const char *st = json_string_value (json_object_get (m, "state"));
    if (mid == NULL || id == NULL || strcmp (mid, id) != 0)
      continue;
    if (st && strcmp (st, "running") == 0 &&
        json_is_true (json_object_get (m, "alive")))
      return 1;
    set_error (0, "the destination says the VM does not run there (%s)",
               st ? st : "?");
    return 0;
  }
  set_error (0, "the destination does not know migration %s (restarted?)",
             id);
  return -1;
}

/* Delete the quarantined files of rec; -1 if one could not be. */
static int
delete_files (json_t *rec)
{
  size_t i;
  json_t *f;
  int r = 0;

  json_array_foreach (json_object_get (rec, "files"), i, f) {
    const char *q = json_string_value (json_object_get (f, "quarantine"));
    if (q && unlink (q) == -1 && errno != ENOENT) {
      set_error (errno, "delete %s", q);
      r = -1;
    }
  }
  return r;
}

/* Is any quarantined file of rec still there? */
static bool
files_left (json_t *rec)
{
  size_t i;
  json_t *f;

  json_array_foreach (json_object_get (rec, "files"), i, f) {
    const char *q = json_string_value (json_object_get (f, "quarantine"));
    if (q && access (q, F_OK) == 0)
      return true;
  }
  return false;
}

/* Record the outcome in rec and save it. */
static int
settle (const char *path, json_t *rec, const char *state, const char *note)
{
  json_object_set_new (rec, "state", json_string (state));
  if (note)
    json_object_set_new (rec, "note", json_string (note));
  if (strcmp (state, "deleted") == 0)
    json_object_set_new (rec, "deleted_at",
                         json_integer (wall_ms () / 1000));
  return json_state_save (path, rec);
}

/* Ask, delete if confirmed.  1 done (deleted or kept), 0 try again. */
static int
reap_once (const char *path, json_t *rec)
{
  int r = confirm (rec);

  if (r == 1) {
    if (delete_files (rec) == -1) {
      settle (path, rec, "kept", get_error ());
      return 1;
    }
    settle (path, rec, "deleted", NULL);
    return 1;
  }
  if (r == 0) {
    settle (path, rec, "kept", get_error ());
    return 1;
  }
  settle (path, rec, "unconfirmed", get_error ());
  return 0;
}

/* Is the record at path still open (waiting or unconfirmed)?  Loads it
 * into *rec (replacing what was there).
 */
static bool
still_open (const char *path, json_t **rec)
{
  const char *st;

  json_decref (*rec);
  *rec = json_state_load (path);
  st = json_string_value (json_object_get (*rec, "state"));
  return st && (strcmp (st, "waiting") == 0 ||
                strcmp (st, "unconfirmed") == 0);
}

int
mig_quarantine_reap (const char *run_dir, const char *id, bool wait)
{
  CLEANUP_FREE char *path = mig_safe_name (id) ? record_path (run_dir, id)
    : NULL;
  json_auto_t *rec = NULL;
  int k;

  if (path == NULL || access (path, F_OK) == -1) {
    set_error (errno, "no quarantine of migration %s in %s", id, run_dir);
    return -1;
  }
  /* Until the deadline; a cancel settles the record (and stops us). */
  while (still_open (path, &rec)) {
    int64_t deadline = json_integer_value (json_object_get (rec,
                                                            "deadline"));
    if (wall_ms () / 1000 >= deadline)
      break;
    if (!wait)
      return 0;                 /* not due yet */
    sleep (1);
  }
  for (k = 0; k < (wait ? CONFIRM_TRIES : 1) && still_open (path, &rec);
       k++) {
    if (k)
      sleep (CONFIRM_PAUSE_S);
    if (reap_once (path, rec))
      return 0;
  }
  return rec ? 0 : -1;
}

/* Is pid a live quarantine reaper? */
static bool
is_reaper (pid_t pid)
{
  CLEANUP_FREE char *p = xasprintf ("/proc/%d/cmdline", (int) pid);
  CLEANUP_FREE char *cmd = NULL;
  size_t len = 0, i;

  if (pid <= 1 || p == NULL || !pid_alive (pid) ||
      (cmd = read_file (p, &len)) == NULL)
    return false;
  for (i = 0; i + 1 < len; i++)
    if (cmd[i] == '\0')
      cmd[i] = ' ';
  return strstr (cmd, " " REAP_CMD " ") != NULL;
}

int
mig_quarantine_sweep (const char *run_dir)
{
  DIR *d = opendir (run_dir);
  struct dirent *e;
  int r = 0;

  if (d == NULL) {
    set_error (errno, "%s", run_dir);
    return -1;
  }
  while ((e = readdir (d)) != NULL) {
    CLEANUP_FREE char *path = NULL;
    json_auto_t *rec = NULL;
    if (!mig_safe_name (e->d_name) ||
        (path = record_path (run_dir, e->d_name)) == NULL ||
        access (path, F_OK) == -1 || (rec = json_state_load (path)) == NULL)
      continue;
    if (is_reaper (json_integer_value (json_object_get (rec,
                                                         "reaper_pid"))))
      continue;                 /* its reaper still owns it */
    if (mig_quarantine_reap (run_dir, e->d_name, false) == -1)
      r = -1;
  }
  closedir (d);
  return r;
}

int
mig_quarantine_cancel (const char *run_dir, const char *id, FILE *out)
{
  CLEANUP_FREE char *path = record_path (run_dir, id);
  json_auto_t *rec = path ? json_state_load (path) : NULL;
  const char *st = json_string_value (json_object_get (rec, "state"));
  pid_t pid = json_integer_value (json_object_get (rec, "reaper_pid"));
  size_t i;
  json_t *f;

  if (rec == NULL)
    return -1;
  if (st == NULL || (strcmp (st, "waiting") && strcmp (st, "unconfirmed"))) {
    set_error (0, "migration %s: its quarantine already ended (%s)", id,
               st ? st : "?");
    return -1;
  }
  if (is_reaper (pid)) {
    kill (pid, SIGTERM);
    for (i = 0; i < 500 && pid_alive (pid); i++)
      usleep (10000);
  }
  /* The reaper may have settled it just before it died. */
  if (!still_open (path, &rec) || !files_left (rec)) {
    set_error (0, "migration %s: the quarantine already ended (%s)", id,
               json_string_value (json_object_get (rec, "state")));
    return -1;
  }
  if (settle (path, rec, "kept", "cancelled: the files are kept") == -1)
    return -1;
  fprintf (out, "migration %s: quarantine cancelled; the source files are "
           "kept:\n", id);
  json_array_foreach (json_object_get (rec, "files"), i, f)
    fprintf (out, "  %s (was %s)\n",
             json_string_value (json_object_get (f, "quarantine")),
             json_string_value (json_object_get (f, "path")));
  return 0;
}

json_t *
mig_quarantine_hold (const char *run_dir, const char *id, char **path)
{
  json_t *rec = NULL;
  pid_t pid;
  size_t i;

  *path = mig_safe_name (id) ? record_path (run_dir, id) : NULL;
  if (*path == NULL || access (*path, F_OK) == -1) {
    set_error (errno, "no quarantine of migration %s in %s", id, run_dir);
    return NULL;
  }
  if (!still_open (*path, &rec)) {
    set_error (0, "migration %s: its quarantine already ended (%s)", id,
               json_string_value (json_object_get (rec, "state")));
    json_decref (rec);
    return NULL;
  }
  if (json_object_get (rec, "libvirt_uri")) {
    set_error (0, "migration %s moved libvirt domain %s: libvirt moves it "
               "back (vmferry migrate libvirt:%s on that host)", id,
               json_string_value (json_object_get (rec, "domain")),
               json_string_value (json_object_get (rec, "domain")));
    json_decref (rec);
    return NULL;
  }
  pid = json_integer_value (json_object_get (rec, "reaper_pid"));
  if (is_reaper (pid)) {
    kill (pid, SIGTERM);
    for (i = 0; i < 500 && pid_alive (pid); i++)
      usleep (10000);
  }
  if (!still_open (*path, &rec) || !files_left (rec) ||
      settle (*path, rec, "undoing", NULL) == -1) {
    set_error (0, "migration %s: the quarantined files are gone", id);
    json_decref (rec);
    return NULL;
  }
  return rec;
}

int
mig_quarantine_settle (const char *path, json_t *rec, const char *state,
                       const char *note)
{
  return settle (path, rec, state, note);
}

int
mig_quarantine_release (const char *run_dir, const char *id,
                        const char *path, json_t *rec)
{
  pid_t pid;

  /* "waiting" first: the new reaper reads the record as it starts. */
  json_object_del (rec, "reaper_pid");
  if (settle (path, rec, "waiting", NULL) == -1)
    return -1;
  pid = spawn_reaper (run_dir, id);
  if (pid == -1)
    return settle (path, rec, "unconfirmed", "no reaper could start: a "
                   "sweep (vmferry recover) deletes the files once due");
  json_object_set_new (rec, "reaper_pid", json_integer (pid));
  return json_state_save (path, rec);
}
