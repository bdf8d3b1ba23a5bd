/* source-resume.c: a failed copy by vmferry's engine is resumed by the
 * next attempt instead of starting over.
 *
 * Per copied disk the guest writes (qcow2 only; a read-only one is
 * copied whole each time):
 *   - a persistent dirty bitmap "vmferry-resume-TOKEN" in the image
 *     records every guest write from the start of the first attempt (it
 *     survives a clean restart of QEMU; after an unclean stop QEMU marks
 *     it inconsistent and it is not trusted);
 *   - a state file DISK.vmferry-resume (statefile.c: crash-safe) records
 *     the token, the virtual size and "copied_to": every block below that
 *     offset reached the destination and was flushed there, acknowledged
 *     by vmferryd (the engine advances it segment by segment during the
 *     bulk copy).
 * On failure the rollback asks vmferryd to keep the partial images under
 * the token.  The next attempt offers the token in prepare; if vmferryd
 * reuses its images ("partial_reused": true), the engine copies only
 * [copied_to, end) plus every block written since the first attempt
 * began.  Any mismatch gives a full copy, with the reason shown, and a
 * new token.  A successful migration forgets it all (bitmaps and state
 * files); --no-resume (or the QEMU engine) too, before starting.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

#define RESUME_PREFIX MIG_RESUME_BITMAP
#define GRANULARITY (64 * 1024)         /* = the engine's block size */

struct res_disk {
  char *state_path;             /* DISK.vmferry-resume; NULL: not copied */
  uint64_t copied_to;           /* bytes (see above) */
};

struct src_resume {
  bool enabled;                 /* this attempt keeps resume state */
  bool offered;                 /* the state is usable: token offered */
  bool accepted;                /* vmferryd reused its partial images */
  bool recording;               /* the persistent bitmaps exist */
  char token[33];
  struct res_disk *d;           /* one per VM disk */
  size_t n;
};

/* The dirty bitmaps of disk id (query-block), new reference or NULL. */
static json_t *
disk_bitmaps (struct source *s, const char *id)
{
  json_auto_t *r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "query-block", NULL);
  size_t i;
  json_t *dev;

  json_array_foreach (r, i, dev) {
    json_t *ins = json_object_get (dev, "inserted");
    const char *dn = json_string_value (json_object_get (dev, "device"));
    const char *nn = json_string_value (json_object_get (ins, "node-name"));
    if ((dn && strcmp (dn, id) == 0) || (nn && strcmp (nn, id) == 0))
      return json_incref (json_object_get (ins, "dirty-bitmaps"));
  }
  return NULL;
}

/* Remove every resume bitmap of disk id except keep (may be NULL). */
static void
remove_bitmaps (struct source *s, const char *id, const char *keep)
{
  json_auto_t *bms = disk_bitmaps (s, id);
  size_t i;
  json_t *b;

  json_array_foreach (bms, i, b) {
    const char *name = json_string_value (json_object_get (b, "name"));
    if (name && strncmp (name, RESUME_PREFIX, strlen (RESUME_PREFIX)) == 0
        && (keep == NULL || strcmp (name, keep) != 0))
      json_decref (qmp_commandf (s->q, QMP_TIMEOUT_MS, "block-dirty-bitmap-remove", "{s:s, s:s}",
                            "node", id, "name", name));
  }
}

void
src_resume_bitmap_name (const struct source *s, char *buf, size_t n)
{
  snprintf (buf, n, RESUME_PREFIX "%s", s->resume->token);
}

/* Drop all resume state of the VM's disks (bitmaps and state files). */
static void
discard (struct source *s)
{
  struct src_resume *r = s->resume;
  size_t i;

  for (i = 0; i < r->n; i++) {
    if (r->d[i].state_path == NULL)
      continue;
    remove_bitmaps (s, s->vm->disks[i].id, NULL);
    if (unlink (r->d[i].state_path) == -1 && errno != ENOENT)
      progress_note (&s->pr, "warning: cannot remove %s: %m",
                     r->d[i].state_path);
  }
  r->recording = r->offered = r->accepted = false;
}

/* Is the state of disk i usable?  NULL, or why not (in why). */
static const char *
check_disk (struct source *s, size_t i, char *why, size_t n)
{
  struct src_resume *r = s->resume;
  const struct mig_disk *d = &s->vm->disks[i];
  json_auto_t *st = json_state_load (r->d[i].state_path), *bms = NULL;
  const char *tok = json_string_value (json_object_get (st, "token"));
  char name[64];
  size_t k;
  json_t *b;

  if (st == NULL)
    return snprintf (why, n, "no state of an earlier attempt for %s",
                     d->path), why;
  if (tok == NULL || strlen (tok) != 32 || !mig_safe_name (tok) ||
      (r->token[0] && strcmp (tok, r->token) != 0) ||
      (uint64_t) json_integer_value (json_object_get (st, "virtual_size"))
      != d->virtual_size)
    return snprintf (why, n, "the state in %s does not match the VM",
                     r->d[i].state_path), why;
  snprintf (r->token, sizeof r->token, "%s", tok);
  r->d[i].copied_to = json_integer_value (json_object_get (st, "copied_to"));
  src_resume_bitmap_name (s, name, sizeof name);
  bms = disk_bitmaps (s, d->id);
  json_array_foreach (bms, k, b) {
    const char *bn = json_string_value (json_object_get (b, "name"));
    if (bn == NULL || strcmp (bn, name) != 0)
      continue;
    if (json_is_true (json_object_get (b, "inconsistent")) ||
        !json_is_true (json_object_get (b, "recording")) ||
        !json_is_true (json_object_get (b, "persistent")) ||
        json_integer_value (json_object_get (b, "granularity"))
        != GRANULARITY)
      return snprintf (why, n, "the write record of %s is inconsistent "
                       "(QEMU stopped uncleanly?)", d->path), why;
    return NULL;
  }
  return snprintf (why, n, "the write record of %s is gone", d->path), why;
}

