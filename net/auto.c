/* auto.c: which codec each DATA or STREAM frame uses (one decider per
 * stream).
 *
 * The rule: with codec k, a raw byte costs c_k ns of CPU (measured
 * encoding time per raw byte) and then r_k wire bytes (measured wire /
 * raw size), each costing l ns to send (measured: time spent in the TLS
 * write and the rate limit per wire byte, which is what the link's speed
 * looks like from here, encryption included).  So a raw byte takes
 * c_k + r_k * l with codec k, and l sent raw.  Each sender does the two
 * serially, so this compares the time each frame takes either way.
 *
 * The codecs are ordered by CPU cost (raw, lz4, zstd): a codec that
 * costs more CPU is picked only when it is cheaper than the current pick
 * by MARGIN, so a close call goes to the cheaper CPU.  --transport
 * compress leaves raw out (lz4 still falls back to raw per frame); tcp
 * is raw only; zstd only when the receiver decodes it.
 *
 * A codec is tried twice before the rule trusts its numbers, and only the
 * second try counts: the first pays for starting up (a new context, the
 * first touch of the stream's buffers), which would price a codec out
 * for a long time on a fast link.  A compressor not picked is still used
 * for one frame once it was idle long enough, to keep its numbers
 * current (data and links change): after PROBE_EVERY frames, or more if
 * a probe costs much more than the pick, so that probes add at most
 * about 1/PROBE_SHARE to the time (lz4 probes among zstd frames of text
 * over a slow link would otherwise send more bytes than zstd does), but
 * at least every PROBE_MAX frames.  Raw needs no probe: its cost, l, is
 * measured on every frame.
 *
 * Averages are exponential over frames, weight 1/8 for the newest one
 * (1/2 for a probe: it is all there is to go by), and each rate is a
 * ratio of averages (wire / raw, CPU time / raw, send time / wire), so a
 * byte weighs the same in any frame: a 5-byte frame's fixed costs, or
 * many small writes that the socket buffer took at once before one that
 * waited for the link, would otherwise swing the rates.
 *
 * zstd's probes cannot be undone (its context has seen the data, so the
 * frame must go as zstd, incompressible or not), but zstd level 1 stores
 * incompressible blocks raw (3 bytes of header per 128 KiB), and the
 * rule keeps it off such data between probes.
 */
#include <config.h>

#include "utils.h"
#include "minmax.h"
#include "net.h"

#define TRIES 2
#define PROBE_EVERY 16
#define PROBE_SHARE 32
#define PROBE_MAX 256
#define MARGIN 1.25
#define WEIGHT 0.125
#define PROBE_WEIGHT 0.5

void
net_auto_init (struct net_auto *a, enum net_transport mode)
{
  int k;

  *a = (struct net_auto) { .mode = mode, .link_ns = -1 };
  for (k = 0; k < NET_CODEC_N; k++)
    a->ratio[k] = a->cpu_ns[k] = k == NET_CODEC_RAW ? 0 : -1;
  a->ratio[NET_CODEC_RAW] = 1;
}

/* Add a frame to the averages v with weight w (1: start anew). */
static void
add (struct net_auto_avg *v, double w, uint64_t raw, uint64_t wire,
     uint64_t ns)
{
  v->raw += w * (raw - v->raw);
  v->wire += w * (wire - v->wire);
  v->ns += w * (ns - v->ns);
}

/* May the decider use codec k? */
static bool
usable (const struct net_auto *a, int k)
{
  switch (k) {
  case NET_CODEC_RAW: return a->mode == NET_TRANSPORT_AUTO;
  case NET_CODEC_LZ4: return true;
  case NET_CODEC_ZSTD: return a->zstd;
  default: return false;
  }
}

/* What a raw byte costs with codec k (ns). */
static double
cost (const struct net_auto *a, int k)
{
  return a->cpu_ns[k] + a->ratio[k] * a->link_ns;
}

/* The cheapest usable codec by the measurements (all known). */
static int
cheapest (const struct net_auto *a)
{
  int k, best = -1;
  double best_cost = 0;

  for (k = 0; k < NET_CODEC_N; k++) {
    if (!usable (a, k))
      continue;
    if (best < 0 || cost (a, k) * MARGIN < best_cost) {
      best = k;
      best_cost = cost (a, k);
    }
  }
  return best;
}

/* Is compressor k (not the pick best) due for a probe? */
static bool
probe_due (const struct net_auto *a, int k, int best)
{
  double extra = cost (a, k) / cost (a, best) - 1;
  double every = PROBE_SHARE * extra;

  if (k == NET_CODEC_RAW || !usable (a, k))
    return false;
  if (!(every < PROBE_MAX))     /* also a zero cost for best */
    every = PROBE_MAX;
  return a->idle[k] >= MAX (every, (double) PROBE_EVERY);
}

/* Use k for this frame. */
static enum net_codec
use (struct net_auto *a, int k)
{
  a->idle[k] = 0;
  return k;
}

enum net_codec
net_auto_choose (struct net_auto *a)
{
  int k, best;

  if (a->mode == NET_TRANSPORT_TCP)
    return NET_CODEC_RAW;
  for (k = NET_CODEC_LZ4; k < NET_CODEC_N; k++)   /* not measured: try */
    if (usable (a, k) && a->tries[k] < TRIES)
      return use (a, k);
  if (a->link_ns < 0)
    return use (a, NET_CODEC_LZ4);
  best = a->pick = cheapest (a);
  for (k = 0; k < NET_CODEC_N; k++)
    if (k != best && usable (a, k))
      a->idle[k]++;
  for (k = 0; k < NET_CODEC_N; k++)
    if (k != best && probe_due (a, k, best))
      return use (a, k);
  return use (a, best);
}

void
net_auto_record (struct net_auto *a, enum net_codec codec, uint64_t raw,
                 uint64_t wire, uint64_t cpu_ns, uint64_t link_ns)
{
  struct net_auto_avg *v;
  double w;

  if (raw == 0 || wire == 0 || codec >= NET_CODEC_N)
    return;
  if (codec != NET_CODEC_RAW) {
    v = &a->avg[codec];
    w = a->tries[codec] < TRIES ? 1 : (int) codec == a->pick ? WEIGHT
      : PROBE_WEIGHT;
    if (a->tries[codec] < TRIES)
      a->tries[codec]++;
    add (v, w, raw, wire, cpu_ns);
    a->ratio[codec] = v->wire / v->raw;
    a->cpu_ns[codec] = v->ns / v->raw;
  }
  add (&a->link, a->link_ns < 0 ? 1 : WEIGHT, raw, wire, link_ns);
  a->link_ns = a->link.ns / a->link.wire;
}
