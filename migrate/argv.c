/* argv.c: rewrite a VM's QEMU command line for the destination host.
 *
 * Runs on the destination agent, on argv received from the source, so it
 * is also a security boundary: every option is allow-listed (options.c),
 * every path the VM would write is either a migrated disk (mapped to its
 * destination image) or a socket/log moved into the VM's run directory,
 * and files the VM only reads must already exist as regular files (or
 * directories, for -L), never device nodes.
 */
#include <config.h>

#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>

#include "internal.h"
#include "options.h"

struct rewrite {
  const struct mig_layout *l;
  struct mig_rewritten *out;
  bool *disk_seen;              /* one per disk of l */
  /* mig_argv_disks: collect writable disk files instead of mapping */
  bool collect;
  char **paths, **formats;
  const char *format;           /* named beside the file being mapped */
};

void
mig_rewritten_clear (struct mig_rewritten *r)
{
  strv_free (r->argv);
  strv_free (r->files);
  free (r->qmp);
  free (r->pidfile);
  memset (r, 0, sizeof *r);
}

/* A file the VM creates (socket, log): run_dir/basename.  Two files with
 * the same base name would collide there, so that is refused.
 */
static char *
run_path (struct rewrite *rw, const char *path)
{
  CLEANUP_FREE char *copy = strdup (path);
  const char *base;
  char *p;
  size_t i;

  if (copy == NULL) {
    set_error (errno, "strdup");
    return NULL;
  }
  base = basename (copy);
  if (base[0] == '\0' || strcmp (base, ".") == 0 || strcmp (base, "..") == 0) {
    set_error (0, "cannot place '%s' in the run directory", path);
    return NULL;
  }
  p = xasprintf ("%s/%s", rw->l->run_dir, base);
  if (p == NULL)
    return NULL;
  for (i = 0; rw->out->files && rw->out->files[i]; i++) {
    if (strcmp (rw->out->files[i], p) == 0) {
      set_error (0, "two sockets or files named '%s': cannot place both "
                 "in the run directory", base);
      free (p);
      return NULL;
    }
  }
  if (strv_push (&rw->out->files, p) == -1) {
    free (p);
    return NULL;
  }
  return p;
}

/* mig_argv_disks: note a writable disk file (once), keep the path. */
static char *
collect_disk (struct rewrite *rw, const char *path)
{
  size_t i;

  for (i = 0; rw->paths && rw->paths[i]; i++)
    if (strcmp (rw->paths[i], path) == 0)
      return strdup (path);
  if (strv_push (&rw->paths, path) == -1 ||
      strv_push (&rw->formats, rw->format ? rw->format : "") == -1)
    return NULL;
  return strdup (path);
}

/* A file the VM opens as a disk: a migrated disk maps to its destination
 * image; a read-only file must exist here; anything else is refused.
 */
static char *
disk_path (struct rewrite *rw, const char *path, bool read_only)
{
  size_t i;

  if (strncmp (path, "/dev/", 5) == 0) {
    set_error (0, "pass-through disk '%s': host block devices cannot be "
               "migrated", path);
    return NULL;
  }
  if (rw->collect && !read_only)
    return collect_disk (rw, path);
  for (i = 0; i < rw->l->n_disks; i++) {
    const struct mig_disk *d = &rw->l->disks[i];
    if (!d->read_only && strcmp (d->path, path) == 0) {
      rw->disk_seen[i] = true;
      return strdup (d->dest_path);
    }
  }
  if (read_only && access (path, R_OK) == 0)
    return strdup (path);
  if (read_only)
    set_error (errno, "read-only file '%s' used by the VM must exist on "
               "the destination", path);
  else
    set_error (0, "the VM writes '%s', which is not one of its migrated "
               "disks", path);
  return NULL;
}

/* Replace the value of key in kv by fn(value); no-op if key is absent. */
static int
kv_map (struct rewrite *rw, struct mig_keyval *kv, const char *key,
        char *(*fn) (struct rewrite *, const char *))
{
  const char *v = mig_keyval_get (kv, key);
  CLEANUP_FREE char *nv = NULL;

  if (v == NULL)
    return 0;
  nv = fn (rw, v);
  if (nv == NULL)
    return -1;
  return mig_keyval_set (kv, key, nv);
}

