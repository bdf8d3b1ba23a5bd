/* memory.h: the memory pre-copy convergence policy.
 *
 * Pure logic, no I/O: the caller (migrate/) feeds measurements in and
 * applies the actions that come out through QMP.  Two parts:
 *
 * - mem_forecast(): before pre-copy starts, from the guest's dirty rate
 *   (QEMU calc-dirty-rate) and the link rate, whether pre-copy is
 *   expected to converge and roughly how long it will take.
 * - struct mem_policy: during pre-copy, detects a stall (the memory
 *   left to send not shrinking over several rounds) and answers with
 *   the next action, in this declared order:
 *     1. throttle the guest's vCPUs (auto-converge), if allowed;
 *     2. raise the downtime limit, doubling it, up to max_downtime_ms
 *        (never past QEMU's maximum, MEM_DOWNTIME_MAX_MS);
 *     3. switch to post-copy, if allowed;
 *   and, at any moment once timeout_ms has passed, abort (unless
 *   post-copy already started: the source no longer owns the VM).
 *
 * Thread safety: a struct mem_policy belongs to one thread.
 * Errors: none; every input is accepted (odd samples are ignored).
 */
#ifndef VMFERRY_MEMORY_H
#define VMFERRY_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

/* QEMU's own upper bound for downtime-limit (ms). */
#define MEM_DOWNTIME_MAX_MS 2000000

/* What pre-copy is expected to do. */
struct mem_forecast {
  bool known;                   /* false: a rate was unknown (0) */
  bool converges;               /* expected to converge unaided */
  double seconds;               /* rough duration if it converges */
  unsigned rounds;              /* rounds until the rest fits downtime */
};

/* ram: bytes to send; dirty_rate and link_rate in bytes/s (0 =
 * unknown); downtime_ms: the limit the last round must fit in.
 */
struct mem_forecast mem_forecast (uint64_t ram, double dirty_rate,
                                  double link_rate, uint64_t downtime_ms);

struct mem_policy_params {
  bool allow_throttle;          /* step 1 */
  bool allow_postcopy;          /* step 3 */
  uint64_t downtime_ms;         /* the limit pre-copy starts with */
  uint64_t max_downtime_ms;     /* step 2 stops here (<= downtime: skip) */
  uint64_t timeout_ms;          /* abort after this long (0: never) */
  unsigned stall_rounds;        /* rounds without progress = stall (0: 3) */
};

/* One query-migrate sample. */
struct mem_sample {
  int64_t t_ms;                 /* when (monotonic ms) */
  uint64_t remaining;           /* ram.remaining */
  uint64_t round;               /* ram.dirty-sync-count */
};

enum mem_action_kind {
  MEM_ACT_NONE,
  MEM_ACT_THROTTLE,             /* enable vCPU throttling */
  MEM_ACT_DOWNTIME,             /* set downtime-limit to .downtime_ms */
  MEM_ACT_POSTCOPY,             /* migrate-start-postcopy */
  MEM_ACT_ABORT,                /* cancel; the source VM runs on */
  MEM_ACT_STALLED,              /* stalled, nothing left to try: wait */
};

struct mem_action {
  enum mem_action_kind kind;
  uint64_t downtime_ms;         /* for MEM_ACT_DOWNTIME */
  const char *reason;           /* static text: why */
};

struct mem_policy {
  struct mem_policy_params p;
  int64_t t0;                   /* pre-copy start */
  uint64_t round;               /* last round seen */
  uint64_t best;                /* least remaining at a round start */
  unsigned stalled_rounds;      /* rounds since best last improved */
  uint64_t downtime_ms;         /* current limit */
  bool throttled;               /* step 1 done */
  bool postcopy;                /* step 3 done: no abort any more */
  bool stall_reported;          /* MEM_ACT_STALLED said once */
};

void mem_policy_init (struct mem_policy *pol,
                      const struct mem_policy_params *p, int64_t t0);

/* Feed one sample, get the action to apply now (usually NONE). */
struct mem_action mem_policy_sample (struct mem_policy *pol,
                                     const struct mem_sample *s);

/* "throttle", "downtime", ... for messages and JSON events. */
const char *mem_action_name (enum mem_action_kind k);

#endif /* VMFERRY_MEMORY_H */
