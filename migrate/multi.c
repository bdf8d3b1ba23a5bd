/* multi.c: several migrations from one command: vmferry migrate VM...
 * --parallel N, and vmferry evacuate (every VM of this host, smallest
 * first).  N worker threads take the next VM in order; after a failure
 * no new migration starts unless keep_going.  Each migration runs
 * mig_source_run() with its own parameters, so each keeps its own
 * invariant and rollback; their output lines carry the VM's name.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>

#include "internal.h"

#define MAX_PARALLEL 64

struct many {
  const struct mig_source_params *base;
  char *const *vms;
  size_t n;
  bool keep_going;
  pthread_mutex_t lock;         /* protects the fields below */
  size_t next;                  /* next VM to start */
  bool failed;                  /* a migration failed */
  enum mig_result *results;
  char **errors;                /* per VM, malloc'd, NULL if ok */
  bool *started;
  char (*ids)[MIG_ID_SIZE];     /* per VM, its migration id ("": none) */
  int64_t t0;                   /* start, ms (monotonic) */
};

static void *
worker (void *opaque)
{
  struct many *m = opaque;

  for (;;) {
    struct mig_source_params p = *m->base;
    enum mig_result r;
    size_t i;

    pthread_mutex_lock (&m->lock);
    i = m->next;
    if (i >= m->n || (m->failed && !m->keep_going)) {
      pthread_mutex_unlock (&m->lock);
      return NULL;
    }
    m->next++;
    m->started[i] = true;
    pthread_mutex_unlock (&m->lock);
    p.vm = m->vms[i];
    p.id_out = m->ids[i];
    p.label = m->n > 1 ? m->vms[i] : NULL;
    p.tty = p.tty && m->n == 1;
    r = mig_source_run (&p);
    pthread_mutex_lock (&m->lock);
    m->results[i] = r;
    if (r != MIG_OK) {
      m->failed = true;
      m->errors[i] = strdup (get_error ());
    }
    pthread_mutex_unlock (&m->lock);
  }
}

/* One line per VM, and the worst result. */
static enum mig_result
report (struct many *m, FILE *out, bool json)
{
  enum mig_result worst = MIG_OK;
  size_t i;

  for (i = 0; i < m->n; i++) {
    const char *what = m->started[i] ? mig_result_text (m->results[i])
      : "not started (an earlier migration failed)";
    if (!m->started[i] && worst == MIG_OK)
      worst = MIG_REFUSED;
    if (m->started[i] && m->results[i] > worst)
      worst = m->results[i];
    if (json) {
      json_auto_t *o = json_pack ("{s:s, s:s, s:s, s:s, s:i, s:s?}", "event",
                                  "vm_result", "vm", m->vms[i], "result",
                                  m->started[i] ?
                                  mig_result_code (m->results[i])
                                  : "not_started", "result_text", what,
                                  "exit_code", m->started[i] ?
                                  (int) m->results[i] : -1,
                                  "error", m->errors[i]);
      CLEANUP_FREE char *s = NULL;
      mig_event_stamp (o, m->ids[i][0] ? m->ids[i] : NULL, m->t0);
      s = json_dumps (o, JSON_COMPACT | JSON_REAL_PRECISION (15));
      fprintf (out, "%s\n", s ? s : "{}");
    }
    else
      fprintf (out, "%s: %s%s%s\n", m->vms[i], what,
               m->errors[i] ? ": " : "", m->errors[i] ? m->errors[i] : "");
  }
  fflush (out);
  return worst;
}

enum mig_result
mig_source_run_many (const struct mig_source_params *base, char *const *vms,
                     unsigned parallel, bool keep_going)
{
  struct many m = { .base = base, .vms = vms, .keep_going = keep_going,
                    .t0 = now_ms () };
  pthread_t th[MAX_PARALLEL];
  size_t i, nth;
  enum mig_result r = MIG_USAGE;

  while (vms[m.n])
    m.n++;
  nth = parallel < 1 ? 1 : parallel > MAX_PARALLEL ? MAX_PARALLEL : parallel;
  if (nth > m.n)
    nth = m.n;
  pthread_mutex_init (&m.lock, NULL);
  m.results = calloc (m.n + 1, sizeof *m.results);
  m.errors = calloc (m.n + 1, sizeof *m.errors);
  m.started = calloc (m.n + 1, sizeof *m.started);
  m.ids = calloc (m.n + 1, sizeof *m.ids);
  if (m.results == NULL || m.errors == NULL || m.started == NULL ||
      m.ids == NULL) {
    set_error (errno, "calloc");
    goto out;
  }
  for (i = 0; i < nth; i++)
    if (pthread_create (&th[i], NULL, worker, &m) != 0)
      break;
  nth = i;
  if (nth == 0) {
    set_error (0, "cannot start a migration thread");
    goto out;
  }
  for (i = 0; i < nth; i++)
    pthread_join (th[i], NULL);
  r = report (&m, base->out, base->json);
  nth = 0;
  for (i = 0; i < m.n; i++)
    nth += !m.started[i] || m.results[i] != MIG_OK;
  set_error (0, "%zu of %zu migrations did not succeed", nth, m.n);
 out:
  for (i = 0; m.errors && i < m.n; i++)
    free (m.errors[i]);
  free (m.results);
  free (m.errors);
  free (m.started);
  free (m.ids);
  pthread_mutex_destroy (&m.lock);
  return r;
}