static bool
is_on (const char *v)
{
  return v && (strcmp (v, "on") == 0 || strcmp (v, "true") == 0 ||
               strcmp (v, "yes") == 0);
}

/* Map every "filename" / "*.filename" / "file" (for -drive) key. */
static int
kv_map_disks (struct rewrite *rw, struct mig_keyval *kv, bool read_only,
              bool drive)
{
  size_t i;

  for (i = 0; i < kv->n; i++) {
    const char *k = kv->items[i].key;
    size_t kl = k ? strlen (k) : 0;
    char *nv;

    if (k == NULL)
      continue;
    if (strcmp (k, "filename") != 0 &&
        !(kl > 9 && strcmp (k + kl - 9, ".filename") == 0) &&
        !(drive && strcmp (k, "file") == 0))
      continue;
    nv = disk_path (rw, kv->items[i].value, read_only);
    if (nv == NULL)
      return -1;
    free (kv->items[i].value);
    kv->items[i].value = nv;
  }
  return 0;
}

/* -chardev BACKEND,id=..,path=..,logfile=.. */
static char *
rewrite_chardev (struct rewrite *rw, struct mig_keyval *kv)
{
  const char *backend = mig_keyval_get (kv, NULL);

  if (backend == NULL)
    backend = mig_keyval_get (kv, "backend");
  if (backend == NULL) {
    set_error (0, "no backend");
    return NULL;
  }
  if (strcmp (backend, "serial") == 0 || strcmp (backend, "tty") == 0 ||
      strcmp (backend, "parallel") == 0 || strcmp (backend, "parport") == 0) {
    set_error (0, "pass-through of a host %s device cannot be migrated",
               backend);
    return NULL;
  }
  if (strcmp (backend, "stdio") == 0) {
    set_error (0, "a VM on stdio cannot be migrated: its terminal stays on "
               "the source");
    return NULL;
  }
  if (kv_map (rw, kv, "path", run_path) == -1 ||
      kv_map (rw, kv, "logfile", run_path) == -1)
    return NULL;
  return mig_keyval_format (kv);
}

/* -serial/-qmp/-monitor/-parallel: "unix:PATH[,opts]", "file:PATH", ... */
static char *
rewrite_charspec (struct rewrite *rw, const struct mig_option *o,
                  const char *spec)
{
  static const char *const path_kinds[] = { "unix:", "file:", "pipe:" };
  CLEANUP_FREE char *path = NULL, *np = NULL;
  const char *rest, *comma;
  size_t i, kl;

  if (strcmp (spec, "stdio") == 0 || strcmp (spec, "mon:stdio") == 0 ||
      strncmp (spec, "/dev/", 5) == 0) {
    set_error (0, "'%s' ties the VM to this host's terminal or devices",
               spec);
    return NULL;
  }
  for (i = 0; i < sizeof path_kinds / sizeof *path_kinds; i++) {
    kl = strlen (path_kinds[i]);
    if (strncmp (spec, path_kinds[i], kl) != 0)
      continue;
    comma = strchr (spec + kl, ',');
    rest = comma ? comma : "";
    path = strndup (spec + kl, comma ? (size_t) (comma - spec - kl)
                    : strlen (spec + kl));
    if (path == NULL || (np = run_path (rw, path)) == NULL)
      return NULL;
    if (strcmp (o->name, "qmp") == 0 && strcmp (path_kinds[i], "unix:") == 0
        && rw->out->qmp == NULL)
      rw->out->qmp = strdup (np);
    return xasprintf ("%.*s%s%s", (int) kl, spec, np, rest);
  }
  return strdup (spec);
}

/* -blockdev in JSON form: walk every object. */
static int
rewrite_blockdev_json (struct rewrite *rw, json_t *o, bool read_only)
{
  const char *key, *drv;
  json_t *v, *f;
  char *np;

  if (!json_is_object (o))
    return 0;
  drv = json_string_value (json_object_get (o, "driver"));
  if (drv && mig_blockdrv_is_host (drv)) {
    set_error (0, "pass-through disk (driver %s) cannot be migrated", drv);
    return -1;
  }
  if (json_is_true (json_object_get (o, "read-only")))
    read_only = true;
  rw->format = NULL;            /* JSON: probed (mig_argv_disks) */
  f = json_object_get (o, "filename");
  if (json_is_string (f)) {
    np = disk_path (rw, json_string_value (f), read_only);
    if (np == NULL || json_object_set_new (o, "filename",
                                           json_string (np)) == -1) {
      free (np);
      return -1;
    }
    free (np);
  }
  json_object_foreach (o, key, v)
    if (rewrite_blockdev_json (rw, v, read_only) == -1)
      return -1;
  return 0;
}

