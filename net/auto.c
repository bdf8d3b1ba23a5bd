/* auto.c: when --transport auto compresses (one decider per stream).
 *
 * The rule: compressing a byte costs c ns of CPU (measured lz4 time per
 * raw byte) and saves (1 - r) wire bytes, r being the recent compressed
 * size / raw size; a wire byte costs l ns to send (measured: time spent
 * in the TLS write and the rate limit per wire byte, which is what the
 * link's speed looks like from here, encryption included).  Compression
 * pays when (1 - r) * l > c, with a margin (MARGIN) so that a close call
 * goes to sending raw.  Each sender does the two serially, so this
 * compares the time each frame takes either way.
 *
 * While it does not pay, one frame in PROBE_EVERY is still compressed to
 * keep r and c current (data and links change); lz4 gives up quickly on
 * incompressible data, so the probes cost little.  Averages are
 * exponential, weight 1/8 for the newest frame.
 */
#include <config.h>

#include "utils.h"
#include "net.h"

#define PROBE_EVERY 16
#define MARGIN 1.25
#define WEIGHT 0.125

void
net_auto_init (struct net_auto *a, enum net_transport mode)
{
  *a = (struct net_auto) { .mode = mode, .ratio = -1, .cpu_ns = -1,
                         .link_ns = -1 };
}

static double
ewma (double old, double now)
{
  return old < 0 ? now : old + WEIGHT * (now - old);
}

bool
net_auto_should_compress (struct net_auto *a)
{
  bool pays;

  if (a->mode != NET_TRANSPORT_AUTO)
    return a->mode == NET_TRANSPORT_COMPRESS;
  if (a->ratio < 0 || a->cpu_ns < 0 || a->link_ns < 0)   /* nothing measured yet: try */
    return true;
  pays = (1 - a->ratio) * a->link_ns > a->cpu_ns * MARGIN;
  if (pays) {
    a->skipped = 0;
    return true;
  }
  if (++a->skipped >= PROBE_EVERY) {
    a->skipped = 0;
    return true;
  }
  return false;
}

void
net_auto_record (struct net_auto *a, bool compressed, uint64_t raw,
                 uint64_t wire, uint64_t cpu_ns, uint64_t link_ns)
{
  if (raw == 0 || wire == 0)
    return;
  if (compressed) {
    a->ratio = ewma (a->ratio, (double) wire / raw);
    a->cpu_ns = ewma (a->cpu_ns, (double) cpu_ns / raw);
  }
  a->link_ns = ewma (a->link_ns, (double) link_ns / wire);
}
