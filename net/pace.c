/* pace.c: the data channel's rate limit, a token bucket shared by all
 * streams (--bandwidth).  Tokens are bytes; they accrue at rate bytes per
 * second up to a burst of BURST_MS worth, and a sender that takes more
 * than there are waits until the debt is paid.  Taking is a reservation,
 * so several streams waiting at once queue fairly instead of all waking
 * at the same moment.
 */
#include <config.h>

#include <errno.h>
#include <time.h>

#include "utils.h"
#include "net.h"
#include "internal.h"

#define BURST_MS 50

struct net_pace {
  pthread_mutex_t lock;         /* protects the fields below */
  uint64_t rate;                /* bytes per second, > 0 */
  double tokens;                /* may go negative: debt */
  int64_t last_ns;              /* when tokens was last brought up to date */
};

struct net_pace *
net_pace_new (uint64_t bytes_per_sec)
{
  struct net_pace *p;

  if (bytes_per_sec == 0)
    return NULL;
  if ((p = calloc (1, sizeof *p)) == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  pthread_mutex_init (&p->lock, NULL);
  p->rate = bytes_per_sec;
  p->last_ns = -1;
  return p;
}

void
net_pace_free (struct net_pace *p)
{
  if (p == NULL)
    return;
  pthread_mutex_destroy (&p->lock);
  free (p);
}

uint64_t
net_pace_reserve (struct net_pace *p, uint64_t bytes, int64_t now_ns)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&p->lock);
  double burst = (double) p->rate * BURST_MS / 1000;

  if (p->last_ns < 0)
    p->tokens = burst;
  else if (now_ns > p->last_ns)
    p->tokens += (double) p->rate * (now_ns - p->last_ns) / 1e9;
  if (p->tokens > burst)
    p->tokens = burst;
  if (now_ns > p->last_ns)
    p->last_ns = now_ns;
  p->tokens -= bytes;
  if (p->tokens >= 0)
    return 0;
  return (uint64_t) (-p->tokens * 1e9 / p->rate);
}

uint64_t
net_pace_take (struct net_pace *p, uint64_t bytes)
{
  uint64_t wait;
  struct timespec ts;

  if (p == NULL)
    return 0;
  wait = net_pace_reserve (p, bytes,
                           net_internal_clock_ns (CLOCK_MONOTONIC));
  ts.tv_sec = wait / 1000000000;
  ts.tv_nsec = wait % 1000000000;
  while (wait && nanosleep (&ts, &ts) == -1 && errno == EINTR)
    ;
  return wait;
}
