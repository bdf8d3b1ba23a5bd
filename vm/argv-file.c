/* argv-file.c: a VM's QEMU command line kept in a file, for an offline
 * move (vmferry migrate --offline --argv-file FILE).
 *
 * Two forms, told apart by the presence of a NUL byte:
 *   - one argument per line, taken literally (no quoting, no variables:
 *     a path with spaces stays one argument); empty lines and lines that
 *     begin with '#' are skipped;
 *   - NUL-separated, as in /proc/PID/cmdline (so that a copy of a running
 *     VM's command line can be used as it is).
 * The destination saves the rewritten command line in the first form.
 */
#include <config.h>

#include "internal.h"

#define MAX_ARGV_FILE (1 << 20)

/* Push the argument [s, s+n) unless the one-per-line form skips it. */
static int
push_arg (char ***v, const char *s, size_t n, bool lines)
{
  CLEANUP_FREE char *a = strndup (s, n);

  if (a == NULL) {
    set_error (0, "out of memory");
    return -1;
  }
  if (lines && (a[0] == '\0' || a[0] == '#'))
    return 0;
  return strv_push (v, a);
}

char **
mig_argv_read_file (const char *path)
{
  size_t len, i, start = 0;
  CLEANUP_FREE char *text = read_file (path, &len);
  char **v = NULL;
  bool lines;
  char sep;

  if (text == NULL)
    return NULL;
  if (len > MAX_ARGV_FILE) {
    set_error (0, "%s: too large for a command line", path);
    return NULL;
  }
  lines = memchr (text, '\0', len) == NULL;
  sep = lines ? '\n' : '\0';
  for (i = 0; i <= len; i++) {
    if (i < len && text[i] != sep)
      continue;
    /* A trailing separator does not start an empty last argument. */
    if ((i < len || i > start) &&
        push_arg (&v, text + start, i - start, lines) == -1) {
      strv_free (v);
      return NULL;
    }
    start = i + 1;
  }
  if (v == NULL || v[0] == NULL) {
    set_error (0, "%s: no command line in it", path);
    strv_free (v);
    return NULL;
  }
  return v;
}
