/* dest-offline.c: vmferryd's side of an offline move (vmferry migrate
 * --offline; "offline": true in prepare).
 *
 * prepare does what it does for a live VM (names and paths checked, the
 * images created under the storage root, the command line rewritten by
 * the same allow-list) but starts no skeleton QEMU: each image is served
 * by a qemu-nbd of ours on a unix socket in the VM's run directory, and
 * the data channel's receivers write into those.  finish stops them (a
 * clean qemu-nbd exit flushes the image) and saves the rewritten command
 * line as STORAGE_ROOT/VM/VM.argv, one argument per line; the VM is then
 * stored here, not running (job state "stored": abort is refused, the
 * images are the VM's only copy once the source deletes its files).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>

#include "internal.h"

/* What storing the VM needs: room for its data, its machine type, a
 * command line that a one-argument-per-line file can hold (the formats
 * its images are opened with are checked with the rest of the command
 * line, dest-vm.c).
 */
int
mig_dest_offline_check (struct mig_dest *d, const struct mig_vm *vm)
{
  int64_t free_bytes = mig_host_free_bytes (d->p.storage_root);
  uint64_t need = 0;
  size_t i;

  if (d->p.psk) {
    set_error (0, "offline moves need the data channel (x509 "
               "certificates), not TLS-PSK");
    return 422;
  }
  for (i = 0; i < vm->n_disks; i++) {
    /* Every disk of an offline move is copied (the source sends no
     * read-only or shared ones): refuse what would be served in place.
     */
    if (!mig_disk_copied (&vm->disks[i])) {
      set_error (0, "disk %s: an offline move copies every disk (no "
                 "read-only or shared ones)", vm->disks[i].id);
      return 422;
    }
    need += vm->disks[i].allocated;
  }
  if (free_bytes >= 0 && need > (uint64_t) free_bytes) {
    set_error (0, "not enough space in the storage root %s: the disks "
               "hold %" PRIu64 " MiB, %" PRId64 " MiB are free",
               d->p.storage_root, need >> 20, free_bytes >> 20);
    return 507;
  }
  for (i = 0; vm->argv && vm->argv[i]; i++)
    if (strchr (vm->argv[i], '\n')) {
      set_error (0, "an argument of the command line holds a newline");
      return 422;
    }
  if (vm->machine[0] &&
      mig_qemu_has_machine (d->p.qemu, vm->machine) != 1) {
    set_error (0, "machine type %s is not available in %s here",
               vm->machine, d->p.qemu);
    return 422;
  }
  return 0;
}

/* Where our qemu-nbd of disk i lives. */
static void
nbd_of (struct dest_job *j, size_t i, char *name, size_t n,
        const char *user, struct mig_qemu_nbd *q)
{
  const struct mig_disk *k = &j->vm->disks[i];

  snprintf (name, n, "vmferry-nbd-%zu", i);
  *q = (struct mig_qemu_nbd) { .image = k->dest_path, .format = k->format,
                               .dir = j->run_dir, .name = name,
                               .user = user };
}

/* The images and the run directory go to the QEMU user: our qemu-nbd
 * runs confined as it.
 */
static int
give_to_user (struct mig_dest *d, struct dest_job *j)
{
  uid_t uid;
  gid_t gid;
  size_t i;

  if (vm_user_ids (d->p.qemu_user, &uid, &gid) == -1)
    return -1;
  if (chown (j->run_dir, uid, gid) == -1)
    goto err;
  for (i = 0; i < j->vm->n_disks; i++)
    if (chown (j->vm->disks[i].dest_path, uid, gid) == -1)
      goto err;
  return 0;
 err:
  set_error (errno, "giving the images to user %s", d->p.qemu_user);
  return -1;
}

int
mig_dest_offline_start (struct mig_dest *d, struct dest_job *j,
                        const char *host)
{
  size_t i, n = j->vm->n_disks;
  char **uris = calloc (n + 1, sizeof *uris);

  if (uris == NULL || (j->nbd = calloc (n + 1, sizeof *j->nbd)) == NULL) {
    free (uris);
    set_error (errno, "calloc");
    return 500;
  }
  j->prepared = json_pack ("{s:s, s:s, s:s, s:s, s:b}", "id", j->id,
                           "host", host, "run_dir", j->run_dir,
                           "vm_dir", j->vm_dir, "offline", 1);
  if (give_to_user (d, j) == -1) {
    free (uris);
    return 500;
  }
  for (i = 0; i < n && j->prepared; i++) {
    struct mig_qemu_nbd q;
    char name[32];
    pid_t pid;
    nbd_of (j, i, name, sizeof name, d->p.qemu_user, &q);
    if ((pid = mig_qemu_nbd_start (&q)) == -1)
      break;
    j->nbd[i] = pid;
    if ((uris[i] = mig_qemu_nbd_uri (&q)) == NULL)
      break;
  }
  if (i < n || j->prepared == NULL) {
    for (i = 0; i < n; i++)
      free (uris[i]);
    free (uris);
    return 500;
  }
  /* The channel takes the URIs over, also when it fails. */
  return mig_dest_channel_start (d, j, host, uris, NULL) == -1 ? 500 : 0;
}

