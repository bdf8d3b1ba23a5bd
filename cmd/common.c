/* common.c: argument helpers for the mains. */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>

#include "utils.h"
#include "common.h"

int
cmd_parse_hostport (const char *s, char **addr, int *port)
{
  const char *colon, *end;
  char *e;
  long p;

  if (s[0] == '[') {
    end = strchr (s, ']');
    if (end == NULL || (end[1] != '\0' && end[1] != ':'))
      goto bad;
    *addr = strndup (s + 1, end - s - 1);
    colon = end[1] ? end + 1 : NULL;
  }
  else {
    colon = strrchr (s, ':');
    if (colon && strchr (s, ':') != colon)
      colon = NULL;             /* a bare IPv6 address */
    *addr = colon ? strndup (s, colon - s) : strdup (s);
  }
  if (*addr == NULL || **addr == '\0')
    goto bad;
  if (colon) {
    errno = 0;
    p = strtol (colon + 1, &e, 10);
    if (errno || *e || p < 0 || p > 65535)
      goto bad;
    *port = p;
  }
  return 0;
 bad:
  set_error (0, "'%s' is not ADDR[:PORT]", s);
  return -1;
}

int
cmd_signal_fd (void)
{
  sigset_t set;
  int fd;

  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGHUP);
  if (sigprocmask (SIG_BLOCK, &set, NULL) == -1 ||
      (fd = signalfd (-1, &set, SFD_CLOEXEC)) == -1) {
    set_error (errno, "signalfd");
    return -1;
  }
  signal (SIGPIPE, SIG_IGN);
  return fd;
}

int
cmd_parse_uint (const char *s, const char *opt, uint64_t min, uint64_t max,
                uint64_t *out)
{
  char *e;
  unsigned long long v;

  errno = 0;
  v = strtoull (s, &e, 10);
  if (errno || e == s || *e || s[0] == '-' || v < min || v > max) {
    set_error (0, "%s: '%s' is not a number from %" PRIu64 " to %" PRIu64,
               opt, s, min, max);
    return -1;
  }
  *out = v;
  return 0;
}

int
cmd_parse_duration (const char *s, const char *opt, uint64_t *out)
{
  static const struct { char suffix; uint64_t mult; } units[] = {
    { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
  };
  char *e;
  unsigned long long v;
  size_t i;

  errno = 0;
  v = strtoull (s, &e, 10);
  if (errno == 0 && e != s && s[0] != '-' && v > 0 && v <= 366 * 86400) {
    if (*e == '\0') {
      *out = v;
      return 0;
    }
    for (i = 0; e[1] == '\0' && i < sizeof units / sizeof units[0]; i++)
      if (*e == units[i].suffix && v <= 366 * 86400 / units[i].mult) {
        *out = v * units[i].mult;
        return 0;
      }
  }
  set_error (0, "%s: '%s' is not a duration (N, Ns, Nm, Nh or Nd; at "
             "most a year)", opt, s);
  return -1;
}
