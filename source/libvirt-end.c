/* libvirt-end.c: how vmferry migrate libvirt:NAME ends (libvirt.h):
 * vmferryd's part, the domain on the destination, the source images,
 * the result and its summary.
 */
#include <config.h>

#include <errno.h>
#include <sys/stat.h>

#include "minmax.h"
#include "internal.h"
#include "libvirt.h"

#define API_TIMEOUT 60000
#define END_GRACE_MS 30000      /* for the relayed connections to end */

/* Stop the relay (grace_ms for its connections to end) and remove its
 * directory here.
 */
static int
stop_relay (struct lv_run *m, int grace_ms)
{
  int r = net_duplex_stop (m->dx, grace_ms, &m->up, &m->down, &m->conns);

  m->dx = NULL;
  if (m->dir)
    remove_tree (m->dir);
  free (m->dir);
  m->dir = NULL;
  return r;
}

/* libvirt's completed job statistics, kept by the destination (the
 * source's domain object is gone with VIR_MIGRATE_UNDEFINE_SOURCE).
 */
static json_t *
completed_stats (virDomainPtr dd)
{
  virTypedParameterPtr par = NULL;
  int type, n = 0, i;
  json_t *o = json_object ();

  if (o == NULL || virDomainGetJobStats (dd, &type, &par, &n,
                                         VIR_DOMAIN_JOB_STATS_COMPLETED) < 0)
    return o;
  for (i = 0; i < n; i++)
    if (par[i].type == VIR_TYPED_PARAM_ULLONG)
      json_object_set_new (o, par[i].field,
                           json_integer (par[i].value.ul));
  virTypedParamsFree (par, n);
  return o;
}

/* The domain on the destination: running (and persistent unless
 * asked otherwise), its statistics into m->completed.  -1 + set_error.
 */
static int
look_at_destination (struct lv_run *m)
{
  virConnectPtr c = virConnectOpen (m->peer_uri);
  virDomainPtr dd = c ? virDomainLookupByName (c, m->d.name) : NULL;
  int state = 0, reason, r = -1;

  if (dd == NULL)
    set_error (0, "looking at %s on %s: %s", m->d.name, m->peer_uri,
               lv_error ());
  else if (virDomainGetState (dd, &state, &reason, 0) < 0 ||
           state != VIR_DOMAIN_RUNNING)
    set_error (0, "%s is not running on the destination (state %d)",
               m->d.name, state);
  else if (!m->lp->transient && virDomainIsPersistent (dd) != 1)
    set_error (0, "%s is not persistent on the destination", m->d.name);
  else {
    m->completed = completed_stats (dd);
    r = 0;
  }
  if (dd)
    virDomainFree (dd);
  if (c)
    virConnectClose (c);
  return r;
}

/* Delete one source image: through its storage pool if it is a volume
 * of one (the pool stays current), else unlink.
 */
static int
delete_image (struct lv_run *m, const char *path)
{
  virStorageVolPtr v = virStorageVolLookupByPath (m->d.conn, path);
  int r;

  if (v) {
    r = virStorageVolDelete (v, 0);
    if (r < 0)
      set_error (0, "deleting volume %s: %s", path, lv_error ());
    virStorageVolFree (v);
    return r;
  }
  if (unlink (path) == -1 && errno != ENOENT) {
    set_error (errno, "unlink %s", path);
    return -1;
  }
  return 0;
}

/* The copied disks' source images, which are the domain's own: never
 * one that another domain uses (as its disk or in a backing chain),
 * never a backing file (the copied chain's bases stay: only the top
 * image, <source>, goes), never a block device.
 */
static int
delete_source_images (struct lv_run *m)
{
  size_t i;
  int used, r = 0;

  m->deleted = json_array ();
  for (i = 0; m->deleted && i < m->d.n_disks; i++) {
    struct lv_disk *k = &m->d.disks[i];
    if (!k->copy || strcmp (k->type, "file") != 0)
      continue;
    if ((used = lv_path_used_elsewhere (&m->d, k->path)) != 0) {
      progress_note (&m->pr, "keeping %s: %s", k->path, used == 1 ?
                     "another domain uses it" : get_error ());
      continue;
    }
    if (delete_image (m, k->path) == -1) {
      progress_note (&m->pr, "warning: %s", get_error ());
      r = -1;
      continue;
    }
    json_array_append_new (m->deleted, json_string (k->path));
  }
  return r;
}

/* --keep-source=DURATION: the same images renamed aside, deleted by
 * the reaper once the destination's libvirt says the domain still runs
 * there (quarantine.c).
 */
