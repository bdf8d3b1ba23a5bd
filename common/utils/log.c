/* log.c: leveled messages of a daemon (vmferryd's audit trail and its
 * own notes), to stderr or to a sink that cmd/ installs (the journal).
 *
 * The level and the sink are process-wide, like the debug flag (the
 * house style allows these): they are set by main() before threads
 * start, and a reload (SIGHUP) changes the level only, an int that
 * other threads read without a lock.
 */
#include <config.h>

#include <strings.h>

#include "utils.h"

static const char *log_prog = "vmferry";
static volatile int log_max = LOG_LEVEL_INFO;
static log_sink_fn log_sink;

static const struct {
  const char *name;
  enum log_level level;
} levels[] = {
  { "error", LOG_LEVEL_ERROR }, { "warning", LOG_LEVEL_WARNING },
  { "info", LOG_LEVEL_INFO }, { "debug", LOG_LEVEL_DEBUG },
};

int
log_level_parse (const char *s, enum log_level *out)
{
  size_t i;

  for (i = 0; i < sizeof levels / sizeof levels[0]; i++)
    if (strcasecmp (s, levels[i].name) == 0) {
      *out = levels[i].level;
      return 0;
    }
  set_error (0, "log-level: '%s' is not a level (error, warning, info or "
             "debug)", s);
  return -1;
}

const char *
log_level_name (enum log_level l)
{
  size_t i;

  for (i = 0; i < sizeof levels / sizeof levels[0]; i++)
    if (levels[i].level == l)
      return levels[i].name;
  return "?";
}

void
log_setup (const char *prog, enum log_level max, log_sink_fn sink)
{
  if (prog)
    log_prog = prog;
  log_max = max;
  log_sink = sink;
  if (max >= LOG_LEVEL_DEBUG)
    vmferry_debug_enable (prog);
}

void
log_set_level (enum log_level max)
{
  log_max = max;
  if (max >= LOG_LEVEL_DEBUG)
    vmferry_debug_enable (NULL);
  else
    vmferry_debug_flag = 0;
}

bool
log_enabled (enum log_level l)
{
  return (int) l <= log_max;
}

void
log_fields (enum log_level l, const char *const *fields, const char *fmt,
            ...)
{
  char buf[2048];
  va_list ap;

  if (!log_enabled (l))
    return;
  va_start (ap, fmt);
  vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  if (log_sink && log_sink (l, fields, buf) == 0)
    return;
  /* One write per line, so that the threads' lines do not mix. */
  fprintf (stderr, "%s: %s: %s\n", log_prog, log_level_name (l), buf);
}
