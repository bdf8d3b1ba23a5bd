/* argv-format.c: the format a QEMU command line opens an image file
 * with, for the images vmferryd reopens or stores (image-check.c).
 *
 * Every -drive and -blockdev (keyval or JSON) becomes a list of block
 * nodes: a -drive is one node (its format= or driver=, its file=), each
 * nested group ("file.filename=" in keyval, an object in JSON) another.
 * A node's "users" are the node it is nested in and every node with a
 * value equal to one of its names (node-name=, a -drive's id=): that is
 * how QEMU layers one node over another (file=NAME, backing=NAME,
 * children.0=NAME, ...).  The image file is opened with format F when
 * exactly one node opens it and
 *   - that node is a -drive naming F (file=PATH,format=F), or
 *   - it is a protocol node (driver "file") whose only user is a node
 *     with driver F over it as "file" (or with no user at all: F is
 *     raw, the guest sees the file's bytes),
 * and no node is layered over the format node.  Anything else (a
 * format layered over a format, two nodes on one file) is not
 * understood and reported as such: the caller then does not reuse the
 * image.  A value that merely equals a node's name counts as a use:
 * that errs towards "not understood", never towards a wrong format.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"
#include "options.h"

#define NONE ((size_t) -1)
/* Bounds on what a peer's command line may make this walk build: real
 * ones have a few nodes, nested two or three deep.  Beyond them the
 * answer is "not followed" (and the walk stays linear in the input).
 */
#define MAX_NODES 256
#define MAX_VALUES 4096
#define MAX_DEPTH 8

struct bnode {
  size_t option;                /* index in argv of its option's value */
  char *prefix;                 /* keyval group ("" top, "file", ...) */
  char *names[2];               /* node-name=, a -drive's id= */
  char *driver;                 /* driver= (-drive: format=); NULL: none */
  char *filename;               /* the file it opens itself */
  size_t parent;                /* the node it is nested in, or NONE */
  char *key;                    /* its key in that parent */
  bool drive;                   /* a -drive's node */
  bool confused;                /* a key given twice, format and driver */
  char **values;                /* other string values: may name nodes */
  char **value_keys;            /* their keys (last component) */
};

struct graph {
  struct bnode *n;
  size_t len;
  size_t values;                /* in all nodes */
};

static void
graph_clear (struct graph *g)
{
  size_t i;

  for (i = 0; i < g->len; i++) {
    free (g->n[i].prefix);
    free (g->n[i].names[0]);
    free (g->n[i].names[1]);
    free (g->n[i].driver);
    free (g->n[i].filename);
    free (g->n[i].key);
    strv_free (g->n[i].values);
    strv_free (g->n[i].value_keys);
  }
  free (g->n);
}

/* Append a node; its index, or NONE + set_error. */
static size_t
add_node (struct graph *g, size_t option, const char *prefix, size_t parent,
          const char *key, bool drive)
{
  struct bnode *n;

  if (g->len >= MAX_NODES) {
    set_error (0, "more than %d block nodes", MAX_NODES);
    return NONE;
  }
  n = realloc (g->n, (g->len + 1) * sizeof *n);
  if (n == NULL) {
    set_error (errno, "realloc");
    return NONE;
  }
  g->n = n;
  n = &g->n[g->len];
  memset (n, 0, sizeof *n);
  n->option = option;
  n->parent = parent;
  n->drive = drive;
  n->prefix = strdup (prefix);
  n->key = key ? strdup (key) : NULL;
  g->len++;
  if (n->prefix == NULL || (key && n->key == NULL)) {
    set_error (errno, "strdup");
    return NONE;
  }
  return g->len - 1;
}

/* Set *field to value once; a second value confuses the node. */
static int
set_once (struct bnode *n, char **field, const char *value)
{
  if (*field) {
    n->confused = true;
    return 0;
  }
  *field = strdup (value);
  if (*field == NULL) {
    set_error (errno, "strdup");
    return -1;
  }
  return 0;
}

