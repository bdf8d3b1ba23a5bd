/* test-hold.c: a testing aid.  VMFERRY_TEST_HOLD=POINT[:FILE][,...]
 * makes the program wait at the named point until FILE exists (default
 * /tmp/vmferry-hold-POINT), so that a test can inject a fault at a
 * known moment of a migration.  Unset, it costs one getenv.
 */
#include <config.h>


#include "utils.h"

/* Does the item "POINT[:FILE]" of length n name point?  Sets file. */
static bool
item_matches (const char *item, size_t n, const char *point, char *file,
              size_t fsize)
{
  const char *colon = memchr (item, ':', n);
  size_t plen = colon ? (size_t) (colon - item) : n;

  if (plen != strlen (point) || strncmp (item, point, plen) != 0)
    return false;
  if (colon)
    snprintf (file, fsize, "%.*s", (int) (n - plen - 1), colon + 1);
  else
    snprintf (file, fsize, "/tmp/vmferry-hold-%s", point);
  return true;
}

/* Find point in VMFERRY_TEST_HOLD; sets its file. */
static bool
find_point (const char *point, char *file, size_t fsize)
{
  const char *env = getenv ("VMFERRY_TEST_HOLD"), *p;

  for (p = env; p && *p; ) {
    size_t n = strcspn (p, ",");
    if (item_matches (p, n, point, file, fsize))
      return true;
    p += n + (p[n] == ',');
  }
  return false;
}

bool
test_hold_wanted (const char *point)
{
  char file[512];

  return find_point (point, file, sizeof file);
}

void
test_hold (const char *prog, const char *point)
{
  char file[512];

  if (!find_point (point, file, sizeof file))
    return;
  fprintf (stderr, "%s: test hold: at %s, waiting for %s\n", prog, point,
           file);
  fflush (stderr);
  while (access (file, F_OK) == -1)
    usleep (50000);
  fprintf (stderr, "%s: test hold: %s released\n", prog, point);
}
