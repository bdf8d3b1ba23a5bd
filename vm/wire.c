/* wire.c: the VM description sent in the prepare request, and its strict
 * validation on the receiving side (the body comes from the network).
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <sys/random.h>

#include "internal.h"

/* --qemu-compression, and "multifd_compression" in the prepare request. */
bool
mig_qemu_compression_valid (const char *c)
{
  return c && (strcmp (c, "none") == 0 || strcmp (c, "zlib") == 0 ||
               strcmp (c, "zstd") == 0);
}

int
mig_random_hex (char *buf, size_t nbytes)
{
  uint8_t rnd[32];
  size_t i;

  if (nbytes > sizeof rnd ||
      getrandom (rnd, nbytes, 0) != (ssize_t) nbytes) {
    set_error (errno, "getrandom");
    return -1;
  }
  for (i = 0; i < nbytes; i++)
    snprintf (buf + 2 * i, 3, "%02x", rnd[i]);
  return 0;
}

static json_t *
disk_to_json (const struct mig_disk *d)
{
  json_t *chain = json_array ();
  size_t i;

  for (i = 0; chain && i < d->n_backing; i++)
    json_array_append_new (chain, json_pack ("{s:s, s:s, s:I}", "path",
                                             d->backing[i].path, "format",
                                             d->backing[i].format,
                                             "allocated", (json_int_t)
                                             d->backing[i].allocated));
  return json_pack ("{s:s, s:s, s:s, s:I, s:I, s:b, s:s*, s:b, s:b, s:b,"
                    " s:s*, s:o*}",
                    "id", d->id, "path", d->path, "format", d->format,
                    "virtual_size", (json_int_t) d->virtual_size,
                    "allocated", (json_int_t) d->allocated,
                    "read_only", d->read_only, "dest_path", d->dest_path,
                    "shared", d->shared, "in_place", d->in_place,
                    "cdrom", d->cdrom, "sha256", d->sha256,
                    "backing", chain);
}

json_t *
mig_vm_to_json (const struct mig_vm *vm)
{
  json_t *argv = json_array (), *disks = json_array (), *o;
  size_t i;

  for (i = 0; vm->argv && vm->argv[i]; i++)
    json_array_append_new (argv, json_string (vm->argv[i]));
  for (i = 0; i < vm->n_disks; i++)
    json_array_append_new (disks, disk_to_json (&vm->disks[i]));
  o = json_pack ("{s:s, s:o, s:o, s:i, s:s, s:I, s:s, s:b}",
                 "name", vm->name, "argv", argv, "disks", disks,
                 "qemu_version", vm->qemu_version,
                 "machine", vm->machine,
                 "memory", (json_int_t) vm->memory,
                 "cpu_vendor", vm->cpu_vendor ? vm->cpu_vendor : "",
                 "kvm", vm->kvm);
  /* The facts for the compatibility report travel alongside. */
  if (o && vm->facts)
    json_object_update_missing (o, vm->facts);
  return o;
}

/* A name that is safe as one path component. */
bool
mig_safe_name (const char *s)
{
  size_t i;

  if (s == NULL || s[0] == '\0' || s[0] == '.' || strlen (s) > 64)
    return false;
  for (i = 0; s[i]; i++)
    if (!(isalnum ((unsigned char) s[i]) || strchr ("._-", s[i])))
      return false;
  return true;
}

/* The destination names a disk's image after the last component of its
 * source path (dest-prepare.c): "/vm/..", "/vm/." or "/vm/" would place
 * it on the VM's directory or its parent.
 */
static bool
last_is_file_name (const char *path)
{
  const char *last = strrchr (path, '/') + 1;

  return last[0] != '\0' && strcmp (last, ".") != 0 &&
    strcmp (last, "..") != 0;
}

/* The backing chain, for the report only (the destination gets one
 * standalone image): absolute paths, known formats.
 */
static int
chain_from_json (json_t *a, struct mig_disk *d)
{
  json_t *b;
  size_t i;

  if (a == NULL)
    return 0;
  if (!json_is_array (a) || json_array_size (a) > 64 ||
      (d->backing = calloc (json_array_size (a) + 1,
                            sizeof *d->backing)) == NULL) {
    set_error (0, "disk %s: bad backing chain", d->id);
    return -1;
  }
  json_array_foreach (a, i, b) {
    const char *path, *fmt;
    json_int_t alloc;
    if (json_unpack (b, "{s:s, s:s, s:I}", "path", &path, "format", &fmt,
                     "allocated", &alloc) == -1 || path[0] != '/' ||
        alloc < 0 || !vm_format_known (fmt)) {
      set_error (0, "disk %s: bad backing file %zu", d->id, i);
      return -1;
    }
    d->backing[i].path = strdup (path);
    d->backing[i].format = strdup (fmt);
    d->backing[i].allocated = alloc;
    d->n_backing++;
    if (d->backing[i].path == NULL || d->backing[i].format == NULL)
      return -1;
  }
  return 0;
}

