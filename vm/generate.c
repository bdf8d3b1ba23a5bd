/* generate.c: the values of a generated command line.
 *
 * Two forms: the wire form (vm_wire_argv: the source's own paths, what
 * the source sends) and the destination's (vm_generate: images mapped to
 * the destination's, files QEMU creates moved into the run directory,
 * read-only files checked against the read dirs, taps replaced by the
 * descriptors vmferryd opened).  Keys are the tables' strings and values
 * the canonical texts of the parser; commas in values are escaped.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

#include "internal.h"

int
vm_buf_add (char **buf, size_t *len, const char *s, bool escape)
{
  size_t n = strlen (s);
  char *b = realloc (*buf, *len + 2 * n + 1);

  if (b == NULL) {
    set_error (errno, "realloc");
    return -1;
  }
  *buf = b;
  for (; *s; s++) {
    b[(*len)++] = *s;
    if (escape && *s == ',')
      b[(*len)++] = ',';
  }
  b[*len] = '\0';
  return 0;
}

void
vm_cmdline_clear (struct vm_cmdline *c)
{
  strv_free (c->argv);
  strv_free (c->files);
  strv_free (c->reads);
  free (c->qmp);
  free (c->pidfile);
  memset (c, 0, sizeof *c);
}

char *
vm_read_path (char *const *dirs, const char *path, bool want_dir)
{
  static const char *const defaults[] = VM_DEFAULT_READ_DIRS;
  const char *const *ds = dirs ? (const char *const *) dirs : defaults;
  char *real = realpath (path, NULL);
  struct stat st;
  size_t i;

  if (real == NULL || stat (real, &st) == -1) {
    set_error (errno, "'%s' needed by the VM is not on the destination",
               path);
    free (real);
    return NULL;
  }
  if (want_dir ? !S_ISDIR (st.st_mode) : !S_ISREG (st.st_mode)) {
    set_error (0, "'%s' is not a %s (device nodes and other special files "
               "are refused)", path, want_dir ? "directory" : "regular file");
    free (real);
    return NULL;
  }
  for (i = 0; ds[i]; i++) {
    CLEANUP_FREE char *dir = realpath (ds[i], NULL);
    size_t n = dir ? strlen (dir) : 0;
    if (dir && strncmp (real, dir, n) == 0 &&
        (real[n] == '/' || real[n] == '\0' || n == 1))
      return real;
  }
  set_error (0, "'%s' is outside the directories this destination lets a "
             "VM read files from (vmferryd --read-dir)", path);
  free (real);
  return NULL;
}

/* A file QEMU creates: RUN_DIR/NAME, once. */
static char *
run_file (struct gen *g, const char *path)
{
  const char *base = strrchr (path, '/') + 1;
  char *p = xasprintf ("%s/%s", g->l->run_dir, base);
  size_t i;

  for (i = 0; p && g->out->files && g->out->files[i]; i++)
    if (strcmp (g->out->files[i], p) == 0) {
      set_error (0, "two sockets or files named '%s': cannot place both in "
                 "the run directory", base);
      free (p);
      return NULL;
    }
  if (p && strv_push (&g->out->files, p) == -1) {
    free (p);
    return NULL;
  }
  return p;
}

/* A file QEMU reads in place: checked, resolved, and recorded for the
 * confinement.
 */
static char *
read_path (struct gen *g, const char *path, bool want_dir)
{
  char *real = vm_read_path (g->l->read_dirs, path, want_dir);

  if (real && strv_push (&g->out->reads, real) == -1) {
    free (real);
    return NULL;
  }
  return real;
}

/* The text QEMU gets for a value of type t (disk: its index). */
char *
vm_gen_value (struct gen *g, enum vm_type t, const char *text, ssize_t disk)
{
  if (g->l == NULL)
    return strdup (text);
  switch (t) {
  case VT_DISK:
    if (g->l->disk_paths && g->l->disk_paths[disk])
      return strdup (g->l->disk_paths[disk]);
    if (!g->d->disks[disk].read_only) {
      set_error (0, "writable image '%s' has no destination", text);
      return NULL;
    }
    return read_path (g, text, false);
  case VT_RUNFILE:
    return run_file (g, text);
  case VT_READFILE:
  case VT_READDIR:
    return read_path (g, text, t == VT_READDIR);
  default:
    return strdup (text);
  }
}

/* -m's sizes carry a unit (a bare number means MiB there). */
static char *
memory_size (const char *bytes)
{
  uint64_t b = strtoull (bytes, NULL, 10);

  return b % 1024 ? xasprintf ("%" PRIu64 "B", b)
    : xasprintf ("%" PRIu64 "K", b / 1024);
}

/* Append ",key=value" (no comma first when *len == 0). */
int
vm_gen_kv (char **buf, size_t *len, const char *key, const char *value)
{
  return (*len && vm_buf_add (buf, len, ",", false) == -1) ||
    (key && (vm_buf_add (buf, len, key, false) == -1 ||
             vm_buf_add (buf, len, "=", false) == -1)) ||
    vm_buf_add (buf, len, value, true) == -1 ? -1 : 0;
}

/* Items of o as key=value, skipping skip (may be NULL) and, for the
 * destination's taps, what the tap replaces.
 */
int
vm_gen_items (struct gen *g, const struct vm_opt *o, char **buf, size_t *len,
           const char *skip, bool tap)
{
  static const char *const tap_drop[] = { "ifname", "script", "downscript",
                                          "br", "vnet_hdr", "queues",
                                          "vhost", NULL };
  size_t i, k;

  for (i = 0; i < o->n_items; i++) {
    const struct vm_item *it = &o->items[i];
    CLEANUP_FREE char *v = NULL;
    bool drop = skip && strcmp (it->key, skip) == 0;

    for (k = 0; tap && tap_drop[k]; k++)
      drop |= strcmp (it->key, tap_drop[k]) == 0;
    if (drop)
      continue;
    v = strcmp (o->def->name, "m") == 0 && it->def->type == VT_SIZE
      ? memory_size (it->text) : vm_gen_value (g, it->def->type, it->text,
                                            it->disk);
    if (v == NULL || vm_gen_kv (buf, len, it->key, v) == -1) {
      if (v == NULL)
        prefix_error ("%s", it->key);
      return -1;
    }
  }
  return 0;
}

int
vm_gen_push (struct gen *g, const char *opt, char *arg)
{
  int r = strv_push (&g->out->argv, opt);

  if (r == 0 && arg)
    r = strv_push (&g->out->argv, arg);
  free (arg);
  return r;
}
