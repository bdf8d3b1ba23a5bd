/* source-storage.c: the QEMU-native storage path (what libvirt does):
 * an NBD client node per disk toward the destination's export, and
 * blockdev-mirror sync=full copy-mode=write-blocking into it.  Once a
 * mirror is READY every guest write reaches both sides before the guest
 * sees it acknowledged.
 */
#include <config.h>

#include "internal.h"

/* Does disk d get a mirror?  QEMU's path mirrors every copied disk
 * (sync=full copies it); vmferry's engine copies a read-only disk once
 * and mirrors only those the guest can write.
 */
static bool
mirrored (const struct source *s, const struct mig_disk *d)
{
  return s->engine ? mig_disk_written (d) : mig_disk_copied (d);
}

static void
job_name (size_t i, char *buf, size_t n)
{
  snprintf (buf, n, "vmferry-mirror-%zu", i);
}

/* Total bytes to copy and copied so far, from query-block-jobs; *found
 * counts our mirror jobs, *ready those that are synchronized.
 */
static int
jobs_progress (struct source *s, uint64_t *done, uint64_t *total,
               size_t *found, size_t *ready)
{
  json_auto_t *r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "query-block-jobs", NULL);
  size_t i;
  json_t *j;

  if (r == NULL)
    return -1;
  *done = *total = 0;
  *found = *ready = 0;
  json_array_foreach (r, i, j) {
    const char *dev = json_string_value (json_object_get (j, "device"));
    if (dev == NULL || strncmp (dev, "vmferry-mirror-", 15) != 0)
      continue;
    uint64_t off = json_integer_value (json_object_get (j, "offset"));
    uint64_t len = json_integer_value (json_object_get (j, "len"));
    size_t k = strtoul (dev + 15, NULL, 10);
    if (k < s->vm->n_disks)
      progress_disk (&s->pr, k, s->vm->disks[k].id, off, len);
    *done += off;
    *total += len;
    *ready += json_is_true (json_object_get (j, "ready"));
    (*found)++;
  }
  return 0;
}

/* An NBD client node per disk toward the destination's export and a
 * mirror into it: sync "full" copies everything (the QEMU-native path),
 * "none" only mirrors new writes (vmferry's engine copies the rest).
 */
int
src_storage_start (struct source *s, const char *sync)
{
  int port = json_integer_value (json_object_get (s->prepared, "nbd_port"));
  char portstr[16];
  size_t i;

  snprintf (portstr, sizeof portstr, "%d", port);
  for (i = 0; i < s->vm->n_disks; i++) {
    const struct mig_disk *d = &s->vm->disks[i];
    char node[48], job[48];
    json_t *r;

    if (!mirrored (s, d))
      continue;
    snprintf (node, sizeof node, "vmferry-nbd-%zu", i);
    job_name (i, job, sizeof job);
    if (src_journal_add (s, "node", node) == -1 ||
        src_journal_add (s, "job", job) == -1)
      return -1;
    r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "blockdev-add",
                 "{s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:s}",
                 "driver", "nbd", "node-name", node,
                 "server", "type", "inet", "host", s->dhost, "port", portstr,
                 "export", d->id, "tls-creds", MIG_TLS_ID);
    if (r == NULL)
      return -1;
    json_decref (r);
    s->n_nodes = i + 1;
    r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "blockdev-mirror", "{s:s, s:s, s:s, s:s, s:s}",
                 "job-id", job, "device", d->id, "target", node,
                 "sync", sync, "copy-mode", "write-blocking");
    if (r == NULL)
      return -1;
    json_decref (r);
    s->n_jobs = i + 1;
  }
  return 0;
}

/* A block job event about one of our mirrors that means failure. */
static bool
job_failed (json_t *ev, void *opaque)
{
  const char *name = json_string_value (json_object_get (ev, "event"));
  json_t *data = json_object_get (ev, "data");
  const char *dev = json_string_value (json_object_get (data, "device"));

  if (dev == NULL || strncmp (dev, "vmferry-mirror-", 15) != 0)
    return false;
  return strcmp (name, "BLOCK_JOB_ERROR") == 0 ||
    strcmp (name, "BLOCK_JOB_CANCELLED") == 0 ||
    (strcmp (name, "BLOCK_JOB_COMPLETED") == 0 &&
     json_object_get (data, "error") != NULL);
}

