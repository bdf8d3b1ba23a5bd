/* recover.c: vmferry recover: finish or roll back every migration whose
 * journal (RUN_DIR/ID/state.json, source-journal.c) is still open and
 * whose vmferry process is gone.  The rule (vmferry(1), RECOVERY):
 *
 *   source QEMU's migration not completed (or cancelled now):
 *       roll back: the source owns the only complete copy; remove
 *       vmferry's objects, resume the VM if it ran, send the destination
 *       POST /v1/abort; if it is unreachable: leftovers, exit 4, the
 *       journal stays open
 *   completed, source QEMU paused after it: ask the destination to
 *       abort.  Aborted or unknown there (vmferryd keeps a record of
 *       every VM it resumed, so unknown means never resumed): resume the
 *       source.  Refused because the VM runs there: quit the source QEMU
 *       and delete the source images.  No answer: uncertain, exit 5,
 *       nothing changed.
 *   source QEMU gone after the switchover: ask the destination to
 *       finish (resume); no answer or refused: uncertain.
 *
 * The abort request is the decision point: vmferryd serializes abort
 * and finish per migration and refuses to abort a VM that runs, so the
 * VM cannot end up running on both hosts.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>

#include "recover.h"

#define API_TIMEOUT 60000
#define FINISH_TIMEOUT 180000
#define CONNECT_TRIES 5

/* One migration being recovered. */
struct rec {
  const struct mig_recover_params *p;
  const char *id;
  json_t *state;                /* state.json */
  json_t *j;                    /* its journal (borrowed from state) */
  struct qmp *q;                /* the source QEMU, or NULL if gone */
  struct mig_agent *agent;
  const char *outcome;          /* "rolled back", "moved", ... */
  enum mig_result result;       /* exit code of this one */
  bool resolved;                /* close the journal */
};

static const char *
jstr (json_t *o, const char *key)
{
  const char *v = json_string_value (json_object_get (o, key));
  return v ? v : "";
}

/* Ask the destination: POST path {"id"}; the HTTP status or -1. */
static int
ask_dest (struct rec *r, const char *path, int timeout)
{
  json_t *dest = json_object_get (r->j, "dest");
  json_auto_t *body = NULL, *reply = NULL;
  bool was_running = json_is_true (json_object_get (r->j, "was_running"));
  int status;

  if (r->agent == NULL)
    r->agent = mig_agent_new (jstr (dest, "host"),
                              json_integer_value (json_object_get (dest,
                                                                   "port")),
                              r->p->tls_dir ? r->p->tls_dir
                              : jstr (dest, "tls_dir"), jstr (dest, "name"));
  if (r->agent == NULL)
    return -1;
  body = json_pack ("{s:s, s:b}", "id", r->id, "resume", was_running);
  reply = mig_agent_post (r->agent, path, body, timeout, &status);
  return status;
}

static void
outcome (struct rec *r, const char *what, enum mig_result res, bool done)
{
  r->outcome = what;
  r->result = res;
  r->resolved = done;
}

/* The source owns the VM: clean it and the destination. */
static void
roll_back (struct rec *r)
{
  int st;

  if (r->q && !json_is_true (json_object_get (r->j, "source_restored"))) {
    if (rec_source_rollback (r->q, r->j) == -1) {
      outcome (r, "rolled back, leftovers on the source",
               MIG_FAILED_LEFTOVERS, false);
      return;
    }
    json_object_set_new (r->j, "source_restored", json_true ());
  }
  st = ask_dest (r, "/v1/abort", API_TIMEOUT);
  if (st == 200 || st == 404)
    outcome (r, "rolled back", MIG_OK, true);
  else if (st == 409)
    outcome (r, "uncertain: the VM runs on both hosts", MIG_UNCERTAIN,
             false);
  else {
    prefix_error ("the source runs the VM; the destination keeps "
                  "leftovers (run vmferry recover again)");
    outcome (r, "rolled back, leftovers on the destination",
             MIG_FAILED_LEFTOVERS, false);
  }
}