static int
quarantine_source_images (struct lv_run *m)
{
  json_auto_t *rec = json_pack ("{s:s, s:[], s:s, s:s}", "vm", m->p->vm,
                                "files", "libvirt_uri", m->peer_uri,
                                "domain", m->d.name);
  json_t *files = json_object_get (rec, "files");
  size_t i;
  int used;

  for (i = 0; rec && i < m->d.n_disks; i++) {
    struct lv_disk *k = &m->d.disks[i];
    if (!k->copy || strcmp (k->type, "file") != 0)
      continue;
    if ((used = lv_path_used_elsewhere (&m->d, k->path)) != 0)
      progress_note (&m->pr, "keeping %s: %s", k->path, used == 1 ?
                     "another domain uses it" : get_error ());
    else
      json_array_append_new (files, json_pack ("{s:s}", "path", k->path));
  }
  if (rec == NULL)
    return -1;
  if (m->ctl == NULL) {
    set_error (0, "no run directory to record the quarantine in: the "
               "source files are kept");
    return -1;
  }
  return src_quarantine_files (m->p->run_dir, m->id, rec,
                               m->p->quarantine_s, &m->pr);
}

static enum mig_result
moved (struct lv_run *m)
{
  json_auto_t *reply = NULL;
  json_auto_t *body = json_pack ("{s:s}", "id", m->id);
  int status;

  progress_phase (&m->pr, "cleanup", m->p->keep_source ||
                  m->lp->keep_definition ? "keeping the source files"
                  : m->p->quarantine_s ? "quarantining the source files"
                  : "deleting the source files");
  if (stop_relay (m, END_GRACE_MS) == -1)
    progress_note (&m->pr, "warning: the domain runs on the destination, "
                   "but the relay ended badly: %s", get_error ());
  reply = mig_agent_post (m->agent, "/v1/libvirt-finish", body, API_TIMEOUT,
                          &status);
  m->finished = json_incref (reply);
  if (reply == NULL)
    progress_note (&m->pr, "warning: vmferryd did not end its part: %s",
                   get_error ());
  if (look_at_destination (m) == -1) {
    prefix_error ("libvirt said the migration succeeded, but");
    return MIG_UNCERTAIN;
  }
  if (m->p->keep_source || m->lp->keep_definition)
    return MIG_OK;
  if (m->p->quarantine_s && quarantine_source_images (m) == -1)
    progress_note (&m->pr, "warning: the source files are kept: %s",
                   get_error ());
  else if (!m->p->quarantine_s && delete_source_images (m) == -1)
    progress_note (&m->pr, "warning: some source files remain");
  return MIG_OK;
}

/* After a failure: the images libvirt created on the destination for
 * the copied disks (none was there before, libvirt-run.c), deleted
 * through the destination's libvirt unless the domain is there.  The
 * paths of those left, or "" (NULL: out of memory).
 */
static char *
delete_dest_images (struct lv_run *m)
{
  virDomainPtr dd = m->dc ? virDomainLookupByName (m->dc, m->d.name) : NULL;
  char *left = strdup ("");
  size_t i;

  if (dd) {                     /* the domain is there: not ours */
    virDomainFree (dd);
    return left;
  }
  for (i = 0; left && m->dc && i < m->d.n_disks; i++) {
    struct lv_disk *k = &m->d.disks[i];
    virStorageVolPtr v = k->absent_there
      ? virStorageVolLookupByPath (m->dc, k->path) : NULL;
    if (v == NULL)
      continue;
    if (virStorageVolDelete (v, 0) < 0) {
      char *more = xasprintf ("%s%s%s (%s)", left, left[0] ? ", " : "",
                              k->path, lv_error ());
      free (left);
      left = more;
    }
    else
      progress_note (&m->pr, "deleted %s on the destination (libvirt "
                     "created it for the migration)", k->path);
    virStorageVolFree (v);
  }
  return left;
}

/* Where is the domain after a failure? */
static enum mig_result
not_moved (struct lv_run *m)
{
  char why[1024];
  json_auto_t *reply = NULL;
  CLEANUP_FREE char *images = NULL;
  int status = 404, active;
  bool left = false;

  snprintf (why, sizeof why, "%s", get_error ());
  progress_phase (&m->pr, "rollback", m->cancelled ? "cancelled" : why);
  if (stop_relay (m, 0) == -1)
    debug ("relay: %s", get_error ());
  if (m->agent && m->prepared)
    reply = mig_agent_abort (m->agent, m->id, NULL, API_TIMEOUT, &status);
  left = status != 200 && status != 404;
  images = delete_dest_images (m);
  active = m->d.dom ? virDomainIsActive (m->d.dom) : -1;
  if (active != 1) {
    set_error (0, "%s; the domain is not running here (%s): look at both "
               "hosts", why, active == 0 ? "shut off" : lv_error ());
    return MIG_UNCERTAIN;
  }
  if (left || images == NULL || images[0]) {
    char relay[128] = "";
    if (left)
      snprintf (relay, sizeof relay, " the relay's directory and listener "
                "of vmferryd (migration %s)", m->id);
    set_error (0, "%s; leftovers on the destination:%s%s%s", why, relay,
               images && images[0] == '\0' ? "" : left ? "; images " :
               " images ", images ? images : "libvirt made");
    return MIG_FAILED_LEFTOVERS;
  }
  if (m->cancelled)
    set_error (0, "cancelled by the user (libvirt: %s)", m->err);
  else
    set_error (0, "%s", why);
  return MIG_FAILED_CLEAN;
}

