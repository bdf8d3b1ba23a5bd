/* progress.c: progress on a terminal (a board of live lines redrawn in
 * place), plain lines otherwise, or one JSON object per line with
 * --json; every event also goes to the sink (see progress.h).
 */
#include <config.h>

#include <time.h>

#include "utils.h"
#include "source.h"
#include "progress.h"

#define BAR_WIDTH 20

void
progress_init (struct progress *pr, FILE *out, bool json, bool tty)
{
  memset (pr, 0, sizeof *pr);
  pr->out = out;
  pr->json = json;
  pr->tty = tty && !json;
  pr->t0 = now_ms ();
}

static double
elapsed (struct progress *pr)
{
  return (now_ms () - pr->t0) / 1000.0;
}

json_t *
progress_seconds (double s)
{
  /* Rounded half away from zero, without libm. */
  return json_real ((int64_t) (s * 1000 + (s < 0 ? -0.5 : 0.5)) / 1000.0);
}

/* The wall clock, RFC 3339 in UTC with milliseconds. */
static json_t *
timestamp (void)
{
  int64_t ms = wall_ms ();
  time_t t = ms / 1000;
  struct tm tm;
  char buf[64];

  if (gmtime_r (&t, &tm) == NULL)
    return json_null ();
  strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return json_sprintf ("%s.%03dZ", buf, (int) (ms % 1000));
}

/* The envelope of every event: see man/vmferry-events.schema.json. */
void
mig_event_stamp (json_t *ev, const char *id, int64_t t0_ms)
{
  json_object_set_new (ev, "time", progress_seconds ((now_ms () - t0_ms)
                                                     / 1000.0));
  json_object_set_new (ev, "ts", timestamp ());
  json_object_set_new (ev, "schema", json_integer (PROGRESS_SCHEMA));
  json_object_set_new (ev, "id", id ? json_string (id) : json_null ());
}

/* Take the board off the screen (the cursor goes back to its top). */
static void
board_clear (struct progress *pr)
{
  if (pr->shown)
    fprintf (pr->out, "\033[%zuA\r\033[J", pr->shown);
  pr->shown = 0;
}

/* Draw the board's lines below the cursor. */
static void
board_draw (struct progress *pr)
{
  size_t i;

  for (i = 0; i < PROGRESS_SLOTS; i++)
    if (pr->board[i][0]) {
      fprintf (pr->out, "\r\033[K%s\n", pr->board[i]);
      pr->shown++;
    }
}

/* The event goes to the sink, then out as JSON; ev is stolen.  Returns
 * true if it was printed (the caller prints text otherwise).
 */
static bool
deliver (struct progress *pr, json_t *ev)
{
  char *s;

  if (ev == NULL)
    return false;
  mig_event_stamp (ev, pr->id, pr->t0);
  if (pr->label)
    json_object_set_new (ev, "label", json_string (pr->label));
  if (pr->sink)
    pr->sink (pr->sink_opaque, ev);
  if (!pr->json) {
    json_decref (ev);
    return false;
  }
  s = json_dumps (ev, PROGRESS_JSON_FLAGS);
  if (s)
    fprintf (pr->out, "%s\n", s);
  free (s);
  json_decref (ev);
  fflush (pr->out);
  return true;
}

/* A message line: above the board on a terminal. */
static void
message (struct progress *pr, const char *text)
{
  if (pr->tty)
    board_clear (pr);
  fprintf (pr->out, "[%6.1fs] %s%s%s%s\n", elapsed (pr),
           pr->label ? "[" : "", pr->label ? pr->label : "",
           pr->label ? "] " : "", text);
  if (pr->tty)
    board_draw (pr);
  fflush (pr->out);
}

/* A live line: into the board on a terminal, else a plain line. */
static void
live (struct progress *pr, size_t slot, const char *text)
{
  if (!pr->tty) {
    message (pr, text);
    return;
  }
  snprintf (pr->board[slot], sizeof pr->board[slot], "%s", text);
  board_clear (pr);
  board_draw (pr);
  fflush (pr->out);
}

void
progress_phase (struct progress *pr, const char *phase, const char *detail)
{
  char buf[512];

  if (deliver (pr, json_pack ("{s:s, s:s, s:s?}", "event", "phase",
                              "phase", phase, "detail", detail)))
    return;
  snprintf (buf, sizeof buf, "%s%s%s", phase, detail ? ": " : "",
            detail ? detail : "");
  message (pr, buf);
}

/* Update a meter from a byte counter; returns its rate. */
static double
meter_update (struct progress_meter *m, uint64_t bytes)
{
  int64_t t = now_ms ();

  if (m->last_ms && t > m->last_ms && bytes >= m->last_bytes) {
    double r = (bytes - m->last_bytes) * 1000.0 / (t - m->last_ms);
    m->rate = m->rate ? 0.7 * m->rate + 0.3 * r : r;
  }
  m->last_ms = t;
  m->last_bytes = bytes;
  return m->rate;
}

/* "[#####-----]" for fraction f into buf (BAR_WIDTH + 3 bytes). */
static const char *
bar (char *buf, double f)
{
  int i, n = f <= 0 ? 0 : f >= 1 ? BAR_WIDTH : (int) (f * BAR_WIDTH);

  buf[0] = '[';
  for (i = 0; i < BAR_WIDTH; i++)
    buf[i + 1] = i < n ? '#' : '-';
  buf[BAR_WIDTH + 1] = ']';
  buf[BAR_WIDTH + 2] = '\0';
  return buf;
}

/* "12s", or "?" when it cannot be told. */
static const char *
eta (char *buf, size_t n, double left, double rate)
{
  if (rate <= 0 || left / rate > 1e6)
    snprintf (buf, n, "?");
  else
    snprintf (buf, n, "%.0fs", left / rate);
  return buf;
}

