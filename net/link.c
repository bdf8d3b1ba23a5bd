/* link.c: how fast the link delivers, so that the data channel can pace
 * a little below it (pace.c) and keep the bottleneck's queue empty: a
 * guest write that QEMU mirrors over its own connection, or another
 * host's traffic, then does not wait behind the bulk copy.  Pure: the
 * caller brings the clock and the bytes the receiver acknowledged on all
 * streams together (TCP_INFO, acked.c).
 *
 * The estimate is the most the streams delivered over any SPAN windows
 * (1 s) since the channel opened.  Every sample is a lower bound of the
 * link's rate, so their maximum never exceeds it (but for the noise of
 * ACK timing, which a 1 s span keeps to well under a percent) and pacing
 * at a fraction of it cannot spiral down.  A delay-based controller
 * tried before did: our own 256 KiB frames and delayed ACKs look like a
 * queue.  Phases:
 *   startup: no cap until the rate stops growing while the link is full
 *            (3 windows that moved data with a queue along the path, none
 *            10 % faster than the estimate);
 *   cruise:  cap at CRUISE_PCT of the estimate;
 *   probe:   if the cap held a sender back, after 2 s of cruise (then 4,
 *            up to 8 while probes find nothing) one window at PROBE_PCT: a link faster than the estimate (taken
 *            while the sender was slow, say) delivers 3 % more there, and
 *            startup runs again to find how much;
 *   drain:   at DRAIN_PCT after startup and after each probe, to empty
 *            what they queued: until no stream sees a queue (at least
 *            one window, at most 1 s).
 * A new stream (the memory relay after the disks, say) may be faster
 * than the ones that set the estimate: the next probe comes 2 s into
 * cruise again.
 * A link that becomes slower (other traffic) keeps the old estimate: the
 * cap is then above the share and the kernel's congestion control (BBR)
 * paces alone, as without this.
 */
#include <config.h>

#include "net.h"

#define WINDOW_NS 250000000LL
#define PROBE_FIRST_NS 2000000000LL  /* then twice as long after each */
#define PROBE_MAX_NS 8000000000LL    /* probe that found nothing, to this */
#define CRUISE_PCT 98
#define PROBE_PCT 110
#define DRAIN_PCT 90
#define GROWTH 1.10             /* startup: a window this much faster */
#define PROBE_GROWTH 1.03       /* a probe this much faster: more link */
#define FLAT_WINDOWS 3
/* Startup counts a window as flat only if it moved this much (less, the
 * channel's hello or a flush barrier, says nothing of the link) and a
 * stream saw a queue along the path (its smoothed RTT this far above
 * its lowest): a sender slower than the link (compressible data, a busy
 * CPU) builds none, and its rate is not the link's.  Taken for the
 * link's, that rate capped the memory relay after text-like disks at
 * 1.1 MB/s on a 1 Gbit/s link (27 s instead of 3).  A path whose queue
 * never grows this long stays in startup: no cap, as without pacing.
 */
#define MIN_WINDOW_BYTES (256 * 1024)
#define QUEUE_US 4000
/* Startup leaves the queue it found (48 ms at 100 Mbit/s here), which
 * cruise, 2 % below the link, would take seconds to empty: drain first,
 * until no stream sees a queue, for at most this long.
 */
#define MAX_DRAIN_NS 1000000000LL

void
net_link_init (struct net_link *l)
{
  *l = (struct net_link) { .phase = NET_LINK_STARTUP, .win_ns = -1,
                           .probe_ns = PROBE_FIRST_NS };
}

bool
net_link_due (const struct net_link *l, int64_t now_ns)
{
  return l->win_ns < 0 || now_ns - l->win_ns >= WINDOW_NS;
}

void
net_link_reprobe (struct net_link *l)
{
  l->probe_ns = PROBE_FIRST_NS;
}

void
net_link_held (struct net_link *l)
{
  l->held = true;
}

static void
enter (struct net_link *l, enum net_link_phase phase, int64_t now_ns)
{
  l->phase = phase;
  l->since_ns = now_ns;
  l->flat = 0;
  if (phase == NET_LINK_CRUISE)
    l->held = false, l->paced = true;
}

/* The phase after a window that delivered rate bytes per second (before:
 * the estimate before it; moved: enough to judge; queued: a stream sees
 * a queue now).
 */
static void
step (struct net_link *l, double rate, double before, bool moved,
      bool queued, int64_t now_ns)
{
  bool grew = rate > before * GROWTH;

  switch (l->phase) {
  case NET_LINK_STARTUP:
    l->flat = grew || !moved || !queued ? 0 : l->flat + 1;
    if (l->flat >= FLAT_WINDOWS)
      enter (l, NET_LINK_DRAIN, now_ns);
    break;
  case NET_LINK_CRUISE:
    if (now_ns - l->since_ns >= l->probe_ns)
      enter (l, l->held ? NET_LINK_PROBE : NET_LINK_CRUISE, now_ns);
    break;
  case NET_LINK_PROBE:
    grew = rate > before * PROBE_GROWTH;
    l->probe_ns = grew ? PROBE_FIRST_NS
      : l->probe_ns * 2 > PROBE_MAX_NS ? PROBE_MAX_NS : l->probe_ns * 2;
    enter (l, grew ? NET_LINK_STARTUP : NET_LINK_DRAIN, now_ns);
    break;
  case NET_LINK_DRAIN:
    if (!queued || now_ns - l->since_ns >= MAX_DRAIN_NS)
      enter (l, NET_LINK_CRUISE, now_ns);
    break;
  }
}

/* The rate over the last SPAN windows (fewer at first) enters the
 * estimate.
 */
static void
sample (struct net_link *l, int64_t now_ns, uint64_t acked)
{
  const struct net_link_mark *m =
    &l->marks[l->n_marks < NET_LINK_SPAN ? 0 : l->n_marks % NET_LINK_SPAN];
  double rate;

  if (l->n_marks == 0 || now_ns <= m->ns)
    return;
  rate = (double) (acked - m->acked) * 1e9 / (now_ns - m->ns);
  if (rate > l->est && acked - m->acked >= MIN_WINDOW_BYTES)
    l->est = rate;
}

uint64_t
net_link_update (struct net_link *l, int64_t now_ns, uint64_t acked,
                 uint32_t queue_us)
{
  if (!net_link_due (l, now_ns))
    return net_link_cap (l);
  if (l->win_ns >= 0) {
    double before = l->est;
    double rate = (double) (acked - l->win_acked) * 1e9 /
      (now_ns - l->win_ns);

    sample (l, now_ns, acked);
    step (l, rate, before, acked - l->win_acked >= MIN_WINDOW_BYTES,
          queue_us >= QUEUE_US, now_ns);
  }
  l->marks[l->n_marks++ % NET_LINK_SPAN] =
    (struct net_link_mark) { .ns = now_ns, .acked = acked };
  l->win_ns = now_ns;
  l->win_acked = acked;
  return net_link_cap (l);
}

uint64_t
net_link_cruise_cap (const struct net_link *l)
{
  return (uint64_t) (l->est * CRUISE_PCT / 100);
}

uint64_t
net_link_cap (const struct net_link *l)
{
  switch (l->phase) {
  case NET_LINK_CRUISE:
    return net_link_cruise_cap (l);
  case NET_LINK_PROBE:
    return (uint64_t) (l->est * PROBE_PCT / 100);
  case NET_LINK_DRAIN:
    return (uint64_t) (l->est * DRAIN_PCT / 100);
  default:
    return 0;
  }
}
