/* vm.c: discover the VM behind a QMP socket (source side).
 *
 * Its command line (/proc/PID/cmdline) is parsed into the canonical
 * description (vm/); what the command line leaves to QEMU is pinned
 * from what QEMU reports (the concrete machine type, each image's
 * format), and the bridge of each tap from this host.  Whatever vmferry
 * cannot move is collected in the description's problems, which the
 * compatibility report lists ("command_line").
 */
#include <config.h>

#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>

#include "internal.h"

void
mig_disk_clear (struct mig_disk *d)
{
  size_t i;

  free (d->id);
  free (d->node);
  free (d->path);
  free (d->format);
  free (d->dest_path);
  free (d->sha256);
  for (i = 0; i < d->n_backing; i++) {
    free (d->backing[i].path);
    free (d->backing[i].format);
  }
  free (d->backing);
  memset (d, 0, sizeof *d);
}

void
mig_vm_free (struct mig_vm *vm)
{
  size_t i;

  if (vm == NULL)
    return;
  for (i = 0; i < vm->n_disks; i++)
    mig_disk_clear (&vm->disks[i]);
  free (vm->disks);
  strv_free (vm->argv);
  vm_desc_free (vm->desc);
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
  json_auto_t *r = qmp_command (q, "query-name", NULL, QMP_TIMEOUT_MS);
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
    free (copy);
    if ((copy = strdup (qmp_path)) == NULL)
      return NULL;
    base = basename (dirname (copy));
  }
  return strdup (base);
}

/* The backing chain below image (query-block's "image" of a disk) into
 * d: each file the copy reads through, nearest first.  d->allocated
 * becomes the chain's sum: the flattened copy holds at most that.
 */
static int
discover_chain (json_t *image, struct mig_disk *d)
{
  json_t *b;

  for (b = json_object_get (image, "backing-image"); b;
       b = json_object_get (b, "backing-image")) {
    const char *f = json_string_value (json_object_get (b, "filename"));
    const char *fmt = json_string_value (json_object_get (b, "format"));
    struct mig_backing *a = realloc (d->backing, (d->n_backing + 1) *
                                     sizeof *a);
    if (a == NULL) {
      set_error (errno, "realloc");
      return -1;
    }
    d->backing = a;
    a = &d->backing[d->n_backing++];
    a->path = strdup (f ? f : "?");
    a->format = strdup (fmt ? fmt : "?");
    a->allocated = json_integer_value (json_object_get (b, "actual-size"));
    d->allocated += a->allocated;
    if (a->path == NULL || a->format == NULL) {
      set_error (errno, "strdup");
      return -1;
    }
  }
  return 0;
}

/* Internal snapshots of the disk's own image (those of its backing
 * files are not the VM's: the flattened copy leaves them behind) are
 * not moved: refuse, saying how to proceed.
 */
static int
refuse_snapshots (struct mig_vm *vm, const struct mig_disk *d, json_t *image)
{
  json_t *snaps = json_object_get (image, "snapshots"), *sn;
  char names[256] = "";
  size_t i, len = 0;

  if (json_array_size (snaps) == 0)
    return 0;
  json_array_foreach (snaps, i, sn) {
    const char *n = json_string_value (json_object_get (sn, "name"));
    if (len < sizeof names)
      len += snprintf (names + len, sizeof names - len, "%s%s",
                       i ? ", " : "", n ? n : "?");
  }
  return vm_add_problem (vm->desc, "disk %s (%s) holds %zu internal "
                         "snapshot(s) (%s), which vmferry does not move: "
                         "list them with 'qemu-img snapshot -l -U %s', "
                         "delete each from the running VM (QMP "
                         "snapshot-delete-internal-sync {\"device\": "
                         "\"%s\", \"name\": NAME}, or HMP 'delvm NAME'; "
                         "to keep one, copy it out first with 'qemu-img "
                         "convert -U -l snapshot.name=NAME'), then move the "
                         "VM", d->id, d->path, json_array_size (snaps), names,
                         d->path, d->id);
}

/* One entry of query-block into d.  Returns 0, 1 to skip (no medium),
 * 2 for a pass-through disk (described by get_error()), -1 when out of
 * memory.  What cannot move is a problem of vm's description.
 */
