/* strv.c: NULL-terminated vectors of strings (argv-like). */
#include <config.h>

#include <errno.h>

#include "utils.h"

size_t
strv_len (char *const *v)
{
  size_t n = 0;

  while (v && v[n])
    n++;
  return n;
}

int
strv_push (char ***v, const char *s)
{
  size_t n = strv_len (*v);
  char **nv;
  char *copy;

  copy = strdup (s);
  if (copy == NULL) {
    set_error (errno, "strdup");
    return -1;
  }
  nv = realloc (*v, (n + 2) * sizeof *nv);
  if (nv == NULL) {
    set_error (errno, "realloc");
    free (copy);
    return -1;
  }
  nv[n] = copy;
  nv[n + 1] = NULL;
  *v = nv;
  return 0;
}

void
strv_free (char **v)
{
  size_t i;

  if (v == NULL)
    return;
  for (i = 0; v[i]; i++)
    free (v[i]);
  free (v);
}
