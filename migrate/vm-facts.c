/* vm-facts.c: what the compatibility report (compat.h) needs to know
 * about the VM on the source: its CPU model and features, migration
 * blockers, pass-through devices and the bridges its netdevs use.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

#define QMP_TIMEOUT 10000

/* "on"/"true"/"yes" -> 1, "off"/"false"/"no" -> 0, else -1. */
static int
bool_value (const char *v)
{
  if (strcmp (v, "on") == 0 || strcmp (v, "true") == 0 ||
      strcmp (v, "yes") == 0)
    return 1;
  if (strcmp (v, "off") == 0 || strcmp (v, "false") == 0 ||
      strcmp (v, "no") == 0)
    return 0;
  return -1;
}

/* -cpu MODEL,+feat,-feat,feat=on,...: the model (QEMU's default for
 * x86_64 is qemu64) and the feature switches as QMP props.
 */
char *
mig_vm_cpu_parse (char *const *argv, json_t *props)
{
  const char *cpu = mig_argv_option (argv, "-cpu");
  struct mig_keyval *kv = mig_keyval_parse (cpu ? cpu : "qemu64");
  char *model = NULL;
  size_t i;

  if (kv == NULL)
    return NULL;
  for (i = 0; i < kv->n; i++) {
    const char *k = kv->items[i].key, *v = kv->items[i].value;
    if (i == 0 && k == NULL)
      model = strdup (v);
    else if (k == NULL && (v[0] == '+' || v[0] == '-') && v[1])
      json_object_set_new (props, v + 1, json_boolean (v[0] == '+'));
    else if (k && bool_value (v) >= 0)
      json_object_set_new (props, k, json_boolean (bool_value (v)));
  }
  mig_keyval_free (kv);
  return model ? model : strdup ("qemu64");
}

/* Names of the props that are true. */
static json_t *
true_props (json_t *props)
{
  json_t *list = json_array (), *v;
  const char *k;

  json_object_foreach (props, k, v)
    if (json_is_true (v))
      json_array_append_new (list, json_string (k));
  return list;
}

/* The guest's CPU: model, and its enabled features as QEMU expands
 * them (static expansion: the model's own features plus the switches).
 */
static int
cpu_facts (struct qmp *q, struct mig_vm *vm)
{
  json_auto_t *props = json_object (), *r = NULL;
  CLEANUP_FREE char *model = mig_vm_cpu_parse (vm->argv, props);

  if (model == NULL) {
    set_error (errno, "strdup");
    return -1;
  }
  json_object_set_new (vm->facts, "cpu_model", json_string (model));
  if (strcmp (model, "host") == 0 || strcmp (model, "max") == 0)
    return 0;
  r = qmp_command (q, "query-cpu-model-expansion",
                   json_pack ("{s:s, s:{s:s, s:O}}", "type", "static",
                              "model", "name", model, "props", props),
                   QMP_TIMEOUT);
  if (r == NULL) {
    prefix_error ("CPU model %s", model);
    return -1;
  }
  json_object_set_new (vm->facts, "cpu_features", true_props
                       (json_object_get (json_object_get (r, "model"),
                                         "props")));
  return 0;
}

/* -netdev bridge,br=NAME and -nic bridge,br=NAME (default br0). */
static void
bridge_facts (struct mig_vm *vm)
{
  json_t *list = json_object_get (vm->facts, "bridges");
  size_t i;

  for (i = 0; vm->argv[i] && vm->argv[i + 1]; i++) {
    struct mig_keyval *kv;
    const char *type, *br;
    if (strcmp (vm->argv[i], "-netdev") != 0 &&
        strcmp (vm->argv[i], "-nic") != 0)
      continue;
    kv = mig_keyval_parse (vm->argv[i + 1]);
    type = kv ? mig_keyval_get (kv, NULL) : NULL;
    if (type && strcmp (type, "bridge") == 0) {
      br = mig_keyval_get (kv, "br");
      json_array_append_new (list, json_string (br ? br : "br0"));
    }
    mig_keyval_free (kv);
  }
}

int
mig_vm_gather_facts (struct qmp *q, struct mig_vm *vm)
{
  json_auto_t *mig = qmp_command (q, "query-migrate", NULL, QMP_TIMEOUT);
  json_t *reasons = json_object_get (mig, "blocked-reasons");
  CLEANUP_FREE char *pt = mig_argv_find_passthrough (vm->argv);
  char *name = mig_host_cpu_model_name ();

  if (mig == NULL)
    return -1;
  if (json_is_array (reasons))
    json_object_set (vm->facts, "blocked_reasons", reasons);
  /* A host block device was already found as a disk (vm.c). */
  if (pt && json_array_size (json_object_get (vm->facts, "passthrough")) == 0)
    json_array_append_new (json_object_get (vm->facts, "passthrough"),
                           json_string (pt));
  json_object_set_new (vm->facts, "cpu_model_name",
                       json_string (name ? name : ""));
  free (name);
  bridge_facts (vm);
  return cpu_facts (q, vm);
}
