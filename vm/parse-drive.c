/* parse-drive.c: -drive and its shorthands (-hda..-hdd, -cdrom), and
 * the resolution of every disk once all options are read: its format,
 * the node name the destination exports, read-only.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

static const char *
item_text (const struct vm_opt *o, const char *key)
{
  const struct vm_item *it = vm_opt_item (o, key);

  return it ? it->text : NULL;
}

static bool
is_on (const struct vm_opt *o, const char *key)
{
  const char *v = item_text (o, key);

  return v && strcmp (v, "on") == 0;
}

/* What a -drive's items mean for its disk. */
static int
drive_disk (struct vm_desc *d, struct vm_opt *o)
{
  struct vm_disk *disk;
  const char *media = item_text (o, "media");
  const char *node = item_text (o, "node-name");

  if (item_text (o, "readonly") && item_text (o, "read-only")) {
    set_error (0, "readonly and read-only are the same key, given twice");
    return -1;
  }
  if (o->disk == -1)
    return 0;                   /* an empty drive (a CD-ROM without medium) */
  disk = &d->disks[o->disk];
  disk->cdrom = media && strcmp (media, "cdrom") == 0;
  disk->read_only = disk->cdrom || is_on (o, "readonly") ||
    is_on (o, "read-only");
  if (item_text (o, "format") &&
      (disk->format = strdup (item_text (o, "format"))) == NULL)
    return -1;
  if (node && (disk->node = strdup (node)) == NULL)
    return -1;
  o->gen_node = node == NULL;
  return 0;
}

int
vm_parse_drive (struct vm_desc *d, struct vm_opt *o, const char *arg,
                const char *cwd)
{
  struct vm_kv *kv = vm_kv_parse (arg);
  int r;

  if (kv == NULL)
    return -1;
  o->drv = &vm_drive_schema[0];
  r = vm_parse_items (d, o, o->drv, kv, 0, NULL, cwd);
  vm_kv_free (kv);
  return r == 0 ? drive_disk (d, o) : -1;
}

/* -hda FILE is -drive file=FILE,index=0,media=disk; -cdrom FILE is
 * index 2, media=cdrom (QEMU's own definition): the description holds
 * it as that -drive.
 */
int
vm_parse_disk_short (struct vm_desc *d, struct vm_opt *o, const char *arg,
                     const char *cwd)
{
  struct vm_kv *kv = calloc (1, sizeof *kv);
  bool cdrom = o->def->index < 0;
  char index[16];
  int r = -1;

  if (kv == NULL) {
    set_error (errno, "calloc");
    return -1;
  }
  snprintf (index, sizeof index, "%d", cdrom ? 2 : o->def->index);
  o->def = vm_option_lookup ("-drive");
  o->drv = &vm_drive_schema[0];
  if (vm_kv_add (kv, "file", arg) == 0 &&
      vm_kv_add (kv, "index", index) == 0 &&
      vm_kv_add (kv, "media", cdrom ? "cdrom" : "disk") == 0)
    r = vm_parse_items (d, o, o->drv, kv, 0, NULL, cwd);
  vm_kv_free (kv);
  return r == 0 ? drive_disk (d, o) : -1;
}

/* ---- once every option is read ---- */

/* Is name a node name or drive id anywhere in d? */
static bool
name_taken (const struct vm_desc *d, const char *name)
{
  size_t i, k;

  for (i = 0; i < d->n_opts; i++)
    for (k = 0; k < d->opts[i].n_items; k++) {
      const struct vm_item *it = &d->opts[i].items[k];
      size_t kl = strlen (it->key);
      if ((it->def->type == VT_ID) && strcmp (it->text, name) == 0 &&
          (strcmp (it->key, "id") == 0 ||
           (kl >= 9 && strcmp (it->key + kl - 9, "node-name") == 0)))
        return true;
    }
  return false;
}

/* The top-level -blockdev named name, or NULL. */
static const struct vm_opt *
find_node (const struct vm_desc *d, const char *name)
{
  size_t i;

  for (i = 0; i < d->n_opts; i++) {
    const struct vm_opt *o = &d->opts[i];
    if (o->def->form == VF_BLOCKDEV && item_text (o, "node-name") &&
        strcmp (item_text (o, "node-name"), name) == 0)
      return o;
  }
  return NULL;
}

/* A -blockdev disk: the file node holding the image, and the format node
 * above it (nested, or a top-level node whose file= names it).
 */
