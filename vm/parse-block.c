/* parse-block.c: -blockdev, -drive, -hda..-hdd and -cdrom.
 *
 * -blockdev (keyval with dotted keys, or JSON) is a graph of nodes: each
 * node has a driver from vm_block_drivers and that driver's keys; a
 * child ("file", "backing") is either the name of another node or a
 * nested node, which is walked the same way.  Every image file becomes a
 * disk of the description; its format is the driver of the format node
 * above it (qcow2 or raw), resolved once all options are read.
 * -drive and its shorthands are one node with -drive's own keys.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

#define MAX_DEPTH 4             /* throttle > qcow2 > file is 3 deep */

static const struct vm_key driver_key = { "driver", VT_TOKEN };

/* A backing chain is moved flattened (one standalone image on the
 * destination), which a node graph naming its backing nodes would
 * contradict.
 */
static const char explicit_backing[] =
  "a backing node named on the command line is not supported (vmferry "
  "moves a backing chain flattened into one image): leave backing= out, "
  "QEMU then opens the backing file the image names";

int
vm_add_disk_item (struct vm_desc *d, struct vm_opt *o, const char *key,
                  const struct vm_key *def, const char *path)
{
  struct vm_disk *disk;
  ssize_t i;

  if (strncmp (path, "/dev/", 5) == 0) {
    set_error (0, "'%s' is a host device: pass-through disks cannot be "
               "migrated", path);
    return -1;
  }
  if (vm_find_disk (d, path) != -1) {
    set_error (0, "image '%s' is opened twice", path);
    return -1;
  }
  disk = vm_desc_new_disk (d, &i);
  if (disk == NULL || (disk->path = strdup (path)) == NULL)
    return -1;
  disk->drive = o->def->form != VF_BLOCKDEV;
  if (o->def->form != VF_BLOCKDEV)
    o->disk = i;
  return vm_opt_add_item (o, key, def, path, i);
}

/* Is there an item whose key is key (with driver: key + "driver"), or,
 * for a key ending in '.', any item under it?
 */
static bool
kv_find (const struct vm_kv *kv, const char *key, bool driver)
{
  size_t i, n = strlen (key);
  bool prefix = !driver && n && key[n - 1] == '.';

  for (i = 0; i < kv->n; i++) {
    const char *k = kv->items[i].key;
    if (k == NULL)
      continue;
    if (driver ? strncmp (k, key, n) == 0 && strcmp (k + n, "driver") == 0
        : prefix ? strncmp (k, key, n) == 0 : strcmp (k, key) == 0)
      return true;
  }
  return false;
}

/* Does key (relative to a node) belong to the nested child c? */
static bool
under_child (const char *rest, const char *c)
{
  size_t n = strlen (c);

  return strncmp (rest, c, n) == 0 && rest[n] == '.';
}

/* The child key of drv that rest is nested under, or NULL. */
static const struct vm_key *
nested_child (const struct vm_driver *drv, const char *rest)
{
  size_t g, i;

  for (g = 0; g < 4 && drv->keys[g]; g++)
    for (i = 0; drv->keys[g][i].name; i++)
      if (drv->keys[g][i].type == VT_CHILD &&
          under_child (rest, drv->keys[g][i].name))
        return &drv->keys[g][i];
  return NULL;
}

static int parse_node (struct vm_desc *d, struct vm_opt *o,
                       const struct vm_kv *kv, const char *prefix,
                       int depth, const char *cwd);

/* A child given by name: "" (null) only for backing. */
static int
child_ref (struct vm_opt *o, const char *full, const struct vm_key *k,
           const char *value)
{
  CLEANUP_FREE char *text = vm_value_canon (k, value, NULL);

  if (text == NULL)
    return -1;
  if (strcmp (k->name, "backing") == 0 && text[0]) {
    set_error (0, "%s", explicit_backing);
    return -1;
  }
  if (strcmp (k->name, "file") == 0 && text[0] == '\0') {
    set_error (0, "file= names no node");
    return -1;
  }
  return vm_opt_add_item (o, full, k, text, -1);
}

/* One item of the node at prefix.  Nested children are walked once,
 * when their first item is met.
 */