/* Record key=value (the key's last component) on node n of g. */
static int
node_item (struct graph *g, struct bnode *n, const char *key,
           const char *value)
{
  if (strcmp (key, "driver") == 0 ||
      (n->drive && n->parent == NONE && strcmp (key, "format") == 0))
    return set_once (n, &n->driver, value);
  if (strcmp (key, "filename") == 0 ||
      (n->drive && n->parent == NONE && strcmp (key, "file") == 0))
    return set_once (n, &n->filename, value);
  if (strcmp (key, "node-name") == 0)
    return set_once (n, &n->names[0], value);
  if (n->drive && n->parent == NONE && strcmp (key, "id") == 0)
    return set_once (n, &n->names[1], value);
  if (++g->values > MAX_VALUES) {
    set_error (0, "more than %d block options", MAX_VALUES);
    return -1;
  }
  if (strv_push (&n->values, value) == -1 ||
      strv_push (&n->value_keys, key) == -1)
    return -1;
  return 0;
}

/* The number of '.' in s. */
static size_t
depth (const char *s)
{
  size_t n = 0;

  for (; *s; s++)
    n += *s == '.';
  return n;
}

/* The node of keyval group prefix in option (made, with its parents,
 * if new); NONE + set_error.
 */
static size_t
group (struct graph *g, size_t option, const char *prefix, bool drive)
{
  CLEANUP_FREE char *up = NULL;
  const char *dot = strrchr (prefix, '.');
  size_t i, parent;

  for (i = 0; i < g->len; i++)
    if (g->n[i].option == option && strcmp (g->n[i].prefix, prefix) == 0)
      return i;
  if (prefix[0] == '\0')
    return add_node (g, option, "", NONE, NULL, drive);
  up = strndup (prefix, dot ? (size_t) (dot - prefix) : 0);
  if (up == NULL) {
    set_error (errno, "strndup");
    return NONE;
  }
  parent = group (g, option, up, drive);
  if (parent == NONE)
    return NONE;
  return add_node (g, option, prefix, parent, dot ? dot + 1 : prefix, false);
}

/* A -drive or -blockdev in keyval form. */
static int
add_keyval (struct graph *g, size_t option, const char *arg, bool drive)
{
  struct mig_keyval *kv = mig_keyval_parse (arg);
  size_t i;
  int r = 0;

  if (kv == NULL)
    return -1;
  if (group (g, option, "", drive) == NONE)
    r = -1;
  for (i = 0; r == 0 && i < kv->n; i++) {
    const char *k = kv->items[i].key, *dot;
    CLEANUP_FREE char *prefix = NULL;
    size_t n;
    if (k == NULL)
      continue;
    if (depth (k) > MAX_DEPTH) {
      set_error (0, "key %.32s... nests more than %d deep", k, MAX_DEPTH);
      r = -1;
      break;
    }
    dot = strrchr (k, '.');
    prefix = strndup (k, dot ? (size_t) (dot - k) : 0);
    n = prefix ? group (g, option, prefix, drive) : NONE;
    if (n == NONE ||
        node_item (g, &g->n[n], dot ? dot + 1 : k, kv->items[i].value) == -1)
      r = -1;
  }
  mig_keyval_free (kv);
  return r;
}

static int add_json (struct graph *g, size_t option, json_t *o, size_t parent,
                     const char *key);

/* One member (key: v) of JSON node n. */
static int
json_member (struct graph *g, size_t option, size_t n, const char *key,
             json_t *v)
{
  size_t i;
  json_t *e;

  if (json_is_string (v))
    return node_item (g, &g->n[n], key, json_string_value (v));
  if (json_is_object (v))
    return add_json (g, option, v, n, key);
  json_array_foreach (v, i, e)
    if (json_member (g, option, n, key, e) == -1)
      return -1;
  return 0;
}

/* A JSON node (a -blockdev, or an object nested in one). */
static int
add_json (struct graph *g, size_t option, json_t *o, size_t parent,
          const char *key)
{
  const char *k;
  json_t *v;
  size_t n = add_node (g, option, "", parent, key, false);

  if (n == NONE)
    return -1;
  json_object_foreach (o, k, v)
    if (json_member (g, option, n, k, v) == -1)
      return -1;
  return 0;
}

