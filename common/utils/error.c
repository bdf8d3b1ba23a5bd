/* error.c: the thread-local "last error" (see utils.h for the rule). */
#include <config.h>

#include <errno.h>

#include "utils.h"

#define ERROR_MAX 1024

/* One error per thread: workers never clobber each other's messages. */
struct last_error {
  char msg[ERROR_MAX];
  int errnum;
};
static __thread struct last_error last_error;

void
set_error (int errnum, const char *fmt, ...)
{
  int saved = errno;
  char msg[ERROR_MAX];
  va_list ap;
  int n;

  /* Formatted aside first: an argument may be get_error() itself. */
  va_start (ap, fmt);
  n = vsnprintf (msg, ERROR_MAX, fmt, ap);
  va_end (ap);
  if (errnum != 0 && n >= 0 && n < ERROR_MAX)
    snprintf (msg + n, ERROR_MAX - n, ": %s", strerror (errnum));
  memcpy (last_error.msg, msg, ERROR_MAX);
  last_error.errnum = errnum;
  errno = saved;
}

void
set_error_class (int errnum, const char *fmt, ...)
{
  int saved = errno;
  char msg[ERROR_MAX];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, ERROR_MAX, fmt, ap);
  va_end (ap);
  memcpy (last_error.msg, msg, ERROR_MAX);
  last_error.errnum = errnum;
  errno = saved;
}

void
prefix_error (const char *fmt, ...)
{
  int saved = errno;
  char prefix[ERROR_MAX], old[ERROR_MAX];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  memcpy (old, last_error.msg, ERROR_MAX);
  /* Truncation is fine: the end of a long message is the least useful. */
  if (snprintf (last_error.msg, ERROR_MAX, "%.500s: %.500s", prefix, old) < 0)
    last_error.msg[0] = '\0';
  errno = saved;
}

const char *
get_error (void)
{
  return last_error.msg;
}

int
get_errno (void)
{
  return last_error.errnum;
}

void
clear_error (void)
{
  last_error.msg[0] = '\0';
  last_error.errnum = 0;
}
