/* property.c: check a generated command line on its text alone (see
 * property.h).  Deliberately independent of generate.c: it re-reads the
 * text as QEMU would split it, and only knows the option table and
 * which keys are free text.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>

#include "internal.h"
#include "property.h"

/* Is key a free-text key (VT_STR) of some driver table? */
static bool
text_key (const char *key)
{
  static const struct vm_driver *const tables[] = {
    vm_device_drivers, vm_smbios_schema, vm_name_schema, NULL
  };
  size_t t, i;

  for (t = 0; tables[t]; t++)
    for (i = 0; tables[t][i].name || i == 0; i++) {
      const struct vm_key *k = vm_driver_key (&tables[t][i], key);
      if (k && k->type == VT_STR)
        return true;
      if (tables[t][i].name == NULL)
        break;
    }
  return false;
}

static bool
under (const char *path, const char *dir)
{
  size_t n = strlen (dir);

  return n && strncmp (path, dir, n) == 0 && (path[n] == '/' || n == 1);
}

/* Is path one the layout allows? */
static int
path_ok (const char *path, const struct vm_layout *l, size_t n_disks)
{
  static const char *const defaults[] = VM_DEFAULT_READ_DIRS;
  const char *const *dirs = l->read_dirs ? (const char *const *) l->read_dirs
    : defaults;
  size_t i;

  if (strstr (path, "/../") || strstr (path, "/./") ||
      (strlen (path) >= 3 && strcmp (path + strlen (path) - 3, "/..") == 0))
    goto bad;
  if (strcmp (path, "/dev/urandom") == 0 || strcmp (path, "/dev/random") == 0
      || under (path, l->run_dir))
    return 0;
  for (i = 0; l->disk_paths && i < n_disks; i++)
    if (l->disk_paths[i] && strcmp (l->disk_paths[i], path) == 0)
      return 0;
  for (i = 0; dirs[i]; i++) {
    CLEANUP_FREE char *real = realpath (dirs[i], NULL);
    if (real && under (path, real))
      return 0;
  }
 bad:
  set_error (0, "path '%s' is not the VM's", path);
  return -1;
}

/* One item (KEY=VALUE or VALUE) of an option's argument; a first item
 * without a key is the option's implied key.
 */
static int
item_ok (const char *item, const char *implied, const struct vm_layout *l,
         size_t n_disks)
{
  const char *eq = strchr (item, '='), *v = eq ? eq + 1 : item;
  CLEANUP_FREE char *key = eq ? strndup (item, eq - item)
    : implied ? strdup (implied) : NULL;
  static const char *const prefixes[] = { "mon:", "unix:", "file:", NULL };
  size_t i;

  if (key && text_key (key))
    return 0;
  for (i = 0; prefixes[i]; i++)
    if (strncmp (v, prefixes[i], strlen (prefixes[i])) == 0) {
      v += strlen (prefixes[i]);
      i = -1;                   /* "mon:unix:..." */
    }
  return v[0] == '/' ? path_ok (v, l, n_disks) : 0;
}

/* A JSON argument: every string value that is a path. */
static int
json_ok (json_t *v, const struct vm_layout *l, size_t n_disks, int depth)
{
  const char *k;
  json_t *sub;
  size_t i;

  if (depth > 8)
    return -1;
  if (json_is_string (v) && json_string_value (v)[0] == '/')
    return path_ok (json_string_value (v), l, n_disks);
  json_object_foreach (v, k, sub)
    if (!text_key (k) && json_ok (sub, l, n_disks, depth + 1) == -1)
      return -1;
  json_array_foreach (v, i, sub)
    if (json_ok (sub, l, n_disks, depth + 1) == -1)
      return -1;
  return 0;
}

/* Split arg at unescaped commas and check each item. */
static int
arg_ok (const char *arg, const char *implied, const struct vm_layout *l,
        size_t n_disks)
{
  CLEANUP_FREE char *buf = malloc (strlen (arg) + 1);
  size_t n = 0;
  const char *s;

  if (buf == NULL)
    return -1;
  if (arg[0] == '{') {
    json_auto_t *j = json_loads (arg, 0, NULL);
    if (j == NULL) {
      set_error (0, "malformed JSON");
      return -1;
    }
    return json_ok (j, l, n_disks, 0);
  }
  for (s = arg;; s++) {
    if (*s == ',' && s[1] == ',') {
      buf[n++] = *s++;
      continue;
    }
    if (*s == ',' || *s == '\0') {
      buf[n] = '\0';
      if (item_ok (buf, implied, l, n_disks) == -1)
        return -1;
      implied = NULL;
      n = 0;
      if (*s == '\0')
        return 0;
      continue;
    }
    buf[n++] = *s;
  }
}

int
vm_check_generated (char *const *argv, const struct vm_layout *l,
                    size_t n_disks)
{
  size_t i;

  if (argv == NULL || argv[0] == NULL || strcmp (argv[0], l->qemu) != 0) {
    set_error (0, "the command line does not start with %s", l->qemu);
    return -1;
  }
  for (i = 1; argv[i]; i++) {
    const struct vm_optdef *def = vm_option_lookup (argv[i]);
    if (def == NULL || def->form == VF_REFUSE || def->form == VF_DROP ||
        argv[i][1] == '-') {
      set_error (0, "option '%s' may not reach QEMU", argv[i]);
      return -1;
    }
    if (!def->arg)
      continue;
    if (argv[++i] == NULL) {
      set_error (0, "option '%s' lacks its argument", argv[i - 1]);
      return -1;
    }
    if (def->form == VF_CPU ||
        (def->form == VF_VALUE && def->vtype == VT_STR))
      continue;                 /* CPU properties, -append: not files */
    if (arg_ok (argv[i], def->form == VF_KEYVAL ? def->implied : NULL, l,
                n_disks) == -1) {
      prefix_error ("%s %s", argv[i - 1], argv[i]);
      return -1;
    }
  }
  return 0;
}
