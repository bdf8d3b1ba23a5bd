/* conf.c: "key = value" configuration files ('#' comments), and the
 * booleans they (and the command lines) take.
 */
#include <config.h>

#include <errno.h>
#include <strings.h>

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

/* Cut a comment off the end of a value: a '#' that starts a word (at
 * the start, or after a space or tab) begins it; a '#' inside a word,
 * as in "disk#1", is part of the value.
 */
static void
cut_comment (char *v)
{
  char *p;

  for (p = v; *p; p++)
    if (*p == '#' && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
      *p = '\0';
      return;
    }
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
    if (strlen (line) == sizeof line - 1 && line[sizeof line - 2] != '\n') {
      set_error (0, "%s:%d: line longer than %zu bytes", path, n,
                 sizeof line - 2);
      return -1;
    }
    if (*l == '\0' || *l == '#')
      continue;
    eq = strchr (l, '=');
    if (eq == NULL) {
      set_error (0, "%s:%d: expected key = value, not '%s'", path, n, l);
      return -1;
    }
    *eq = '\0';
    cut_comment (eq + 1);
    if (fn (opaque, trim (l), trim (eq + 1)) == -1) {
      prefix_error ("%s:%d", path, n);
      return -1;
    }
  }
  if (ferror (fp)) {
    set_error (errno, "%s", path);
    return -1;
  }
  return 0;
}

int
conf_bool (const char *key, const char *value, bool *out)
{
  static const char *const yes[] = { "yes", "true", "on", "1" };
  static const char *const no[] = { "no", "false", "off", "0" };
  size_t i;

  for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    if (strcasecmp (value, yes[i]) == 0) {
      *out = true;
      return 0;
    }
    if (strcasecmp (value, no[i]) == 0) {
      *out = false;
      return 0;
    }
  }
  set_error (0, "%s: '%s' is not a boolean (yes, no, true, false, on, "
             "off, 1 or 0)", key, value);
  return -1;
}
