/* definition.c: the saved definition of a VM that lives on this host
 * (received live or stored by an offline move), so that it can be
 * listed and started again after the host rebooted.
 *
 *   {"version": 1, "vm": {the wire form: name, argv, disks with their
 *    dest_path, ...}, "from", "peer", "arrived", "stored", "run_dir",
 *    "vm_dir", "qemu", "qemu_user", "read_dirs": [...], "bridges": [...]}
 *
 * vmferryd writes it (root only, STORAGE_ROOT/.vmferry-vms/NAME.json,
 * where no request can name a file); whoever loads it parses the VM the
 * way a prepare does (mig_vm_from_json) and, to start it, through the
 * allow-lists again (vm_parse): a definition is no more trusted than
 * the peer that sent the VM.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>

#include <string.h>

#include "internal.h"

void
vm_definition_free (struct vm_definition *def)
{
  if (def == NULL)
    return;
  mig_vm_free (def->vm);
  free (def->from);
  free (def->peer);
  free (def->run_dir);
  free (def->vm_dir);
  free (def->qemu);
  free (def->qemu_user);
  strv_free (def->read_dirs);
  strv_free (def->bridges);
  free (def);
}

static json_t *
strv_json (char *const *v)
{
  json_t *a = json_array ();
  size_t i;

  for (i = 0; a && v && v[i]; i++)
    json_array_append_new (a, json_string (v[i]));
  return a;
}

int
vm_definition_save (const struct vm_definition *def, const char *path)
{
  json_auto_t *o = json_pack
    ("{s:i, s:o, s:s, s:s, s:I, s:b, s:s, s:s, s:s, s:s, s:o, s:o}",
     "version", 1, "vm", mig_vm_to_json (def->vm),
     "from", def->from ? def->from : "", "peer", def->peer ? def->peer : "",
     "arrived", (json_int_t) def->arrived, "stored", def->stored,
     "run_dir", def->run_dir, "vm_dir", def->vm_dir, "qemu", def->qemu,
     "qemu_user", def->qemu_user, "read_dirs", strv_json (def->read_dirs),
     "bridges", strv_json (def->bridges));

  if (o == NULL) {
    set_error (0, "cannot format the definition of %s", def->vm->name);
    return -1;
  }
  return json_state_save (path, o);
}

/* Strings of array a into *v (absolute paths or safe names only). */
static int
strv_load (json_t *a, bool paths, char ***v)
{
  size_t i;
  json_t *s;

  if (!json_is_array (a))
    return -1;
  json_array_foreach (a, i, s) {
    const char *t = json_string_value (s);
    if (t == NULL || (paths ? t[0] != '/' : !mig_safe_name (t)) ||
        strv_push (v, t) == -1)
      return -1;
  }
  return 0;
}

/* The fields beside "vm", checked: directories are absolute and named
 * after the VM (RUN_ROOT/NAME, STORAGE_ROOT/NAME).
 */
static int
fields_load (json_t *o, struct vm_definition *def)
{
  const char *from, *peer, *run, *dir, *qemu, *user;
  json_t *reads, *bridges;
  json_int_t arrived;
  int stored;
  json_error_t e;

  if (json_unpack_ex (o, &e, 0, "{s:s, s:s, s:I, s:b, s:s, s:s, s:s, s:s, "
                      "s:o, s:o}", "from", &from, "peer", &peer,
                      "arrived", &arrived, "stored", &stored,
                      "run_dir", &run, "vm_dir", &dir, "qemu", &qemu,
                      "qemu_user", &user, "read_dirs", &reads,
                      "bridges", &bridges) == -1) {
    set_error (0, "%s", e.text);
    return -1;
  }
  if (run[0] != '/' || dir[0] != '/' || qemu[0] == '\0' ||
      (qemu[0] != '/' && strchr (qemu, '/')) ||
      strcmp (vm_base_name (run), def->vm->name) != 0 ||
      strcmp (vm_base_name (dir), def->vm->name) != 0 ||
      !mig_safe_name (user) || strv_load (reads, true, &def->read_dirs) ||
      strv_load (bridges, false, &def->bridges)) {
    set_error (0, "a directory, program, user, read dir or bridge is "
               "malformed");
    return -1;
  }
  def->arrived = arrived;
  def->stored = stored;
  def->from = strdup (from);
  def->peer = strdup (peer);
  def->run_dir = strdup (run);
  def->vm_dir = strdup (dir);
  def->qemu = strdup (qemu);
  def->qemu_user = strdup (user);
  if (!def->from || !def->peer || !def->run_dir || !def->vm_dir ||
      !def->qemu || !def->qemu_user) {
    set_error (errno, "strdup");
    return -1;
  }
  return 0;
}

struct vm_definition *
vm_definition_load (const char *path)
{
  json_auto_t *o = json_state_load (path);
  struct vm_definition *def;
  json_int_t version = 0;

  if (o == NULL)
    return NULL;
  if ((def = calloc (1, sizeof *def)) == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  if (json_unpack (o, "{s:I}", "version", &version) == -1 || version != 1)
    set_error (0, "unknown version");
  else if ((def->vm = mig_vm_from_json (json_object_get (o, "vm"))) != NULL
           && fields_load (o, def) == 0)
    return def;
  prefix_error ("definition %s", path);
  vm_definition_free (def);
  return NULL;
}

const char *
vm_base_name (const char *path)
{
  const char *s = strrchr (path, '/');

  return s ? s + 1 : path;
}
