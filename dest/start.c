/* start.c: vmferry start NAME: boot again a VM that lives here (after
 * the host rebooted, or vmferry stop), from the definition vmferryd
 * saved when it received or stored it (home.c).
 *
 * The VM gets the same treatment as a received one: its command line
 * is parsed through the allow-lists again and generated for its run
 * directory, its taps made on the bridges it was admitted with, and its
 * QEMU started confined (the QEMU user, a private mount namespace,
 * QEMU's sandbox), in a scope of its own where systemd runs.  Only the
 * migration parts are left out: it boots instead of waiting for an
 * incoming migration.
 */
#include <config.h>

#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* The policy the VM was admitted with, as vmferryd's parameters. */
static int
params_of (const struct vm_definition *def, char **sroot, char **rroot,
           struct mig_dest_params *p)
{
  *sroot = strdup (def->vm_dir);
  *rroot = strdup (def->run_dir);
  if (*sroot == NULL || *rroot == NULL) {
    set_error (errno, "strdup");
    return -1;
  }
  *p = (struct mig_dest_params) {
    .storage_root = dirname (*sroot), .run_root = dirname (*rroot),
    .qemu = def->qemu, .qemu_user = def->qemu_user,
    .read_dirs = def->read_dirs[0] ? def->read_dirs : NULL,
    .bridges = def->bridges,
  };
  return 0;
}

/* Every copied image is there, and given to the QEMU user. */
static int
images_ready (const struct vm_definition *def)
{
  uid_t uid;
  gid_t gid;
  size_t i;

  if (vm_user_ids (def->qemu_user, &uid, &gid) == -1)
    return -1;
  for (i = 0; i < def->vm->n_disks; i++) {
    const struct mig_disk *k = &def->vm->disks[i];
    if (!mig_disk_copied (k))
      continue;
    if (k->dest_path == NULL ||
        mig_image_check (k->dest_path, k->format, false) == -1 ||
        chown (k->dest_path, uid, gid) == -1) {
      prefix_error ("disk %s (%s)", k->id, k->dest_path ? k->dest_path
                    : "no image");
      return -1;
    }
  }
  return 0;
}

/* Plan, then start job j of definition def.  0 or -1 + set_error. */
static int
boot (struct mig_dest *d, struct dest_job *j)
{
  CLEANUP_FREE char *pidfile = NULL, *qmp = NULL;
  CLEANUP_STRV char **argv = NULL;
  int status;

  if (mkdir (j->run_dir, 0700) == -1 && errno != EEXIST) {
    set_error (errno, "%s", j->run_dir);
    return -1;
  }
  status = mig_dest_vm_plan (d, j, j->run_dir);
  if (status == 0 &&
      (argv = mig_dest_qemu_argv (j, false, &pidfile, &qmp)) == NULL)
    status = 500;
  if (status == 0)
    status = mig_dest_vm_spawn (d, j, argv, qmp);
  if (status != 0) {
    mig_dest_taps_close (j);
    if (mig_qemu_kill (j->qemu_pid) == -1)
      debug ("%s", get_error ());
    return -1;
  }
  qmp_close (j->qmp);           /* it lives on its own now */
  j->qmp = NULL;
  return 0;
}

int
mig_dest_start_saved (const char *definition, const char *vm_dir,
                      pid_t *pid)
{
  /* The file itself, not VM_DIR/NAME/definition.json: that link is
   * made again below, to what it points to.
   */
  CLEANUP_FREE char *file = realpath (definition, NULL);
  struct vm_definition *def = file ? vm_definition_load (file) : NULL;
  CLEANUP_FREE char *sroot = NULL, *rroot = NULL, *sock = NULL;
  struct mig_dest d = { 0 };
  struct dest_job j = { 0 };
  int r = -1;

  if (file == NULL)
    set_error (errno, "%s", definition);
  if (def == NULL)
    return -1;
  if (def->vm->argv == NULL || def->vm->argv[0] == NULL) {
    set_error (0, "VM %s was stored without a command line: start it "
               "yourself with its images in %s", def->vm->name, def->vm_dir);
    goto out;
  }
  sock = xasprintf ("%s/vmferry-qmp.sock", def->run_dir);
  if (sock && mig_dest_home_running (sock)) {
    set_error (0, "VM %s already runs (%s)", def->vm->name, sock);
    goto out;
  }
  if (params_of (def, &sroot, &rroot, &d.p) == -1 || images_ready (def))
    goto out;
  d.p.vm_dir = vm_dir;
  j = (struct dest_job) { .id = (char *) "start", .vm = def->vm,
                          .run_dir = def->run_dir, .vm_dir = def->vm_dir };
  if (boot (&d, &j) == 0 && mig_dest_home_entry (&d, def, file) == 0) {
    *pid = j.qemu_pid;
    r = 0;
  }
  vm_cmdline_clear (&j.cmd);
  vm_desc_free (j.desc);
  free (j.qemu_tls_dir);
  mig_dest_taps_close (&j);
 out:
  if (r == -1)
    prefix_error ("vmferry start %s", def->vm->name);
  vm_definition_free (def);
  return r;
}