static int
resolve_blockdev_disk (struct vm_desc *d, const struct vm_opt *o,
                       const struct vm_item *it)
{
  struct vm_disk *disk = &d->disks[it->disk];
  size_t plen = strlen (it->key) - strlen ("filename");
  CLEANUP_FREE char *prefix = strndup (it->key, plen);
  CLEANUP_FREE char *ro = xasprintf ("%sread-only", prefix ? prefix : "");
  const struct vm_opt *fmt = NULL;
  const char *name;
  size_t i, users = 0;
  bool bare = false;

  if (prefix == NULL || ro == NULL)
    return -1;
  disk->read_only = is_on (o, ro) || is_on (o, "read-only");
  if (strcmp (prefix, "file.") == 0)
    fmt = o;                    /* qcow2/raw with a nested file node */
  else if (prefix[0] == '\0' && (name = item_text (o, "node-name"))) {
    /* A top-level file node: which format node uses it? */
    for (i = 0; i < d->n_opts; i++) {
      const char *f = d->opts[i].def->form == VF_BLOCKDEV
        ? item_text (&d->opts[i], "file") : NULL;
      if (f && strcmp (f, name) == 0) {
        fmt = &d->opts[i];
        users++;
      }
    }
    if (users > 1) {
      set_error (0, "node %s is the file of %zu format nodes", name, users);
      return -1;
    }
  }
  else {
    set_error (0, "image %s: nested too deep (give its nodes names)",
               disk->path);
    return -1;
  }
  if (fmt == NULL) {             /* the file node itself is the disk */
    fmt = o;
    bare = true;
  }
  name = item_text (fmt, "node-name");
  disk->format = strdup (bare ? "raw" : item_text (fmt, "driver"));
  disk->node = name ? strdup (name) : NULL;
  if (disk->format == NULL || name == NULL ||
      (strcmp (disk->format, "qcow2") && strcmp (disk->format, "raw"))) {
    set_error (0, "image %s: its format node must be a named qcow2 or raw "
               "node", disk->path);
    return -1;
  }
  if (fmt != o && is_on (fmt, "read-only"))
    disk->read_only = true;
  return 0;
}

/* A generated node name for a -drive that has none: "vmf-dN", unique. */
static int
drive_node_name (struct vm_desc *d, struct vm_disk *disk, size_t index)
{
  unsigned n;

  for (n = index; n < index + 1000; n++) {
    char *name = xasprintf ("vmf-d%u", n);
    if (name == NULL)
      return -1;
    if (!name_taken (d, name)) {
      disk->node = name;
      return 0;
    }
    free (name);
  }
  set_error (0, "no free node name for %s", disk->path);
  return -1;
}

/* The driver a child of a parent driven by parent must have: a filter
 * sits on a format node, a format node on a file node; a file node has
 * no children.  So guest data is never read as an image header.
 */
static bool
child_driver_ok (const char *parent, const char *child)
{
  if (strcmp (parent, "throttle") == 0)
    return strcmp (child, "qcow2") == 0 || strcmp (child, "raw") == 0;
  return strcmp (child, "file") == 0;
}

/* Every child of every node of o exists and has the right driver. */
static int
check_children (const struct vm_desc *d, const struct vm_opt *o)
{
  size_t k;

  /* Nested nodes: "P" + "file.driver" under the parent "P" + "driver". */
  for (k = 0; k < o->n_items; k++) {
    const struct vm_item *it = &o->items[k];
    size_t kl = strlen (it->key), n = strlen ("file.driver");
    CLEANUP_FREE char *pdrv = NULL;
    const char *parent;

    if (kl < n || strcmp (it->key + kl - n, "file.driver") != 0)
      continue;
    pdrv = xasprintf ("%.*sdriver", (int) (kl - n), it->key);
    parent = pdrv ? item_text (o, pdrv) : NULL;
    if (parent && !child_driver_ok (parent, it->text)) {
      set_error (0, "a %s node cannot sit on a %s node", parent, it->text);
      return -1;
    }
  }
  /* Children by name. */
  for (k = 0; k < o->n_items; k++) {
    const struct vm_item *it = &o->items[k];
    size_t kl = strlen (it->key);
    const struct vm_opt *ref;
    CLEANUP_FREE char *pdrv = NULL;
    const char *parent;

    if (it->def->type != VT_CHILD || it->text[0] == '\0')
      continue;
    ref = find_node (d, it->text);
    pdrv = xasprintf ("%.*sdriver", (int) (kl - 4), it->key);
    parent = pdrv ? item_text (o, pdrv) : NULL;
    if (ref == NULL) {
      set_error (0, "-blockdev %s: node '%s' is not defined",
                 item_text (o, "node-name"), it->text);
      return -1;
    }
    if (parent && !child_driver_ok (parent, item_text (ref, "driver"))) {
      set_error (0, "a %s node cannot sit on node %s (%s)", parent,
                 it->text, item_text (ref, "driver"));
      return -1;
    }
  }
  return 0;
}

/* One option's disks.  -1 + set_error, or ENOMEM. */
static int
resolve_opt (struct vm_desc *d, struct vm_opt *o)
{
  size_t k;

  if (o->def->form == VF_BLOCKDEV && check_children (d, o) == -1)
    return -1;
  for (k = 0; k < o->n_items; k++) {
    const struct vm_item *it = &o->items[k];
    if (it->disk < 0)
      continue;
    if (o->def->form == VF_BLOCKDEV &&
        resolve_blockdev_disk (d, o, it) == -1)
      return -1;
    if (o->def->form != VF_BLOCKDEV && o->gen_node &&
        drive_node_name (d, &d->disks[it->disk], it->disk) == -1)
      return -1;
  }
  return 0;
}

int
vm_parse_finish_blocks (struct vm_desc *d)
{
  size_t i;

  for (i = 0; i < d->n_opts; i++) {
    clear_error ();
    if (resolve_opt (d, &d->opts[i]) == -1) {
      if (get_errno () == ENOMEM)
        return -1;
      if (vm_add_problem (d, "%s", get_error ()) == -1)
        return -1;
    }
  }
  return 0;
}
