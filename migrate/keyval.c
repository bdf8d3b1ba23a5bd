/* keyval.c: QEMU's "key=value,key=value" option strings.
 *
 * QEMU escapes a comma inside a value by doubling it (",,").  The first
 * item may have no key (the implied key: "socket" in -chardev socket,...,
 * "virtio-blk-pci" in -device virtio-blk-pci,...); such items get key NULL.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

void
mig_keyval_free (struct mig_keyval *kv)
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

/* Append one item; key may be NULL.  Takes ownership of value. */
static int
keyval_append (struct mig_keyval *kv, const char *key, size_t keylen,
               char *value)
{
  struct mig_keyval_item *items;

  if (value == NULL) {
    set_error (errno, "strdup");
    return -1;
  }
  items = realloc (kv->items, (kv->n + 1) * sizeof *items);
  if (items == NULL) {
    set_error (errno, "realloc");
    free (value);
    return -1;
  }
  kv->items = items;
  items[kv->n].key = key ? strndup (key, keylen) : NULL;
  items[kv->n].value = value;
  if (key && items[kv->n].key == NULL) {
    set_error (errno, "strndup");
    free (value);
    return -1;
  }
  kv->n++;
  return 0;
}

/* Read one item starting at *p (unescaping ",,"); advance *p past it
 * and its trailing comma.
 */
static int
keyval_parse_item (struct mig_keyval *kv, const char **p)
{
  const char *s = *p, *eq = NULL;
  CLEANUP_FREE char *buf = malloc (strlen (s) + 1);
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
    if (*s == '=' && eq == NULL)
      eq = buf + n;             /* position in the unescaped buffer */
    buf[n++] = *s;
  }
  buf[n] = '\0';
  *p = *s ? s + 1 : s;
  if (eq == NULL)
    return keyval_append (kv, NULL, 0, strdup (buf));
  return keyval_append (kv, buf, eq - buf, strdup (eq + 1));
}

struct mig_keyval *
mig_keyval_parse (const char *str)
{
  struct mig_keyval *kv = calloc (1, sizeof *kv);
  const char *p = str;

  if (kv == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  while (*p) {
    if (keyval_parse_item (kv, &p) == -1) {
      mig_keyval_free (kv);
      return NULL;
    }
  }
  return kv;
}

/* Append s to the growing string *out (length *len), doubling commas
 * when escape is true.
 */
static int
append_str (char **out, size_t *len, const char *s, bool escape)
{
  char *n = realloc (*out, *len + 2 * strlen (s) + 1);

  if (n == NULL) {
    set_error (errno, "realloc");
    return -1;
  }
  *out = n;
  for (; *s; s++) {
    n[(*len)++] = *s;
    if (escape && *s == ',')
      n[(*len)++] = ',';
  }
  n[*len] = '\0';
  return 0;
}

char *
mig_keyval_format (const struct mig_keyval *kv)
{
  char *out = NULL;
  size_t len = 0, i;

  if (append_str (&out, &len, "", false) == -1)
    return NULL;
  for (i = 0; i < kv->n; i++) {
    if (i > 0 && append_str (&out, &len, ",", false) == -1)
      goto err;
    if (kv->items[i].key &&
        (append_str (&out, &len, kv->items[i].key, true) == -1 ||
         append_str (&out, &len, "=", false) == -1))
      goto err;
    if (append_str (&out, &len, kv->items[i].value, true) == -1)
      goto err;
  }
  return out;
 err:
  free (out);
  return NULL;
}

const char *
mig_keyval_get (const struct mig_keyval *kv, const char *key)
{
  size_t i;

  for (i = 0; i < kv->n; i++) {
    if (key == NULL && kv->items[i].key == NULL)
      return kv->items[i].value;
    if (key && kv->items[i].key && strcmp (kv->items[i].key, key) == 0)
      return kv->items[i].value;
  }
  return NULL;
}

int
mig_keyval_set (struct mig_keyval *kv, const char *key, const char *value)
{
  size_t i;
  char *v;

  for (i = 0; i < kv->n; i++) {
    if (kv->items[i].key && strcmp (kv->items[i].key, key) == 0) {
      v = strdup (value);
      if (v == NULL) {
        set_error (errno, "strdup");
        return -1;
      }
      free (kv->items[i].value);
      kv->items[i].value = v;
      return 0;
    }
  }
  return keyval_append (kv, key, strlen (key), strdup (value));
}
