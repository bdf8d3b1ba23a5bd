/* parse-cpu.c: -cpu MODEL[,+FEAT][,-FEAT][,FEAT=VALUE] and -global
 * DRIVER.PROPERTY=VALUE.
 *
 * CPU properties reach no host resource, so any model and feature name
 * of the identifier class is accepted, each feature once; the values
 * are re-emitted as FEAT=on, FEAT=off or FEAT=VALUE.  -global properties
 * come from a short allow-list (vm_global_keys).
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>

#include "internal.h"

static const struct vm_key model_key = { "model", VT_TOKEN };
static const struct vm_key value_key = { "value", VT_STR };

static bool
feature_name_ok (const char *s)
{
  size_t i;

  if (s[0] == '\0' || strlen (s) > 64)
    return false;
  for (i = 0; s[i]; i++)
    if (!isalnum ((unsigned char) s[i]) && !strchr ("-_.", s[i]))
      return false;
  return true;
}

/* "+f", "-f", "f=v", "f" into "f=on" / "f=off" / "f=v" (malloc'd). */
static char *
feature (const struct vm_kv_item *it)
{
  const char *name = it->key ? it->key : it->value;
  const char *val = it->key ? it->value : "on";
  CLEANUP_FREE char *v = NULL;

  if (it->key == NULL && (name[0] == '+' || name[0] == '-')) {
    val = name[0] == '+' ? "on" : "off";
    name++;
  }
  if (!feature_name_ok (name)) {
    set_error (0, "CPU feature '%.40s' is not a feature name", name);
    return NULL;
  }
  if (strcmp (val, "true") == 0 || strcmp (val, "false") == 0)
    val = val[0] == 't' ? "on" : "off";
  v = vm_value_canon (&value_key, val, NULL);
  return v ? xasprintf ("%s=%s", name, v) : NULL;
}

/* Has features a feature called like f ("name=...")? */
static bool
has_feature (char *const *features, const char *f)
{
  size_t n = strcspn (f, "="), i;

  for (i = 0; features && features[i]; i++)
    if (strncmp (features[i], f, n + 1) == 0)
      return true;
  return false;
}

int
vm_parse_cpu (struct vm_desc *d, struct vm_opt *o, const char *arg)
{
  struct vm_kv *kv = vm_kv_parse (arg);
  size_t i;
  int r = -1;

  if (kv == NULL)
    return -1;
  if (d->cpu_model) {
    set_error (0, "-cpu is given twice");
    goto out;
  }
  if (kv->n == 0 || kv->items[0].key ||
      (o->value = vm_value_canon (&model_key, kv->items[0].value, NULL))
      == NULL) {
    prefix_error ("CPU model");
    goto out;
  }
  for (i = 1; i < kv->n; i++) {
    CLEANUP_FREE char *f = feature (&kv->items[i]);
    if (f == NULL)
      goto out;
    if (has_feature (d->cpu_features, f)) {
      set_error (0, "CPU feature '%.*s' is given twice",
                 (int) strcspn (f, "="), f);
      goto out;
    }
    if (strv_push (&d->cpu_features, f) == -1)
      goto out;
    f[strcspn (f, "=")] = '\0';   /* the item: name, and its value */
    if (vm_opt_add_item (o, f, &value_key, f + strlen (f) + 1, -1) == -1)
      goto out;
  }
  d->cpu_model = strdup (o->value);
  r = d->cpu_model ? 0 : -1;
 out:
  vm_kv_free (kv);
  return r;
}

int
vm_parse_global (struct vm_desc *d, struct vm_opt *o, const char *arg)
{
  struct vm_kv *kv = vm_kv_parse (arg);
  CLEANUP_FREE char *name = NULL, *text = NULL;
  const char *value = NULL;
  size_t i;

  if (kv == NULL)
    return -1;
  if (kv->n == 1 && kv->items[0].key) {          /* DRIVER.PROP=VALUE */
    name = strdup (kv->items[0].key);
    value = kv->items[0].value;
  }
  else if (kv->n == 3) {                         /* driver=,property=,value= */
    const char *drv = NULL, *prop = NULL;
    for (i = 0; i < 3 && kv->items[i].key; i++) {
      const char *k = kv->items[i].key, *v = kv->items[i].value;
      if (strcmp (k, "driver") == 0 && drv == NULL)
        drv = v;
      else if (strcmp (k, "property") == 0 && prop == NULL)
        prop = v;
      else if (strcmp (k, "value") == 0 && value == NULL)
        value = v;
    }
    if (drv && prop && value)
      name = xasprintf ("%s.%s", drv, prop);
  }
  for (i = 0; name && vm_global_keys[i].name; i++)
    if (strcmp (vm_global_keys[i].name, name) == 0)
      break;
  if (name == NULL || vm_global_keys[i].name == NULL) {
    set_error (0, "global property '%.60s' is not supported by vmferry",
               name ? name : arg);
    vm_kv_free (kv);
    return -1;
  }
  text = vm_value_canon (&vm_global_keys[i], value, NULL);
  vm_kv_free (kv);
  if (text == NULL)
    return -1;
  return vm_opt_add_item (o, vm_global_keys[i].name, &vm_global_keys[i],
                          text, -1);
}
