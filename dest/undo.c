/* dest-undo.c: vmferry undo, the agent's side: moving a VM that came
 * here back to the host it came from, sending only what changed.
 *
 * It reuses the resumable copy (source-resume.c) the other way round.
 * When the source asked for a quarantine, finish (before the VM resumes
 * here) adds to each copied disk the persistent dirty bitmap
 * vmferry-resume-TOKEN (the source's undo token); send-back writes the
 * state file DISK.vmferry-resume saying the whole disk was copied.  The
 * quarantined images on the source host are exactly the disks as they
 * were at the switchover.
 *
 * POST /v1/send-back {"id", "to", "port", "disk_paths"} then migrates
 * the VM, with vmferry's engine, to the agent that vmferry undo started
 * on the source host (which holds the quarantined images as partial
 * images under the token): the resumed copy sends only the blocks the
 * guest wrote here.  Disk i goes to disk_paths[i] (its original path).
 * On success this host's images are deleted and the job's directories
 * removed; on failure the VM runs on here (the rollback).
 */
#include <config.h>

#include "internal.h"

int
mig_dest_undo_record (struct dest_job *j, const char *token)
{
  char name[64];
  size_t i;

  snprintf (name, sizeof name, MIG_RESUME_BITMAP "%s", token);
  for (i = 0; i < j->vm->n_disks; i++) {
    const struct mig_disk *k = &j->vm->disks[i];
    json_auto_t *r = NULL;
    if (!mig_disk_written (k))
      continue;                 /* the guest cannot write a read-only one */
    r = qmp_command (j->qmp, "block-dirty-bitmap-add",
                     json_pack ("{s:s, s:s, s:i, s:b}", "node", k->node,
                                "name", name, "granularity", 64 * 1024,
                                "persistent", 1), QMP_TIMEOUT_MS);
    if (r == NULL)
      return -1;
  }
  return 0;
}

/* Just before the move back: the state files that make it a resumed
 * copy (the whole disk was copied, under the undo token).  Written only
 * now, so that a VM that is never sent back carries no such file.
 */
static int
write_states (struct dest_job *j)
{
  size_t i;

  for (i = 0; i < j->vm->n_disks; i++) {
    const struct mig_disk *k = &j->vm->disks[i];
    CLEANUP_FREE char *path = NULL;
    json_auto_t *st = NULL;
    if (!mig_disk_copied (k))
      continue;
    path = xasprintf ("%s" MIG_RESUME_SUFFIX, k->dest_path);
    st = mig_resume_state (j->undo_token, k->virtual_size, k->virtual_size,
                           "undo");
    if (path == NULL || st == NULL || json_state_save (path, st) == -1)
      return -1;
  }
  return 0;
}

/* "DEST=ORIG" for each copied disk, ORIG from paths (by disk index). */
static char **
disk_map (struct dest_job *j, json_t *paths)
{
  char **map = NULL;
  size_t i;

  for (i = 0; i < j->vm->n_disks; i++) {
    const char *to = json_string_value (json_array_get (paths, i));
    CLEANUP_FREE char *m = NULL;
    if (!mig_disk_copied (&j->vm->disks[i]))
      continue;
    if (to == NULL || to[0] != '/' ||
        (m = xasprintf ("%s=%s", j->vm->disks[i].dest_path, to)) == NULL ||
        strv_push (&map, m) == -1) {
      set_error (0, "\"disk_paths\" lacks disk %zu", i);
      strv_free (map);
      return NULL;
    }
  }
  if (map == NULL)
    set_error (0, "the VM has no disk to move back");
  return map;
}

/* The final JSON line of a migration's output (the result), or NULL. */
static json_t *
result_of (const char *log)
{
  const char *p = log ? strstr (log, "{\"result\"") : NULL, *q;

  while (p && (q = strstr (p + 1, "{\"result\"")) != NULL)
    p = q;
  return p ? json_loadb (p, strcspn (p, "\n"), 0, NULL) : NULL;
}

/* Run the migration back (caller holds j->lock) through the hook the
 * agent was given.
 */
static void
send_back (struct mig_dest *d, struct dest_job *j, const char *to, int port,
           char **disk_map, struct mig_send_back_result *r)
{
  CLEANUP_FREE char *qmp = xasprintf ("%s/vmferry-qmp.sock", j->run_dir);
  struct mig_send_back b = {
    .qmp = qmp, .to = to, .port = port, .tls_dir = d->p.tls_dir,
    .psk = d->p.psk, .disk_map = disk_map,
  };

  if (qmp == NULL) {
    r->exit_code = 2;
    r->result = "refused, nothing was done";
    return;
  }
  mig_dest_metrics_sending (d->metrics, 1);
  d->p.send_back (&b, r);
  mig_dest_metrics_sending (d->metrics, -1);
}

int
mig_dest_send_back (void *opaque, const struct api_request *req,
                    json_t **reply)
{
  struct mig_dest *d = opaque;
  const char *id = json_string_value (json_object_get (req->body, "id"));
  const char *to = json_string_value (json_object_get (req->body, "to"));
  json_t *port = json_object_get (req->body, "port");
  struct dest_job *j = id ? mig_dest_find_job (d, id) : NULL;
  CLEANUP_STRV char **map = NULL;
  struct mig_send_back_result r = { 0 };

  if (d->p.send_back == NULL)
    return mig_dest_error (reply, 501, "this agent does not send VMs back");
  if (j == NULL)
    return mig_dest_error (reply, 404, "no such migration");
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&j->lock);
  /* Only the host the VM came from (by its certificate) may ask. */
  if (!mig_dest_job_owned_by (j, req))
    return mig_dest_not_owner (j, reply);
  if (to == NULL || !json_is_integer (port))
    return mig_dest_error (reply, 400, "\"to\" and \"port\" are required");
  if (j->state != JOB_RUNNING || !pid_alive (j->qemu_pid))
    return mig_dest_error (reply, 409, "the VM does not run on this host");
  if (j->undo_token == NULL)
    return mig_dest_error (reply, 409, "no write record for an undo (the "
                           "source did not ask for one)");
  map = disk_map (j, json_object_get (req->body, "disk_paths"));
  if (map == NULL)
    return mig_dest_error (reply, 400, get_error ());
  if (write_states (j) == -1)
    return mig_dest_error (reply, 500, get_error ());
  send_back (d, j, to, json_integer_value (port), map, &r);
  *reply = json_pack ("{s:s, s:i, s:s, s:o*}", "result", r.result,
                      "exit_code", r.exit_code, "log", r.log ? r.log : "",
                      "summary", result_of (r.log));
  free (r.log);
  if (r.exit_code == 0) {
    /* Its images are gone with the move: the rest of the job too. */
    if (mig_dest_job_cleanup (d, j) == -1)
      json_object_set_new (*reply, "warning", json_string (get_error ()));
    mig_dest_job_end (d, j, JOB_LEFT);
    /* The VM runs here no more: a restarted vmferryd has nothing to
     * keep for it.
     */
    mig_dest_journal_remove (d, j);
    mig_dest_job_ended (d);
    mig_dest_home_left (d, j->vm->name);
  }
  return 200;
}
