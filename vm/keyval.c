/* keyval.c: QEMU's "key=value,key=value" option strings, and the JSON
 * form of the same options, as one list of items.
 *
 * QEMU escapes a comma inside a value by doubling it (",,").  An item
 * without '=' gets key NULL (the implied first key, or a boolean short
 * form); the caller decides what it means.  Nothing here judges keys or
 * values: that is the allow-lists' job.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>

#include "internal.h"

void
vm_kv_free (struct vm_kv *kv)
{
  size_t i;

  if (kv == NULL)
    return;
  for (i = 0; i < kv->n; i++) {
    free (kv->items[i].key);
    free (kv->items[i].value);
  }
  free (kv->items);
  free (kv);
}

/* Append one item, taking ownership of key (may be NULL) and value. */
static int
kv_append (struct vm_kv *kv, char *key, char *value)
{
  struct vm_kv_item *items;

  if (value == NULL)
    goto oom;
  items = realloc (kv->items, (kv->n + 1) * sizeof *items);
  if (items == NULL)
    goto oom;
  kv->items = items;
  items[kv->n].key = key;
  items[kv->n].value = value;
  kv->n++;
  return 0;
 oom:
  set_error (ENOMEM, "option items");
  free (key);
  free (value);
  return -1;
}

int
vm_kv_add (struct vm_kv *kv, const char *key, const char *value)
{
  char *k = key ? strdup (key) : NULL;

  if (key && k == NULL) {
    set_error (errno, "strdup");
    return -1;
  }
  return kv_append (kv, k, strdup (value));
}

/* Read one item starting at *p (unescaping ",,"); advance *p past it
 * and its trailing comma.
 */
static int
parse_item (struct vm_kv *kv, const char **p)
{
  const char *s = *p;
  CLEANUP_FREE char *buf = malloc (strlen (s) + 1);
  ssize_t eq = -1;
  size_t n = 0;

  if (buf == NULL) {
    set_error (errno, "malloc");
    return -1;
  }
  for (; *s; s++) {
    if (*s == ',' && s[1] == ',') {
      buf[n++] = ',';
      s++;
      continue;
    }
    if (*s == ',')
      break;
    if (*s == '=' && eq == -1)
      eq = n;
    buf[n++] = *s;
  }
  buf[n] = '\0';
  *p = *s ? s + 1 : s;
  if (eq == -1)
    return kv_append (kv, NULL, strdup (buf));
  return kv_append (kv, strndup (buf, eq), strdup (buf + eq + 1));
}

struct vm_kv *
vm_kv_parse (const char *str)
{
  struct vm_kv *kv = calloc (1, sizeof *kv);
  const char *p = str;

  if (kv == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  while (*p) {
    if (parse_item (kv, &p) == -1) {
      vm_kv_free (kv);
      return NULL;
    }
  }
  return kv;
}

/* One JSON value under the dotted key prefix. */
static int
flatten (struct vm_kv *kv, const char *prefix, json_t *v, int depth)
{
  const char *k;
  json_t *sub;
  char num[32];

  if (depth > 8) {
    set_error (0, "JSON nested too deeply");
    return -1;
  }
  switch (json_typeof (v)) {
  case JSON_OBJECT:
    json_object_foreach (v, k, sub) {
      CLEANUP_FREE char *key = prefix ? xasprintf ("%s.%s", prefix, k)
        : strdup (k);
      if (key == NULL || strchr (k, '.') ||
          flatten (kv, key, sub, depth + 1) == -1) {
        if (key && strchr (k, '.'))
          set_error (0, "JSON key '%s' contains a dot", k);
        return -1;
      }
    }
    return 0;
  case JSON_STRING:
    return vm_kv_add (kv, prefix, json_string_value (v));
  case JSON_INTEGER:
    snprintf (num, sizeof num, "%" JSON_INTEGER_FORMAT,
              json_integer_value (v));
    return vm_kv_add (kv, prefix, num);
  case JSON_TRUE:
    return vm_kv_add (kv, prefix, "on");
  case JSON_FALSE:
    return vm_kv_add (kv, prefix, "off");
  case JSON_NULL:               /* keyval's spelling of null: empty */
    return vm_kv_add (kv, prefix, "");
  default:
    set_error (0, "'%s': JSON %s values are not supported", prefix,
               json_is_array (v) ? "array" : "real");
    return -1;
  }
}

struct vm_kv *
vm_kv_from_json (const char *text)
{
  json_auto_t *j = NULL;
  json_error_t e;
  struct vm_kv *kv;

  j = json_loads (text, JSON_REJECT_DUPLICATES, &e);
  if (j == NULL || !json_is_object (j)) {
    set_error (0, "malformed JSON: %s", j ? "not an object" : e.text);
    return NULL;
  }
  kv = calloc (1, sizeof *kv);
  if (kv == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  if (flatten (kv, NULL, j, 0) == -1) {
    vm_kv_free (kv);
    return NULL;
  }
  return kv;
}