/* The destination runs the VM: end the source. */
static void
moved (struct rec *r)
{
  pid_t pid = json_integer_value (json_object_get (r->j, "vm_pid"));

  if (r->q && rec_source_quit (r->q, pid) == -1) {
    outcome (r, "moved, the source QEMU is left", MIG_FAILED_LEFTOVERS,
             false);
    return;
  }
  qmp_close (r->q);
  r->q = NULL;
  if (rec_source_delete (r->j) == -1)
    outcome (r, "moved, source files are left", MIG_FAILED_LEFTOVERS,
             false);
  else
    outcome (r, "moved", MIG_OK, true);
}

/* Source QEMU paused after a completed migration. */
static void
after_completion (struct rec *r)
{
  int st = ask_dest (r, "/v1/abort", API_TIMEOUT);

  if (st == 409)
    moved (r);
  else if (st == 200 || st == 404)
    roll_back (r);
  else {
    prefix_error ("the migration completed on the source but the "
                  "destination cannot tell whether the VM runs there; "
                  "nothing changed");
    outcome (r, "uncertain", MIG_UNCERTAIN, false);
  }
}

/* The source QEMU is gone: only the destination can run the VM now. */
static void
source_gone (struct rec *r)
{
  const char *stage = jstr (r->j, "stage");
  int st;

  if (strcmp (stage, "switchover") != 0 && strcmp (stage, "completed") != 0
      && strcmp (stage, "moved") != 0) {
    ask_dest (r, "/v1/abort", API_TIMEOUT);
    set_error (0, "the source QEMU is gone before the switchover: the VM "
               "runs nowhere; its source images are kept");
    outcome (r, "uncertain: the source QEMU is gone", MIG_UNCERTAIN, false);
    return;
  }
  st = ask_dest (r, "/v1/finish", FINISH_TIMEOUT);
  if (st == 200)
    moved (r);
  else {
    prefix_error ("the source QEMU is gone and the destination did not "
                  "resume the VM");
    outcome (r, "uncertain: the source QEMU is gone", MIG_UNCERTAIN, false);
  }
}

/* Connect to the source QEMU's monitor.  A QEMU whose monitor was busy
 * with a command of the dead vmferry (waiting on a dead link, say) may
 * answer late, and may then send that command's reply to the next
 * client: try a few times.
 */
static struct qmp *
connect_source (const char *qmp, pid_t pid)
{
  struct qmp *q = NULL;
  int i;

  for (i = 0; i < CONNECT_TRIES && q == NULL; i++) {
    if (i > 0)
      sleep (2);
    q = qmp_connect (qmp, 5000);
    if (q == NULL && !pid_alive (pid))
      break;
  }
  return q;
}

static void
decide (struct rec *r)
{
  const char *qmp = jstr (r->j, "qmp");
  pid_t vm_pid = json_integer_value (json_object_get (r->j, "vm_pid"));
  enum rec_migration m;

  r->q = connect_source (qmp, vm_pid);
  if (r->q == NULL && pid_alive (vm_pid)) {
    prefix_error ("the source QEMU (pid %d) runs but its monitor %s does "
                  "not answer", (int) vm_pid, qmp);
    outcome (r, "uncertain", MIG_UNCERTAIN, false);
  }
  else if (r->q == NULL)
    source_gone (r);
  else if (rec_source_migration (r->q, &m) == -1)
    outcome (r, "uncertain", MIG_UNCERTAIN, false);
  else if (m == REC_POSTCOPY) {
    set_error (0, "post-copy was running: the VM's memory is split "
               "between the hosts; nothing changed");
    outcome (r, "uncertain: post-copy", MIG_UNCERTAIN, false);
  }
  else if (m == REC_COMPLETED)
    after_completion (r);
  else
    roll_back (r);
}

