/* home.c: a received VM lives on this host, outside vmferryd.
 *
 * Each VM vmferryd receives (or stores, offline) gets a definition
 * (vm.h: STORAGE_ROOT/.vmferry-vms/NAME.json, durable, root only) and an
 * entry in the host's VM directory, the one vmferry finds VMs in (its
 * --vm-dir; d->p.vm_dir, NULL: no entries):
 *
 *   VM_DIR/NAME/arriving.json    while it is being received
 *   VM_DIR/NAME/qmp.sock         -> RUN_ROOT/NAME/vmferry-qmp.sock
 *   VM_DIR/NAME/definition.json  -> its definition
 *
 * so that vmferry migrate/check/evacuate/list/start/stop NAME find it.
 * The QEMU is detached from vmferryd (its own session, or its own scope
 * where systemd runs: vm/scope.c): stopping vmferryd leaves it running,
 * and a restarted vmferryd restores the entries from the definitions.
 *
 * A VM that left (its QEMU gone and none of its images left where it
 * received them: moved on from here, or sent back) is forgotten by the
 * sweep: entry, definition, run directory, empty storage directory and
 * journal entry.  A stopped VM (its images still here) stays, to be
 * started with vmferry start.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define ARRIVING "arriving.json"
#define DEF_LINK "definition.json"
#define QMP_LINK "qmp.sock"

static char *
def_path (struct mig_dest *d, const char *name)
{
  return xasprintf ("%s/" VM_DEFINITIONS "/%s.json", d->p.storage_root,
                    name);
}

static char *
entry_path (struct mig_dest *d, const char *name, const char *file)
{
  return file ? xasprintf ("%s/%s/%s", d->p.vm_dir, name, file)
    : xasprintf ("%s/%s", d->p.vm_dir, name);
}

bool
mig_dest_home_running (const char *path)
{
  return qmp_listener_pid (path) > 0;
}

/* Remove VM_DIR/NAME (only the files vmferryd puts there). */
static void
entry_remove (struct mig_dest *d, const char *name)
{
  static const char *const files[] = { ARRIVING, DEF_LINK, QMP_LINK, NULL };
  CLEANUP_FREE char *dir = d->p.vm_dir ? entry_path (d, name, NULL) : NULL;
  size_t i;

  for (i = 0; dir && files[i]; i++) {
    CLEANUP_FREE char *p = entry_path (d, name, files[i]);
    if (p && unlink (p) == -1 && errno != ENOENT)
      debug ("home: %s: %m", p);
  }
  if (dir && rmdir (dir) == -1 && errno != ENOENT)
    debug ("home: %s: %m", dir);
}

/* An entry vmferryd made whose VM no longer has a definition, or a
 * VM_DIR/NAME.qmp nobody listens on: stale, not a VM of that name.
 */
static bool
entry_stale (const char *entry)
{
  CLEANUP_FREE char *qmp = xasprintf ("%s/%s", entry, QMP_LINK);
  CLEANUP_FREE char *link = xasprintf ("%s/%s", entry, DEF_LINK);
  CLEANUP_FREE char *arriving = xasprintf ("%s/%s", entry, ARRIVING);
  struct stat st;

  if (qmp == NULL || link == NULL || arriving == NULL)
    return false;
  if (lstat (arriving, &st) == 0)
    return false;               /* being received: never stale */
  if (lstat (link, &st) == 0)
    return stat (link, &st) == -1 && errno == ENOENT;
  return !mig_dest_home_running (qmp);
}

/* The VM of def left this host (forward declaration: see below). */
static bool left (const struct vm_definition *def);
static void forget (struct mig_dest *d, const struct vm_definition *def,
                    const char *path);

/* A definition of a VM named name: 409 if that VM is still here; a VM
 * that left (the sweep did not see it yet) is forgotten now.
 */
static int
check_definition (struct mig_dest *d, const char *name)
{
  CLEANUP_FREE char *path = def_path (d, name);
  struct vm_definition *def;
  struct stat st;
  bool gone;

  if (path == NULL || stat (path, &st) == -1)
    return 0;
  if ((def = vm_definition_load (path)) == NULL)
    gone = false;
  else if ((gone = left (def)))
    forget (d, def, path);
  vm_definition_free (def);
  if (gone)
    return 0;
  set_error (0, "a VM named %s already lives on this host (stopped or "
             "running; vmferry list shows it): move it away or remove it "
             "first", name);
  return 409;
}