/* The block nodes of argv. */
static int
build (struct graph *g, char *const *argv)
{
  json_auto_t *j = NULL;
  size_t i;

  for (i = 1; argv[i]; i++) {
    const struct mig_option *o = mig_option_lookup (argv[i]);
    if (o == NULL || o->arity != OPT_ARG || argv[i + 1] == NULL)
      continue;
    i++;
    if (o->cls != OPT_DRIVE && o->cls != OPT_BLOCKDEV)
      continue;
    if (o->cls == OPT_BLOCKDEV && argv[i][0] == '{') {
      json_decref (j);
      j = json_loads (argv[i], JSON_REJECT_DUPLICATES, NULL);
      if (!json_is_object (j)) {
        set_error (0, "a -blockdev is not a JSON object");
        return -1;
      }
      if (add_json (g, i, j, NONE, NULL) == -1)
        return -1;
    }
    else if (add_keyval (g, i, argv[i], o->cls == OPT_DRIVE) == -1)
      return -1;
  }
  return 0;
}

/* How many nodes use node u (nest it, or name it); *by and *key: the
 * last of them and how.
 */
static size_t
users (struct graph *g, size_t u, size_t *by, const char **key)
{
  size_t i, k, count = 0;

  if (g->n[u].parent != NONE) {
    *by = g->n[u].parent;
    *key = g->n[u].key;
    count++;
  }
  for (i = 0; i < g->len; i++)
    for (k = 0; g->n[i].values && g->n[i].values[k]; k++)
      if ((g->n[u].names[0] &&
           strcmp (g->n[i].values[k], g->n[u].names[0]) == 0) ||
          (g->n[u].names[1] &&
           strcmp (g->n[i].values[k], g->n[u].names[1]) == 0)) {
        *by = i;
        *key = g->n[i].value_keys[k];
        count++;
      }
  return count;
}

/* The node over the file (see the top); NONE + set_error. */
static size_t
format_node (struct graph *g, size_t file)
{
  struct bnode *f = &g->n[file];
  const char *key = NULL;
  size_t by = NONE, n;

  if (f->drive && f->parent == NONE)
    return file;                /* -drive file=PATH: the format itself */
  if (f->driver && strcmp (f->driver, "file") != 0) {
    set_error (0, "it is opened by driver %s", f->driver);
    return NONE;
  }
  n = users (g, file, &by, &key);
  if (n == 0)
    return file;                /* used as it is: raw */
  if (n > 1 || strcmp (key, "file") != 0) {
    set_error (0, "its file node is used %s",
               n > 1 ? "more than once" : "other than as a format's file");
    return NONE;
  }
  return by;
}

int
mig_argv_disk_format (char *const *argv, const char *path, char **format)
{
  struct graph g = { 0 };
  size_t i, file = NONE, fmt = NONE, by;
  const char *key, *drv;
  int r = -1;

  *format = NULL;
  if (build (&g, argv) == -1)
    goto out;
  for (i = 0; i < g.len; i++)
    if (g.n[i].filename && strcmp (g.n[i].filename, path) == 0) {
      if (file != NONE) {
        set_error (0, "it is opened more than once");
        goto out;
      }
      file = i;
    }
  if (file == NONE) {
    set_error (0, "it is not on the command line");
    goto out;
  }
  if ((fmt = format_node (&g, file)) == NONE)
    goto out;
  if (g.n[fmt].confused || g.n[file].confused) {
    set_error (0, "its options name a key twice, or both format and "
               "driver");
    goto out;
  }
  if (users (&g, fmt, &by, &key) != 0) {
    set_error (0, "another block node is layered over its format");
    goto out;
  }
  drv = fmt == file && !g.n[fmt].drive ? "raw" : g.n[fmt].driver;
  if (drv == NULL) {
    r = 0;                      /* -drive without a format: probed */
    goto out;
  }
  *format = strdup (drv);
  r = *format ? 1 : -1;
 out:
  graph_clear (&g);
  if (r == -1)
    prefix_error ("how the command line opens %s", path);
  return r;
}
