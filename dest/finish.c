/* dest-finish.c: POST /v1/finish: after the incoming migration completed,
 * take the disks over from the NBD server, resume the VM and announce it.
 */
#include <config.h>

#include "internal.h"

#define COMPLETE_TIMEOUT 120000   /* dest's "completed" can lag the source's */

/* MIGRATION events that end an incoming migration. */
static bool
migration_ended (json_t *ev, void *opaque)
{
  const char *s = json_string_value
    (json_object_get (json_object_get (ev, "data"), "status"));

  return s && (strcmp (s, "completed") == 0 || strcmp (s, "failed") == 0 ||
               strcmp (s, "cancelled") == 0);
}

/* Event timestamp as seconds since the epoch. */
static double
event_time (json_t *ev)
{
  json_t *ts = json_object_get (ev, "timestamp");

  return json_integer_value (json_object_get (ts, "seconds")) +
    json_integer_value (json_object_get (ts, "microseconds")) / 1e6;
}

static int
cmd (struct qmp *q, const char *name, const char *fmt, ...)
{
  json_t *args = NULL, *r;
  va_list ap;

  if (fmt) {
    va_start (ap, fmt);
    args = json_vpack_ex (NULL, 0, fmt, ap);
    va_end (ap);
  }
  r = qmp_command (q, name, args, QMP_TIMEOUT_MS);
  json_decref (r);
  return r ? 0 : -1;
}

/* The TLS object and migration parameters were for this migration
 * only; a later migration away from here adds its own.
 */
static void
drop_tls (struct qmp *q)
{
  if (cmd (q, "migrate-set-parameters", "{s:s}", "tls-creds", "") == -1 ||
      cmd (q, "object-del", "{s:s}", "id", MIG_TLS_ID) == -1)
    debug ("dropping the TLS object: %s", get_error ());
}

/* Stop serving the disks, resume (if the VM ran on the source),
 * announce; *resumed gets RESUME's time.
 */
static int
take_over (struct dest_job *j, bool resume, double *resumed)
{
  json_auto_t *ev = NULL;
  size_t i;

  for (i = 0; i < j->vm->n_disks; i++) {
    char id[48];
    if (!mig_disk_copied (&j->vm->disks[i]))
      continue;
    snprintf (id, sizeof id, "vmferry-exp-%zu", i);
    if (cmd (j->qmp, "block-export-del", "{s:s}", "id", id) == -1)
      return -1;
  }
  if (cmd (j->qmp, "nbd-server-stop", NULL) == -1)
    return -1;
  drop_tls (j->qmp);
  /* vmferry undo needs every write from now on. */
  if (j->undo_token && mig_dest_undo_record (j, j->undo_token) == -1)
    debug ("record for vmferry undo: %s", get_error ());
  if (!resume) {                /* it was paused on the source: stays so */
    mig_skeleton_drop_write_nodes (j->qmp, j->vm);
    return 0;
  }
  if (cmd (j->qmp, "cont", NULL) == -1)
    return -1;
  /* From here on the VM runs here: nothing below may report failure, or
   * the source could resume a second copy.
   */
  ev = qmp_wait_event (j->qmp, "RESUME", NULL, NULL, QMP_TIMEOUT_MS);
  *resumed = ev ? event_time (ev) : 0;
  /* Let switches learn the MAC's new port (RARP/GARP from the NICs). */
  if (cmd (j->qmp, "announce-self", "{s:i, s:i, s:i, s:i}",
           "initial", 50, "max", 550, "rounds", 5, "step", 100) == -1)
    debug ("announce-self: %s", get_error ());
  /* After the VM runs: nothing here adds to its downtime. */
  mig_skeleton_drop_write_nodes (j->qmp, j->vm);
  return 0;
}

/* Wait for the incoming migration, then take over.  HTTP status. */
static int
finish_job (struct dest_job *j, bool resume, double *resumed)
{
  json_auto_t *ev = qmp_wait_event (j->qmp, "MIGRATION", migration_ended,
                                    NULL, COMPLETE_TIMEOUT);
  const char *s;

  if (ev == NULL) {
    prefix_error ("waiting for the incoming migration");
    return 504;
  }
  s = json_string_value (json_object_get (json_object_get (ev, "data"),
                                          "status"));
  if (strcmp (s, "completed") != 0) {
    set_error (0, "the incoming migration %s", s);
    return 502;
  }
  /* Every copy was acknowledged and the relayed migration is complete:
   * the channel's NBD connections go before the exports they hold.
   */
  mig_dest_channel_stop (j);
  if (take_over (j, resume, resumed) == -1)
    return 500;
  return 0;
}

int
mig_dest_finish (void *opaque, const struct api_request *req,
                 json_t **reply)
{
  struct mig_dest *d = opaque;
  const char *id = json_string_value (json_object_get (req->body, "id"));
  json_t *rs = json_object_get (req->body, "resume");
  const char *undo = json_string_value (json_object_get (req->body,
                                                         "undo_token"));
  struct dest_job *j = id ? mig_dest_find_job (d, id) : NULL;
  double resumed = 0;
  int status;

  if (j == NULL)
    return mig_dest_error (reply, 404, "no such migration");
  pthread_mutex_lock (&j->lock);
  if (!mig_dest_job_owned_by (j, req)) {
    pthread_mutex_unlock (&j->lock);
    return mig_dest_not_owner (j, reply);
  }
  if (j->offline) {
    status = mig_dest_offline_finish (d, j, reply);
    pthread_mutex_unlock (&j->lock);
    return status;
  }
  if (j->state != JOB_PREPARED && j->state != JOB_RUNNING) {
    pthread_mutex_unlock (&j->lock);
    return mig_dest_error (reply, 409, "migration is not prepared");
  }
  if (j->state == JOB_PREPARED) {
    if (undo && mig_safe_name (undo) && j->undo_token == NULL)
      j->undo_token = strdup (undo);
    /* From here a crash may leave the VM running: the journal must say
     * so first (a restarted vmferryd then asks the skeleton).
     */
    if (mig_dest_journal_write (d, j, "finishing") == -1)
      status = 500;
    else {
      test_hold ("vmferryd", "finish");
      status = finish_job (j, rs == NULL || json_is_true (rs), &resumed);
    }
    if (status != 0) {
      char msg[1024];
      snprintf (msg, sizeof msg, "%s", get_error ());
      if (mig_dest_journal_write (d, j, "prepared") == -1)
        debug ("journal: %s", get_error ());
      pthread_mutex_unlock (&j->lock);
      return mig_dest_error (reply, status, msg);
    }
    mig_dest_job_end (d, j, JOB_RUNNING);
    /* The VM runs here whatever happens next: its home is a courtesy. */
    if (mig_dest_home_save (d, j, false) == -1)
      fprintf (stderr, "vmferryd: VM %s runs here but was not registered: "
               "%s\n", j->vm->name, get_error ());
    j->home = false;
    json_object_set_new (j->prepared, "resumed", json_real (resumed));
    qmp_close (j->qmp);         /* the VM now lives on its own */
    j->qmp = NULL;
    mig_dest_job_ended (d);
  }
  *reply = json_deep_copy (j->prepared);
  json_object_set_new (*reply, "state", json_string (resumed > 0 ? "running"
                                                     : "paused"));
  pthread_mutex_unlock (&j->lock);
  return 200;
}
