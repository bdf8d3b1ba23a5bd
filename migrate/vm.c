/* vm.c: discover the VM behind a QMP socket (source side). */
#include <config.h>

#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>

#include "internal.h"

#define QMP_TIMEOUT 10000

void
mig_vm_free (struct mig_vm *vm)
{
  size_t i;

  if (vm == NULL)
    return;
  for (i = 0; i < vm->n_disks; i++) {
    free (vm->disks[i].id);
    free (vm->disks[i].path);
    free (vm->disks[i].format);
    free (vm->disks[i].dest_path);
  }
  free (vm->disks);
  strv_free (vm->argv);
  free (vm->name);
  free (vm->qmp_path);
  free (vm->machine);
  free (vm->cpu_vendor);
  json_decref (vm->facts);
  free (vm);
}

/* The VM's name: QMP query-name, else the socket's directory or file. */
static char *
discover_name (struct qmp *q, const char *qmp_path)
{
  json_auto_t *r = qmp_command (q, "query-name", NULL, QMP_TIMEOUT);
  const char *n = json_string_value (json_object_get (r, "name"));
  CLEANUP_FREE char *copy = strdup (qmp_path);
  char *base, *dot;

  if (n && *n)
    return strdup (n);
  if (copy == NULL)
    return NULL;
  base = basename (copy);
  dot = strrchr (base, '.');
  if (dot && dot != base)
    *dot = '\0';
  if (strcmp (base, "qmp") == 0) {      /* DIR/qmp.sock: use DIR */
    strcpy (copy, qmp_path);
    base = basename (dirname (copy));
  }
  return strdup (base);
}

/* One entry of query-block into d.  Returns 0, 1 to skip (no medium),
 * 2 for a pass-through disk (described by get_error()), -1 to refuse.
 */
static int
discover_disk (json_t *dev, struct mig_disk *d)
{
  json_t *ins = json_object_get (dev, "inserted");
  const char *device = json_string_value (json_object_get (dev, "device"));
  const char *node, *file, *drv;
  struct stat st;

  if (ins == NULL)
    return 1;
  node = json_string_value (json_object_get (ins, "node-name"));
  file = json_string_value (json_object_get (ins, "file"));
  drv = json_string_value (json_object_get (ins, "drv"));
  d->id = strdup (device && *device ? device : node ? node : "");
  if (file == NULL || drv == NULL || d->id == NULL || d->id[0] == '\0') {
    set_error (0, "disk %s: QEMU did not report its node, file or format",
               device ? device : "?");
    return -1;
  }
  if (strncmp (file, "/dev/", 5) == 0 ||
      (stat (file, &st) == 0 && !S_ISREG (st.st_mode))) {
    set_error (0, "disk %s is a pass-through disk (%s): host block devices "
               "cannot be migrated", d->id, file);
    return 2;
  }
  if (file[0] != '/' || json_object_get (ins, "backing_file")) {
    set_error (0, "disk %s (%s): %s", d->id, file,
               file[0] != '/' ? "not a local image file"
               : "images with a backing file are not supported yet");
    return -1;
  }
  d->path = strdup (file);
  d->format = strdup (drv);
  d->read_only = json_is_true (json_object_get (ins, "ro"));
  d->virtual_size = json_integer_value
    (json_object_get (json_object_get (ins, "image"), "virtual-size"));
  d->allocated = json_integer_value
    (json_object_get (json_object_get (ins, "image"), "actual-size"));
  return d->path && d->format ? 0 : -1;
}

static int
discover_disks (struct qmp *q, struct mig_vm *vm)
{
  json_auto_t *r = qmp_command (q, "query-block", NULL, QMP_TIMEOUT);
  size_t i;
  json_t *dev;

  if (r == NULL)
    return -1;
  vm->disks = calloc (json_array_size (r) + 1, sizeof *vm->disks);
  if (vm->disks == NULL) {
    set_error (errno, "calloc");
    return -1;
  }
  json_array_foreach (r, i, dev) {
    int s = discover_disk (dev, &vm->disks[vm->n_disks]);
    if (s == -1) {
      vm->n_disks++;            /* so that mig_vm_free frees it */
      return -1;
    }
    if (s == 2)               /* reported by the compatibility check */
      json_array_append_new (json_object_get (vm->facts, "passthrough"),
                             json_string (get_error ()));
    if (s == 0)
      vm->n_disks++;
    else {
      free (vm->disks[vm->n_disks].id);
      vm->disks[vm->n_disks].id = NULL;
    }
  }
  return 0;
}