int
mig_dest_offline_stop_nbd (struct dest_job *j)
{
  size_t i;
  int r = 0;

  for (i = 0; j->nbd && i < j->vm->n_disks; i++)
    if (mig_qemu_nbd_stop (j->nbd[i]) == -1)
      r = -1;
  free (j->nbd);
  j->nbd = NULL;
  return r;
}

/* Write the rewritten command line to path, one argument per line. */
static int
save_argv (struct dest_job *j, const char *path)
{
  CLEANUP_FREE char *text = NULL;
  size_t i, len = 0;

  for (i = 0; j->cmd.argv[i]; i++)
    len += strlen (j->cmd.argv[i]) + 1;
  if ((text = malloc (len + 1)) == NULL) {
    set_error (errno, "malloc");
    return -1;
  }
  for (i = 0, len = 0; j->cmd.argv[i]; i++) {
    size_t n = strlen (j->cmd.argv[i]);
    memcpy (text + len, j->cmd.argv[i], n);
    text[len + n] = '\n';
    len += n + 1;
  }
  if (write_file_durable (path, text, len) == -1)
    return -1;
  return strv_push (&j->images, path);      /* removed on failure */
}

/* Remove our qemu-nbd's socket, pid and log files from the run dir,
 * which stays (empty) for the VM's own sockets.
 */
static void
remove_nbd_files (struct dest_job *j)
{
  static const char *const ext[] = { "sock", "pid", "log" };
  CLEANUP_FREE char *stage = xasprintf ("%s/.root", j->run_dir);
  size_t i, e;

  for (i = 0; i < j->vm->n_disks; i++)
    for (e = 0; e < 3; e++) {
      CLEANUP_FREE char *p = xasprintf ("%s/vmferry-nbd-%zu.%s", j->run_dir,
                                        i, ext[e]);
      if (p)
        unlink (p);
    }
  if (stage)
    rmdir (stage);              /* the confinement's staging directory */
}

/* A stored image must be what it was sent as, and be opened as that
 * when the VM is started from it: a raw image whose data looks like
 * another format (a guest can write any header), or a qcow2 image that
 * names a backing or data file, could make QEMU open host files.  The
 * saved command line (if any) must open it as its format, or leave the
 * format to QEMU's probe, which must then agree (image-check.c).
 */
static int
check_stored (struct dest_job *j, const struct mig_disk *k)
{
  return mig_image_check_reopen (j->desc, k->path, k->dest_path,
                                 k->format);
}

/* The reply: where the VM is stored. */
static json_t *
stored_reply (struct dest_job *j, const char *argv_file)
{
  json_t *images = json_array ();
  size_t i;

  for (i = 0; i < j->vm->n_disks; i++)
    json_array_append_new (images, json_string (j->vm->disks[i].dest_path));
  return json_pack ("{s:s, s:s, s:s, s:o, s:s?}", "id", j->id,
                    "state", "stored", "vm_dir", j->vm_dir,
                    "images", images, "argv_file", argv_file);
}

int
mig_dest_offline_finish (struct mig_dest *d, struct dest_job *j,
                         json_t **reply)
{
  CLEANUP_FREE char *argv_file = NULL;
  char msg[1024];

  if (j->state != JOB_PREPARED && j->state != JOB_STORED)
    return mig_dest_error (reply, 409, "migration is not prepared");
  if (j->cmd.argv)
    argv_file = xasprintf ("%s/%s.argv", j->vm_dir, j->vm->name);
  if (j->state == JOB_PREPARED) {
    size_t i;
    int r;
    /* The source's barriers were acknowledged: every write is flushed. */
    mig_dest_channel_stop (j);
    r = mig_dest_offline_stop_nbd (j);
    for (i = 0; r == 0 && i < j->vm->n_disks; i++)
      r = check_stored (j, &j->vm->disks[i]);
    if (r == -1 || (argv_file && save_argv (j, argv_file) == -1)) {
      snprintf (msg, sizeof msg, "%s", get_error ());
      return mig_dest_error (reply, 500, msg);
    }
    remove_nbd_files (j);
    mig_dest_job_end (d, j, JOB_STORED);
    if (mig_dest_home_save (d, j, true) == -1)
      fprintf (stderr, "vmferryd: VM %s is stored here but was not "
               "registered: %s\n", j->vm->name, get_error ());
    j->home = false;
    /* The images are the user's now: a restarted vmferryd must not
     * roll this move back (the source deletes its files on our reply).
     */
    mig_dest_journal_remove (d, j);
    mig_dest_job_ended (d);
  }
  *reply = stored_reply (j, argv_file);
  return 200;
}
