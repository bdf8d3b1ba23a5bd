/* generate-opts.c: a command line from the description, one option
 * class at a time (see generate.c for the values).
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

/* A tap or bridge back-end: the destination's tap descriptor, or in the
 * wire form, "bridge" once the source knows the tap's bridge.
 */
static int
gen_tap (struct gen *g, const struct vm_opt *o, char **buf, size_t *len)
{
  const struct vm_net *n = &g->d->nets[o->net];
  char num[32];

  bool bridge_form = g->l == NULL || g->l->tap_fds == NULL;

  if (bridge_form && n->bridge == NULL)   /* bridge unknown: as it was */
    return vm_gen_kv (buf, len, NULL, o->drv->name) ||
      vm_gen_items (g, o, buf, len, NULL, false) ? -1 : 0;
  if (vm_gen_kv (buf, len, NULL, bridge_form ? "bridge" : "tap") == -1 ||
      vm_gen_items (g, o, buf, len, NULL, true) == -1)
    return -1;
  if (bridge_form)
    return vm_gen_kv (buf, len, "br", n->bridge) ||
      (n->vhost && vm_gen_kv (buf, len, "vhost", "on")) ||
      (!n->vnet_hdr && vm_gen_kv (buf, len, "vnet_hdr", "off")) ? -1 : 0;
  if (g->l->tap_fds[o->net] < 0) {
    set_error (0, "no tap device was made for it");
    return -1;
  }
  snprintf (num, sizeof num, "%d", g->l->tap_fds[o->net]);
  if (vm_gen_kv (buf, len, "fd", num) == -1)
    return -1;
  if (!n->vhost)
    return 0;
  if (g->l->vhost_fds == NULL || g->l->vhost_fds[o->net] < 0) {
    set_error (0, "vhost=on: no /dev/vhost-net descriptor");
    return -1;
  }
  snprintf (num, sizeof num, "%d", g->l->vhost_fds[o->net]);
  return vm_gen_kv (buf, len, "vhost", "on") ||
    vm_gen_kv (buf, len, "vhostfd", num) ? -1 : 0;
}

/* A -device given in JSON, in JSON again: the driver, then each item
 * with the JSON type of its value type.
 */
