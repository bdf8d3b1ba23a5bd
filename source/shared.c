/* source-shared.c: disks on storage both hosts see (--shared-storage).
 * They are not copied: the destination's skeleton opens the same files
 * (QEMU keeps an incoming VM's images inactive, without their locks,
 * until the source has flushed and let go of them at the switchover),
 * and the source never deletes them.  During prepare a marker file
 * beside each one lets the destination check that it sees the same
 * directory, not just a path of the same name.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>

#include "internal.h"

/* Mark the VM's writable disks shared (from the command line). */
int
src_shared_select (struct source *s)
{
  size_t i, n = 0;

  for (i = 0; i < s->vm->n_disks; i++) {
    struct mig_disk *d = &s->vm->disks[i];
    if (d->read_only || d->shared || src_disk_pinned (s, d))
      continue;                 /* read-only ones are copied */
    if (d->n_backing) {
      set_error (0, "--shared-storage=yes: disk %s (%s) has a backing file "
                 "(%s): it is copied, flattened (choose the others with "
                 "--skip-disk)", d->id, d->path, d->backing[0].path);
      return -1;
    }
    if (d->dest_path) {
      set_error (0, "--disk-path %s: a disk on shared storage stays where "
                 "it is", d->path);
      return -1;
    }
    d->shared = true;
    n++;
  }
  s->shared = s->shared || n > 0;
  progress_note (&s->pr, "%zu disk(s) on shared storage: not copied, "
                 "never deleted", n);
  return 0;
}

static char *
marker_path (struct source *s, const struct mig_disk *d)
{
  CLEANUP_FREE char *copy = strdup (d->path);

  return copy ? xasprintf ("%s/%s%s", dirname (copy), MIG_SHARED_MARKER,
                           s->id) : NULL;
}

/* Create (on) or remove (off) the markers of the shared disks, or with
 * all, of every writable disk.
 */
static int
markers (struct source *s, bool on, bool all)
{
  size_t i;

  for (i = 0; s->vm && i < s->vm->n_disks; i++) {
    const struct mig_disk *d = &s->vm->disks[i];
    CLEANUP_FREE char *m = d->shared || (all && !d->read_only) ?
      marker_path (s, d) : NULL;
    int fd;
    if (m == NULL)
      continue;
    if (!on) {
      unlink (m);
      continue;
    }
    fd = open (m, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd == -1) {
      set_error (errno, "shared storage marker %s", m);
      return -1;
    }
    close (fd);
  }
  return 0;
}

int
src_shared_markers (struct source *s, bool on)
{
  return markers (s, on, false);
}

/* Ask the destination which writable disks it sees with their markers
 * (POST /v1/probe); those are on shared storage.  An agent without
 * the route (404) sees none.  Disks with a --disk-path are copied.
 */
static int
probe (struct source *s, json_t **shared)
{
  json_auto_t *body = json_pack ("{s:s, s:[]}", "id", s->id, "paths");
  json_t *reply;
  size_t i;
  int status;

  for (i = 0; body && i < s->vm->n_disks; i++)
    json_array_append_new (json_object_get (body, "paths"),
                           json_string (s->vm->disks[i].path));
  reply = mig_agent_post (s->agent, "/v1/probe", body, QMP_TIMEOUT_MS,
                          &status);
  if (reply && json_array_size (json_object_get (reply, "shared"))
      == s->vm->n_disks) {
    *shared = reply;
    return 0;
  }
  json_decref (reply);
  if (status == -1)
    return -1;
  *shared = NULL;               /* an older agent: nothing shared */
  return 0;
}

int
src_shared_detect (struct source *s)
{
  json_t *shared = NULL;
  size_t i, n = 0;
  int r;

  if (markers (s, true, true) == -1)
    return -1;
  r = probe (s, &shared);
  markers (s, false, true);
  for (i = 0; r == 0 && i < s->vm->n_disks; i++) {
    struct mig_disk *d = &s->vm->disks[i];
    if (!d->read_only && d->dest_path == NULL && !d->n_backing &&
        !src_disk_pinned (s, d) && !d->shared &&
        json_is_true (json_array_get (json_object_get (shared, "shared"), i)))
      d->shared = true, n++;
  }
  json_decref (shared);
  s->shared = s->shared || n > 0;
  if (r == 0)
    progress_note (&s->pr, "shared storage detected for %zu of %zu disk(s)",
                   n, s->vm->n_disks);
  return r;
}
