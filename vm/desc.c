/* desc.c: the description's storage: options, disks, nets, problems,
 * and what the source pins from the running QEMU.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

void
vm_opt_clear (struct vm_opt *o)
{
  size_t i;

  for (i = 0; i < o->n_items; i++) {
    free (o->items[i].key);
    free (o->items[i].text);
  }
  free (o->items);
  free (o->value);
  free (o->cs.arg);
  memset (o, 0, sizeof *o);
}

void
vm_desc_free (struct vm_desc *d)
{
  size_t i;

  if (d == NULL)
    return;
  for (i = 0; i < d->n_opts; i++)
    vm_opt_clear (&d->opts[i]);
  free (d->opts);
  free (d->argv0);
  for (i = 0; i < d->n_disks; i++) {
    free (d->disks[i].path);
    free (d->disks[i].format);
    free (d->disks[i].node);
    free (d->disks[i].file_node);
  }
  free (d->disks);
  for (i = 0; i < d->n_nets; i++) {
    free (d->nets[i].id);
    free (d->nets[i].ifname);
    free (d->nets[i].bridge);
  }
  free (d->nets);
  free (d->name);
  free (d->machine);
  free (d->cpu_model);
  strv_free (d->cpu_features);
  strv_free (d->problems);
  free (d);
}

/* Grow array *a of *n elements of size sz by one zeroed element. */
static void *
grow (void *a, size_t *n, size_t sz)
{
  char *p = realloc (a, (*n + 1) * sz);

  if (p == NULL) {
    set_error (errno, "realloc");
    return NULL;
  }
  memset (p + *n * sz, 0, sz);
  (*n)++;
  return p;
}

struct vm_disk *
vm_desc_new_disk (struct vm_desc *d, ssize_t *index)
{
  struct vm_disk *a = grow (d->disks, &d->n_disks, sizeof *a);

  if (a == NULL)
    return NULL;
  d->disks = a;
  *index = d->n_disks - 1;
  return &a[d->n_disks - 1];
}

struct vm_net *
vm_desc_new_net (struct vm_desc *d, ssize_t *index)
{
  struct vm_net *a = grow (d->nets, &d->n_nets, sizeof *a);

  if (a == NULL)
    return NULL;
  d->nets = a;
  *index = d->n_nets - 1;
  a[*index].vnet_hdr = true;
  return &a[*index];
}

struct vm_opt *
vm_desc_new_opt (struct vm_desc *d)
{
  struct vm_opt *a = grow (d->opts, &d->n_opts, sizeof *a);

  if (a == NULL)
    return NULL;
  d->opts = a;
  a[d->n_opts - 1].net = -1;
  a[d->n_opts - 1].disk = -1;
  return &a[d->n_opts - 1];
}

int
vm_add_problem (struct vm_desc *d, const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r == -1) {
    set_error (errno, "vasprintf");
    return -1;
  }
  r = strv_push (&d->problems, msg);
  free (msg);
  return r;
}

int
vm_problem (struct vm_desc *d, const char *opt, const char *arg)
{
  CLEANUP_FREE char *why = strdup (get_error ());

  if (why == NULL)
    return -1;
  if (arg == NULL)
    return vm_add_problem (d, "%s: %s", opt, why);
  return vm_add_problem (d, "%s %.200s%s: %s", opt, arg,
                         strlen (arg) > 200 ? "..." : "", why);
}

int
vm_ok (const struct vm_desc *d)
{
  size_t n = strv_len (d->problems);

  if (n == 0)
    return 0;
  if (n == 1)
    set_error (0, "%s", d->problems[0]);
  else
    set_error (0, "%s (and %zu more: vmferry check lists them)",
               d->problems[0], n - 1);
  return -1;
}

int
vm_opt_add_item (struct vm_opt *o, const char *key, const struct vm_key *def,
                 const char *text, ssize_t disk)
{
  struct vm_item *a = grow (o->items, &o->n_items, sizeof *a);
  struct vm_item *it;

  if (a == NULL)
    return -1;
  o->items = a;
  it = &a[o->n_items - 1];
  it->key = strdup (key);
  it->text = strdup (text);
  it->def = def;
  it->disk = disk;
  if (it->key == NULL || it->text == NULL) {
    set_error (errno, "strdup");
    return -1;
  }
  return 0;
}

struct vm_item *
vm_opt_item (const struct vm_opt *o, const char *key)
{
  size_t i;

  for (i = 0; i < o->n_items; i++)
    if (strcmp (o->items[i].key, key) == 0)
      return &o->items[i];
  return NULL;
}

const struct vm_key *
vm_driver_key (const struct vm_driver *d, const char *name)
{
  size_t g, i;

  for (g = 0; g < sizeof d->keys / sizeof d->keys[0] && d->keys[g]; g++)
    for (i = 0; d->keys[g][i].name; i++)
      if (strcmp (d->keys[g][i].name, name) == 0)
        return &d->keys[g][i];
  return NULL;
}

const struct vm_driver *
vm_driver_find (const struct vm_driver *table, const char *name)
{
  size_t i;

  for (i = 0; table[i].name; i++)
    if (strcmp (table[i].name, name) == 0)
      return &table[i];
  return NULL;
}

ssize_t
vm_find_disk (const struct vm_desc *d, const char *path)
{
  size_t i;

  for (i = 0; i < d->n_disks; i++)
    if (strcmp (d->disks[i].path, path) == 0)
      return i;
  return -1;
}

/* ---- what the source pins ---- */

int
vm_set_machine (struct vm_desc *d, const char *machine)
{
  static const struct vm_key type = { "type", VT_TOKEN };
  CLEANUP_FREE char *m = vm_value_canon (&type, machine, NULL);
  char *dup;

  if (m == NULL || (dup = strdup (m)) == NULL)
    return -1;
  free (d->machine);
  d->machine = dup;
  return 0;
}

int
vm_set_disk_format (struct vm_desc *d, size_t disk, const char *format)
{
  static const struct vm_key fmt = { "format", VT_ENUM, vm_enum_format };
  char *f;

  if (disk >= d->n_disks)
    return -1;
  f = vm_value_canon (&fmt, format, NULL);
  if (f == NULL) {
    prefix_error ("disk %s: format", d->disks[disk].path);
    return -1;
  }
  free (d->disks[disk].format);
  d->disks[disk].format = f;
  return 0;
}

int
vm_set_net_bridge (struct vm_desc *d, size_t net, const char *bridge)
{
  static const struct vm_key br = { "br", VT_TOKEN };
  char *b;

  if (net >= d->n_nets)
    return -1;
  b = vm_value_canon (&br, bridge, NULL);
  if (b == NULL)
    return -1;
  free (d->nets[net].bridge);
  d->nets[net].bridge = b;
  return 0;
}