/* Record the outcome in the state file; close the journal if resolved. */
static void
record (struct rec *r, const char *path)
{
  json_object_set_new (r->j, "open", json_boolean (!r->resolved));
  json_object_set_new (r->state, "recovered",
                       json_pack ("{s:s, s:i, s:s, s:I}", "outcome",
                                  r->outcome, "exit_code", r->result,
                                  "error", r->result ? get_error () : "",
                                  "time_ms", (json_int_t) wall_ms ()));
  if (json_state_save (path, r->state) == -1)
    debug ("recover: cannot record %s: %s", path, get_error ());
}

static void
report (struct rec *r)
{
  FILE *out = r->p->out;

  if (r->p->json) {
    json_auto_t *o = json_pack ("{s:s, s:s, s:s, s:i, s:s?}", "id", r->id,
                                "vm", jstr (r->j, "vm"), "outcome",
                                r->outcome, "exit_code", r->result,
                                "error", r->result ? get_error () : NULL);
    json_dumpf (o, out, JSON_COMPACT);
    fputc ('\n', out);
  }
  else
    fprintf (out, "%s  vm %s: %s%s%s\n", r->id, jstr (r->j, "vm"),
             r->outcome, r->result ? ": " : "",
             r->result ? get_error () : "");
  fflush (out);
}

/* Is the migration's own vmferry still at work? */
static bool
vmferry_running (json_t *state)
{
  pid_t pid = json_integer_value (json_object_get (state, "pid"));
  CLEANUP_STRV char **argv = pid_alive (pid) ? mig_cmdline_read (pid) : NULL;

  return argv && argv[0] && strstr (argv[0], "vmferry") != NULL;
}

/* Recover migration id; its exit code (MIG_OK if nothing to do). */
static enum mig_result
recover_one (const struct mig_recover_params *p, const char *id)
{
  CLEANUP_FREE char *path = xasprintf ("%s/%s/state.json", p->run_dir, id);
  CLEANUP_FREE char *lock = xasprintf ("%s/%s/recover.lock", p->run_dir, id);
  CLEANUP_CLOSE int lfd = -1;
  struct rec r = { .p = p, .id = id, .result = MIG_OK };
  json_error_t e;

  if (path == NULL || lock == NULL)
    return MIG_UNCERTAIN;
  r.state = json_load_file (path, 0, &e);
  r.j = json_object_get (r.state, "journal");
  if (r.j == NULL || !json_is_true (json_object_get (r.j, "open"))) {
    json_decref (r.state);
    return MIG_OK;              /* ended cleanly, or recovered already */
  }
  lfd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (vmferry_running (r.state)) {
    set_error (0, "its vmferry (pid %d) still runs",
               (int) json_integer_value (json_object_get (r.state, "pid")));
    outcome (&r, "in progress, left alone", MIG_OK, false);
  }
  else if (lfd == -1 || flock (lfd, LOCK_EX | LOCK_NB) == -1) {
    set_error (errno, "another vmferry recover holds %s", lock);
    outcome (&r, "busy", MIG_UNCERTAIN, false);
  }
  else {
    decide (&r);
    record (&r, path);
  }
  report (&r);
  qmp_close (r.q);
  mig_agent_free (r.agent);
  json_decref (r.state);
  return r.result;
}

enum mig_result
mig_recover (const struct mig_recover_params *p)
{
  enum mig_result worst = MIG_OK, one;
  DIR *d;
  struct dirent *e;

  if (p->id) {
    if (!mig_safe_name (p->id)) {
      set_error (0, "'%s' is not a migration id", p->id);
      return MIG_USAGE;
    }
    return recover_one (p, p->id);
  }
  if ((d = opendir (p->run_dir)) == NULL) {
    if (errno == ENOENT)
      return MIG_OK;            /* no migration ever ran here */
    set_error (errno, "%s", p->run_dir);
    return MIG_USAGE;
  }
  while ((e = readdir (d)) != NULL) {
    if (!mig_safe_name (e->d_name))
      continue;
    one = recover_one (p, e->d_name);
    if (one > worst)
      worst = one;
  }
  closedir (d);
  set_error (0, "some migrations could not be recovered (see above)");
  return worst;
}