int
mig_dest_home_check (struct mig_dest *d, const char *name)
{
  CLEANUP_FREE char *entry = d->p.vm_dir ? entry_path (d, name, NULL) : NULL;
  CLEANUP_FREE char *sock = d->p.vm_dir
    ? xasprintf ("%s/%s.qmp", d->p.vm_dir, name) : NULL;
  struct stat st;
  int status = check_definition (d, name);

  if (status)
    return status;
  if (sock && mig_dest_home_running (sock)) {
    set_error (0, "a VM named %s already runs on this host (%s)", name,
               sock);
    return 409;
  }
  if (entry && lstat (entry, &st) == 0) {
    if (!entry_stale (entry)) {
      CLEANUP_FREE char *arriving = entry_path (d, name, ARRIVING);
      bool coming = arriving && lstat (arriving, &st) == 0;
      set_error (0, "a VM named %s %s on this host (%s)", name,
                 coming ? "is being received" : "already runs", entry);
      return 409;
    }
    entry_remove (d, name);
  }
  return 0;
}

int
mig_dest_home_arriving (struct mig_dest *d, struct dest_job *j)
{
  CLEANUP_FREE char *dir = NULL, *file = NULL;
  json_auto_t *o = NULL;

  if (d->p.vm_dir == NULL)
    return 0;
  dir = entry_path (d, j->vm->name, NULL);
  file = entry_path (d, j->vm->name, ARRIVING);
  o = json_pack ("{s:s, s:s?, s:I}", "id", j->id, "from",
                 j->data_peers ? j->data_peers[0] : NULL,
                 "since", (json_int_t) time (NULL));
  if (dir == NULL || file == NULL || o == NULL ||
      mkdir_p (d->p.vm_dir, 0755) == -1)
    return -1;
  if (mkdir (dir, 0755) == -1 && errno != EEXIST) {
    set_error (errno, "%s", dir);
    return -1;
  }
  return json_state_save (file, o);
}

void
mig_dest_home_drop (struct mig_dest *d, const char *name)
{
  CLEANUP_FREE char *def = def_path (d, name);
  struct stat st;

  /* Only an arrival that did not complete: never a VM that lives here. */
  if (d->p.vm_dir && def && stat (def, &st) == -1)
    entry_remove (d, name);
}

/* VM_DIR/NAME/file -> target (replacing what is there). */
static int
link_entry (struct mig_dest *d, const char *name, const char *file,
            const char *target)
{
  CLEANUP_FREE char *p = entry_path (d, name, file);

  if (p == NULL)
    return -1;
  if ((unlink (p) == -1 && errno != ENOENT) || symlink (target, p) == -1) {
    set_error (errno, "%s", p);
    return -1;
  }
  return 0;
}

/* The entry of the VM of definition def (file path): the links, the
 * monitor's only if the VM ever ran here.
 */
int
mig_dest_home_entry (struct mig_dest *d, const struct vm_definition *def,
                     const char *path)
{
  const char *name = def->vm->name;
  CLEANUP_FREE char *dir = NULL, *qmp = NULL, *arriving = NULL;

  if (d->p.vm_dir == NULL)
    return 0;
  dir = entry_path (d, name, NULL);
  arriving = entry_path (d, name, ARRIVING);
  qmp = xasprintf ("%s/vmferry-qmp.sock", def->run_dir);
  if (dir == NULL || arriving == NULL || qmp == NULL ||
      mkdir_p (d->p.vm_dir, 0755) == -1)
    return -1;
  if (mkdir (dir, 0755) == -1 && errno != EEXIST) {
    set_error (errno, "%s", dir);
    return -1;
  }
  if (link_entry (d, name, DEF_LINK, path) == -1 ||
      (!def->stored && link_entry (d, name, QMP_LINK, qmp) == -1))
    return -1;
  unlink (arriving);
  return 0;
}