static int
gen_device_json (const struct vm_opt *o, char **buf, size_t *len)
{
  json_auto_t *j = json_pack ("{s:s}", "driver", o->drv->name);
  CLEANUP_FREE char *text = NULL;
  size_t i;

  for (i = 0; j && i < o->n_items; i++) {
    const struct vm_item *it = &o->items[i];
    json_t *v;
    switch (it->def->type) {
    case VT_UINT: case VT_SIZE:
      v = json_integer ((json_int_t) strtoull (it->text, NULL, 10));
      break;
    case VT_INT:
      v = json_integer (strtoll (it->text, NULL, 10));
      break;
    case VT_BOOL:
      v = json_boolean (strcmp (it->text, "on") == 0);
      break;
    default:
      v = json_string (it->text);
    }
    if (json_object_set_new (j, it->key, v) == -1)
      j = NULL;
  }
  text = j ? json_dumps (j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  if (text == NULL) {
    set_error (ENOMEM, "JSON -device");
    return -1;
  }
  return vm_buf_add (buf, len, text, false);
}

static int
gen_keyval (struct gen *g, const struct vm_opt *o, char **buf, size_t *len)
{
  const char *implied = o->def->implied, *first;
  bool machine = strcmp (o->def->name, "machine") == 0 ||
    strcmp (o->def->name, "M") == 0;

  if (o->net >= 0 && g->d->nets[o->net].type != VM_NET_USER)
    return gen_tap (g, o, buf, len);
  if (o->json)
    return gen_device_json (o, buf, len);
  if (o->drv->name)                     /* the driver, then its keys */
    return vm_gen_kv (buf, len, NULL, o->drv->name) ||
      vm_gen_items (g, o, buf, len, NULL, false) ? -1 : 0;
  if (strcmp (o->def->name, "m") == 0)  /* size=N with its unit */
    return vm_gen_items (g, o, buf, len, NULL, false);
  /* One schema: its implied key first, bare (QEMU's own spelling). */
  first = machine && g->d->machine ? g->d->machine
    : implied ? item_text (o, implied) : NULL;
  if (first && vm_gen_kv (buf, len, NULL, first) == -1)
    return -1;
  return vm_gen_items (g, o, buf, len, first ? implied : NULL, false);
}

/* -blockdev: the items; a read-only image used in place is opened
 * read-only by its file node too (the read dirs are mounted read-only).
 */
static int
gen_blockdev (struct gen *g, const struct vm_opt *o, char **buf, size_t *len)
{
  size_t i;

  if (vm_gen_items (g, o, buf, len, NULL, false) == -1)
    return -1;
  for (i = 0; g->l && i < o->n_items; i++) {
    const struct vm_item *it = &o->items[i];
    CLEANUP_FREE char *ro = NULL;
    if (it->disk < 0 || !g->d->disks[it->disk].read_only ||
        (g->l->disk_paths && g->l->disk_paths[it->disk]))
      continue;
    ro = xasprintf ("%.*sread-only", (int) (strlen (it->key) -
                                           strlen ("filename")), it->key);
    if (ro == NULL || (vm_opt_item (o, ro) == NULL &&
                       vm_gen_kv (buf, len, ro, "on") == -1))
      return -1;
  }
  return 0;
}

/* -drive: the items, the format as pinned, and on the destination the
 * node name the exports use.
 */
static int
gen_drive (struct gen *g, const struct vm_opt *o, char **buf, size_t *len)
{
  const struct vm_disk *disk = o->disk >= 0 ? &g->d->disks[o->disk] : NULL;

  if (vm_gen_items (g, o, buf, len, NULL, false) == -1)
    return -1;
  if (disk && disk->format && item_text (o, "format") == NULL &&
      vm_gen_kv (buf, len, "format", disk->format) == -1)
    return -1;
  if (disk && g->l && o->gen_node &&
      vm_gen_kv (buf, len, "node-name", disk->node) == -1)
    return -1;
  return 0;
}

/* -serial & co.: sockets listen and never wait. */
static int
gen_charspec (struct gen *g, const struct vm_opt *o, char **buf, size_t *len)
{
  const struct vm_charspec *cs = &o->cs;
  static const char *const prefix[] = {
    [CS_NONE] = "none", [CS_NULL] = "null", [CS_CHARDEV] = "chardev:",
    [CS_UNIX] = "unix:", [CS_FILE] = "file:", [CS_TCP] = "tcp:",
  };
  CLEANUP_FREE char *arg = NULL;

  if ((cs->mon && vm_buf_add (buf, len, "mon:", false) == -1) ||
      vm_buf_add (buf, len, cs->kind == CS_TCP && cs->telnet ? "telnet:"
                  : prefix[cs->kind], false) == -1)
    return -1;
  if (cs->arg == NULL)
    return 0;
  arg = vm_gen_value (g, cs->kind == CS_UNIX || cs->kind == CS_FILE
                      ? VT_RUNFILE : VT_TOKEN, cs->arg, -1);
  if (arg == NULL ||
      vm_buf_add (buf, len, arg, cs->kind != CS_FILE) == -1)
    return -1;
  if (g->l && cs->kind == CS_UNIX && g->out->qmp == NULL &&
      strncmp (o->def->name, "qmp", 3) == 0 &&
      (g->out->qmp = strdup (arg)) == NULL)
    return -1;
  if (cs->kind != CS_UNIX && cs->kind != CS_TCP)
    return 0;
  return vm_buf_add (buf, len, ",server=on,wait=off", false) ||
    (cs->nodelay && vm_buf_add (buf, len, ",nodelay=on", false)) ? -1 : 0;
}

/* The argument of o (malloc'd into *buf), or none for a flag. */
static int
gen_arg (struct gen *g, const struct vm_opt *o, char **buf, size_t *len)
{
  CLEANUP_FREE char *v = NULL;

  switch (o->def->form) {
  case VF_VALUE:
    v = vm_gen_value (g, o->def->vtype, o->value, -1);
    if (v && g->l && strcmp (o->def->name, "pidfile") == 0) {
      free (g->out->pidfile);
      g->out->pidfile = strdup (v);
    }
    return v ? vm_buf_add (buf, len, v, false) : -1;
  case VF_KEYVAL: return gen_keyval (g, o, buf, len);
  case VF_BLOCKDEV: return gen_blockdev (g, o, buf, len);
  case VF_DRIVE: return gen_drive (g, o, buf, len);
  case VF_CHARSPEC: return gen_charspec (g, o, buf, len);
  case VF_CPU:
    return vm_gen_kv (buf, len, NULL, o->value) ||
      vm_gen_items (g, o, buf, len, NULL, false) ? -1 : 0;
  case VF_GLOBAL: return vm_gen_items (g, o, buf, len, NULL, false);
  default: return 0;
  }
}

static int
gen_opt (struct gen *g, const struct vm_opt *o)
{
  CLEANUP_FREE char *dash = xasprintf ("-%s", o->def->name);
  char *buf = NULL;
  size_t len = 0;

  if (dash == NULL)
    return -1;
  if (!o->def->arg)
    return vm_gen_push (g, dash, NULL);
  if (vm_buf_add (&buf, &len, "", false) == -1 ||
      gen_arg (g, o, &buf, &len) == -1) {
    free (buf);
    prefix_error ("%s", dash);
    return -1;
  }
  return vm_gen_push (g, dash, buf);
}

static bool
has_machine_option (const struct vm_desc *d)
{
  size_t i;

  for (i = 0; i < d->n_opts; i++)
    if (strcmp (d->opts[i].def->name, "machine") == 0 ||
        strcmp (d->opts[i].def->name, "M") == 0)
      return true;
  return false;
}

static int
gen_all (struct gen *g, const char *argv0)
{
  size_t i;

  memset (g->out, 0, sizeof *g->out);
  if (vm_ok (g->d) == -1)
    return -1;
  if (vm_gen_push (g, argv0, NULL) == -1 ||
      (g->d->machine && !has_machine_option (g->d) &&
       vm_gen_push (g, "-machine", strdup (g->d->machine)) == -1))
    goto err;
  for (i = 0; i < g->d->n_opts; i++)
    if (gen_opt (g, &g->d->opts[i]) == -1)
      goto err;
  return 0;
 err:
  vm_cmdline_clear (g->out);
  return -1;
}

int
vm_generate (const struct vm_desc *d, const struct vm_layout *l,
             struct vm_cmdline *out)
{
  struct gen g = { .d = d, .l = l, .out = out };

  return gen_all (&g, l->qemu);
}

char **
vm_wire_argv (const struct vm_desc *d)
{
  struct vm_cmdline c;
  struct gen g = { .d = d, .l = NULL, .out = &c };
  char **argv;

  if (gen_all (&g, d->argv0 ? d->argv0 : "qemu-system-x86_64") == -1)
    return NULL;
  argv = c.argv;
  c.argv = NULL;
  vm_cmdline_clear (&c);
  return argv;
}
