/* vm-facts.c: what the compatibility report (compat.h) needs to know
 * about the VM on the source: its CPU model and features, migration
 * blockers, pass-through disks and the bridges its netdevs use.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

/* The guest's CPU: the model (QEMU's default for x86_64 is qemu64) and
 * its on/off feature switches as QMP props.
 */
static char *
cpu_parse (const struct vm_desc *d, json_t *props)
{
  size_t i;

  for (i = 0; d->cpu_features && d->cpu_features[i]; i++) {
    const char *f = d->cpu_features[i], *eq = strchr (f, '=');
    CLEANUP_FREE char *name = eq ? strndup (f, eq - f) : NULL;
    if (name && (strcmp (eq + 1, "on") == 0 || strcmp (eq + 1, "off") == 0))
      json_object_set_new (props, name, json_boolean (eq[1] == 'o' &&
                                                      eq[2] == 'n'));
  }
  return strdup (d->cpu_model ? d->cpu_model : "qemu64");
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
  CLEANUP_FREE char *model = cpu_parse (vm->desc, props);

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
                   QMP_TIMEOUT_MS);
  if (r == NULL) {
    prefix_error ("CPU model %s", model);
    return -1;
  }
  json_object_set_new (vm->facts, "cpu_features", true_props
                       (json_object_get (json_object_get (r, "model"),
                                         "props")));
  return 0;
}

/* The bridges the VM's taps are on (-netdev bridge,br=, or a tap
 * device on a bridge of this host).
 */
static void
bridge_facts (struct mig_vm *vm)
{
  json_t *list = json_object_get (vm->facts, "bridges");
  size_t i;

  for (i = 0; i < vm->desc->n_nets; i++)
    if (vm->desc->nets[i].bridge)
      json_array_append_new (list, json_string (vm->desc->nets[i].bridge));
}

int
mig_vm_gather_facts (struct qmp *q, struct mig_vm *vm)
{
  json_auto_t *mig = qmp_command (q, "query-migrate", NULL, QMP_TIMEOUT_MS);
  json_t *reasons = json_object_get (mig, "blocked-reasons");
  char *name = mig_host_cpu_model_name ();

  if (mig == NULL) {
    free (name);
    return -1;
  }
  if (json_is_array (reasons))
    json_object_set (vm->facts, "blocked_reasons", reasons);
  json_object_set_new (vm->facts, "cpu_model_name",
                       json_string (name ? name : ""));
  free (name);
  bridge_facts (vm);
  return cpu_facts (q, vm);
}
