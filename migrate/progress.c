/* progress.c: progress lines on a terminal, plain lines otherwise, or
 * one JSON object per line with --json.
 */
#include <config.h>

#include "utils.h"
#include "progress.h"

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

/* End an in-place line before printing a normal one. */
static void
end_line (struct progress *pr)
{
  if (pr->in_line)
    fputc ('\n', pr->out);
  pr->in_line = false;
}

static void
emit_json (struct progress *pr, json_t *ev)
{
  char *s;

  json_object_set_new (ev, "time", json_real (elapsed (pr)));
  s = json_dumps (ev, JSON_COMPACT);
  if (s)
    fprintf (pr->out, "%s\n", s);
  free (s);
  json_decref (ev);
  fflush (pr->out);
}

void
progress_phase (struct progress *pr, const char *phase, const char *detail)
{
  pr->last_ms = 0;
  pr->rate = 0;
  if (pr->json) {
    emit_json (pr, json_pack ("{s:s, s:s, s:s?}", "event", "phase",
                              "phase", phase, "detail", detail));
    return;
  }
  end_line (pr);
  fprintf (pr->out, "[%6.1fs] %s%s%s\n", elapsed (pr), phase,
           detail ? ": " : "", detail ? detail : "");
  fflush (pr->out);
}

/* Update the smoothed rate from a byte counter. */
static void
update_rate (struct progress *pr, uint64_t bytes)
{
  int64_t t = now_ms ();

  if (pr->last_ms && t > pr->last_ms && bytes >= pr->last_bytes) {
    double r = (bytes - pr->last_bytes) * 1000.0 / (t - pr->last_ms);
    pr->rate = pr->rate ? 0.7 * pr->rate + 0.3 * r : r;
  }
  pr->last_ms = t;
  pr->last_bytes = bytes;
}

/* Print a progress line: in place on a terminal, else as a line. */
static void
show (struct progress *pr, const char *text)
{
  if (pr->tty) {
    fprintf (pr->out, "\r\033[K%s", text);
    pr->in_line = true;
  }
  else
    fprintf (pr->out, "[%6.1fs] %s\n", elapsed (pr), text);
  fflush (pr->out);
}

void
progress_storage (struct progress *pr, uint64_t done, uint64_t total)
{
  char line[256];
  double eta;

  update_rate (pr, done);
  if (pr->json) {
    emit_json (pr, json_pack ("{s:s, s:I, s:I, s:f}", "event", "storage",
                              "done", (json_int_t) done,
                              "total", (json_int_t) total, "rate", pr->rate));
    return;
  }
  eta = pr->rate > 0 ? (total - done) / pr->rate : 0;
  snprintf (line, sizeof line, "  disks %6.1f / %.1f MiB  %5.1f%%  "
            "%6.1f MiB/s  ETA %.0fs", done / 1048576.0, total / 1048576.0,
            total ? 100.0 * done / total : 100.0, pr->rate / 1048576.0, eta);
  show (pr, line);
}

void
progress_memory (struct progress *pr, json_t *info)
{
  json_t *ram = json_object_get (info, "ram");
  json_int_t thr = json_integer_value (json_object_get
                                       (info, "cpu-throttle-percentage"));
  uint64_t rem = json_integer_value (json_object_get (ram, "remaining"));
  uint64_t tot = json_integer_value (json_object_get (ram, "total"));
  uint64_t sent = json_integer_value (json_object_get (ram, "transferred"));
  uint64_t dirty = json_integer_value (json_object_get (ram,
                                                        "dirty-pages-rate"));
  uint64_t round = json_integer_value (json_object_get (ram,
                                                        "dirty-sync-count"));
  char line[256];

  update_rate (pr, sent);
  if (pr->json) {
    emit_json (pr, json_pack ("{s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I}",
                              "event", "memory",
                              "remaining", (json_int_t) rem,
                              "total", (json_int_t) tot,
                              "transferred", (json_int_t) sent,
                              "rate", pr->rate,
                              "dirty_pages_rate", (json_int_t) dirty,
                              "round", (json_int_t) round,
                              "throttle_percent", thr));
    return;
  }
  snprintf (line, sizeof line, "  memory %7.1f MiB remaining of %.0f MiB  "
            "sent %.1f MiB  %6.1f MiB/s  dirty %" PRIu64 " pages/s  "
            "round %" PRIu64 "%s", rem / 1048576.0, tot / 1048576.0,
            sent / 1048576.0, pr->rate / 1048576.0, dirty, round,
            thr ? "  throttled" : "");
  show (pr, line);
}

void
progress_note (struct progress *pr, const char *fmt, ...)
{
  char buf[1024];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  if (pr->json) {
    emit_json (pr, json_pack ("{s:s, s:s}", "event", "note",
                              "message", buf));
    return;
  }
  end_line (pr);
  fprintf (pr->out, "[%6.1fs] %s\n", elapsed (pr), buf);
  fflush (pr->out);
}

void
progress_result (struct progress *pr, json_t *summary)
{
  json_t *ev = json_deep_copy (summary);
  const char *k;
  json_t *v;

  if (pr->json) {
    json_object_set_new (ev, "event", json_string ("result"));
    emit_json (pr, ev);
    return;
  }
  end_line (pr);
  json_object_foreach (ev, k, v) {
    CLEANUP_FREE char *s = json_is_string (v) ? NULL
      : json_dumps (v, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf (pr->out, "  %-18s %s\n", k,
             json_is_string (v) ? json_string_value (v) : s ? s : "?");
  }
  json_decref (ev);
  fflush (pr->out);
}

void
progress_event (struct progress *pr, json_t *ev, const char *fmt, ...)
{
  char buf[1024];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  if (pr->json) {
    json_object_set_new (ev, "message", json_string (buf));
    emit_json (pr, ev);
    return;
  }
  json_decref (ev);
  end_line (pr);
  fprintf (pr->out, "[%6.1fs] %s\n", elapsed (pr), buf);
  fflush (pr->out);
}
