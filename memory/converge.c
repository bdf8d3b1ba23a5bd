/* converge.c: the convergence policy (see memory.h).  Pure functions
 * of their inputs, so that test-converge.c can drive them with made-up
 * samples.
 */
#include <config.h>

#include <string.h>

#include "memory.h"

/* A round counts as progress when it starts with at least this much
 * less memory left than the best round start so far.
 */
#define PROGRESS_FACTOR 0.9
#define DEFAULT_STALL_ROUNDS 3
#define MAX_FORECAST_ROUNDS 1000

/* Pre-copy as a geometric series: round i sends R_i at the link rate
 * B, meanwhile the guest dirties D * R_i / B, which round i+1 sends.
 * It converges when the rest fits in the downtime: R_n <= B * downtime.
 * The whole RAM is the first round (zero pages make it faster: this
 * is an upper bound).
 */
struct mem_forecast
mem_forecast (uint64_t ram, double dirty_rate, double link_rate,
              uint64_t downtime_ms)
{
  struct mem_forecast f = { .known = link_rate > 0 && dirty_rate >= 0 };
  double fits = link_rate * downtime_ms / 1000.0, r = ram;

  if (!f.known)
    return f;
  while (r > fits && f.rounds < MAX_FORECAST_ROUNDS) {
    f.seconds += r / link_rate;
    r = r * dirty_rate / link_rate;
    if (r > ram)
      r = ram;                  /* cannot dirty more than there is */
    f.rounds++;
    if (dirty_rate >= link_rate)
      return f;                 /* each round as big as the last */
  }
  f.converges = r <= fits;
  f.seconds += r / link_rate;   /* the last piece, while paused */
  return f;
}

void
mem_policy_init (struct mem_policy *pol, const struct mem_policy_params *p,
                 int64_t t0)
{
  memset (pol, 0, sizeof *pol);
  pol->p = *p;
  if (pol->p.stall_rounds == 0)
    pol->p.stall_rounds = DEFAULT_STALL_ROUNDS;
  if (pol->p.max_downtime_ms > MEM_DOWNTIME_MAX_MS)
    pol->p.max_downtime_ms = MEM_DOWNTIME_MAX_MS;
  pol->t0 = t0;
  pol->best = UINT64_MAX;
  pol->downtime_ms = p->downtime_ms;
}

/* The next remedy for a stall, in the declared order. */
static struct mem_action
next_remedy (struct mem_policy *pol)
{
  struct mem_action a = { MEM_ACT_NONE, 0, NULL };

  if (pol->p.allow_throttle && !pol->throttled) {
    pol->throttled = true;
    a.kind = MEM_ACT_THROTTLE;
    a.reason = "memory left to send is not shrinking: throttling the guest";
  }
  else if (pol->downtime_ms < pol->p.max_downtime_ms) {
    pol->downtime_ms = pol->downtime_ms ? pol->downtime_ms * 2 : 100;
    if (pol->downtime_ms > pol->p.max_downtime_ms)
      pol->downtime_ms = pol->p.max_downtime_ms;
    a.kind = MEM_ACT_DOWNTIME;
    a.downtime_ms = pol->downtime_ms;
    a.reason = "memory left to send is not shrinking: allowing a longer "
      "downtime";
  }
  else if (pol->p.allow_postcopy && !pol->postcopy) {
    pol->postcopy = true;
    a.kind = MEM_ACT_POSTCOPY;
    a.reason = "memory left to send is not shrinking: switching to post-copy";
  }
  else if (!pol->stall_reported) {
    pol->stall_reported = true;
    a.kind = MEM_ACT_STALLED;
    a.reason = "memory left to send is not shrinking and nothing else is "
      "allowed: waiting for --timeout";
  }
  return a;
}

struct mem_action
mem_policy_sample (struct mem_policy *pol, const struct mem_sample *s)
{
  struct mem_action none = { MEM_ACT_NONE, 0, NULL };

  if (pol->p.timeout_ms && !pol->postcopy &&
      s->t_ms - pol->t0 >= (int64_t) pol->p.timeout_ms) {
    struct mem_action a = { MEM_ACT_ABORT, 0,
                            "pre-copy did not finish within --timeout" };
    return a;
  }
  if (s->round <= pol->round || pol->postcopy)
    return none;                /* same round: nothing new to judge */
  pol->round = s->round;
  if (s->remaining < pol->best * PROGRESS_FACTOR) {
    pol->best = s->remaining;
    pol->stalled_rounds = 0;
    return none;
  }
  if (++pol->stalled_rounds < pol->p.stall_rounds)
    return none;
  /* Judge the remedy from where it starts. */
  pol->stalled_rounds = 0;
  pol->best = s->remaining;
  return next_remedy (pol);
}

const char *
mem_action_name (enum mem_action_kind k)
{
  switch (k) {
  case MEM_ACT_NONE: return "none";
  case MEM_ACT_THROTTLE: return "throttle";
  case MEM_ACT_DOWNTIME: return "downtime";
  case MEM_ACT_POSTCOPY: return "postcopy";
  case MEM_ACT_ABORT: return "abort";
  case MEM_ACT_STALLED: return "stalled";
  }
  return "?";
}