static int
node_item (struct vm_desc *d, struct vm_opt *o, const struct vm_kv *kv,
           const char *prefix, const struct vm_driver *drv, size_t i,
           int depth, const char *cwd)
{
  const char *rest = kv->items[i].key + strlen (prefix);
  const struct vm_key *k = vm_driver_key (drv, rest);
  CLEANUP_FREE char *full = xasprintf ("%s%s", prefix, k ? k->name : "");
  CLEANUP_FREE char *text = NULL;

  if (full == NULL)
    return -1;
  if (k == NULL) {
    const struct vm_key *c = nested_child (drv, rest);
    CLEANUP_FREE char *sub = c ? xasprintf ("%s%s.", prefix, c->name) : NULL;
    CLEANUP_FREE char *ref = c ? xasprintf ("%s%s", prefix, c->name) : NULL;
    if (c == NULL) {
      set_error (0, "key '%s' is not supported for block driver %s",
                 kv->items[i].key, drv->name);
      return -1;
    }
    if (ref == NULL || sub == NULL)
      return -1;
    if (kv_find (kv, ref, false) || !kv_find (kv, sub, true)) {
      set_error (0, "'%s' must be either a node name or a nested node "
                 "with a driver", ref);
      return -1;
    }
    if (strcmp (c->name, "backing") == 0) {
      set_error (0, "%s", explicit_backing);
      return -1;
    }
    /* Walk the nested node when its driver item comes. */
    if (strcmp (rest + strlen (c->name) + 1, "driver") != 0)
      return 0;
    return parse_node (d, o, kv, sub, depth + 1, cwd);
  }
  if (vm_opt_item (o, full)) {
    set_error (0, "key '%s' is given twice", full);
    return -1;
  }
  if (k->type == VT_CHILD) {
    CLEANUP_FREE char *sub = xasprintf ("%s.", full);
    if (sub == NULL)
      return -1;
    if (kv_find (kv, sub, false)) {
      set_error (0, "'%s' must be either a node name or a nested node",
                 full);
      return -1;
    }
    return child_ref (o, full, k, kv->items[i].value);
  }
  text = vm_value_canon (k, kv->items[i].value, cwd);
  if (text == NULL) {
    prefix_error ("%s", full);
    return -1;
  }
  if (k->type == VT_DISK)
    return vm_add_disk_item (d, o, full, k, text);
  return vm_opt_add_item (o, full, k, text, -1);
}

/* The node at prefix ("" for the option's own node). */
static int
parse_node (struct vm_desc *d, struct vm_opt *o, const struct vm_kv *kv,
            const char *prefix, int depth, const char *cwd)
{
  CLEANUP_FREE char *dkey = xasprintf ("%sdriver", prefix);
  const struct vm_driver *drv = NULL;
  size_t i, n = 0;

  if (dkey == NULL)
    return -1;
  if (depth > MAX_DEPTH) {
    set_error (0, "block nodes nested too deeply");
    return -1;
  }
  for (i = 0; i < kv->n; i++)
    if (kv->items[i].key && strcmp (kv->items[i].key, dkey) == 0) {
      drv = vm_driver_find (vm_block_drivers, kv->items[i].value);
      if (drv == NULL) {
        set_error (0, "block driver '%.40s' is not supported (vmferry "
                   "moves file images in qcow2 or raw)", kv->items[i].value);
        return -1;
      }
      n++;
    }
  if (n != 1) {
    set_error (0, "%s given %s", dkey, n ? "twice" : "no value");
    return -1;
  }
  if (vm_opt_add_item (o, dkey, &driver_key, drv->name, -1) == -1)
    return -1;
  for (i = 0; i < kv->n; i++) {
    const char *k = kv->items[i].key;
    if (k == NULL) {
      set_error (0, "item '%.40s' has no key", kv->items[i].value);
      return -1;
    }
    if (strncmp (k, prefix, strlen (prefix)) != 0 || strcmp (k, dkey) == 0)
      continue;
    /* Items of deeper nodes are handled by their own level. */
    if (node_item (d, o, kv, prefix, drv, i, depth, cwd) == -1)
      return -1;
  }
  return 0;
}

int
vm_parse_blockdev (struct vm_desc *d, struct vm_opt *o, const char *arg,
                   const char *cwd)
{
  struct vm_kv *kv = arg[0] == '{' ? vm_kv_from_json (arg)
    : vm_kv_parse (arg);
  int r;

  if (kv == NULL)
    return -1;
  r = parse_node (d, o, kv, "", 0, cwd);
  vm_kv_free (kv);
  if (r == 0 && vm_opt_item (o, "node-name") == NULL) {
    set_error (0, "a -blockdev needs node-name=");
    r = -1;
  }
  return r;
}
