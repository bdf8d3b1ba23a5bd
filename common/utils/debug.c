/* debug.c: debug messages, off by default. */
#include <config.h>

#include <time.h>

#include "utils.h"

int vmferry_debug_flag;
static const char *debug_prog = "vmferry";

/* Called once from main() before any thread starts. */
void
vmferry_debug_enable (const char *progname)
{
  if (progname)
    debug_prog = progname;
  vmferry_debug_flag = 1;
}

void
vmferry_debug_print (const char *fmt, ...)
{
  char buf[2048];
  va_list ap;
  struct timespec ts;

  va_start (ap, fmt);
  vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  /* One write per message so that lines of several threads don't mix;
   * the monotonic clock's seconds tell how long each step took.
   */
  clock_gettime (CLOCK_MONOTONIC, &ts);
  fprintf (stderr, "%s[%lld.%03ld]: debug: %s\n", debug_prog,
           (long long) ts.tv_sec, ts.tv_nsec / 1000000, buf);
}
