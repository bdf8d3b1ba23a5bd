/* parse-check.c: what a keyval option means once its items are typed:
 * the facts the description keeps (machine, memory, name, networks) and
 * the combinations that cannot move (a character device that connects
 * out or would hold QEMU's start waiting for a client, a multi-queue
 * tap).
 */
#include <config.h>

#include <ctype.h>

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

/* Set the item key of o to text (replacing it, or appending it). */
static int
set_item (struct vm_opt *o, const char *key, const char *text)
{
  struct vm_item *it = vm_opt_item (o, key);
  char *t;

  if (it == NULL)
    return vm_opt_add_item (o, key, vm_driver_key (o->drv, key), text, -1);
  t = strdup (text);
  if (t == NULL)
    return -1;
  free (it->text);
  it->text = t;
  return 0;
}

/* A socket chardev listens (a client would connect out to something of
 * the source's network), on a unix path or host:port, and never waits
 * for a client before QEMU starts.
 */
static int
check_socket (struct vm_opt *o)
{
  bool path = item_text (o, "path") != NULL;
  bool port = item_text (o, "port") != NULL;

  if (path == port) {
    set_error (0, "a socket needs either path= or host=/port=");
    return -1;
  }
  if (!is_on (o, "server")) {
    set_error (0, "a client socket connects out to the source's "
               "surroundings: only listening sockets (server=on) move");
    return -1;
  }
  return set_item (o, "wait", "off");
}

/* -netdev / -nic: the back-end, for the destination's tap handling. */
static int
add_net (struct vm_desc *d, struct vm_opt *o)
{
  const char *type = o->drv->name;
  const char *q = item_text (o, "queues");
  struct vm_net *n;

  if (strcmp (type, "none") == 0)
    return 0;
  if (q && strcmp (q, "1") != 0) {
    set_error (0, "multi-queue taps (queues=%s) are not supported yet", q);
    return -1;
  }
  n = vm_desc_new_net (d, &o->net);
  if (n == NULL)
    return -1;
  n->type = strcmp (type, "user") == 0 ? VM_NET_USER
    : strcmp (type, "tap") == 0 ? VM_NET_TAP : VM_NET_BRIDGE;
  if ((item_text (o, "id") && !(n->id = strdup (item_text (o, "id")))) ||
      (item_text (o, "ifname") &&
       !(n->ifname = strdup (item_text (o, "ifname")))))
    return -1;
  if (n->type == VM_NET_BRIDGE &&
      !(n->bridge = strdup (item_text (o, "br") ? item_text (o, "br")
                            : "br0")))
    return -1;
  n->vhost = is_on (o, "vhost");
  n->vnet_hdr = !(item_text (o, "vnet_hdr") && !is_on (o, "vnet_hdr"));
  return 0;
}

/* Keep a single fact: one -machine type, one -m, one -name. */
static int
keep (char **slot, const char *value, const char *what)
{
  if (value == NULL)
    return 0;
  if (*slot) {
    set_error (0, "%s is given twice", what);
    return -1;
  }
  *slot = strdup (value);
  return *slot ? 0 : -1;
}

/* -vnc [HOST]:N or none; never a unix socket. */
static int
check_vnc (const struct vm_opt *o)
{
  const char *disp = item_text (o, "display");
  const char *colon = disp ? strrchr (disp, ':') : NULL;
  size_t i;

  if (disp && strcmp (disp, "none") == 0)
    return 0;
  if (colon == NULL || colon[1] == '\0') {
    set_error (0, "only a TCP display ([HOST]:N) or none can move");
    return -1;
  }
  for (i = 1; colon[i]; i++)
    if (!isdigit ((unsigned char) colon[i])) {
      set_error (0, "display '%s': N must be a number", disp);
      return -1;
    }
  return 0;
}

static int
check_memory (struct vm_desc *d, const struct vm_opt *o)
{
  const char *size = item_text (o, "size");

  if (size == NULL)
    return 0;
  if (d->memory) {
    set_error (0, "-m is given twice");
    return -1;
  }
  d->memory = strtoull (size, NULL, 10);
  return 0;
}

int
vm_check_keyval (struct vm_desc *d, struct vm_opt *o)
{
  const char *name = o->def->name;

  if (strcmp (name, "chardev") == 0) {
    if (strcmp (o->drv->name, "socket") == 0)
      return check_socket (o);
    if (strcmp (o->drv->name, "file") == 0 && !item_text (o, "path")) {
      set_error (0, "a file chardev needs path=");
      return -1;
    }
    return 0;
  }
  if (strcmp (name, "netdev") == 0 || strcmp (name, "nic") == 0)
    return add_net (d, o);
  if (strcmp (name, "machine") == 0 || strcmp (name, "M") == 0) {
    const char *accel = item_text (o, "accel");
    if (accel && strncmp (accel, "kvm", 3) == 0)
      d->kvm = true;
    return keep (&d->machine, item_text (o, "type"), "the machine type");
  }
  if (strcmp (name, "accel") == 0) {
    if (strcmp (o->drv->name, "kvm") == 0)
      d->kvm = true;
    return 0;
  }
  if (strcmp (name, "m") == 0)
    return check_memory (d, o);
  if (strcmp (name, "name") == 0)
    return keep (&d->name, item_text (o, "guest"), "-name");
  if (strcmp (name, "vnc") == 0)
    return check_vnc (o);
  return 0;
}
