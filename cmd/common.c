/* common.c: argument helpers for the mains. */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <strings.h>
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
    if (errno == ERANGE || (*e == '\0' && e != colon + 1 &&
                            (p < 0 || p > 65535))) {
      set_error (0, "'%s': port %s is out of range (ports go up to 65535)",
                 s, colon + 1);
      return -1;
    }
    if (errno || *e || e == colon + 1)
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

int
cmd_parse_bandwidth (const char *s, const char *opt, uint64_t *out)
{
  static const struct { const char *unit; double mult; } units[] = {
    { "", 1048576 }, { "K", 1024 }, { "KiB", 1024 }, { "M", 1048576 },
    { "MiB", 1048576 }, { "G", 1073741824 }, { "GiB", 1073741824 },
  };
  char *e;
  double v;
  size_t i;

  errno = 0;
  v = strtod (s, &e);
  /* Digits and at most one '.' (no sign, exponent, hex, inf or nan). */
  if (errno == 0 && e != s && strspn (s, "0123456789.") == (size_t) (e - s))
    for (i = 0; i < sizeof units / sizeof units[0]; i++)
      if (strcasecmp (e, units[i].unit) == 0 && v * units[i].mult >= 1024 &&
          v * units[i].mult <= 1099511627776.0) {
        *out = v * units[i].mult;
        return 0;
      }
  set_error (0, "%s '%s': say the rate in MiB per second (0.5, 100) or "
             "with a unit, K, M or G (500K, 20M, 1G: bytes per second, "
             "powers of 1024), from 1K to 1024G", opt, s);
  return -1;
}

int
cmd_check_tls_files (const char *dir, const char *const *files)
{
  size_t i;

  for (i = 0; files[i]; i++) {
    CLEANUP_FREE char *path = xasprintf ("%s/%s", dir, files[i]);
    if (path == NULL)
      return -1;
    if (access (path, R_OK) == -1) {
      set_error (errno, "%s", path);
      return -1;
    }
  }
  return 0;
}
