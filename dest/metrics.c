/* metrics.c: vmferryd's counters and their Prometheus text (vmferryd
 * --metrics ADDR:PORT, vmferryd(8), METRICS).
 *
 * Migrations in (received here) and out (sent back by vmferry undo) by
 * result; bytes received through the data channel and sent back, by
 * kind; the last and a histogram of the downtime and of the whole time;
 * the migrations in progress and the admission queue.  The counters sit
 * behind one mutex (they change a few times per migration; the byte
 * counts once per frame, which costs a lock next to an NBD write).
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

/* Results as counted ("migrated", "aborted", ...). */
#define MAX_RESULTS 12

static const double downtime_buckets[] = {
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
static const double total_buckets[] = {
  1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
};
#define N_DOWN (sizeof downtime_buckets / sizeof downtime_buckets[0])
#define N_TOTAL (sizeof total_buckets / sizeof total_buckets[0])

struct histogram {
  uint64_t count;
  double sum, last;             /* seconds */
  uint64_t le[N_TOTAL];         /* per bucket (cumulative when printed) */
};

struct dest_metrics {
  pthread_mutex_t lock;         /* protects the fields below */
  struct {
    const char *result;         /* static strings */
    uint64_t n;
  } results[2][MAX_RESULTS];    /* [0] in, [1] out */
  uint64_t bytes[2][2];         /* [0] received, [1] sent; [disk, memory] */
  struct histogram downtime, total;
  unsigned sending;             /* send-backs running */
};

struct dest_metrics *
mig_dest_metrics_new (void)
{
  struct dest_metrics *m = calloc (1, sizeof *m);

  if (m == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  pthread_mutex_init (&m->lock, NULL);
  /* The usual results are there from the start, at 0. */
  m->results[0][0].result = "migrated";
  m->results[0][1].result = "aborted";
  m->results[0][2].result = "refused";
  m->results[1][0].result = "migrated";
  return m;
}

void
mig_dest_metrics_free (struct dest_metrics *m)
{
  if (m == NULL)
    return;
  pthread_mutex_destroy (&m->lock);
  free (m);
}

void
mig_dest_metrics_result (struct dest_metrics *m, bool out, const char *result)
{
  size_t i;

  if (m == NULL || result == NULL)
    return;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&m->lock);
  for (i = 0; i < MAX_RESULTS; i++) {
    if (m->results[out][i].result == NULL)
      m->results[out][i].result = result;
    if (strcmp (m->results[out][i].result, result) == 0) {
      m->results[out][i].n++;
      return;
    }
  }
}

void
mig_dest_metrics_bytes (struct dest_metrics *m, bool sent, bool memory,
                        uint64_t n)
{
  if (m == NULL || n == 0)
    return;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&m->lock);
  m->bytes[sent][memory] += n;
}

static void
observe_locked (struct histogram *h, const double *buckets, size_t n,
                double v)
{
  size_t i;

  h->count++;
  h->sum += v;
  h->last = v;
  for (i = 0; i < n; i++)
    if (v <= buckets[i])
      h->le[i]++;
}

void
mig_dest_metrics_times (struct dest_metrics *m, double total_s,
                        double downtime_s)
{
  if (m == NULL)
    return;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&m->lock);
  if (total_s >= 0)
    observe_locked (&m->total, total_buckets, N_TOTAL, total_s);
  if (downtime_s >= 0)
    observe_locked (&m->downtime, downtime_buckets, N_DOWN, downtime_s);
}

void
mig_dest_metrics_sending (struct dest_metrics *m, int delta)
{
  if (m == NULL)
    return;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&m->lock);
  m->sending += delta;
}

/* printf into the growing text *t (of *len bytes). */
static void __attribute__ ((format (printf, 3, 4)))
add (char **t, size_t *len, const char *fmt, ...)
{
  va_list ap;
  char *more = NULL, *p = NULL;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&more, fmt, ap);
  va_end (ap);
  if (n >= 0 && *t)
    p = realloc (*t, *len + n + 1);
  if (p)
    memcpy (p + *len, more, n + 1);
  else
    free (*t);                /* the text is lost: NULL says so */
  *t = p;
  *len += n;
  free (more);
}

