/* inventory.c: this host's VMs, for vmferry list (and evacuate).
 *
 * The VM directory holds each VM as NAME.qmp or NAME/qmp.sock (the
 * names vmferry migrate resolves); the VMs vmferryd received also have
 * NAME/definition.json (a link to their saved definition), and
 * NAME/arriving.json while they arrive (dest/home.c).  A VM's state:
 *
 *   arriving       being received here
 *   running        its QEMU runs it
 *   paused         its QEMU runs, the VM is paused (any non-running
 *                  status but an incoming migration)
 *   migrating out  a migration of vmferry's (RUN_DIR/ID/state.json) with
 *                  a live vmferry and no result yet names it
 *   busy           its monitor does not answer (another client holds it)
 *   stopped        no QEMU, but a definition: vmferry start NAME
 *   quarantined    it left; its source files wait for the deadline of
 *                  vmferry migrate --keep-source (RUN_DIR/ID/quarantine.json)
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "internal.h"

#define LIST_TIMEOUT_MS 3000    /* per VM and command, while listing many */

/* The VM's disks as its QEMU has them open. */
static json_t *
disks_of (struct qmp *q)
{
  json_auto_t *r = qmp_command (q, "query-block", NULL, LIST_TIMEOUT_MS);
  json_t *out = json_array (), *b;
  size_t i;

  json_array_foreach (r, i, b) {
    json_t *in = json_object_get (b, "inserted");
    json_t *img = json_object_get (in, "image");
    const char *dev = json_string_value (json_object_get (b, "qdev"));
    if (in == NULL)
      continue;                 /* an empty CD-ROM drive */
    json_array_append_new
      (out, json_pack ("{s:s, s:O, s:O, s:O, s:O*}", "id",
                       dev ? dev : json_string_value
                       (json_object_get (b, "device")),
                       "path", json_object_get (in, "file"),
                       "format", json_object_get (in, "drv"),
                       "virtual_size", json_object_get (img, "virtual-size"),
                       "allocated", json_object_get (img, "actual-size")));
  }
  return out;
}

/* The machine type QEMU runs (its QOM type, "-machine" dropped). */
static json_t *
machine_of (struct qmp *q)
{
  json_auto_t *r = qmp_commandf (q, LIST_TIMEOUT_MS, "qom-get", "{s:s, s:s}",
                                 "path", "/machine", "property", "type");
  const char *t = json_string_value (r);
  size_t n = t ? strlen (t) : 0;

  if (n > 8 && strcmp (t + n - 8, "-machine") == 0)
    return json_stringn (t, n - 8);
  return t ? json_string (t) : json_null ();
}

static const char *
state_of (struct qmp *q)
{
  json_auto_t *st = qmp_command (q, "query-status", NULL, LIST_TIMEOUT_MS);
  const char *s = json_string_value (json_object_get (st, "status"));

  if (s == NULL)
    return "busy";
  if (strcmp (s, "inmigrate") == 0)
    return "arriving";
  return strcmp (s, "running") == 0 ? "running" : "paused";
}

/* Ask the QEMU at sock about its VM into o.  false if it did not answer. */
static bool
ask_qemu (const char *sock, json_t *o)
{
  struct qmp *q = qmp_connect (sock, LIST_TIMEOUT_MS);
  json_auto_t *mem = NULL;
  int v;

  if (q == NULL)
    return false;
  json_object_set_new (o, "state", json_string (state_of (q)));
  mem = qmp_command (q, "query-memory-size-summary", NULL, LIST_TIMEOUT_MS);
  json_object_set (o, "memory", json_object_get (mem, "base-memory"));
  json_object_set_new (o, "disks", disks_of (q));
  v = qmp_qemu_version (q);
  if (v > 0)
    json_object_set_new (o, "qemu_version", json_sprintf
                         ("%d.%d.%d", v / 10000, v / 100 % 100, v % 100));
  json_object_set_new (o, "machine", machine_of (q));
  json_object_set_new (o, "pid", json_integer (qmp_peer_pid (q)));
  qmp_close (q);
  return true;
}

/* What the definition of a received VM says: where it came from, and
 * for a stopped VM what it is.
 */
static void
from_definition (const char *path, json_t *o, bool running)
{
  struct vm_definition *def = vm_definition_load (path);
  const struct mig_vm *vm = def ? def->vm : NULL;
  size_t i;

  if (def == NULL) {
    json_object_set_new (o, "note", json_string (get_error ()));
    return;
  }
  json_object_set_new (o, "received", json_pack
                       ("{s:s, s:s, s:I, s:b}", "from", def->from,
                        "peer", def->peer, "arrived",
                        (json_int_t) def->arrived, "stored", def->stored));
  if (!running) {
    json_t *disks = json_array ();
    for (i = 0; i < vm->n_disks; i++)
      json_array_append_new (disks, json_pack
                             ("{s:s, s:s, s:s, s:I}", "id", vm->disks[i].id,
                              "path", vm->disks[i].dest_path
                              ? vm->disks[i].dest_path : vm->disks[i].path,
                              "format", vm->disks[i].format, "virtual_size",
                              (json_int_t) vm->disks[i].virtual_size));
    json_object_set_new (o, "memory", json_integer (vm->memory));
    json_object_set_new (o, "disks", disks);
    json_object_set_new (o, "machine", json_string (vm->machine));
  }
  vm_definition_free (def);
}

/* A migration of vmferry's that moves VM name (or the VM at sock) out
 * right now: its id, or NULL.
 */