/* The concrete machine type: -machine's value with aliases resolved, or
 * QEMU's default.  Written back into argv so the destination (maybe a
 * newer QEMU, where "q35" means something else) gets the same machine.
 */
static int
discover_machine (struct qmp *q, struct mig_vm *vm)
{
  json_auto_t *r = qmp_command (q, "query-machines", NULL, QMP_TIMEOUT);
  CLEANUP_FREE char *given = NULL;
  size_t i;
  json_t *m;

  if (r == NULL)
    return -1;
  mig_argv_machine (vm->argv, &given);
  json_array_foreach (r, i, m) {
    const char *name = json_string_value (json_object_get (m, "name"));
    const char *alias = json_string_value (json_object_get (m, "alias"));
    bool def = json_is_true (json_object_get (m, "is-default"));
    if (name == NULL)
      continue;
    if ((given && (strcmp (given, name) == 0 ||
                   (alias && strcmp (given, alias) == 0))) ||
        (given == NULL && def)) {
      vm->machine = strdup (name);
      break;
    }
  }
  if (vm->machine == NULL) {
    set_error (0, "cannot tell the VM's machine type (%s)",
               given ? given : "none given");
    return -1;
  }
  if (given)
    return mig_argv_set_machine (vm->argv, vm->machine);
  return strv_push (&vm->argv, "-machine") == -1 ? -1
    : strv_push (&vm->argv, vm->machine);
}

/* Refuse a VM that is already migrating.  Blockers and pass-through
 * devices are facts for the compatibility report (vm-facts.c), which
 * lists them all instead of stopping at the first.
 */
static int
check_migratable (struct qmp *q, struct mig_vm *vm)
{
  json_auto_t *r = qmp_command (q, "query-migrate", NULL, QMP_TIMEOUT);

  if (r == NULL)
    return -1;
  if (json_string_value (json_object_get (r, "status")) &&
      strcmp (json_string_value (json_object_get (r, "status")), "active")
      == 0) {
    set_error (0, "a migration of this VM is already running");
    return -1;
  }
  return 0;
}

struct mig_vm *
mig_vm_discover (struct qmp *q, const char *qmp_path)
{
  struct mig_vm *vm = calloc (1, sizeof *vm);
  json_auto_t *mem = NULL, *kvm = NULL;

  if (vm == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  vm->qmp_path = strdup (qmp_path);
  vm->pid = qmp_peer_pid (q);
  vm->qemu_version = qmp_qemu_version (q);
  vm->cpu_vendor = mig_host_cpu_vendor ();
  vm->facts = json_pack ("{s:[], s:[], s:[]}", "passthrough", "bridges",
                         "blocked_reasons");
  if (vm->facts == NULL || vm->pid <= 0 || (vm->argv = mig_cmdline_read (vm->pid)) == NULL ||
      (vm->name = discover_name (q, qmp_path)) == NULL ||
      discover_machine (q, vm) == -1 || discover_disks (q, vm) == -1 ||
      check_migratable (q, vm) == -1)
    goto err;
  mem = qmp_command (q, "query-memory-size-summary", NULL, QMP_TIMEOUT);
  if (mem == NULL)
    goto err;
  vm->memory = json_integer_value (json_object_get (mem, "base-memory"));
  kvm = qmp_command (q, "query-kvm", NULL, QMP_TIMEOUT);
  if (kvm == NULL)
    goto err;
  vm->kvm = json_is_true (json_object_get (kvm, "enabled"));
  if (mig_vm_gather_facts (q, vm) == -1)
    goto err;
  return vm;
 err:
  mig_vm_free (vm);
  return NULL;
}

int
mig_vm_apply_disk_map (struct mig_vm *vm, char *const *map)
{
  size_t i, k;

  for (i = 0; map && map[i]; i++) {
    const char *m = map[i], *eq = strchr (m, '=');
    bool found = false;
    for (k = 0; eq && k < vm->n_disks; k++) {
      struct mig_disk *d = &vm->disks[k];
      if (strlen (d->path) == (size_t) (eq - m) &&
          strncmp (d->path, m, eq - m) == 0) {
        free (d->dest_path);
        d->dest_path = strdup (eq + 1);
        found = true;
      }
    }
    if (!found) {
      set_error (0, "--disk-path %s: the VM has no disk %.*s", m,
                 eq ? (int) (eq - m) : (int) strlen (m), m);
      return -1;
    }
  }
  return 0;
}
