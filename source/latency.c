/* latency.c: what the guest feels: its disk write latency per phase of
 * the migration, from QEMU's own block latency histograms
 * (block-latency-histogram-set, then the "wr_latency_histogram" of
 * query-blockstats).
 *
 * src_latency_start turns a write histogram on for every guest disk
 * device of the source QEMU; each src_latency_mark closes a phase: the
 * writes counted since the previous mark (bins are cumulative in QEMU,
 * so a phase is the difference of two snapshots, summed over the
 * disks).  A phase is reported as the number of writes and the bounds
 * of the bins that hold the median, the 99th percentile and the
 * slowest write: "p99_us 20000" means 99 % of the writes took at most
 * 20 ms.  The last bin is open: its lower bound (10 s) is reported.
 * src_latency_stop removes the histograms again (a VM that stays here
 * is left as found).  Failures only lose the figures: a note says so.
 */
#include <config.h>

#include "internal.h"

/* Bin boundaries in ns: 50 us to 10 s. */
static const json_int_t bounds_ns[] = {
  50000, 100000, 200000, 500000, 1000000, 2000000, 5000000, 10000000,
  20000000, 50000000, 100000000, 200000000, 500000000, 1000000000,
  2000000000, 5000000000, 10000000000,
};
#define N_BOUNDS (sizeof bounds_ns / sizeof bounds_ns[0])
#define N_BINS (N_BOUNDS + 1)

struct src_latency {
  char **devs;                  /* QOM paths of the disks measured */
  uint64_t last[N_BINS];        /* the sum of the bins at the last mark */
  json_t *phases;               /* {"phase": {"writes", ...}, ...} */
};

/* The guest disk devices of query-blockstats (their QOM paths). */
static char **
devices (struct source *s)
{
  json_auto_t *r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "query-blockstats",
                                 NULL);
  char **v = NULL;
  json_t *e;
  size_t i;

  json_array_foreach (r, i, e) {
    const char *qdev = json_string_value (json_object_get (e, "qdev"));
    if (qdev && qdev[0] && strv_push (&v, qdev) == -1) {
      strv_free (v);
      return NULL;
    }
  }
  return v;
}

/* Sum every device's write bins into bins; -1 if none could be read. */
static int
snapshot (struct source *s, uint64_t bins[N_BINS])
{
  json_auto_t *r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "query-blockstats",
                                 NULL);
  json_t *e, *b;
  size_t i, k;
  int found = 0;

  memset (bins, 0, N_BINS * sizeof bins[0]);
  json_array_foreach (r, i, e) {
    json_t *h = json_object_get (json_object_get (e, "stats"),
                                 "wr_latency_histogram");
    json_t *hb = json_object_get (h, "bins");
    if (json_array_size (hb) != N_BINS)
      continue;
    json_array_foreach (hb, k, b)
      bins[k] += json_integer_value (b);
    found = 1;
  }
  return found ? 0 : -1;
}

/* The bound (us) of the bin where the count reaches share of total. */
static json_int_t
bound_at (const uint64_t bins[N_BINS], uint64_t total, double share)
{
  uint64_t need = (uint64_t) (share * total + 0.999999), sum = 0;
  size_t k;

  for (k = 0; k < N_BINS; k++) {
    sum += bins[k];
    if (sum >= need && sum > 0)
      return (k < N_BOUNDS ? bounds_ns[k] : bounds_ns[N_BOUNDS - 1]) / 1000;
  }
  return 0;
}

int
src_latency_start (struct source *s)
{
  struct src_latency *l = calloc (1, sizeof *l);
  size_t i;

  if (l == NULL || (l->phases = json_object ()) == NULL ||
      (l->devs = devices (s)) == NULL)
    goto fail;
  for (i = 0; l->devs[i]; i++) {
    json_t *b = json_array ();
    size_t k;
    for (k = 0; b && k < N_BOUNDS; k++)
      json_array_append_new (b, json_integer (bounds_ns[k]));
    json_auto_t *r = qmp_commandf (s->q, QMP_TIMEOUT_MS,
                                   "block-latency-histogram-set",
                                   "{s:s, s:o}", "id", l->devs[i],
                                   "boundaries-write", b);
    if (r == NULL)
      goto fail;
  }
  if (snapshot (s, l->last) == -1)
    goto fail;
  s->latency = l;
  return 0;
 fail:
  progress_note (&s->pr, "the guest's write latency is not measured: %s",
                 l && l->devs ? get_error () : "no disk device");
  if (l) {
    strv_free (l->devs);
    json_decref (l->phases);
    free (l);
  }
  return -1;
}

void
src_latency_mark (struct source *s, const char *phase)
{
  struct src_latency *l = s->latency;
  uint64_t now[N_BINS], d[N_BINS], total = 0;
  size_t k;

  if (l == NULL || snapshot (s, now) == -1)
    return;
  for (k = 0; k < N_BINS; k++) {
    d[k] = now[k] >= l->last[k] ? now[k] - l->last[k] : 0;
    total += d[k];
    l->last[k] = now[k];
  }
  json_object_set_new (l->phases, phase, json_pack (
    "{s:I, s:I, s:I, s:I}", "writes", (json_int_t) total,
    "p50_us", bound_at (d, total, 0.5), "p99_us", bound_at (d, total, 0.99),
    "max_us", bound_at (d, total, 1.0)));
  if (total)
    progress_note (&s->pr, "guest writes during %s: %" PRIu64 ", p50 <= %g "
                   "ms, p99 <= %g ms, max <= %g ms", phase, total,
                   bound_at (d, total, 0.5) / 1000.0,
                   bound_at (d, total, 0.99) / 1000.0,
                   bound_at (d, total, 1.0) / 1000.0);
}

json_t *
src_latency_report (const struct source *s)
{
  return s->latency ? json_incref (s->latency->phases) : NULL;
}

void
src_latency_stop (struct source *s, bool remove)
{
  struct src_latency *l = s->latency;
  size_t i;

  if (l == NULL)
    return;
  for (i = 0; remove && s->q && l->devs[i]; i++) {
    json_auto_t *r = qmp_commandf (s->q, QMP_TIMEOUT_MS,
                                   "block-latency-histogram-set", "{s:s}",
                                   "id", l->devs[i]);
    if (r == NULL)
      debug ("latency: %s: %s", l->devs[i], get_error ());
  }
  strv_free (l->devs);
  json_decref (l->phases);
  free (l);
  s->latency = NULL;
}