void
progress_disk (struct progress *pr, size_t idx, const char *name,
               uint64_t done, uint64_t total)
{
  char line[200], b[BAR_WIDTH + 3], e[32];
  double rate;

  if (idx >= PROGRESS_MEMORY_SLOT || !pr->tty)
    return;                     /* elsewhere: the storage totals */
  pr->disk_lines = true;
  rate = meter_update (&pr->meter[idx], done);
  snprintf (line, sizeof line, "  disk %-10s %s %8.1f / %.1f MiB %5.1f%% "
            "%7.1f MiB/s  ETA %s", name, bar (b, total ? (double) done /
                                               total : 1),
            done / 1048576.0, total / 1048576.0,
            total ? 100.0 * done / total : 100.0, rate / 1048576.0,
            eta (e, sizeof e, total - done, rate));
  live (pr, idx, line);
}

void
progress_storage (struct progress *pr, uint64_t done, uint64_t total)
{
  double rate = meter_update (&pr->storage, done);
  char line[200], e[32];

  if (deliver (pr, json_pack ("{s:s, s:I, s:I, s:I}", "event", "storage",
                              "done", (json_int_t) done,
                              "total", (json_int_t) total,
                              "rate", (json_int_t) rate)))
    return;
  if (pr->disk_lines)
    return;                     /* the disk lines say it */
  snprintf (line, sizeof line, "  disks %6.1f / %.1f MiB  %5.1f%%  "
            "%6.1f MiB/s  ETA %s", done / 1048576.0, total / 1048576.0,
            total ? 100.0 * done / total : 100.0, rate / 1048576.0,
            eta (e, sizeof e, total - done, rate));
  live (pr, PROGRESS_MEMORY_SLOT, line);
}

/* The memory line: what is left, how fast it goes, and when it ends
 * (remaining over the net rate at which it shrinks).
 */
static void
memory_line (struct progress *pr, json_t *ev, double rate)
{
  json_int_t rem = json_integer_value (json_object_get (ev, "remaining"));
  json_int_t tot = json_integer_value (json_object_get (ev, "total"));
  json_int_t dirty = json_integer_value (json_object_get (ev,
                                                          "dirty_pages_rate"));
  json_int_t thr = json_integer_value (json_object_get (ev,
                                                        "throttle_percent"));
  char line[200], b[BAR_WIDTH + 3], e[32], t[32] = "";

  if (thr)
    snprintf (t, sizeof t, "  throttle %d%%", (int) thr);
  snprintf (line, sizeof line, "  memory %s %7.1f MiB left of %.0f MiB "
            "%6.1f MiB/s  dirty %d pages/s  round %d  ETA %s%s",
            bar (b, tot ? 1 - (double) rem / tot : 1), rem / 1048576.0,
            tot / 1048576.0, rate / 1048576.0, (int) dirty,
            (int) json_integer_value (json_object_get (ev, "round")),
            eta (e, sizeof e, rem, rate - dirty * 4096.0), t);
  live (pr, PROGRESS_MEMORY_SLOT, line);
}

void
progress_memory (struct progress *pr, json_t *info)
{
  json_t *ram = json_object_get (info, "ram");
  uint64_t sent = json_integer_value (json_object_get (ram, "transferred"));
  double rate = meter_update (&pr->meter[PROGRESS_MEMORY_SLOT], sent);
  json_t *ev = json_pack ("{s:s, s:O?, s:O?, s:I, s:I, s:O?, s:O?, s:I}",
                          "event", "memory",
                          "remaining", json_object_get (ram, "remaining"),
                          "total", json_object_get (ram, "total"),
                          "transferred", (json_int_t) sent,
                          "rate", (json_int_t) rate,
                          "dirty_pages_rate",
                          json_object_get (ram, "dirty-pages-rate"),
                          "round", json_object_get (ram, "dirty-sync-count"),
                          "throttle_percent",
                          json_integer_value (json_object_get
                                              (info,
                                               "cpu-throttle-percentage")));

  json_incref (ev);
  if (!deliver (pr, ev))
    memory_line (pr, ev, rate);
  json_decref (ev);
}

static void
vmessage (struct progress *pr, json_t *ev, const char *fmt, va_list ap)
{
  char buf[1024];

  vsnprintf (buf, sizeof buf, fmt, ap);
  json_object_set_new (ev, "message", json_string (buf));
  if (!deliver (pr, ev))
    message (pr, buf);
}

void
progress_note (struct progress *pr, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vmessage (pr, json_pack ("{s:s}", "event", "note"), fmt, ap);
  va_end (ap);
}

void
progress_event (struct progress *pr, json_t *ev, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vmessage (pr, ev, fmt, ap);
  va_end (ap);
}

void
progress_result (struct progress *pr, json_t *summary)
{
  json_t *ev = json_deep_copy (summary);
  const char *k;
  json_t *v;

  json_object_set_new (ev, "event", json_string ("result"));
  json_incref (ev);
  if (deliver (pr, ev)) {
    json_decref (ev);
    return;
  }
  pr->shown = 0;                /* the board stays as it ended */
  json_object_del (ev, "event");
  json_object_del (ev, "time");
  json_object_del (ev, "ts");
  json_object_del (ev, "schema");
  json_object_foreach (ev, k, v) {
    CLEANUP_FREE char *s = json_is_string (v) ? NULL
      : json_dumps (v, PROGRESS_JSON_FLAGS | JSON_ENCODE_ANY);
    fprintf (pr->out, "  %-18s %s\n", k,
             json_is_string (v) ? json_string_value (v) : s ? s : "?");
  }
  json_decref (ev);
  fflush (pr->out);
}
