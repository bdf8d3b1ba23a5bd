/* parse-keyval.c: keyval options against their allow-lists: the driver
 * (device model, back-end, object type) chosen by the implied first key,
 * then every key of the driver's schema with its typed value.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

/* "KEY" alone means KEY=on, "noKEY" KEY=off, for a boolean KEY (QEMU's
 * short forms, e.g. "server,nowait").
 */
static const struct vm_key *
short_bool (const struct vm_driver *drv, const char *item, const char **val)
{
  const struct vm_key *k = vm_driver_key (drv, item);

  *val = "on";
  if (k == NULL && strncmp (item, "no", 2) == 0) {
    k = vm_driver_key (drv, item + 2);
    *val = "off";
  }
  return k && k->type == VT_BOOL ? k : NULL;
}

/* One item into o: look the key up, refuse a duplicate, type the value. */
static int
parse_item (struct vm_desc *d, struct vm_opt *o, const struct vm_driver *drv,
            const struct vm_kv_item *it, const char *cwd)
{
  const char *val = it->value;
  const struct vm_key *k = it->key ? vm_driver_key (drv, it->key)
    : short_bool (drv, it->value, &val);
  CLEANUP_FREE char *text = NULL;

  if (k == NULL) {
    set_error (0, "%s '%.60s' is not supported%s%s%s",
               it->key ? "key" : "item", it->key ? it->key : it->value,
               drv->name ? " for " : "", drv->name ? drv->name : "",
               it->key && strcmp (it->key, "snapshot") == 0 ?
               " (its writes live in a temporary file on the source)" : "");
    return -1;
  }
  if (!(k->flags & VK_LIST) && vm_opt_item (o, k->name)) {
    set_error (0, "key '%s' is given twice (QEMU would use the last, "
               "vmferry refuses the ambiguity)", k->name);
    return -1;
  }
  if (k->type == VT_CHILD) {
    set_error (0, "key '%s' names a block node: only -blockdev has those",
               k->name);
    return -1;
  }
  text = vm_value_canon (k, val, cwd);
  if (text == NULL) {
    prefix_error ("%s", k->name);
    return -1;
  }
  if (k->type == VT_DISK)
    return vm_add_disk_item (d, o, k->name, k, text);
  return vm_opt_add_item (o, k->name, k, text, -1);
}

int
vm_parse_items (struct vm_desc *d, struct vm_opt *o,
                const struct vm_driver *drv, const struct vm_kv *kv,
                size_t first, const char *skip, const char *cwd)
{
  size_t i;

  for (i = first; i < kv->n; i++) {
    if (skip && kv->items[i].key && strcmp (kv->items[i].key, skip) == 0)
      continue;
    if (parse_item (d, o, drv, &kv->items[i], cwd) == -1)
      return -1;
  }
  return 0;
}

/* The implied key's value: the first item without '=', or KEY=. */
static const char *
implied_value (const struct vm_kv *kv, const char *key, size_t *first,
               bool *explicit_key)
{
  const char *v = NULL;
  size_t i, n = 0;

  *first = 0;
  *explicit_key = false;
  if (kv->n > 0 && kv->items[0].key == NULL) {
    v = kv->items[0].value;
    *first = 1;
    n++;
  }
  for (i = 0; i < kv->n; i++)
    if (kv->items[i].key && strcmp (kv->items[i].key, key) == 0) {
      v = kv->items[i].value;
      *explicit_key = true;
      n++;
    }
  if (n > 1) {
    set_error (0, "'%s' is given twice", key);
    return NULL;
  }
  if (v == NULL)
    set_error (0, "no %s given", key);
  return v;
}

