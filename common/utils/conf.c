/* conf.c: "key = value" configuration files ('#' comments). */
#include <config.h>

#include <errno.h>

#include "utils.h"

/* Trim spaces at both ends, in place. */
static char *
trim (char *s)
{
  char *e;

  s += strspn (s, " \t");
  e = s + strlen (s);
  while (e > s && strchr (" \t\r\n", e[-1]))
    *--e = '\0';
  return s;
}

int
conf_read (const char *path, conf_fn fn, void *opaque)
{
  CLEANUP_FCLOSE FILE *fp = fopen (path, "r");
  char line[4096];
  int n = 0;

  if (fp == NULL) {
    set_error (errno, "%s", path);
    return -1;
  }
  while (fgets (line, sizeof line, fp)) {
    char *l = trim (line), *eq;
    n++;
    if (*l == '\0' || *l == '#')
      continue;
    eq = strchr (l, '=');
    if (eq == NULL) {
      set_error (0, "%s:%d: expected key = value", path, n);
      return -1;
    }
    *eq = '\0';
    if (fn (opaque, trim (l), trim (eq + 1)) == -1) {
      prefix_error ("%s:%d", path, n);
      return -1;
    }
  }
  return 0;
}