enum mig_result
lv_run_end (struct lv_run *m, bool ok)
{
  return ok ? moved (m) : not_moved (m);
}

/* The final object: as mig_source_run's, with libvirt's figures. */
static json_t *
summary (struct lv_run *m, enum mig_result r)
{
  json_t *o = json_pack ("{s:s, s:s, s:i, s:s, s:s, s:o}",
                         "result", mig_result_code (r),
                         "result_text", mig_result_text (r), "exit_code", r,
                         "vm", m->p->vm, "destination", m->p->dest_name
                         ? m->p->dest_name : m->p->host,
                         "total_s", progress_seconds ((now_ms () - m->t_start)
                                                      / 1000.0));
  json_t *c = m->completed;

  if (o == NULL)
    return NULL;
  if (m->prepared)              /* the relay existed */
    json_object_set_new (o, "libvirt", json_pack
                       ("{s:I, s:I, s:I, s:I, s:I}",
                        "flags", (json_int_t) m->flags,
                        "relay_connections", (json_int_t) m->conns,
                        "relay_raw_bytes", (json_int_t) m->up.raw_bytes,
                        "relay_wire_bytes", (json_int_t) m->up.wire_bytes,
                        "relay_back_bytes", (json_int_t) m->down.wire_bytes));
  if (r != MIG_OK) {
    json_object_set_new (o, "error", json_string (get_error ()));
    return o;
  }
  if (json_is_integer (json_object_get (m->finished, "delivered_bytes")))
    json_object_set (json_object_get (o, "libvirt"), "delivered_bytes",
                     json_object_get (m->finished, "delivered_bytes"));
  json_object_set (o, "downtime_ms",
                   json_object_get (c, VIR_DOMAIN_JOB_DOWNTIME));
  json_object_set (o, "memory_bytes",
                   json_object_get (c, VIR_DOMAIN_JOB_MEMORY_PROCESSED));
  json_object_set_new (o, "storage_bytes", json_integer
                       (MAX ((json_int_t) m->disk_seen, json_integer_value
                             (json_object_get (c,
                                               VIR_DOMAIN_JOB_DISK_PROCESSED)))));
  json_object_set (json_object_get (o, "libvirt"), "time_ms",
                   json_object_get (c, VIR_DOMAIN_JOB_TIME_ELAPSED));
  json_object_set_new (o, "source_deleted",
                       json_boolean (json_array_size (m->deleted) > 0));
  if (m->p->quarantine_s)
    json_object_set_new (o, "quarantine_s",
                         json_integer (m->p->quarantine_s));
  if (m->deleted)
    json_object_set (json_object_get (o, "libvirt"), "source_files_deleted",
                     m->deleted);
  return o;
}

enum mig_result
lv_run_finish (struct lv_run *m, enum mig_result r)
{
  json_auto_t *sum = NULL;
  char err[1024];

  snprintf (err, sizeof err, "%s", r == MIG_OK ? "" : get_error ());
  if (m->dx || m->dir)            /* an early refusal: nothing relayed */
    stop_relay (m, 0);
  set_error (0, "%s", err);
  sum = summary (m, r);
  progress_result (&m->pr, sum);
  m->pr.sink = NULL;
  /* Refused before vmferryd was asked: nothing for vmferry status. */
  src_control_stop (m->ctl, r == MIG_REFUSED && m->prepared == NULL);
  mig_agent_free (m->agent);
  json_decref (m->prepared);
  json_decref (m->completed);
  json_decref (m->finished);
  json_decref (m->deleted);
  lv_events_stop (&m->ev);
  virTypedParamsFree (m->params, m->nparams);
  if (m->done_pipe[0] >= 0) {
    close (m->done_pipe[0]);
    close (m->done_pipe[1]);
  }
  free (m->peer_uri);
  if (m->dc)
    virConnectClose (m->dc);
  net_pace_free (m->pace);
  lv_domain_close (&m->d);
  set_error (0, "%s", err);
  return r;
}
