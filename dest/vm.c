/* dest-vm.c: the received VM's command line and its confined start.
 *
 * The source's command line comes from the network: it is parsed into
 * the canonical description (vm/), which refuses anything not on its
 * allow-lists, and the skeleton's command line is generated from the
 * description alone.  The request's disks must be exactly the
 * description's images, with the same formats.  The skeleton QEMU then
 * runs confined (vm_spawn_confined): as the QEMU user, in a mount
 * namespace showing only the VM's directories and the read dirs, with
 * QEMU's seccomp sandbox.
 */
#include <config.h>

#include <errno.h>
#include <sys/stat.h>

#include "internal.h"

/* Match the request's disks with the description's images.  0 or an
 * HTTP status.
 */
static int
match_disks (struct dest_job *j, char ***paths)
{
  size_t i;

  *paths = calloc (j->desc->n_disks + 1, sizeof **paths);
  if (*paths == NULL)
    return 500;
  for (i = 0; i < j->vm->n_disks; i++) {
    struct mig_disk *k = &j->vm->disks[i];
    ssize_t x = vm_find_disk (j->desc, k->path);
    const struct vm_disk *v = x >= 0 ? &j->desc->disks[x] : NULL;
    if (v == NULL) {
      set_error (0, "disk %s (%s) is not an image of the VM's command "
                 "line", k->id, k->path);
      return 422;
    }
    if (v->format == NULL || strcmp (v->format, k->format) != 0 ||
        v->read_only != k->read_only) {
      set_error (0, "disk %s: the command line opens %s as %s%s, the "
                 "request says %s%s", k->id, k->path,
                 v->format ? v->format : "an unnamed format",
                 v->read_only ? " read-only" : "", k->format,
                 k->read_only ? " read-only" : "");
      return 422;
    }
    free (k->node);
    if ((k->node = strdup (v->node)) == NULL)
      return 500;
    (*paths)[x] = k->in_place ? NULL : k->dest_path;
  }
  for (i = 0; i < j->desc->n_disks; i++)
    if (!j->desc->disks[i].read_only && (*paths)[i] == NULL) {
      set_error (0, "image %s of the command line is not among the "
                 "request's disks", j->desc->disks[i].path);
      return 422;
    }
  return 0;
}

int
mig_dest_vm_plan (struct mig_dest *d, struct dest_job *j,
                  const char *run_dir)
{
  CLEANUP_FREE char **paths = NULL;
  struct vm_layout l = { .qemu = d->p.qemu, .run_dir = run_dir,
                         .read_dirs = d->p.read_dirs };
  int status;

  j->desc = vm_parse (j->vm->argv, NULL);
  if (j->desc == NULL)
    return 500;
  if (vm_ok (j->desc) == -1)
    return 422;
  if ((status = match_disks (j, &paths)) != 0)
    return status;
  /* An offline move starts no QEMU: its saved command line names the
   * bridges (vm_layout), and no tap is made.
   */
  if (!j->offline && (status = mig_dest_taps_open (d, j)) != 0)
    return status;
  l.disk_paths = paths;
  l.tap_fds = j->tap_fds;
  l.vhost_fds = j->vhost_fds;
  return vm_generate (j->desc, &l, &j->cmd) == -1 ? 422 : 0;
}

/* What QEMU's TLS objects read: the server's and the client's (vmferry
 * undo makes this QEMU a source), or the per-migration key.
 */
static const char *const tls_files[] = {
  "ca-cert.pem", "server-cert.pem", "server-key.pem", "client-cert.pem",
  "client-key.pem", "dh-params.pem", "keys.psk", NULL
};

