/* offline-vm.c: describe a VM that is not running, for an offline move:
 * its disks come from its command line (--argv-file) or from --disk, and
 * each is asked of qemu-img.  qemu-img info takes the image's lock the
 * way QEMU does, so it fails while a QEMU has the image open for writing:
 * that is how a running VM is told apart (and refused).
 */
#include <config.h>

#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>

#include "internal.h"

/* qemu-img info of path (format fmt, "" to let qemu-img tell). */
static json_t *
image_info (const char *path, const char *fmt)
{
  char *argv[] = { "qemu-img", "info", "--output=json", (char *) path,
                   NULL, NULL, NULL };
  CLEANUP_FREE char *out = NULL;
  json_error_t e;
  json_t *j;
  int r;

  if (fmt[0]) {                 /* never let qemu-img guess a named one */
    argv[3] = "-f";
    argv[4] = (char *) fmt;
    argv[5] = (char *) path;
  }
  r = run_capture (argv, &out);
  if (r == -1)
    return NULL;
  if (r != 0 && out && strstr (out, "lock")) {
    set_error (0, "disk %s is in use: a QEMU (or another program) has it "
               "open for writing.  Is the VM running?  Shut it down first, "
               "or move it live without --offline", path);
    return NULL;
  }
  if (r != 0) {
    if (out)
      out[strcspn (out, "\n")] = '\0';
    set_error (0, "qemu-img info %s: %s", path, out ? out : "failed");
    return NULL;
  }
  j = json_loads (out, 0, &e);
  if (j == NULL)
    set_error (0, "qemu-img info %s: %s", path, e.text);
  return j;
}

/* Describe disk i at path into d. */
static int
describe_disk (struct mig_disk *d, size_t i, const char *path,
               const char *fmt)
{
  json_auto_t *info = NULL;
  const char *f;
  struct stat st;

  if (path[0] != '/') {
    set_error (0, "disk %s: give an absolute path", path);
    return -1;
  }
  if (stat (path, &st) == -1) {
    set_error (errno, "disk %s", path);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    set_error (0, "disk %s is not a regular file (host block devices "
               "cannot be moved)", path);
    return -1;
  }
  if ((info = image_info (path, fmt)) == NULL)
    return -1;
  f = json_string_value (json_object_get (info, "format"));
  if (json_object_get (info, "backing-filename")) {
    set_error (0, "disk %s has a backing file (%s): flatten it first "
               "(qemu-img convert, or qemu-img rebase -b '')", path,
               json_string_value (json_object_get (info,
                                                   "backing-filename")));
    return -1;
  }
  if (f == NULL || (strcmp (f, "qcow2") != 0 && strcmp (f, "raw") != 0)) {
    set_error (0, "disk %s: format %s is not supported (qcow2 and raw "
               "are)", path, f ? f : "unknown");
    return -1;
  }
  d->id = xasprintf ("disk%zu", i);
  d->node = xasprintf ("disk%zu", i);
  d->path = strdup (path);
  d->format = strdup (f);
  d->virtual_size = json_integer_value (json_object_get (info,
                                                         "virtual-size"));
  d->allocated = json_integer_value (json_object_get (info, "actual-size"));
  return d->id && d->path && d->format ? 0 : -1;
}

/* The destination names an image after its file name: two disks with the
 * same name would be one image there.
 */
static int
check_names (const struct mig_vm *vm)
{
  size_t i, k;

  for (i = 0; i < vm->n_disks; i++)
    for (k = 0; k < i; k++) {
      const char *a = strrchr (vm->disks[i].path, '/') + 1;
      const char *b = strrchr (vm->disks[k].path, '/') + 1;
      if (strcmp (a, b) == 0 && vm->disks[i].dest_path == NULL) {
        set_error (0, "disks %s and %s have the same file name; name one's "
                   "destination with --disk-path SRC=DST",
                   vm->disks[k].path, vm->disks[i].path);
        return -1;
      }
    }
  return 0;
}

/* Describe every disk of paths (formats: "" = probe, NULL: all probed). */
static int
describe_disks (struct mig_vm *vm, char *const *paths, char *const *formats)
{
  size_t n = strv_len (paths), i;

  if (n == 0) {
    set_error (0, "the VM has no disk to move");
    return -1;
  }
  if ((vm->disks = calloc (n + 1, sizeof *vm->disks)) == NULL) {
    set_error (errno, "calloc");
    return -1;
  }
  for (i = 0; i < n; i++) {
    vm->n_disks++;              /* so that mig_vm_free frees it */
    if (describe_disk (&vm->disks[i], i, paths[i],
                       formats ? formats[i] : "") == -1)
      return -1;
  }
  return 0;
}

/* The command line's writable images, their formats ("" to probe; the
 * probed format is pinned in the description), and machine type.  A
 * command line vmferry cannot move is refused here, with every problem.
 */
static int
from_argv (struct mig_vm *vm, const char *argv_file)
{
  CLEANUP_STRV char **argv = NULL, **paths = NULL, **formats = NULL;
  size_t i, k;

  if ((argv = mig_argv_read_file (argv_file)) == NULL ||
      (vm->desc = vm_parse (argv, NULL)) == NULL ||
      vm_ok (vm->desc) == -1) {
    prefix_error ("%s", argv_file);
    return -1;
  }
  for (i = 0; i < vm->desc->n_disks; i++) {
    const struct vm_disk *d = &vm->desc->disks[i];
    if (!d->read_only && (strv_push (&paths, d->path) == -1 ||
                          strv_push (&formats, d->format ? d->format
                                     : "") == -1))
      return -1;
  }
  vm->machine = strdup (vm->desc->machine ? vm->desc->machine : "");
  if (vm->machine == NULL || describe_disks (vm, paths, formats) == -1)
    return -1;
  for (k = 0; k < vm->n_disks; k++) {
    ssize_t x = vm_find_disk (vm->desc, vm->disks[k].path);
    if (x >= 0 && vm_set_disk_format (vm->desc, x, vm->disks[k].format)
        == -1)
      return -1;
  }
  vm->argv = vm_wire_argv (vm->desc);
  return vm->argv ? 0 : -1;
}

struct mig_vm *
mig_offline_vm (const char *name, const char *argv_file, char *const *disks,
                char *const *disk_map)
{
  struct mig_vm *vm = calloc (1, sizeof *vm);

  if (vm == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  if (!mig_safe_name (name)) {
    set_error (0, "VM name '%s' is not a safe file name (letters, digits, "
               "'.', '_', '-'): it names the VM's directory on the "
               "destination", name);
    goto err;
  }
  if ((vm->name = strdup (name)) == NULL ||
      (vm->cpu_vendor = mig_host_cpu_vendor ()) == NULL)
    goto err;
  if (argv_file ? from_argv (vm, argv_file) == -1
      : ((vm->machine = strdup ("")) == NULL ||
         describe_disks (vm, disks, NULL) == -1))
    goto err;
  if (mig_vm_apply_disk_map (vm, disk_map) == -1 || check_names (vm) == -1)
    goto err;
  return vm;
 err:
  mig_vm_free (vm);
  return NULL;
}
