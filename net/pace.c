/* pace.c: the data channel's pacing, a token bucket shared by all streams
 * of a migration (disks and memory together).  Its rate is the lower of
 * --bandwidth and, when the pace follows the link, link.c's cap a little
 * below what the link delivers (measured from the bytes acknowledged on
 * the streams registered here).  Tokens are bytes; they accrue at the
 * rate up to a burst, and a sender that takes more than there are waits
 * until the debt is paid.  Taking is a reservation, so several streams
 * waiting at once queue fairly instead of all waking at the same moment.
 */
#include <config.h>

#include <errno.h>
#include <time.h>

#include "utils.h"
#include "net.h"
#include "internal.h"

#define BURST_MS 50             /* --bandwidth: a burst this long */
#define LINK_BURST_MS 10        /* below the link: shorter, not to queue */
#define MAX_FDS 64

static const char *const phase_name[] = {
  [NET_LINK_STARTUP] = "startup", [NET_LINK_CRUISE] = "cruise",
  [NET_LINK_PROBE] = "probe", [NET_LINK_DRAIN] = "drain",
};

struct net_pace {
  pthread_mutex_t lock;         /* protects the fields below */
  uint64_t rate;                /* --bandwidth, bytes per second; 0: none */
  bool follow;                  /* pace below the link */
  struct net_link link;
  uint64_t cap;                 /* the link's cap; 0: none (yet) */
  uint64_t applied;             /* the sockets' pacing rate; 0: none */
  double tokens;                /* may go negative: debt */
  int64_t last_ns;              /* when tokens was last brought up to date */
  int fds[MAX_FDS];             /* the streams' sockets */
  size_t n_fds;
  uint64_t acked_gone;          /* acknowledged on sockets since removed */
};

struct net_pace *
net_pace_new (uint64_t bytes_per_sec, bool follow_link)
{
  struct net_pace *p;

  if (bytes_per_sec == 0 && !follow_link)
    return NULL;
  if ((p = calloc (1, sizeof *p)) == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  pthread_mutex_init (&p->lock, NULL);
  p->rate = bytes_per_sec;
  p->follow = follow_link;
  net_link_init (&p->link);
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

void
net_pace_add_fd (struct net_pace *p, int fd)
{
  if (p == NULL)
    return;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&p->lock);
  if (p->n_fds < MAX_FDS) {
    p->fds[p->n_fds++] = fd;
    net_link_reprobe (&p->link);
    if (p->applied)
      net_sock_max_rate (fd, p->applied);
  }
  else                 /* the estimate misses its bytes: a lower cap */
    debug ("data channel: more than %d streams, one not measured", MAX_FDS);
}

void
net_pace_remove_fd (struct net_pace *p, int fd)
{
  uint64_t acked;
  uint32_t queue_us;
  size_t i;

  if (p == NULL)
    return;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&p->lock);
  for (i = 0; i < p->n_fds; i++)
    if (p->fds[i] == fd) {
      if (net_sock_acked (fd, &acked, &queue_us) == 0)
        p->acked_gone += acked;
      p->fds[i] = p->fds[--p->n_fds];
      return;
    }
}

/* Bytes acknowledged on every socket, past and present, and the
 * largest queue a socket sees now (µs); lock held.
 */
static uint64_t
acked_total (const struct net_pace *p, uint32_t *queue_us)
{
  uint64_t sum = p->acked_gone, a;
  uint32_t q;
  size_t i;

  *queue_us = 0;
  for (i = 0; i < p->n_fds; i++)
    if (net_sock_acked (p->fds[i], &a, &q) == 0) {
      sum += a;
      if (q > *queue_us)
        *queue_us = q;
    }
  return sum;
}

/* The bucket's arithmetic at rate; lock held. */
static uint64_t
reserve_locked (struct net_pace *p, uint64_t rate, int burst_ms,
                uint64_t bytes, int64_t now_ns)
{
  double burst = (double) rate * burst_ms / 1000;

  if (p->last_ns < 0)
    p->tokens = burst;
  else if (now_ns > p->last_ns)
    p->tokens += (double) rate * (now_ns - p->last_ns) / 1e9;
  if (p->tokens > burst)
    p->tokens = burst;
  if (now_ns > p->last_ns)
    p->last_ns = now_ns;
  p->tokens -= bytes;
  if (p->tokens >= 0)
    return 0;
  return (uint64_t) (-p->tokens * 1e9 / rate);
}

/* The kernel spaces each socket's packets at the rate in force, so
 * that a frame leaves as a smooth stream rather than a 256 KiB burst
 * (the bucket alone only spaces whole frames).  Lock held.
 */
static void
apply_locked (struct net_pace *p, uint64_t rate)
{
  size_t i;

  if (rate == p->applied)
    return;
  for (i = 0; i < p->n_fds; i++)
    net_sock_max_rate (p->fds[i], rate);
  p->applied = rate;
}

/* The limit in force and whether it is the link's; lock held. */
static uint64_t
rate_locked (const struct net_pace *p, bool *link)
{
  *link = p->cap && (p->rate == 0 || p->cap < p->rate);
  return *link ? p->cap : p->rate;
}

uint64_t
net_pace_reserve (struct net_pace *p, uint64_t bytes, int64_t now_ns)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&p->lock);
  bool link;
  uint64_t rate, wait;

  if (p->follow && net_link_due (&p->link, now_ns)) {
    enum net_link_phase was = p->link.phase;
    uint32_t queue_us;
    uint64_t acked = acked_total (p, &queue_us);

    p->cap = net_link_update (&p->link, now_ns, acked, queue_us);
    if (p->link.phase != was)
      debug ("data channel: link %s, estimate %.1f MB/s, cap %.1f MB/s",
             phase_name[p->link.phase], p->link.est / 1e6, p->cap / 1e6);
  }
  rate = rate_locked (p, &link);
  apply_locked (p, rate);
  if (rate == 0) {              /* no limit now: start afresh later */
    p->last_ns = -1;
    return 0;
  }
  wait = reserve_locked (p, rate, link ? LINK_BURST_MS : BURST_MS, bytes,
                         now_ns);
  if (wait && link)
    net_link_held (&p->link);
  return wait;
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

bool
net_pace_follows_link (const struct net_pace *p)
{
  return p && p->follow;
}

void
net_pace_get_link (struct net_pace *p, uint64_t *est, uint64_t *cap)
{
  *est = *cap = 0;
  if (p == NULL || !p->follow)
    return;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&p->lock);
  *est = (uint64_t) p->link.est;
  *cap = p->link.paced ? net_link_cruise_cap (&p->link) : 0;
}