/* Hand the VM's directories, images and TLS copy to the QEMU user. */
static int
give_to_user (struct mig_dest *d, struct dest_job *j, uid_t uid, gid_t gid)
{
  size_t i;

  if (chown (j->vm_dir, uid, gid) == -1 || chown (j->run_dir, uid, gid) == -1)
    goto err;
  for (i = 0; j->images && j->images[i]; i++)
    if (chown (j->images[i], uid, gid) == -1)
      goto err;
  /* A shared image too; its owner comes back if the VM does not move
   * here (mig_dest_shared_restore).
   */
  for (i = 0; i < j->vm->n_disks; i++) {
    struct mig_disk *k = &j->vm->disks[i];
    struct stat st;
    if (!k->shared || k->owner_changed)
      continue;
    if (stat (k->dest_path, &st) == -1)
      goto err;
    k->owner_uid = st.st_uid;
    k->owner_gid = st.st_gid;
    if (chown (k->dest_path, uid, gid) == -1)
      goto err;
    k->owner_changed = true;
  }
  /* QEMU reads its credentials inside its namespace, where vmferryd's
   * own directory is not.
   */
  free (j->qemu_tls_dir);
  j->qemu_tls_dir = NULL;
  if (d->p.tls_dir == NULL)     /* vmferry start: no migration yet */
    return 0;
  j->qemu_tls_dir = xasprintf ("%s/vmferry-tls", j->run_dir);
  return j->qemu_tls_dir ? mig_copy_creds (d->p.tls_dir, j->qemu_tls_dir,
                                           tls_files, uid, gid) : -1;
 err:
  set_error (errno, "giving the VM's files to user %s", d->p.qemu_user);
  return -1;
}

/* What the skeleton sees read-write: its two directories, and each of
 * its writable images (which may lie elsewhere: vmferry undo puts them
 * back where they were, a shared disk stays where it is).
 */
static char **
rw_dirs (struct dest_job *j)
{
  char **v = NULL;
  size_t i;

  if (strv_push (&v, j->run_dir) == -1 || strv_push (&v, j->vm_dir) == -1)
    goto err;
  for (i = 0; i < j->vm->n_disks; i++) {
    const struct mig_disk *k = &j->vm->disks[i];
    if (!k->in_place && k->dest_path && strv_push (&v, k->dest_path) == -1)
      goto err;
  }
  return v;
 err:
  strv_free (v);
  return NULL;
}

void
mig_dest_shared_restore (struct dest_job *j)
{
  size_t i;

  for (i = 0; j->vm && i < j->vm->n_disks; i++) {
    struct mig_disk *k = &j->vm->disks[i];
    if (k->owner_changed &&
        chown (k->dest_path, k->owner_uid, k->owner_gid) == 0)
      k->owner_changed = false;
  }
}

int
mig_dest_vm_spawn (struct mig_dest *d, struct dest_job *j, char *const *argv,
                   const char *qmp)
{
  CLEANUP_FREE char *log = xasprintf ("%s/vmferry-qemu.log", j->run_dir);
  CLEANUP_STRV char **rw = rw_dirs (j);
  CLEANUP_FREE int *keep = NULL;
  struct vm_confine c = { .user = d->p.qemu_user, .rw_dirs = rw,
                          .ro_paths = j->cmd.reads, .log = log };
  size_t i, n = 0;
  uid_t uid;
  gid_t gid;

  if (log == NULL || rw == NULL ||
      vm_user_ids (d->p.qemu_user, &uid, &gid) == -1 ||
      give_to_user (d, j, uid, gid) == -1)
    return 500;
  keep = malloc ((2 * j->desc->n_nets + 1) * sizeof *keep);
  if (keep == NULL)
    return 500;
  for (i = 0; j->tap_fds && j->tap_fds[i] != -2; i++) {
    if (j->tap_fds[i] >= 0)
      keep[n++] = j->tap_fds[i];
    if (j->vhost_fds[i] >= 0)
      keep[n++] = j->vhost_fds[i];
  }
  keep[n] = -1;
  c.keep_fds = keep;
  j->qmp = mig_qemu_start (argv, &c, qmp, &j->qemu_pid);
  mig_dest_taps_close (j);      /* QEMU holds its own now */
  if (j->qemu_pid > 0 && vm_scope_register (j->vm->name, j->qemu_pid) == -1)
    fprintf (stderr, "vmferryd: warning: %s\n", get_error ());
  if (j->qmp == NULL)           /* started, but QEMU refused the VM */
    return j->qemu_pid ? 422 : 500;
  return 0;
}