int
mig_dest_home_save (struct mig_dest *d, struct dest_job *j, bool stored)
{
  CLEANUP_FREE char *dir = xasprintf ("%s/" VM_DEFINITIONS,
                                      d->p.storage_root);
  CLEANUP_FREE char *path = def_path (d, j->vm->name);
  struct vm_definition def = {
    .vm = j->vm, .from = j->data_peers ? j->data_peers[0] : NULL,
    .peer = j->peer, .arrived = time (NULL), .stored = stored,
    .run_dir = j->run_dir, .vm_dir = j->vm_dir, .qemu = (char *) d->p.qemu,
    .qemu_user = (char *) d->p.qemu_user,
    .read_dirs = (char **) d->p.read_dirs, .bridges = (char **) d->p.bridges,
  };

  if (dir == NULL || path == NULL || j->run_dir == NULL || j->vm_dir == NULL)
    return -1;
  if (mkdir (dir, 0700) == -1 && errno != EEXIST) {
    set_error (errno, "%s", dir);
    return -1;
  }
  if (vm_definition_save (&def, path) == -1 || mig_dest_home_entry (d, &def, path))
    return -1;
  return 0;
}

/* The VM of def left this host: its QEMU does not run and none of the
 * images it received is where it put them.  A VM without a copied disk
 * (shared or read-only ones only) is never taken for gone.
 */
static bool
left (const struct vm_definition *def)
{
  CLEANUP_FREE char *qmp = xasprintf ("%s/vmferry-qmp.sock", def->run_dir);
  size_t i, copied = 0;
  struct stat st;

  if (qmp == NULL || mig_dest_home_running (qmp))
    return false;
  for (i = 0; i < def->vm->n_disks; i++) {
    const struct mig_disk *k = &def->vm->disks[i];
    if (!mig_disk_copied (k) || k->dest_path == NULL)
      continue;
    copied++;
    if (lstat (k->dest_path, &st) == 0 || errno != ENOENT)
      return false;
  }
  return copied > 0;
}

/* Its migration, if vmferryd still counts it as living here: now gone. */
static void
job_left (struct mig_dest *d, const char *name)
{
  struct dest_job *j;

  pthread_mutex_lock (&d->lock);
  for (j = d->jobs; j; j = j->next)
    if ((j->state == JOB_RUNNING || j->state == JOB_STORED) &&
        j->vm && j->vm->name && strcmp (j->vm->name, name) == 0)
      break;
  pthread_mutex_unlock (&d->lock);
  if (j == NULL)
    return;
  pthread_mutex_lock (&j->lock);
  j->state = JOB_LEFT;
  mig_dest_journal_remove (d, j);
  pthread_mutex_unlock (&j->lock);
}

/* Forget the VM of def (at path) that left: what vmferryd made for it. */
static void
forget (struct mig_dest *d, const struct vm_definition *def,
        const char *path)
{
  const char *name = def->vm->name;
  CLEANUP_FREE char *run = xasprintf ("%s/%s", d->p.run_root, name);
  CLEANUP_FREE char *dir = xasprintf ("%s/%s", d->p.storage_root, name);
  CLEANUP_FREE char *defs = xasprintf ("%s/" VM_DEFINITIONS,
                                       d->p.storage_root);

  entry_remove (d, name);
  if (run && strcmp (run, def->run_dir) == 0 && remove_tree (run) == -1)
    debug ("home: %s: %s", run, get_error ());
  if (dir && strcmp (dir, def->vm_dir) == 0 && rmdir (dir) == -1)
    debug ("home: %s: %m (kept)", dir);
  if (unlink_durable (path) == -1)
    debug ("home: %s", get_error ());
  if (defs)                     /* the last one leaves no trace */
    rmdir (defs);
  job_left (d, name);
  debug ("home: VM %s left this host: forgotten", name);
}

void
mig_dest_home_left (struct mig_dest *d, const char *name)
{
  CLEANUP_FREE char *path = def_path (d, name);
  struct vm_definition *def = path ? vm_definition_load (path) : NULL;

  if (def && left (def))
    forget (d, def, path);
  vm_definition_free (def);
}

typedef void (*def_fn) (struct mig_dest *d, struct vm_definition *def,
                        const char *path, void *opaque);

