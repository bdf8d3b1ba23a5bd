/* dest-partial.c: the partial images vmferryd keeps after a failed
 * copy, so that the source's next attempt sends only what is missing
 * (source-resume.c explains the source's side).
 *
 *   STORAGE_ROOT/.vmferry-partial/NAME/marker.json
 *       {"token", "created", "expires", "disks": [{"index",
 *        "virtual_size", "format"}]}
 *   STORAGE_ROOT/.vmferry-partial/NAME/disk-INDEX   the images
 *
 * abort with "keep_partial": TOKEN moves the job's images there (the
 * skeleton quits cleanly first, so its qcow2 metadata is written); the
 * next prepare of a VM of that name either takes them back (same token,
 * disks and sizes: "partial_reused": true) or deletes them.  They are also
 * deleted once expired (checked when vmferryd starts and at every
 * prepare).  Nothing else ever lives there.
 *
 * A request cannot name anything in that area: its paths lie in
 * STORAGE_ROOT/NAME/ for a safe VM name, which never starts with '.'
 * (dest-prepare.c, check_dest_path).  The images' content came from the
 * peer, though: before an image is reused it must read as the format
 * pinned in the marker when it was kept (the format it was created in),
 * which the new request must repeat, name no backing or data file, and
 * be opened as that format by the new command line (image-check.c).
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <time.h>
#include <sys/stat.h>

#include "internal.h"

#define QUIT_WAIT_MS 10000

static char *
partial_dir (struct mig_dest *d, const char *name)
{
  return xasprintf ("%s/" MIG_PARTIAL_DIR "/%s", d->p.storage_root, name);
}

/* Remove dir, and the partial area too once it is empty. */
static void
drop (struct mig_dest *d, const char *dir)
{
  CLEANUP_FREE char *area = xasprintf ("%s/" MIG_PARTIAL_DIR,
                                       d->p.storage_root);

  remove_tree (dir);
  if (area)
    rmdir (area);               /* fails while others remain: fine */
}

/* Let the skeleton write out its image metadata and exit. */
static void
quit_skeleton (struct dest_job *j)
{
  int64_t t = now_ms ();

  mig_dest_channel_stop (j);
  if (j->qmp == NULL || j->qemu_pid <= 0)
    return;
  json_decref (qmp_command (j->qmp, "quit", NULL, QUIT_WAIT_MS));
  while (pid_alive (j->qemu_pid) && now_ms () - t < QUIT_WAIT_MS)
    usleep (10000);
}

/* The marker of job j's images under token. */
static json_t *
marker (struct dest_job *j, const char *token)
{
  time_t now = time (NULL);
  json_t *disks = json_array (), *m;
  size_t i;

  for (i = 0; i < j->vm->n_disks; i++) {
    const struct mig_disk *k = &j->vm->disks[i];
    if (mig_disk_copied (k))
      json_array_append_new (disks, json_pack ("{s:I, s:I, s:s}", "index",
                                               (json_int_t) i,
                                               "virtual_size",
                                               (json_int_t) k->virtual_size,
                                               "format", k->format));
  }
  m = json_pack ("{s:s, s:I, s:I, s:o}", "token", token, "created",
                 (json_int_t) now, "expires",
                 (json_int_t) (now + MIG_PARTIAL_EXPIRY_S), "disks", disks);
  return m;
}

int
mig_dest_partial_keep (struct mig_dest *d, struct dest_job *j,
                       const char *token)
{
  CLEANUP_FREE char *dir = NULL, *mpath = NULL;
  json_auto_t *m = NULL;
  size_t i;

  if (!mig_safe_name (token) || j->vm == NULL || j->images == NULL ||
      (dir = partial_dir (d, j->vm->name)) == NULL ||
      (mpath = xasprintf ("%s/marker.json", dir)) == NULL)
    return 0;
  quit_skeleton (j);
  remove_tree (dir);
  if (mkdir_p (dir, 0700) == -1)
    return 0;
  for (i = 0; i < j->vm->n_disks; i++) {
    const struct mig_disk *k = &j->vm->disks[i];
    CLEANUP_FREE char *to = xasprintf ("%s/disk-%zu", dir, i);
    if (mig_disk_copied (k) && (to == NULL || rename (k->dest_path, to))) {
      debug ("keep partial %s: %m", k->dest_path);
      drop (d, dir);
      return 0;
    }
  }
  if ((m = marker (j, token)) == NULL || json_state_save (mpath, m) == -1) {
    drop (d, dir);
    return 0;
  }
  strv_free (j->images);        /* moved: no longer the job's */
  j->images = NULL;
  return 1;
}