/* Wait until every mirror is READY (synchronized), showing progress. */
int
src_storage_wait_ready (struct source *s)
{
  uint64_t done, total;
  size_t found, ready, want = 0, i;

  for (i = 0; i < s->vm->n_disks; i++)
    want += mirrored (s, &s->vm->disks[i]);
  for (;;) {
    json_auto_t *bad = NULL;

    clear_error ();
    bad = qmp_poll_event (s->q, NULL, job_failed, NULL);
    if (bad == NULL && get_error ()[0])
      return -1;
    if (bad) {
      json_t *data = json_object_get (bad, "data");
      const char *err = json_string_value (json_object_get (data, "error"));
      set_error (0, "disk copy failed (%s): %s",
                 json_string_value (json_object_get (bad, "event")),
                 err ? err : "job ended early");
      return -1;
    }
    if (jobs_progress (s, &done, &total, &found, &ready) == -1)
      return -1;
    if (found < want) {
      set_error (0, "disk copy failed: a mirror job ended without a word "
                 "(%zu of %zu left)", found, want);
      return -1;
    }
    progress_storage (&s->pr, done, total);
    if (s->engine == NULL)      /* the engine counts its own copies */
      s->storage_bytes = done;
    if (ready == want)
      return 0;
    if (src_cancel_requested (s))
      return -1;
    json_decref (qmp_wait_event (s->q, "BLOCK_JOB_READY", NULL, NULL, 500));
  }
}

/* A mirror's job ended (completed or cancelled). */
static bool
job_ended (json_t *ev, void *opaque)
{
  const char *name = json_string_value (json_object_get (ev, "event"));
  const char *dev = json_string_value
    (json_object_get (json_object_get (ev, "data"), "device"));

  return dev && strcmp (dev, opaque) == 0 &&
    (strcmp (name, "BLOCK_JOB_COMPLETED") == 0 ||
     strcmp (name, "BLOCK_JOB_CANCELLED") == 0);
}

/* Ask mirror job to stop.  force=false on a READY mirror completes it
 * without pivoting: every write so far is on both sides.
 */
static int
ask_stop (struct source *s, const char *job, bool force)
{
  json_auto_t *r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "block-job-cancel",
                                 "{s:s, s:b}", "device", job, "force", force);

  return r ? 0 : -1;
}

/* Wait for job's end (its event may be queued already); must_sync: it
 * must have ended synchronized.
 */
static int
await_end (struct source *s, const char *job, bool must_sync)
{
  json_auto_t *ev = qmp_wait_event (s->q, NULL, job_ended, (void *) job,
                                    30000);
  json_t *data;

  if (ev == NULL)
    return -1;
  data = json_object_get (ev, "data");
  if (must_sync &&
      (strcmp (json_string_value (json_object_get (ev, "event")),
               "BLOCK_JOB_COMPLETED") != 0 ||
       json_object_get (data, "error") ||
       json_integer_value (json_object_get (data, "offset")) !=
       json_integer_value (json_object_get (data, "len")))) {
    set_error (0, "mirror %s did not end synchronized", job);
    return -1;
  }
  return 0;
}

/* At the switchover: every mirror asked to stop at once, then each one's
 * end awaited, so that they end side by side (an error stops here, the
 * jobs left are for the rollback).
 */
static int
stop_jobs_synced (struct source *s)
{
  size_t i;
  char job[48];

  for (i = 0; i < s->n_jobs; i++) {
    if (!mirrored (s, &s->vm->disks[i]))
      continue;
    job_name (i, job, sizeof job);
    if (ask_stop (s, job, false) == -1)
      return -1;
  }
  for (i = 0; i < s->n_jobs; i++) {
    if (!mirrored (s, &s->vm->disks[i]))
      continue;
    job_name (i, job, sizeof job);
    if (await_end (s, job, true) == -1)
      return -1;
  }
  s->n_jobs = 0;
  return 0;
}

/* The rollback: cancel each mirror (best effort: errors are only
 * logged).
 */
static void
cancel_jobs (struct source *s)
{
  size_t i;

  for (i = 0; i < s->n_jobs; i++) {
    char job[48];
    if (!mirrored (s, &s->vm->disks[i]))
      continue;
    job_name (i, job, sizeof job);
    if (ask_stop (s, job, true) == -1 || await_end (s, job, false) == -1)
      debug ("rollback: %s: %s", job, get_error ());
  }
  s->n_jobs = 0;
}

/* Delete our NBD client nodes (before the destination drops its
 * exports, else they stay "in use").
 */
static int
del_nodes (struct source *s)
{
  int ret = 0;

  while (s->n_nodes > 0) {
    char node[48];
    json_t *r;
    s->n_nodes--;
    if (!mirrored (s, &s->vm->disks[s->n_nodes]))
      continue;
    snprintf (node, sizeof node, "vmferry-nbd-%zu", s->n_nodes);
    r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "blockdev-del", "{s:s}", "node-name", node);
    if (r == NULL)
      ret = -1;
    json_decref (r);
  }
  return ret;
}

/* At pre-switchover (guest paused): end every mirror in sync. */
int
src_storage_complete (struct source *s)
{
  if (stop_jobs_synced (s) == -1)
    return -1;
  return del_nodes (s);
}

/* Undo: cancel mirrors (the source images were never changed by them)
 * and delete the NBD nodes.  Best effort; errors are only logged.
 */
void
src_storage_rollback (struct source *s)
{
  cancel_jobs (s);
  if (del_nodes (s) == -1)
    debug ("rollback: blockdev-del: %s", get_error ());
}
