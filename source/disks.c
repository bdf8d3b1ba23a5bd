/* disks.c: which of the VM's disks move (--disk, --skip-disk), what
 * happens to each, and which source files go once the VM runs on the
 * destination.
 *
 * Every disk is copied by default: writable ones, read-only images and
 * CD-ROM media alike, so that the destination QEMU opens only files of
 * its own.  A disk left out is not copied and must be reachable there
 * as it is: a writable one on storage both hosts see (the destination
 * checks the marker beside it, source-shared.c), a read-only one under
 * a read dir of the destination with the same content (SHA-256).  A
 * disk with a backing chain is copied flattened: one standalone image
 * holding what the guest sees.
 */
#include <config.h>

#include <errno.h>
#include <libgen.h>

#include "internal.h"

/* Does disk d answer to name: its device or node name, or its path? */
static bool
disk_named (const struct mig_disk *d, const char *name)
{
  return strcmp (d->id, name) == 0 || strcmp (d->path, name) == 0 ||
    (d->node && strcmp (d->node, name) == 0);
}

static bool
named_in (const struct mig_disk *d, char *const *names)
{
  size_t i;

  for (i = 0; names && names[i]; i++)
    if (disk_named (d, names[i]))
      return true;
  return false;
}

/* Every name of names (from option opt) must be a disk of the VM. */
static int
check_names (const struct mig_vm *vm, char *const *names, const char *opt)
{
  size_t i, k;

  for (i = 0; names && names[i]; i++) {
    for (k = 0; k < vm->n_disks && !disk_named (&vm->disks[k], names[i]);
         k++)
      ;
    if (k == vm->n_disks) {
      char list[512] = "";
      size_t len = 0;
      for (k = 0; k < vm->n_disks && len < sizeof list; k++)
        len += snprintf (list + len, sizeof list - len, "%s%s (%s)",
                         k ? ", " : "", vm->disks[k].id, vm->disks[k].path);
      set_error (0, "%s %s: the VM has no such disk (its disks: %s)", opt,
                 names[i], vm->n_disks ? list : "none");
      return -1;
    }
  }
  return 0;
}

bool
src_disk_pinned (const struct source *s, const struct mig_disk *d)
{
  return named_in (d, s->p->only_disks);
}

/* Leave disk d out of the copy. */
static int
leave_out (struct mig_disk *d)
{
  if (d->dest_path) {
    set_error (0, "disk %s: --disk-path names where a disk that is not "
               "copied should go", d->id);
    return -1;
  }
  if (d->n_backing) {
    set_error (0, "disk %s (%s) has a backing file (%s): a disk that is "
               "not copied is opened as it is on the destination, backing "
               "chain and all; copy it (it arrives flattened)", d->id,
               d->path, d->backing[0].path);
    return -1;
  }
  if (!d->read_only) {
    d->shared = true;
    return 0;
  }
  d->in_place = true;
  d->sha256 = mig_file_sha256 (d->path);
  return d->sha256 ? 0 : -1;
}

int
src_disks_choose (struct source *s)
{
  char *const *only = s->p->only_disks, *const *skip = s->p->skip_disks;
  size_t i;

  if (only && skip) {
    set_error (0, "give the disks to copy (--disk) or those to leave out "
               "(--skip-disk), not both");
    return -1;
  }
  if (check_names (s->vm, only, "--disk") == -1 ||
      check_names (s->vm, skip, "--skip-disk") == -1)
    return -1;
  for (i = 0; i < s->vm->n_disks; i++) {
    struct mig_disk *d = &s->vm->disks[i];
    bool out = only ? !named_in (d, only) : named_in (d, skip);
    if (out && leave_out (d) == -1)
      return -1;
    if (out && d->shared)
      s->shared = true;
  }
  return 0;
}

/* The text of what happens to disk d, for the notes. */
static void
fate (const struct mig_disk *d, char *buf, size_t n)
{
  size_t len, i;

  len = snprintf (buf, n, "%s", d->shared ? "not copied (shared storage)"
                  : d->in_place ? "not copied (used in place under a read "
                  "dir of the destination)" : "copied");
  if (mig_disk_copied (d) && d->n_backing && len < n)
    len += snprintf (buf + len, n - len, ", flattened (backing chain:");
  for (i = 0; mig_disk_copied (d) && i < d->n_backing && len < n; i++)
    len += snprintf (buf + len, n - len, " %s%s", i ? "<- " : "",
                     d->backing[i].path);
  if (mig_disk_copied (d) && d->n_backing && len < n)
    snprintf (buf + len, n - len, "; kept on the source)");
}

void
src_disks_note (struct source *s)
{
  size_t i;

  for (i = 0; i < s->vm->n_disks; i++) {
    const struct mig_disk *d = &s->vm->disks[i];
    char what[1024];
    fate (d, what, sizeof what);
    progress_note (&s->pr, "disk %s (%s%s%s): %s", d->id, d->path,
                   d->read_only ? ", read-only" : "",
                   d->cdrom ? ", CD-ROM" : "", what);
  }
}

/* Is dir (a disk's directory) the VM's own: named after the VM, and
 * holding one of the images the guest writes?
 */
static bool
own_dir (const struct mig_vm *vm, const char *dir)
{
  const char *base = strrchr (dir, '/') ? strrchr (dir, '/') + 1 : dir;
  size_t i;

  if (strcmp (base, vm->name) != 0)
    return false;
  for (i = 0; i < vm->n_disks; i++) {
    CLEANUP_FREE char *copy = strdup (vm->disks[i].path);
    if (copy && mig_disk_written (&vm->disks[i]) &&
        strcmp (dirname (copy), dir) == 0)
      return true;
  }
  return false;
}

bool
src_disk_deletable (const struct mig_vm *vm, const struct mig_disk *d)
{
  CLEANUP_FREE char *copy = NULL;

  if (!mig_disk_copied (d))
    return false;               /* shared or used in place: it stays */
  if (!d->read_only)
    return true;
  copy = strdup (d->path);
  return copy && own_dir (vm, dirname (copy));
}