/* Does marker m describe job j's disks under token?  NULL, or why not. */
static const char *
mismatch (struct dest_job *j, json_t *m, const char *token)
{
  json_t *disks = json_object_get (m, "disks"), *e;
  size_t i, n = 0;

  if (json_integer_value (json_object_get (m, "expires")) < time (NULL))
    return "its partial image expired";
  if (!json_is_string (json_object_get (m, "token")) ||
      strcmp (json_string_value (json_object_get (m, "token")), token))
    return "its partial image belongs to another attempt";
  for (i = 0; i < j->vm->n_disks; i++)
    n += mig_disk_copied (&j->vm->disks[i]);
  if (json_array_size (disks) != n)
    return "the VM's disks changed";
  json_array_foreach (disks, i, e) {
    json_int_t x = json_integer_value (json_object_get (e, "index"));
    const char *f = json_string_value (json_object_get (e, "format"));
    const struct mig_disk *k = x >= 0 && (size_t) x < j->vm->n_disks
      ? &j->vm->disks[x] : NULL;
    if (k == NULL || !mig_disk_copied (k) || f == NULL ||
        strcmp (f, k->format) != 0 ||
        (uint64_t) json_integer_value (json_object_get (e, "virtual_size"))
        != k->virtual_size)
      return "the VM's disks changed";
  }
  return NULL;
}

/* May job j reopen the kept images in dir?  Each is checked where it
 * is, before it moves, as the format pinned in the marker (mismatch()
 * made sure that the request's format agrees), and as the job will open
 * it: its command line must name that format or leave it to QEMU's
 * probe (then the probe must agree), for an offline move too (qemu-nbd
 * serves it with -f, and the command line is what the VM is started
 * with later).  NULL, or why not (the details in detail).
 */
static const char *
unsafe (struct dest_job *j, const char *dir, char *detail, size_t n)
{
  size_t i;

  for (i = 0; i < j->vm->n_disks; i++) {
    const struct mig_disk *k = &j->vm->disks[i];
    CLEANUP_FREE char *img = NULL;
    if (!mig_disk_copied (k))
      continue;
    if ((img = xasprintf ("%s/disk-%zu", dir, i)) == NULL ||
        mig_image_check_reopen (j->desc, k->path, img, k->format) == -1) {
      snprintf (detail, n, "%s", get_error ());
      debug ("partial image of %s: %s", j->vm->name, detail);
      return "its partial image cannot be reopened safely as the format "
        "it was created in";
    }
  }
  return NULL;
}

int
mig_dest_partial_take (struct mig_dest *d, struct dest_job *j,
                       const char *token, const char **why)
{
  CLEANUP_FREE char *dir = partial_dir (d, j->vm->name);
  CLEANUP_FREE char *mpath = dir ? xasprintf ("%s/marker.json", dir) : NULL;
  json_auto_t *m = NULL;
  char detail[512] = "";
  size_t i;

  *why = "this host holds no partial image of the VM";
  if (mpath == NULL)
    return -1;
  if (access (dir, F_OK) == -1)
    return 0;
  if (token == NULL || (m = json_state_load (mpath)) == NULL ||
      (*why = mismatch (j, m, token)) != NULL ||
      (*why = unsafe (j, dir, detail, sizeof detail)) != NULL) {
    if (m == NULL)
      *why = "its partial image has no valid marker";
    if (d->p.keep_partials) {
      set_error (0, "this agent keeps the partial images of the VM and "
                 "the copy cannot resume them (%s%s%s)", token ? *why
                 : "no resume token: the write record is missing?",
                 detail[0] ? ": " : "", detail);
      return -2;
    }
    drop (d, dir);
    return 0;
  }
  for (i = 0; i < j->vm->n_disks; i++) {
    const struct mig_disk *k = &j->vm->disks[i];
    CLEANUP_FREE char *from = xasprintf ("%s/disk-%zu", dir, i);
    if (!mig_disk_copied (k))
      continue;
    if (from == NULL || rename (from, k->dest_path) == -1 ||
        strv_push (&j->images, k->dest_path) == -1) {
      set_error (errno, "reuse the partial image %s", from ? from : dir);
      drop (d, dir);
      return -1;
    }
  }
  drop (d, dir);
  return 1;
}

void
mig_dest_partial_sweep (struct mig_dest *d)
{
  CLEANUP_FREE char *area = xasprintf ("%s/" MIG_PARTIAL_DIR,
                                       d->p.storage_root);
  DIR *dh = area ? opendir (area) : NULL;
  struct dirent *e;

  while (dh && (e = readdir (dh)) != NULL) {
    CLEANUP_FREE char *dir = NULL, *mpath = NULL;
    json_auto_t *m = NULL;
    if (e->d_name[0] == '.')
      continue;
    dir = xasprintf ("%s/%s", area, e->d_name);
    mpath = dir ? xasprintf ("%s/marker.json", dir) : NULL;
    struct stat st;
    m = mpath ? json_state_load (mpath) : NULL;
    /* Without a marker: one being kept right now, or debris of a crash
     * (then old).
     */
    if (dir && ((m && json_integer_value (json_object_get (m, "expires"))
                 < time (NULL)) ||
                (m == NULL && stat (dir, &st) == 0 &&
                 st.st_mtime + 3600 < time (NULL))))
      remove_tree (dir);
  }
  if (dh)
    closedir (dh);
  if (area)
    rmdir (area);
}