static int
discover_disk (struct mig_vm *vm, json_t *dev, struct mig_disk *d)
{
  json_t *ins = json_object_get (dev, "inserted");
  json_t *image = json_object_get (ins, "image");
  const char *device = json_string_value (json_object_get (dev, "device"));
  const char *node, *file, *drv;
  struct stat st;
  ssize_t x;

  if (ins == NULL)
    return 1;
  node = json_string_value (json_object_get (ins, "node-name"));
  file = json_string_value (json_object_get (ins, "file"));
  drv = json_string_value (json_object_get (ins, "drv"));
  d->id = strdup (device && *device ? device : node ? node : "");
  d->node = node ? strdup (node) : NULL;
  if (file == NULL || drv == NULL || node == NULL || d->id == NULL ||
      d->id[0] == '\0')
    return vm_add_problem (vm->desc, "disk %s: QEMU did not report its "
                           "node, file or format", device ? device : "?")
      ? -1 : 1;
  if (strncmp (file, "/dev/", 5) == 0 ||
      (stat (file, &st) == 0 && !S_ISREG (st.st_mode))) {
    set_error (0, "disk %s is a pass-through disk (%s): host block devices "
               "cannot be migrated", d->id, file);
    return 2;
  }
  x = vm_find_disk (vm->desc, file);
  if (x == -1)
    return vm_add_problem (vm->desc, "disk %s (%s): not on the VM's command "
                           "line (%s)", d->id, file,
                           json_is_true (json_object_get (dev, "removable"))
                           ? "a medium changed since QEMU started: put the "
                           "command line's back, or eject it"
                           : "hot-plugged disks are not supported yet")
      ? -1 : 1;
  if (vm->desc->disks[x].format == NULL &&
      vm_set_disk_format (vm->desc, x, drv) == -1)
    return vm_add_problem (vm->desc, "%s", get_error ()) ? -1 : 1;
  if (strcmp (vm->desc->disks[x].format, drv) != 0)
    return vm_add_problem (vm->desc, "disk %s (%s): QEMU reports format "
                           "%s, the command line says %s", d->id, file,
                           drv, vm->desc->disks[x].format) ? -1 : 1;
  d->path = strdup (file);
  d->format = strdup (drv);
  d->read_only = json_is_true (json_object_get (ins, "ro"));
  d->cdrom = vm->desc->disks[x].cdrom;
  d->virtual_size = json_integer_value
    (json_object_get (image, "virtual-size"));
  d->allocated = json_integer_value (json_object_get (image, "actual-size"));
  if (d->path == NULL || d->format == NULL ||
      discover_chain (image, d) == -1 ||
      refuse_snapshots (vm, d, image) == -1)
    return -1;
  return 0;
}

/* A CD-ROM image of the command line that QEMU no longer has open: a
 * medium ejected since QEMU started.  The destination would open it
 * again.
 */
static int
missing_media (struct mig_vm *vm)
{
  size_t i, k;

  for (i = 0; i < vm->desc->n_disks; i++) {
    const char *p = vm->desc->disks[i].path;
    if (!vm->desc->disks[i].cdrom)
      continue;
    for (k = 0; k < vm->n_disks && strcmp (vm->disks[k].path, p) != 0; k++)
      ;
    if (k == vm->n_disks &&
        vm_add_problem (vm->desc, "CD-ROM image %s of the command line is not "
                        "open (ejected since QEMU started): insert it again "
                        "before moving the VM", p) == -1)
      return -1;
  }
  return 0;
}

static int
discover_disks (struct qmp *q, struct mig_vm *vm)
{
  json_auto_t *r = qmp_command (q, "query-block", NULL, QMP_TIMEOUT_MS);
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
    struct mig_disk *d = &vm->disks[vm->n_disks];
    int s = discover_disk (vm, dev, d);
    if (s == -1) {
      vm->n_disks++;            /* so that mig_vm_free frees it */
      return -1;
    }
    if (s == 2)               /* reported by the compatibility check */
      json_array_append_new (json_object_get (vm->facts, "passthrough"),
                             json_string (get_error ()));
    if (s == 0)
      vm->n_disks++;
    else
      mig_disk_clear (d);
  }
  return missing_media (vm);
}

/* The concrete machine type: -machine's value with aliases resolved, or
 * QEMU's default, pinned in the description so that the destination
 * (maybe a newer QEMU, where "q35" means something else) runs the same.
 */