static char *
migrating (const char *run_dir, const char *name, const char *sock)
{
  DIR *dh = run_dir ? opendir (run_dir) : NULL;
  struct dirent *de;
  char *id = NULL;

  while (dh && id == NULL && (de = readdir (dh)) != NULL) {
    CLEANUP_FREE char *p = de->d_name[0] == '.' ? NULL
      : xasprintf ("%s/%s/state.json", run_dir, de->d_name);
    json_auto_t *st = p ? json_load_file (p, 0, NULL) : NULL;
    const char *vm = json_string_value (json_object_get (st, "vm"));
    pid_t pid = json_integer_value (json_object_get (st, "pid"));
    if (vm && json_object_get (st, "result") == NULL && pid > 0 &&
        pid_alive (pid) && (strcmp (vm, name) == 0 || strcmp (vm, sock) == 0))
      id = strdup (de->d_name);
  }
  if (dh)
    closedir (dh);
  return id;
}

/* One VM of the VM directory: entry (a file NAME.qmp or a directory). */
static json_t *
entry (const char *vm_dir, const char *run_dir, const char *ent)
{
  size_t n = strlen (ent);
  bool dot_qmp = n > 4 && strcmp (ent + n - 4, ".qmp") == 0;
  CLEANUP_FREE char *name = strndup (ent, dot_qmp ? n - 4 : n);
  CLEANUP_FREE char *sock = dot_qmp ? xasprintf ("%s/%s", vm_dir, ent)
    : xasprintf ("%s/%s/qmp.sock", vm_dir, ent);
  CLEANUP_FREE char *def = xasprintf ("%s/%s/definition.json", vm_dir, ent);
  CLEANUP_FREE char *arr = xasprintf ("%s/%s/arriving.json", vm_dir, ent);
  CLEANUP_FREE char *id = NULL;
  json_auto_t *o = NULL;
  struct stat st;

  if (!name || !sock || !def || !arr)
    return NULL;
  o = json_pack ("{s:s, s:s, s:n, s:n, s:[], s:n, s:n, s:n}", "name", name,
                 "qmp", sock, "state", "memory", "disks", "qemu_version",
                 "machine", "received");
  if (o == NULL)
    return NULL;
  if (stat (arr, &st) == 0) {
    json_auto_t *a = json_load_file (arr, 0, NULL);
    json_object_set_new (o, "state", json_string ("arriving"));
    json_object_set (o, "received", a);
    return json_incref (o);
  }
  if ((id = migrating (run_dir, name, sock)) != NULL) {
    json_object_set_new (o, "state", json_string ("migrating out"));
    json_object_set_new (o, "migration", json_string (id));
  }
  else if (qmp_listener_pid (sock) == 0) {
    if (stat (def, &st) == -1)
      return NULL;              /* a stale socket: not a VM */
    json_object_set_new (o, "state", json_string ("stopped"));
  }
  else if (!ask_qemu (sock, o))
    json_object_set_new (o, "state", json_string ("busy"));
  if (stat (def, &st) == 0)
    from_definition (def, o, strcmp (json_string_value
                                     (json_object_get (o, "state")),
                                     "stopped") != 0);
  return json_incref (o);
}

/* The VMs that left with their source files kept (--keep-source). */
static void
quarantined (const char *run_dir, json_t *list)
{
  DIR *dh = run_dir ? opendir (run_dir) : NULL;
  struct dirent *de;

  while (dh && (de = readdir (dh)) != NULL) {
    CLEANUP_FREE char *p = de->d_name[0] == '.' ? NULL
      : xasprintf ("%s/%s/quarantine.json", run_dir, de->d_name);
    json_auto_t *r = p ? json_load_file (p, 0, NULL) : NULL;
    const char *state = json_string_value (json_object_get (r, "state"));
    if (state && (strcmp (state, "waiting") == 0 ||
                  strcmp (state, "unconfirmed") == 0))
      json_array_append_new
        (list, json_pack ("{s:O, s:s, s:s, s:O, s:O, s:O}", "name",
                          json_object_get (r, "vm"), "state", "quarantined",
                          "migration", de->d_name, "deadline",
                          json_object_get (r, "deadline"), "files",
                          json_object_get (r, "files"), "to",
                          json_object_get (r, "host")));
  }
  if (dh)
    closedir (dh);
}

static int
by_name (const void *a, const void *b)
{
  const char *x = json_string_value (json_object_get (*(json_t **) a,
                                                      "name"));
  const char *y = json_string_value (json_object_get (*(json_t **) b,
                                                      "name"));

  return strcmp (x ? x : "", y ? y : "");
}

json_t *
mig_inventory (const char *vm_dir, const char *run_dir)
{
  DIR *dh = opendir (vm_dir);
  json_t *list = json_array (), *sorted, *o;
  struct dirent *de;
  json_t **v;
  size_t i, n;

  if (dh == NULL && errno != ENOENT) {
    set_error (errno, "VM directory %s", vm_dir);
    json_decref (list);
    return NULL;
  }
  while (dh && (de = readdir (dh)) != NULL)
    if (de->d_name[0] != '.' && (o = entry (vm_dir, run_dir, de->d_name)))
      json_array_append_new (list, o);
  if (dh)
    closedir (dh);
  quarantined (run_dir, list);
  n = json_array_size (list);
  v = calloc (n + 1, sizeof *v);
  for (i = 0; v && i < n; i++)
    v[i] = json_array_get (list, i);
  if (v)
    qsort (v, n, sizeof *v, by_name);
  sorted = json_array ();
  for (i = 0; v && i < n; i++)
    json_array_append (sorted, v[i]);
  free (v);
  json_decref (list);
  return sorted;
}