static int
compare_keys (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* A key given twice in kv (into *key), or NULL.  QEMU takes the last
 * value of a repeated -drive key (format=raw,format=qcow2 opens qcow2),
 * while mig_keyval_get() reads the first: refused, never guessed.
 * Sorted, so that a peer's long option stays cheap.  -1 + set_error.
 */
static int
repeated_key (const struct mig_keyval *kv, const char **key)
{
  CLEANUP_FREE char **keys = calloc (kv->n + 1, sizeof *keys);
  size_t i, n = 0;

  *key = NULL;
  if (keys == NULL) {
    set_error (errno, "calloc");
    return -1;
  }
  for (i = 0; i < kv->n; i++)
    if (kv->items[i].key)
      keys[n++] = kv->items[i].key;
  qsort (keys, n, sizeof *keys, compare_keys);
  for (i = 1; i < n && *key == NULL; i++)
    if (strcmp (keys[i - 1], keys[i]) == 0)
      *key = keys[i];
  return 0;
}

/* -blockdev / -drive in keyval form. */
static char *
rewrite_block_kv (struct rewrite *rw, struct mig_keyval *kv, bool drive)
{
  const char *drv = mig_keyval_get (kv, "driver");
  const char *fdrv = mig_keyval_get (kv, "file.driver");
  bool ro = is_on (mig_keyval_get (kv, "read-only")) ||
    is_on (mig_keyval_get (kv, "readonly"));
  const char *media = mig_keyval_get (kv, "media");
  const char *twice;

  if (repeated_key (kv, &twice) == -1)
    return NULL;
  if (twice) {
    set_error (0, "'%s' is given twice", twice);
    return NULL;
  }
  if ((drv && mig_blockdrv_is_host (drv)) ||
      (fdrv && mig_blockdrv_is_host (fdrv))) {
    set_error (0, "pass-through disk (driver %s) cannot be migrated",
               drv && mig_blockdrv_is_host (drv) ? drv : fdrv);
    return NULL;
  }
  if (drive && media && strcmp (media, "cdrom") == 0)
    ro = true;
  /* The format of the file: -drive format=, or the driver of a
   * -blockdev that opens file.filename itself.
   */
  rw->format = drive ? mig_keyval_get (kv, "format")
    : drv && strcmp (drv, "file") != 0 ? drv : NULL;
  if (kv_map_disks (rw, kv, ro, drive) == -1)
    return NULL;
  return mig_keyval_format (kv);
}

static char *
rewrite_blockdev (struct rewrite *rw, const char *arg)
{
  json_auto_t *j = NULL;
  json_error_t jerr;

  if (arg[0] != '{')
    return NULL;                /* caller uses the keyval form */
  j = json_loads (arg, JSON_REJECT_DUPLICATES, &jerr);
  if (j == NULL) {
    set_error (0, "malformed JSON: %s", jerr.text);
    return NULL;
  }
  if (rewrite_blockdev_json (rw, j, false) == -1)
    return NULL;
  return json_dumps (j, JSON_COMPACT);
}

/* -netdev / -nic: no host scripts, no inherited descriptors. */
static int
check_netdev (struct mig_keyval *kv)
{
  static const char *const fd_keys[] = { "fd", "fds", "vhostfd", "vhostfds",
                                         "sock" };
  const char *s = mig_keyval_get (kv, "script");
  const char *d = mig_keyval_get (kv, "downscript");
  const char *type = mig_keyval_get (kv, NULL);
  size_t i;

  if ((s && strcmp (s, "no") != 0) || (d && strcmp (d, "no") != 0)) {
    set_error (0, "network scripts are not run on the destination; "
               "create the tap device there and use script=no");
    return -1;
  }
  for (i = 0; i < sizeof fd_keys / sizeof *fd_keys; i++)
    if (mig_keyval_get (kv, fd_keys[i])) {
      set_error (0, "%s= passes a descriptor of the source host", fd_keys[i]);
      return -1;
    }
  if (type && strncmp (type, "vhost-user", 10) == 0) {
    set_error (0, "vhost-user back-ends cannot be migrated by vmferry");
    return -1;
  }
  return 0;
}

/* -object: refuse objects that open host files. */
static int
check_object (struct mig_keyval *kv)
{
  const char *type = mig_keyval_get (kv, NULL);
  const char *fn = mig_keyval_get (kv, "filename");

  if (type == NULL)
    type = mig_keyval_get (kv, "qom-type");
  if (type == NULL) {
    set_error (0, "object without a type");
    return -1;
  }
  if (strcmp (type, "memory-backend-file") == 0 ||
      strcmp (type, "memory-backend-memfd") == 0 ||
      mig_keyval_get (kv, "file") || mig_keyval_get (kv, "dir") ||
      (fn && strcmp (fn, "/dev/urandom") != 0 &&
       strcmp (fn, "/dev/random") != 0)) {
    set_error (0, "object '%s' uses host files, which vmferry cannot move "
               "yet", type);
    return -1;
  }
  return 0;
}

/* path (resolved, symbolic links too) lies under one of the layout's
 * read directories: a client must not make the destination load, say,
 * /etc/shadow into a guest it controls.
 */
static int
check_read_dir (const struct mig_layout *l, const char *path)
{
  static const char *const defaults[] = MIG_DEFAULT_READ_DIRS;
  const char *const *dirs = l->read_dirs ? (const char *const *) l->read_dirs
    : defaults;
  CLEANUP_FREE char *real = realpath (path, NULL);
  size_t i;

  if (real == NULL) {
    set_error (errno, "realpath %s", path);
    return -1;
  }
  for (i = 0; dirs[i]; i++) {
    CLEANUP_FREE char *dir = realpath (dirs[i], NULL);
    size_t n = dir ? strlen (dir) : 0;
    if (dir && strncmp (real, dir, n) == 0 &&
        (real[n] == '/' || real[n] == '\0' || n == 1))
      return 0;
  }
  set_error (0, "'%s' is outside the directories this destination lets a "
             "VM read files from (vmferryd --read-dir)", path);
  return -1;
}

/* -device DRIVER,...: refuse pass-through. */
static int
check_device (struct mig_keyval *kv)
{
  const char *drv = mig_keyval_get (kv, NULL);

  if (drv == NULL)
    drv = mig_keyval_get (kv, "driver");
  if (drv && mig_device_is_passthrough (drv)) {
    set_error (0, "pass-through device '%s' cannot be migrated", drv);
    return -1;
  }
  return 0;
}

/* Rewrite the argument of one option.  Returns malloc'd text. */
static char *
rewrite_arg (struct rewrite *rw, const struct mig_option *o, const char *arg)
{
  struct mig_keyval *kv = NULL;
  char *r = NULL;
  struct stat st;

  switch (o->cls) {
  case OPT_KEEP:
    return strdup (arg);
  case OPT_READ_FILE:
    /* A kernel, initrd, firmware or -L directory the destination has.
     * Device nodes are refused: -kernel /dev/sda would hand a host disk
     * to the guest.
     */
    if (access (arg, R_OK) == -1 || stat (arg, &st) == -1) {
      set_error (errno, "file '%s' needed by the VM is not on the "
                 "destination", arg);
      return NULL;
    }
    if (!S_ISREG (st.st_mode) && !S_ISDIR (st.st_mode)) {
      set_error (0, "'%s' is a device or special file, not a file the VM "
                 "may read", arg);
      return NULL;
    }
    /* Collecting disks on the source (mig_argv_disks): not our host. */
    if (!rw->collect && check_read_dir (rw->l, arg) == -1)
      return NULL;
    return strdup (arg);
  case OPT_RUN_FILE:
    return run_path (rw, arg);
  case OPT_PIDFILE:
    /* QEMU honours the last -pidfile: keep that one. */
    r = run_path (rw, arg);
    free (rw->out->pidfile);
    rw->out->pidfile = NULL;
    if (r && (rw->out->pidfile = strdup (r)) == NULL) {
      free (r);
      r = NULL;
    }
    return r;
  case OPT_CHARSPEC:
    return rewrite_charspec (rw, o, arg);
  case OPT_BLOCKDEV:
    if (arg[0] == '{')
      return rewrite_blockdev (rw, arg);
    break;
  default:
    break;
  }
  kv = mig_keyval_parse (arg);
  if (kv == NULL)
    return NULL;
  if (o->cls == OPT_CHARDEV)
    r = rewrite_chardev (rw, kv);
  else if (o->cls == OPT_BLOCKDEV || o->cls == OPT_DRIVE)
    r = rewrite_block_kv (rw, kv, o->cls == OPT_DRIVE);
  else if ((o->cls == OPT_DEVICE && check_device (kv) == 0) ||
           (o->cls == OPT_NETDEV && check_netdev (kv) == 0) ||
           (o->cls == OPT_OBJECT && check_object (kv) == 0))
    r = strdup (arg);
  mig_keyval_free (kv);
  return r;
}

/* Push one rewritten option (opt, and arg if not NULL). */
static int
push_opt (struct rewrite *rw, const char *opt, const char *arg)
{
  if (strv_push (&rw->out->argv, opt) == -1)
    return -1;
  return arg ? strv_push (&rw->out->argv, arg) : 0;
}

/* Check every writable disk was found on the command line. */
static int
check_disks_seen (struct rewrite *rw)
{
  size_t i;

  for (i = 0; i < rw->l->n_disks; i++) {
    if (!rw->l->disks[i].read_only && !rw->disk_seen[i]) {
      set_error (0, "disk '%s' (%s) is not on the VM's command line "
                 "(hot-plugged disks are not supported yet)",
                 rw->l->disks[i].id, rw->l->disks[i].path);
      return -1;
    }
  }
  return 0;
}

/* Rewrite argv into rw->out; -1 (out cleared) + set_error. */
static int
rewrite_all (struct rewrite *rw, char *const *argv)
{
  size_t i;

  memset (rw->out, 0, sizeof *rw->out);
  if (argv == NULL || argv[0] == NULL) {
    set_error (0, "empty command line");
    return -1;
  }
  if (push_opt (rw, rw->l->qemu, NULL) == -1)
    goto err;
  for (i = 1; argv[i]; i++) {
    const struct mig_option *o = mig_option_lookup (argv[i]);
    CLEANUP_FREE char *narg = NULL;

    if (o == NULL) {
      set_error (0, "QEMU option '%s' is not supported by vmferry", argv[i]);
      goto err;
    }
    if (o->arity == OPT_ARG && argv[i + 1] == NULL) {
      set_error (0, "QEMU option '%s' lacks its argument", argv[i]);
      goto err;
    }
    if (o->arity == OPT_ARG)
      i++;
    if (o->cls == OPT_DROP)
      continue;
    if (o->arity == OPT_ARG) {
      narg = rewrite_arg (rw, o, argv[i]);
      if (narg == NULL) {
        prefix_error ("%s", argv[i - 1]);
        goto err;
      }
    }
    if (push_opt (rw, argv[i - (o->arity == OPT_ARG)], narg) == -1)
      goto err;
  }
  if (check_disks_seen (rw) == -1)
    goto err;
  return 0;
 err:
  mig_rewritten_clear (rw->out);
  return -1;
}

int
mig_argv_rewrite (char *const *argv, const struct mig_layout *l,
                  struct mig_rewritten *out)
{
  CLEANUP_FREE bool *seen = calloc (l->n_disks + 1, sizeof *seen);
  struct rewrite rw = { .l = l, .out = out, .disk_seen = seen };

  if (seen == NULL) {
    memset (out, 0, sizeof *out);
    set_error (errno, "calloc");
    return -1;
  }
  return rewrite_all (&rw, argv);
}

int
mig_argv_disks (char *const *argv, char ***paths, char ***formats)
{
  struct mig_layout l = { .qemu = argv && argv[0] ? argv[0] : "qemu",
                          .run_dir = "/nonexistent" };
  struct mig_rewritten out;
  struct rewrite rw = { .l = &l, .out = &out, .collect = true };
  int r;

  /* The rewrite walks every option; in collect mode disk_path() records
   * the writable files instead of mapping them.
   */
  r = rewrite_all (&rw, argv);
  mig_rewritten_clear (&out);
  if (r == -1) {
    strv_free (rw.paths);
    strv_free (rw.formats);
    return -1;
  }
  *paths = rw.paths;
  *formats = rw.formats;
  return 0;
}