static int
discover_machine (struct qmp *q, struct mig_vm *vm)
{
  json_auto_t *r = qmp_command (q, "query-machines", NULL, QMP_TIMEOUT_MS);
  const char *given = vm->desc->machine;
  size_t i;
  json_t *m;

  if (r == NULL)
    return -1;
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
  return vm_set_machine (vm->desc, vm->machine);
}

/* The bridge each tap device is on (/sys/class/net/TAP/master): the
 * destination attaches its own tap to the same bridge.
 */
static int
discover_bridges (struct mig_vm *vm)
{
  size_t i;

  for (i = 0; i < vm->desc->n_nets; i++) {
    const struct vm_net *n = &vm->desc->nets[i];
    CLEANUP_FREE char *link = n->type == VM_NET_TAP && n->ifname
      ? xasprintf ("/sys/class/net/%s/master", n->ifname) : NULL;
    char target[4096];
    ssize_t len;

    if (n->type != VM_NET_TAP)
      continue;
    len = link ? readlink (link, target, sizeof target - 1) : -1;
    if (len > 0) {
      target[len] = '\0';
      if (vm_set_net_bridge (vm->desc, i, strrchr (target, '/') ?
                             strrchr (target, '/') + 1 : target) == 0)
        continue;
    }
    if (vm_add_problem (vm->desc, "network %s: its tap device %s is not "
                        "on a bridge of this host (vmferry puts the "
                        "destination's tap on the same bridge)",
                        n->id ? n->id : "(-nic)",
                        n->ifname ? n->ifname : "(unnamed)") == -1)
      return -1;
  }
  return 0;
}

/* Parse the command line of QEMU process pid (relative paths from its
 * working directory).
 */
static struct vm_desc *
parse_cmdline (pid_t pid)
{
  CLEANUP_STRV char **argv = mig_cmdline_read (pid);
  CLEANUP_FREE char *cwdlink = xasprintf ("/proc/%d/cwd", (int) pid);
  char cwd[4096];
  ssize_t n = cwdlink ? readlink (cwdlink, cwd, sizeof cwd - 1) : -1;

  if (argv == NULL)
    return NULL;
  if (n > 0)
    cwd[n] = '\0';
  return vm_parse (argv, n > 0 ? cwd : NULL);
}

/* The canonical command line to send, and the problems for the report. */
static int
finish_cmdline (struct mig_vm *vm)
{
  json_t *list = json_object_get (vm->facts, "command_line");
  size_t i;

  for (i = 0; vm->desc->problems && vm->desc->problems[i]; i++)
    json_array_append_new (list, json_string (vm->desc->problems[i]));
  if (vm->desc->problems)      /* refused before anything is sent */
    return strv_push (&vm->argv, vm->desc->argv0);
  vm->argv = vm_wire_argv (vm->desc);
  return vm->argv ? 0 : -1;
}

/* Refuse a VM that is already migrating.  Blockers and pass-through
 * devices are facts for the compatibility report (vm-facts.c), which
 * lists them all instead of stopping at the first.
 */
static int
check_migratable (struct qmp *q, struct mig_vm *vm)
{
  json_auto_t *r = qmp_command (q, "query-migrate", NULL, QMP_TIMEOUT_MS);

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
  vm->facts = json_pack ("{s:[], s:[], s:[], s:[]}", "passthrough",
                         "bridges", "blocked_reasons", "command_line");
  if (vm->facts == NULL || vm->pid <= 0 ||
      (vm->desc = parse_cmdline (vm->pid)) == NULL ||
      (vm->name = discover_name (q, qmp_path)) == NULL ||
      discover_machine (q, vm) == -1 || discover_disks (q, vm) == -1 ||
      discover_bridges (vm) == -1 || check_migratable (q, vm) == -1)
    goto err;
  mem = qmp_command (q, "query-memory-size-summary", NULL, QMP_TIMEOUT_MS);
  if (mem == NULL)
    goto err;
  vm->memory = json_integer_value (json_object_get (mem, "base-memory"));
  kvm = qmp_command (q, "query-kvm", NULL, QMP_TIMEOUT_MS);
  if (kvm == NULL)
    goto err;
  vm->kvm = json_is_true (json_object_get (kvm, "enabled"));
  if (mig_vm_gather_facts (q, vm) == -1 || finish_cmdline (vm) == -1)
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