static void
histogram (char **t, size_t *len, const char *name, const char *help,
           const struct histogram *h, const double *buckets, size_t n)
{
  size_t i;

  add (t, len, "# HELP vmferryd_%s_seconds_last %s, the last migration.\n"
       "# TYPE vmferryd_%s_seconds_last gauge\n"
       "vmferryd_%s_seconds_last %.3f\n", name, help, name, name, h->last);
  add (t, len, "# HELP vmferryd_%s_seconds %s.\n"
       "# TYPE vmferryd_%s_seconds histogram\n", name, help, name);
  for (i = 0; i < n; i++)
    add (t, len, "vmferryd_%s_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", name,
         buckets[i], h->le[i]);
  add (t, len, "vmferryd_%s_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
       "vmferryd_%s_seconds_sum %.3f\nvmferryd_%s_seconds_count %" PRIu64
       "\n", name, h->count, name, h->sum, name, h->count);
}

/* Counters by result, and bytes by kind (lock held). */
static void
counters_locked (struct dest_metrics *m, char **t, size_t *len)
{
  static const char *const dir[] = { "in", "out" };
  static const char *const kind[] = { "disk", "memory" };
  static const char *const bytes[] = { "received", "sent" };
  size_t d, i;

  add (t, len, "# HELP vmferryd_migrations_total Migrations that ended, "
       "by direction (in: received here, out: sent back by vmferry undo) "
       "and result.\n# TYPE vmferryd_migrations_total counter\n");
  for (d = 0; d < 2; d++)
    for (i = 0; i < MAX_RESULTS && m->results[d][i].result; i++)
      add (t, len, "vmferryd_migrations_total{direction=\"%s\","
           "result=\"%s\"} %" PRIu64 "\n", dir[d], m->results[d][i].result,
           m->results[d][i].n);
  for (d = 0; d < 2; d++) {
    add (t, len, "# HELP vmferryd_%s_bytes_total %s, by kind.\n"
         "# TYPE vmferryd_%s_bytes_total counter\n", bytes[d],
         d ? "Bytes sent by migrations out (vmferry undo)"
         : "Bytes received through the data channel", bytes[d]);
    for (i = 0; i < 2; i++)
      add (t, len, "vmferryd_%s_bytes_total{kind=\"%s\"} %" PRIu64 "\n",
           bytes[d], kind[i], m->bytes[d][i]);
  }
}

/* Incoming migrations not ended (preparing or prepared), and the
 * prepares waiting in the admission queue.
 */
static void
gauges (struct mig_dest *d, unsigned *in, unsigned *queued, unsigned *active)
{
  struct dest_job *j;

  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->lock);
  *in = 0;
  for (j = d->jobs; j; j = j->next)
    *in += j->state == JOB_PREPARING || j->state == JOB_PREPARED;
  *queued = mig_dest_queue_length_locked (d);
  *active = d->active;
}

char *
mig_dest_metrics (struct mig_dest *d)
{
  struct dest_metrics *m = d->metrics;
  unsigned in, queued, active, out;
  size_t len = 0;
  char *t = strdup ("");

  gauges (d, &in, &queued, &active);
  pthread_mutex_lock (&m->lock);
  out = m->sending;
  counters_locked (m, &t, &len);
  histogram (&t, &len, "downtime", "The guest's downtime (its pause on "
             "the source to its resume here; the hosts' clocks must agree)",
             &m->downtime, downtime_buckets, N_DOWN);
  histogram (&t, &len, "migration", "The time from prepare to finish",
             &m->total, total_buckets, N_TOTAL);
  pthread_mutex_unlock (&m->lock);
  add (&t, &len, "# HELP vmferryd_migrations_in_progress Migrations "
       "running, by direction.\n"
       "# TYPE vmferryd_migrations_in_progress gauge\n"
       "vmferryd_migrations_in_progress{direction=\"in\"} %u\n"
       "vmferryd_migrations_in_progress{direction=\"out\"} %u\n"
       "# HELP vmferryd_admitted Incoming migrations holding a slot of "
       "--max-incoming.\n# TYPE vmferryd_admitted gauge\n"
       "vmferryd_admitted %u\n"
       "# HELP vmferryd_admission_queue_length Prepares waiting for a "
       "slot (--queue).\n# TYPE vmferryd_admission_queue_length gauge\n"
       "vmferryd_admission_queue_length %u\n", in, out, active, queued);
  return t;
}
