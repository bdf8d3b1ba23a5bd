/* debug.c: debug messages, off by default. */
#include <config.h>

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

  va_start (ap, fmt);
  vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  /* One write per message so that lines of several threads don't mix. */
  fprintf (stderr, "%s: debug: %s\n", debug_prog, buf);
}