/* Load and check the state of every copied disk. */
static void
load (struct source *s)
{
  struct src_resume *r = s->resume;
  char why[512] = "";
  bool any = false;
  size_t i;

  for (i = 0; i < r->n; i++)
    if (r->d[i].state_path && access (r->d[i].state_path, F_OK) == 0)
      any = true;
  for (i = 0; any && i < r->n; i++)
    if (r->d[i].state_path && check_disk (s, i, why, sizeof why))
      break;
  if (any && i == r->n) {
    r->offered = true;
    return;
  }
  if (any)
    progress_note (&s->pr, "disks: cannot resume the earlier copy: %s; "
                   "copying everything", why);
  discard (s);
}

int
src_resume_load (struct source *s)
{
  struct src_resume *r = calloc (1, sizeof *r);
  const char *why = NULL;
  size_t i;

  if (r == NULL || (r->d = calloc (s->vm->n_disks + 1,
                                   sizeof *r->d)) == NULL) {
    free (r);
    set_error (errno, "calloc");
    return -1;
  }
  s->resume = r;
  r->n = s->vm->n_disks;
  for (i = 0; i < r->n; i++) {
    const struct mig_disk *d = &s->vm->disks[i];
    if (!mig_disk_written (d))
      continue;                 /* a read-only disk is copied whole */
    if (strcmp (d->format, "qcow2") != 0)
      why = "a disk is not qcow2 (the write record needs it)";
    if ((r->d[i].state_path = xasprintf ("%s" MIG_RESUME_SUFFIX,
                                         d->path)) == NULL)
      return -1;
  }
  if (s->p->dry_run)
    return 0;                   /* changes nothing, keeps nothing */
  r->enabled = !s->p->no_resume && !s->p->qemu_storage && why == NULL;
  if (r->enabled)
    load (s);
  else
    discard (s);
  if (why && !s->p->qemu_storage && !s->p->no_resume)
    progress_note (&s->pr, "disks: a failed copy cannot be resumed: %s",
                   why);
  return 0;
}

const char *
src_resume_token (const struct source *s)
{
  return s->resume && s->resume->offered ? s->resume->token : NULL;
}

bool
src_resume_enabled (const struct source *s)
{
  return s->resume && s->resume->enabled;
}

int
src_resume_begin (struct source *s)
{
  struct src_resume *r = s->resume;
  const char *reason = json_string_value
    (json_object_get (s->prepared, "resume_reason"));

  if (!r->enabled)
    return 0;
  r->accepted = r->offered &&
    json_is_true (json_object_get (s->prepared, "partial_reused"));
  if (r->offered && !r->accepted) {
    progress_note (&s->pr, "disks: the destination cannot resume the "
                   "earlier copy (%s); copying everything",
                   reason ? reason : "it does not support it");
    discard (s);
  }
  if (r->accepted) {
    r->recording = true;
    progress_note (&s->pr, "disks: resuming the earlier copy (attempt %s)",
                   r->token);
    return 0;
  }
  return mig_random_hex (r->token, 16);
}

bool
src_resume_accepted (const struct source *s)
{
  return s->resume && s->resume->accepted;
}

uint64_t
src_resume_copied_to (const struct source *s, size_t idx)
{
  return s->resume->accepted ? s->resume->d[idx].copied_to : 0;
}

int
src_resume_progress (struct source *s, size_t idx, uint64_t copied_to)
{
  struct src_resume *r = s->resume;
  const struct mig_disk *d = &s->vm->disks[idx];
  json_auto_t *st = NULL;

  if (!r->enabled || r->d[idx].state_path == NULL)
    return 0;
  r->recording = true;
  if (copied_to > d->virtual_size)
    copied_to = d->virtual_size;
  if (copied_to < r->d[idx].copied_to)
    return 0;
  r->d[idx].copied_to = copied_to;
  st = mig_resume_state (r->token, d->virtual_size, copied_to, s->p->host);
  return st ? json_state_save (r->d[idx].state_path, st) : -1;
}

void
src_resume_forget (struct source *s)
{
  if (s->resume && s->q && (s->resume->recording || s->resume->offered))
    discard (s);
}

const char *
src_resume_keep (const struct source *s)
{
  const struct src_resume *r = s->resume;

  return r && r->enabled && (r->recording || r->accepted) ? r->token
    : NULL;
}

void
src_resume_free (struct src_resume *r)
{
  size_t i;

  if (r == NULL)
    return;
  for (i = 0; i < r->n; i++)
    free (r->d[i].state_path);
  free (r->d);
  free (r);
}