/* Call fn for every definition (whose file name is its VM's name). */
static void
each_definition (struct mig_dest *d, def_fn fn, void *opaque)
{
  CLEANUP_FREE char *dir = xasprintf ("%s/" VM_DEFINITIONS,
                                      d->p.storage_root);
  DIR *dh = dir ? opendir (dir) : NULL;
  struct dirent *de;

  while (dh && (de = readdir (dh)) != NULL) {
    size_t n = strlen (de->d_name);
    CLEANUP_FREE char *path = NULL;
    struct vm_definition *def;
    if (n < 6 || de->d_name[0] == '.' ||
        strcmp (de->d_name + n - 5, ".json") != 0)
      continue;
    if ((path = xasprintf ("%s/%s", dir, de->d_name)) == NULL)
      break;
    if ((def = vm_definition_load (path)) == NULL)
      debug ("home: %s", get_error ());
    else if (strlen (def->vm->name) == n - 5 &&
             strncmp (def->vm->name, de->d_name, n - 5) == 0)
      fn (d, def, path, opaque);
    vm_definition_free (def);
  }
  if (dh)
    closedir (dh);
}

static void
restore_one (struct mig_dest *d, struct vm_definition *def, const char *path,
             void *opaque __attribute__ ((unused)))
{
  if (mig_dest_home_entry (d, def, path) == -1) {
    char *note = xasprintf ("VM %s: its entry in %s: %s", def->vm->name,
                            d->p.vm_dir, get_error ());
    if (note && strv_push (&d->recovered, note) == -1)
      debug ("%s", note);
    free (note);
  }
}

/* A job vmferryd loaded from its journal for VM name (it runs here). */
static bool
job_named (struct mig_dest *d, const char *name)
{
  struct dest_job *j;

  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->lock);
  for (j = d->jobs; j; j = j->next)
    if (j->vm && j->vm->name && strcmp (j->vm->name, name) == 0)
      return true;
  return false;
}

/* At start-up nothing is being received: an entry still "arriving",
 * without a definition or a job, is what a killed vmferryd left of an
 * arrival its journal rolled back.
 */
static void
drop_dead_arrivals (struct mig_dest *d)
{
  DIR *dh = d->p.vm_dir ? opendir (d->p.vm_dir) : NULL;
  struct dirent *de;

  while (dh && (de = readdir (dh)) != NULL) {
    CLEANUP_FREE char *arriving = NULL, *def = NULL;
    struct stat st;
    if (de->d_name[0] == '.' || !mig_safe_name (de->d_name))
      continue;
    arriving = entry_path (d, de->d_name, ARRIVING);
    def = def_path (d, de->d_name);
    if (arriving && def && lstat (arriving, &st) == 0 &&
        stat (def, &st) == -1 && !job_named (d, de->d_name)) {
      debug ("home: %s: an arrival that did not complete", de->d_name);
      entry_remove (d, de->d_name);
    }
  }
  if (dh)
    closedir (dh);
}

void
mig_dest_home_restore (struct mig_dest *d)
{
  drop_dead_arrivals (d);
  each_definition (d, restore_one, NULL);
}

static void
sweep_one (struct mig_dest *d, struct vm_definition *def, const char *path,
           void *opaque __attribute__ ((unused)))
{
  if (left (def))
    forget (d, def, path);
}

void
mig_dest_home_sweep (struct mig_dest *d)
{
  each_definition (d, sweep_one, NULL);
}

struct list_ctx {
  const char *peer;
  json_t *vms;
};

static void
list_one (struct mig_dest *d __attribute__ ((unused)),
          struct vm_definition *def,
          const char *path __attribute__ ((unused)), void *opaque)
{
  struct list_ctx *c = opaque;
  CLEANUP_FREE char *qmp = xasprintf ("%s/vmferry-qmp.sock", def->run_dir);

  if (def->peer == NULL || strcmp (def->peer, c->peer) != 0 || left (def))
    return;
  json_array_append_new (c->vms, json_pack (
    "{s:s, s:s, s:I}", "name", def->vm->name, "state",
    def->stored ? "stored" : qmp && mig_dest_home_running (qmp) ?
    "running" : "stopped", "arrived", (json_int_t) def->arrived));
}

json_t *
mig_dest_home_list (struct mig_dest *d, const char *peer)
{
  struct list_ctx c = { .peer = peer, .vms = json_array () };

  if (peer && c.vms)
    each_definition (d, list_one, &c);
  return c.vms;
}
