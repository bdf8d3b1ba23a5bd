/* parse-char.c: the character device shorthand of -serial, -monitor,
 * -qmp, -qmp-pretty and -parallel: "none", "null", "chardev:ID",
 * "unix:PATH[,server=on,...]", "file:PATH", "tcp:[HOST]:PORT[,...]",
 * "telnet:...", each optionally behind "mon:".  Host terminals and
 * devices (stdio, pty, vc, /dev/...), pipes and UDP are refused; sockets
 * must listen, and never wait for a client before QEMU starts.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>

#include "internal.h"

static const struct vm_key ref_key = { "chardev", VT_REF };
static const struct vm_key run_key = { "path", VT_RUNFILE };
static const struct vm_key bool_key = { "flag", VT_BOOL };

/* The socket options after the address: server, wait (nowait),
 * nodelay, telnet, as flags or KEY=on|off.
 */
static int
socket_opts (struct vm_charspec *cs, const struct vm_kv *kv, size_t first)
{
  size_t i;

  for (i = first; i < kv->n; i++) {
    const char *k = kv->items[i].key ? kv->items[i].key : kv->items[i].value;
    CLEANUP_FREE char *v = kv->items[i].key
      ? vm_value_canon (&bool_key, kv->items[i].value, NULL) : strdup ("on");
    bool on;

    if (v == NULL)
      return -1;
    on = strcmp (v, "on") == 0;
    if (strcmp (k, "server") == 0)
      cs->server = on;
    else if (strcmp (k, "wait") == 0 || strcmp (k, "nowait") == 0) {
      /* never waits on the destination: generate.c emits wait=off */
    }
    else if (strcmp (k, "nodelay") == 0)
      cs->nodelay = on;
    else if (strcmp (k, "telnet") == 0)
      cs->telnet = on;
    else {
      set_error (0, "socket option '%.40s' is not supported", k);
      return -1;
    }
  }
  if (!cs->server) {
    set_error (0, "a client socket connects out to the source's "
               "surroundings: only listening sockets (server=on) move");
    return -1;
  }
  return 0;
}

/* "HOST:PORT" with an optional host (letters, digits, '.', '-') and a
 * numeric port.
 */
static char *
tcp_address (const char *s)
{
  const char *colon = strrchr (s, ':');
  size_t i;

  if (colon == NULL || colon[1] == '\0')
    goto bad;
  for (i = 0; s + i < colon; i++)
    if (!isalnum ((unsigned char) s[i]) && !strchr (".-", s[i]))
      goto bad;
  for (i = 1; colon[i]; i++)
    if (!isdigit ((unsigned char) colon[i]) || i > 5)
      goto bad;
  return strdup (s);
 bad:
  set_error (0, "'%.60s' is not HOST:PORT", s);
  return NULL;
}

/* Parse spec (after any "mon:") into cs. */
static int
parse_spec (struct vm_charspec *cs, const char *spec, const char *cwd)
{
  struct vm_kv *kv = NULL;
  const char *rest;
  int r = -1;

  if (strcmp (spec, "none") == 0 || strcmp (spec, "null") == 0) {
    cs->kind = spec[1] == 'o' ? CS_NONE : CS_NULL;
    return 0;
  }
  if (strncmp (spec, "chardev:", 8) == 0) {
    cs->kind = CS_CHARDEV;
    cs->arg = vm_value_canon (&ref_key, spec + 8, NULL);
    return cs->arg ? 0 : -1;
  }
  if (strncmp (spec, "file:", 5) == 0) {
    cs->kind = CS_FILE;
    cs->arg = vm_value_canon (&run_key, spec + 5, cwd);
    return cs->arg ? 0 : -1;
  }
  cs->telnet = strncmp (spec, "telnet:", 7) == 0;
  if (strncmp (spec, "unix:", 5) == 0)
    cs->kind = CS_UNIX, rest = spec + 5;
  else if (strncmp (spec, "tcp:", 4) == 0 || cs->telnet)
    cs->kind = CS_TCP, rest = spec + (cs->telnet ? 7 : 4);
  else {
    set_error (0, "'%.40s' ties the VM to this host (a terminal, a device, "
               "a pipe) or is not supported by vmferry", spec);
    return -1;
  }
  kv = vm_kv_parse (rest);
  if (kv == NULL)
    return -1;
  if (kv->n == 0 || kv->items[0].key)
    set_error (0, "'%.40s' has no address", spec);
  else if ((cs->arg = cs->kind == CS_UNIX
            ? vm_value_canon (&run_key, kv->items[0].value, cwd)
            : tcp_address (kv->items[0].value)) != NULL)
    r = socket_opts (cs, kv, 1);
  vm_kv_free (kv);
  return r;
}

int
vm_parse_charspec (struct vm_desc *d, struct vm_opt *o, const char *arg,
                   const char *cwd)
{
  const char *spec = arg;

  if (strncmp (spec, "mon:", 4) == 0) {
    o->cs.mon = true;
    spec += 4;
  }
  if (parse_spec (&o->cs, spec, cwd) == -1)
    return -1;
  if (strcmp (o->def->name, "parallel") == 0 && o->cs.kind != CS_NONE) {
    set_error (0, "only -parallel none can move");
    return -1;
  }
  return 0;
}