/* Why common drivers that are not on the allow-lists are refused. */
static const char *
refusal_reason (const char *option, const char *driver)
{
  static const struct { const char *opt, *drv, *why; } reasons[] = {
    { "chardev", "serial", ": a host serial port cannot be migrated" },
    { "chardev", "tty", ": a host terminal cannot be migrated" },
    { "chardev", "parallel", ": a host parallel port cannot be migrated" },
    { "chardev", "parport", ": a host parallel port cannot be migrated" },
    { "chardev", "stdio", ": the terminal stays on the source" },
    { "chardev", "pty", ": a terminal of this host; use a unix socket" },
    { "chardev", "pipe", ": use a unix socket" },
    { "object", "memory-backend-file", ": it maps guest RAM onto a host "
      "file; use memory-backend-memfd (hugetlb=on for huge pages)" },
    { "netdev", "vhost-user", ": its back-end process stays on the source" },
    { "netdev", "socket", ": use tap, bridge or user" },
    { "display", "gtk", ": use -display none or -vnc" },
    { "display", "sdl", ": use -display none or -vnc" },
    { "display", "curses", ": use -display none or -vnc" },
  };
  size_t i;

  for (i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
    if (strcmp (reasons[i].opt, option) == 0 &&
        strcmp (reasons[i].drv, driver) == 0)
      return reasons[i].why;
  return "";
}

/* A driver table: the implied key picks the driver; its value is not an
 * item (generate.c emits drv->name first).
 */
static int
parse_with_driver (struct vm_desc *d, struct vm_opt *o,
                   const struct vm_kv *kv, const char *cwd)
{
  const char *key = o->def->implied;
  size_t first;
  bool explicit_key;
  const char *v = implied_value (kv, key, &first, &explicit_key);

  if (v == NULL)
    return -1;
  o->drv = vm_driver_find (o->def->drivers, v);
  if (o->drv == NULL && o->def->drivers == vm_device_drivers &&
      vm_device_is_passthrough (v)) {
    set_error (0, "pass-through device '%.60s' cannot be migrated: it "
               "gives the guest a device of this host", v);
    return -1;
  }
  if (o->drv == NULL) {
    set_error (0, "%s '%.60s' is not supported by vmferry%s", key, v,
               refusal_reason (o->def->name, v));
    return -1;
  }
  return vm_parse_items (d, o, o->drv, kv, first,
                         explicit_key ? key : NULL, cwd);
}

/* One schema: the implied first item is the value of key implied. */
static int
parse_with_schema (struct vm_desc *d, struct vm_opt *o, struct vm_kv *kv,
                   const char *cwd)
{
  o->drv = &o->def->drivers[0];
  if (kv->n > 0 && kv->items[0].key == NULL && o->def->implied &&
      vm_driver_key (o->drv, kv->items[0].value) == NULL) {
    kv->items[0].key = strdup (o->def->implied);
    if (kv->items[0].key == NULL) {
      set_error (errno, "strdup");
      return -1;
    }
  }
  return vm_parse_items (d, o, o->drv, kv, 0, NULL, cwd);
}

/* -m 512 and -m size=512 are MiB: give them the suffix. */
static int
memory_mib (struct vm_kv *kv)
{
  size_t i;

  for (i = 0; i < kv->n; i++) {
    char *v = kv->items[i].value, *mib;
    if ((kv->items[i].key && strcmp (kv->items[i].key, "size") != 0) ||
        (kv->items[i].key == NULL && i > 0) || v[0] == '\0' ||
        !strchr ("0123456789", v[strlen (v) - 1]))
      continue;
    mib = xasprintf ("%sM", v);
    if (mib == NULL)
      return -1;
    free (kv->items[i].value);
    kv->items[i].value = mib;
  }
  return 0;
}

int
vm_parse_keyval (struct vm_desc *d, struct vm_opt *o, const char *arg,
                 const char *cwd)
{
  struct vm_kv *kv;
  int r;

  if (arg[0] == '{' && !o->def->json) {
    set_error (0, "the JSON form is not supported for this option");
    return -1;
  }
  kv = arg[0] == '{' ? vm_kv_from_json (arg) : vm_kv_parse (arg);
  if (kv == NULL)
    return -1;
  o->json = arg[0] == '{' && strcmp (o->def->name, "device") == 0;
  if (strcmp (o->def->name, "m") == 0 && memory_mib (kv) == -1) {
    vm_kv_free (kv);
    return -1;
  }
  r = o->def->drivers[0].name == NULL ? parse_with_schema (d, o, kv, cwd)
    : parse_with_driver (d, o, kv, cwd);
  vm_kv_free (kv);
  if (r == 0)
    r = vm_check_keyval (d, o);
  return r;
}
