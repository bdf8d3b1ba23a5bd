/* dest-admit.c: the limit of simultaneous incoming migrations
 * (vmferryd --max-incoming N).  A prepare beyond the limit is refused
 * at once (--refuse) or waits in a FIFO queue (--queue).  A queued
 * prepare is held for at most QUEUE_HOLD_MS, below the source's request
 * timeout; it is then answered 503 with "queued": true and the source
 * asks again (joining the queue's tail).
 *
 * A slot is held from admission until the job ends: the VM runs here,
 * or the migration was aborted.  d->lock protects the counters and the
 * queue.
 */
#include <config.h>

#include <errno.h>
#include <time.h>

#include "internal.h"

#define QUEUE_HOLD_MS 40000

struct dest_waiter {
  struct dest_waiter *next;
};

static unsigned
limit (struct mig_dest *d)
{
  return d->p.max_incoming ? d->p.max_incoming : MIG_DEFAULT_MAX_INCOMING;
}

/* Remove w from the queue (d->lock held). */
static void
dequeue_locked (struct mig_dest *d, struct dest_waiter *w)
{
  struct dest_waiter **p;

  for (p = &d->waiters; *p; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      break;
    }
  pthread_cond_broadcast (&d->slot_cond);
}

/* Wait at the queue's tail until first and a slot is free (d->lock
 * held).  Returns 0 with the slot taken, -1 on timeout.
 */
static int
wait_turn_locked (struct mig_dest *d)
{
  struct dest_waiter w = { NULL }, **tail = &d->waiters;
  struct timespec until;
  int r = 0;

  while (*tail)
    tail = &(*tail)->next;
  *tail = &w;
  clock_gettime (CLOCK_REALTIME, &until);
  until.tv_sec += QUEUE_HOLD_MS / 1000;
  while (r != ETIMEDOUT && (d->waiters != &w || d->active >= limit (d)))
    r = pthread_cond_timedwait (&d->slot_cond, &d->lock, &until);
  if (d->waiters == &w && d->active < limit (d)) {
    d->active++;
    r = 0;
  }
  else
    r = -1;
  dequeue_locked (d, &w);
  return r;
}

unsigned
mig_dest_queue_length_locked (struct mig_dest *d)
{
  struct dest_waiter *w;
  unsigned n = 0;

  for (w = d->waiters; w; w = w->next)
    n++;
  return n;
}

int
mig_dest_admit (struct mig_dest *d, json_t **reply)
{
  char msg[256];
  int r;

  pthread_mutex_lock (&d->lock);
  if (d->waiters == NULL && d->active < limit (d)) {
    d->active++;
    pthread_mutex_unlock (&d->lock);
    return 0;
  }
  if (!d->p.queue) {
    snprintf (msg, sizeof msg, "destination busy: %u incoming migrations "
              "in progress, the most vmferryd accepts (--max-incoming %u); "
              "try again later", d->active, limit (d));
    pthread_mutex_unlock (&d->lock);
    debug ("prepare refused: %s", msg);
    return mig_dest_error (reply, 503, msg);
  }
  debug ("prepare queued: %u incoming migrations in progress (limit %u)",
         d->active, limit (d));
  r = wait_turn_locked (d);
  pthread_mutex_unlock (&d->lock);
  debug ("prepare %s the queue", r == 0 ? "admitted from" : "timed out in");
  if (r == 0)
    return 0;
  *reply = json_pack ("{s:s, s:b}", "error", "destination busy: still "
                      "queued behind other incoming migrations",
                      "queued", 1);
  return 503;
}

void
mig_dest_slot_put (struct mig_dest *d)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->lock);
  if (d->active > 0)
    d->active--;
  pthread_cond_broadcast (&d->slot_cond);
}

void
mig_dest_job_end (struct mig_dest *d, struct dest_job *j,
                  enum job_state state)
{
  j->state = state;
  /* An aborted migration leaves no trace; a finished one stays on
   * record (dest-journal.c).
   */
  if (state == JOB_ABORTED)
    mig_dest_journal_remove (d, j);
  else if (state == JOB_RUNNING &&
           mig_dest_journal_write (d, j, "running") == -1)
    debug ("journal: %s", get_error ());
  if (j->holds_slot) {
    j->holds_slot = false;
    mig_dest_slot_put (d);
  }
}