/* A lower-case hex SHA-256. */
static bool
sha256_ok (const char *s)
{
  size_t i;

  for (i = 0; s[i]; i++)
    if (!isxdigit ((unsigned char) s[i]) || isupper ((unsigned char) s[i]))
      return false;
  return i == 64;
}

static int
disk_from_json (json_t *j, struct mig_disk *d)
{
  const char *id, *path, *fmt, *dest = NULL, *sum = NULL;
  json_int_t vs, alloc;
  int ro, shared = 0, in_place = -1, cdrom = 0;
  json_t *chain = NULL;
  json_error_t e;

  if (json_unpack_ex (j, &e, 0, "{s:s, s:s, s:s, s:I, s:I, s:b, s?s, s?b,"
                      " s?b, s?b, s?s, s?o}",
                      "id", &id, "path", &path, "format", &fmt,
                      "virtual_size", &vs, "allocated", &alloc,
                      "read_only", &ro, "dest_path", &dest,
                      "shared", &shared, "in_place", &in_place,
                      "cdrom", &cdrom, "sha256", &sum,
                      "backing", &chain) == -1) {
    set_error (0, "bad disk description: %s", e.text);
    return -1;
  }
  if (path[0] != '/' || !last_is_file_name (path) || vs < 0 ||
      alloc < 0 || !vm_format_known (fmt) || (sum && !sha256_ok (sum))) {
    set_error (0, "disk %s: unsupported path, size, format '%s' or "
               "checksum", id, fmt);
    return -1;
  }
  d->id = strdup (id);
  d->path = strdup (path);
  d->format = strdup (fmt);
  d->dest_path = dest ? strdup (dest) : NULL;
  d->sha256 = sum ? strdup (sum) : NULL;
  d->virtual_size = vs;
  d->allocated = alloc;
  d->read_only = ro;
  d->cdrom = cdrom;
  d->shared = shared && !ro;
  /* A source that does not say copies no read-only disk (it used them
   * in place).
   */
  d->in_place = ro && !d->shared && (in_place == -1 ? true : in_place);
  if (d->id == NULL || d->path == NULL || d->format == NULL)
    return -1;
  return chain_from_json (chain, d);
}

static int
argv_from_json (json_t *a, struct mig_vm *vm)
{
  size_t i;
  json_t *v;

  /* Empty for an offline move given its disks alone; a live prepare
   * refuses it (mig_argv_rewrite).
   */
  if (!json_is_array (a)) {
    set_error (0, "argv must be an array of strings");
    return -1;
  }
  json_array_foreach (a, i, v) {
    if (!json_is_string (v)) {
      set_error (0, "argv must be an array of strings");
      return -1;
    }
    if (strv_push (&vm->argv, json_string_value (v)) == -1)
      return -1;
  }
  return 0;
}

struct mig_vm *
mig_vm_from_json (json_t *j)
{
  struct mig_vm *vm = calloc (1, sizeof *vm);
  const char *name, *machine, *vendor;
  json_t *argv, *disks, *d;
  json_int_t mem;
  json_error_t e;
  size_t i;

  if (vm == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  if (json_unpack_ex (j, &e, 0, "{s:s, s:o, s:o, s:i, s:s, s:I, s:s}",
                      "name", &name, "argv", &argv, "disks", &disks,
                      "qemu_version", &vm->qemu_version,
                      "machine", &machine, "memory", &mem,
                      "cpu_vendor", &vendor) == -1) {
    set_error (0, "bad VM description: %s", e.text);
    goto err;
  }
  if (!mig_safe_name (name)) {
    set_error (0, "VM name '%s' is not a safe file name "
               "(letters, digits, '.', '_', '-')", name);
    goto err;
  }
  vm->name = strdup (name);
  vm->machine = strdup (machine);
  vm->cpu_vendor = strdup (vendor);
  vm->memory = mem;
  if (argv_from_json (argv, vm) == -1 || !json_is_array (disks))
    goto err;
  vm->disks = calloc (json_array_size (disks) + 1, sizeof *vm->disks);
  if (vm->disks == NULL)
    goto err;
  json_array_foreach (disks, i, d) {
    vm->n_disks++;
    if (disk_from_json (d, &vm->disks[i]) == -1)
      goto err;
  }
  return vm;
 err:
  if (get_error ()[0] == '\0')
    set_error (errno, "bad VM description");
  mig_vm_free (vm);
  return NULL;
}
