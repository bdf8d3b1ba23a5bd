/* vmlist.c: the VMs of this host, for vmferry evacuate: the live QMP
 * sockets in the VM directory (NAME.qmp or NAME/qmp.sock, the names
 * vmferry migrate resolves), smallest RAM first so that the most VMs
 * are moved soonest.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "internal.h"

#define LIST_QMP_TIMEOUT_MS 5000  /* per VM, while listing many */

struct vm_entry {
  char *name;
  uint64_t ram;                 /* UINT64_MAX: could not ask */
};

static bool
is_qmp_name (const char *name)
{
  size_t len = strlen (name);

  return len > 4 && strcmp (name + len - 4, ".qmp") == 0;
}

/* The QMP socket of entry name in dir, or NULL: also when nobody
 * listens on it (a VM that is stopped, e.g. one vmferryd received and
 * vmferry stop ended: vmferry list shows it, evacuate leaves it).
 */
static char *
socket_of (const char *dir, const char *name)
{
  struct stat st;
  char *p;

  if (is_qmp_name (name))
    p = xasprintf ("%s/%s", dir, name);
  else
    p = xasprintf ("%s/%s/qmp.sock", dir, name);
  if (p && stat (p, &st) == 0 && S_ISSOCK (st.st_mode) &&
      qmp_listener_pid (p) > 0)
    return p;
  free (p);
  return NULL;
}

static uint64_t
ram_of (const char *path)
{
  struct qmp *q = qmp_connect (path, LIST_QMP_TIMEOUT_MS);
  json_t *r = q ? qmp_command (q, "query-memory-size-summary", NULL,
                               LIST_QMP_TIMEOUT_MS) : NULL;
  uint64_t ram = r ? (uint64_t) json_integer_value (json_object_get
                                                    (r, "base-memory"))
    : UINT64_MAX;

  json_decref (r);
  qmp_close (q);
  return ram;
}

static int
compare (const void *a, const void *b)
{
  const struct vm_entry *x = a, *y = b;

  if (x->ram != y->ram)
    return x->ram < y->ram ? -1 : 1;
  return strcmp (x->name, y->name);
}

/* Read dir into e (grown); returns the count or -1. */
static ssize_t
scan (const char *dir, struct vm_entry **e)
{
  DIR *d = opendir (dir);
  struct dirent *de;
  size_t n = 0;

  if (d == NULL) {
    set_error (errno, "VM directory %s", dir);
    return -1;
  }
  while ((de = readdir (d)) != NULL) {
    CLEANUP_FREE char *sock = de->d_name[0] == '.' ? NULL
      : socket_of (dir, de->d_name);
    struct vm_entry *ne;
    if (sock == NULL || (ne = realloc (*e, (n + 1) * sizeof **e)) == NULL)
      continue;
    *e = ne;
    (*e)[n].name = strndup (de->d_name, strlen (de->d_name) -
                            (is_qmp_name (de->d_name) ? 4 : 0));
    (*e)[n].ram = ram_of (sock);
    n += (*e)[n].name != NULL;
  }
  closedir (d);
  return n;
}

char **
mig_list_vms (const char *vm_dir)
{
  struct vm_entry *e = NULL;
  ssize_t n = scan (vm_dir, &e), i;
  char **names;

  if (n < 0)
    return NULL;
  qsort (e, n, sizeof *e, compare);
  names = calloc (n + 1, sizeof *names);
  for (i = 0; i < n; i++) {
    if (names)
      names[i] = e[i].name;
    else
      free (e[i].name);
  }
  free (e);
  if (names == NULL)
    set_error (errno, "calloc");
  return names;
}
