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

#include "source.h"

/* Mark the VM's writable disks shared (from the command line). */
int
src_shared_select (struct source *s)
{
  size_t i, n = 0;

  for (i = 0; i < s->vm->n_disks; i++) {
    struct mig_disk *d = &s->vm->disks[i];
    if (d->read_only)
      continue;
    if (d->dest_path) {
      set_error (0, "--disk-path %s: a disk on shared storage stays where "
                 "it is", d->path);
      return -1;
    }
    d->shared = true;
    n++;
  }
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

/* Create (on) or remove (off) the markers. */
int
src_shared_markers (struct source *s, bool on)
{
  size_t i;

  for (i = 0; s->vm && i < s->vm->n_disks; i++) {
    CLEANUP_FREE char *m = s->vm->disks[i].shared ?
      marker_path (s, &s->vm->disks[i]) : NULL;
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
