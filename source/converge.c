/* source-converge.c: applies memory/'s convergence policy to the source
 * QEMU.  While the disks are copied: a dirty-rate sample (calc-dirty-rate
 * in its default page-sampling mode; dirty-bitmap mode crashed QEMU 7.2
 * under TCG), then a forecast.  During pre-copy: each query-migrate sample goes
 * to the policy, whose actions become QMP commands.  Every action is
 * printed and emitted as a JSON "converge" event.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

/* Throttling is armed at start but dormant: QEMU refuses capability
 * changes while migrating, so auto-converge is on from the beginning
 * with its throttle capped at 1%; the policy's throttle action lifts
 * the cap.  QEMU then raises the throttle each time its own heuristic
 * sees the guest dirtying faster than it sends.
 */
#define DORMANT_THROTTLE 1
#define THROTTLE_INITIAL 30
#define THROTTLE_INCREMENT 30
#define THROTTLE_MAX 99
/* Below this much disk data, the storage phase says nothing about the
 * link rate.
 */
#define MIN_LINK_SAMPLE (16 << 20)
/* The dirty-rate sample runs while the disks are copied, so that it
 * costs pre-copy no time: started with the storage phase, read when
 * pre-copy starts (or during pre-copy, if it is not ready yet, then
 * reported late).  A sample older than DIRTY_STALE_MS is taken again.
 */
#define DIRTY_CALC_S 1
#define DIRTY_POLL_MS 200
#define DIRTY_GIVE_UP_MS 10000
#define DIRTY_STALE_MS 10000
#define DIRTY_PENDING (-2)
/* The relay path's switchover (correct_downtime): the pause's steps
 * besides sending the last pages (stop, the disks' last blocks, device
 * state, measured at 40-65 ms here, with a margin), and how long a span
 * measures the relay's rate.
 */
#define SWITCH_FIXED_MS 100
#define WIRE_SPAN_MS 250

/* Link rate seen by the storage phase, bytes/s (0: unknown).  The
 * mirror's byte count includes unallocated ranges (sent as cheap
 * write-zeroes), so only allocated bytes count as traffic; the
 * engine's data channel knows the bytes it put on the wire (compressed
 * data says little about the link: too few of them, no rate).
 */
static double
storage_link_rate (struct source *s)
{
  int64_t t = s->t_storage - s->t_mirror;
  uint64_t bytes = 0;
  size_t i;

  for (i = 0; i < s->vm->n_disks; i++)
    if (mig_disk_copied (&s->vm->disks[i]))
      bytes += s->vm->disks[i].allocated;
  if (bytes > s->storage_bytes)
    bytes = s->storage_bytes;
  if (s->engine && s->storage_wire_bytes < bytes)
    bytes = s->storage_wire_bytes;
  return bytes >= MIN_LINK_SAMPLE && t > 0 ? bytes * 1000.0 / t : 0;
}

/* Start a dirty-rate measurement (calc-dirty-rate, DIRTY_CALC_S long);
 * a failure only costs the forecast.
 */
static void
start_dirty_rate (struct source *s)
{
  json_auto_t *r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "calc-dirty-rate", "{s:I}", "calc-time",
                            (json_int_t) DIRTY_CALC_S);

  s->conv.dirty_started = r ? now_ms () : 0;
  if (r == NULL)
    debug ("calc-dirty-rate: %s", get_error ());
}

/* The measured dirty rate in bytes/s; -2 while QEMU is still measuring
 * (or we asked less than DIRTY_POLL_MS ago), -1 when it cannot be told.
 */
static double
poll_dirty_rate (struct source *s)
{
  json_auto_t *q = NULL;
  const char *st;
  json_int_t mib;

  if (s->conv.dirty_started == 0)
    return -1;
  if (now_ms () - s->conv.dirty_polled < DIRTY_POLL_MS)
    return -2;
  s->conv.dirty_polled = now_ms ();
  q = qmp_commandf (s->q, QMP_TIMEOUT_MS, "query-dirty-rate", NULL);
  st = json_string_value (json_object_get (q, "status"));
  if (st && strcmp (st, "measuring") == 0 &&
      now_ms () - s->conv.dirty_started < DIRTY_GIVE_UP_MS)
    return -2;
  if (st == NULL || strcmp (st, "measured") != 0)
    return -1;
  mib = json_integer_value (json_object_get (q, "dirty-rate"));
  return mib < 0 ? -1 : mib * 1048576.0;
}

/* Print (and emit) the forecast. */
static void
report_forecast (struct source *s, double dirty, double link)
{
  struct mem_forecast f = mem_forecast (s->vm->memory, dirty, link,
                                        s->p->downtime_ms);
  json_t *ev = json_pack ("{s:s, s:I, s:I, s:b, s:b, s:o, s:i}",
                          "event", "forecast", "dirty_rate",
                          (json_int_t) dirty, "link_rate", (json_int_t) link,
                          "known", f.known, "converges", f.converges,
                          "seconds", progress_seconds (f.seconds),
                          "rounds", (int) f.rounds);

  if (!f.known)
    progress_event (&s->pr, ev, "forecast: guest dirties %.1f MiB/s; link "
                    "rate unknown yet", dirty / 1048576.0);
  else if (f.converges)
    progress_event (&s->pr, ev, "forecast: guest dirties %.1f MiB/s, link "
                    "%.1f MiB/s: pre-copy expected to converge in about "
                    "%.0f s (%u rounds)", dirty / 1048576.0, link / 1048576.0,
                    f.seconds, f.rounds);
  else
    progress_event (&s->pr, ev, "forecast: guest dirties %.1f MiB/s, link "
                    "%.1f MiB/s: pre-copy is NOT expected to converge "
                    "without throttling, a longer downtime or post-copy",
                    dirty / 1048576.0, link / 1048576.0);
}

void
src_converge_begin (struct source *s)
{
  if (s->was_running)
    start_dirty_rate (s);
}

/* The dirty rate is known (or known to be unknown): say what follows
 * from it with the link rate (0: unknown yet).
 */
static void
dirty_rate_known (struct source *s, double dirty, double link)
{
  s->conv.dirty_rate = dirty;
  if (dirty >= 0)
    report_forecast (s, dirty, link);
  else
    progress_note (&s->pr, "forecast: the guest's dirty rate could not be "
                   "measured");
  s->conv.forecast_done = link > 0 || dirty < 0;
}

/* Before migrate: arm throttling, forecast (or leave the forecast for
 * later if the dirty rate is not measured yet), start the policy.
 */
int
src_converge_setup (struct source *s)
{
  struct mem_policy_params pp = {
    .allow_throttle = !s->p->no_throttle,
    .allow_postcopy = s->p->allow_postcopy,
    .downtime_ms = s->p->downtime_ms,
    .max_downtime_ms = s->p->max_downtime_ms,
    .timeout_ms = (uint64_t) s->p->timeout_s * 1000,
  };
  double dirty = 0;

  if (pp.allow_throttle) {
    json_auto_t *r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-parameters", "{s:i, s:i, s:i}",
                              "cpu-throttle-initial", DORMANT_THROTTLE,
                              "cpu-throttle-increment", DORMANT_THROTTLE,
                              "max-cpu-throttle", DORMANT_THROTTLE);
    json_auto_t *c = r ? qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-capabilities",
                                  "{s:[{s:s,s:b}]}", "capabilities",
                                  "capability", "auto-converge", "state", 1)
      : NULL;
    if (c == NULL)
      return -1;
  }
  if (s->was_running) {
    if (s->conv.dirty_started == 0 || now_ms () - s->conv.dirty_started > DIRTY_STALE_MS)
      start_dirty_rate (s);
    s->conv.dirty_polled = 0;
    dirty = poll_dirty_rate (s);
  }
  if (dirty == DIRTY_PENDING)
    s->conv.dirty_rate = DIRTY_PENDING;
  else
    dirty_rate_known (s, dirty, storage_link_rate (s));
  mem_policy_init (&s->conv.policy, &pp, now_ms ());
  s->conv.downtime_target = s->p->downtime_ms;
  return 0;
}

/* During pre-copy: the late dirty-rate sample, the first link rate. */
static void
forecast_sample (struct source *s, json_t *ram, uint64_t round)
{
  double mbps = json_number_value (json_object_get (ram, "mbps"));
  double link = storage_link_rate (s);
  double dirty;

  /* No link rate before: the first round's rate is a good one. */
  if (link == 0 && round >= 2 && mbps > 0)
    link = mbps * 1e6 / 8;
  if (s->conv.dirty_rate == DIRTY_PENDING) {
    if ((dirty = poll_dirty_rate (s)) != DIRTY_PENDING)
      dirty_rate_known (s, dirty, link);
  }
  else if (!s->conv.forecast_done && link > 0) {
    s->conv.forecast_done = true;
    report_forecast (s, s->conv.dirty_rate, link);
  }
}

uint64_t
src_converge_first_limit (const struct source *s)
{
  /* The relay path: no switchover before correct_downtime knows rates. */
  return s->rl.relay ? 1 : s->p->downtime_ms;
}

/* Rates for correct_downtime: QEMU's (the highest of about the last
 * second) and the relay's on the wire (the highest over WIRE_SPAN_MS).
 */
static void
note_rates (struct source *s, json_t *ram)
{
  double q = json_number_value (json_object_get (ram, "mbps")) * 1e6 / 8;
  uint64_t w = net_relay_wire_bytes (s->rl.relay);
  int64_t t = now_ms ();

  if (t - s->conv.qrate_t >= 1000) {
    s->conv.qrate_prev = s->conv.qrate_cur;
    s->conv.qrate_cur = 0;
    s->conv.qrate_t = t;
  }
  if (q > s->conv.qrate_cur)
    s->conv.qrate_cur = q;
  if (s->conv.wire_t == 0 || w < s->conv.wire_anchor) {
    s->conv.wire_t = t;
    s->conv.wire_anchor = w;
  }
  else if (t - s->conv.wire_t >= WIRE_SPAN_MS) {
    double r = (w - s->conv.wire_anchor) * 1000.0 / (t - s->conv.wire_t);
    if (r > s->conv.wire_rate)
      s->conv.wire_rate = r;
    s->conv.wire_t = t;
    s->conv.wire_anchor = w;
  }
}

/* The relay path: QEMU measures its bandwidth at our local socket, in
 * its own (uncompressed) bytes, and switches over once what is left
 * fits downtime-limit at that rate.  With compression that rate says
 * little about the last pages: text RAM went at 1 GB/s through zstd, so
 * QEMU stopped the guest with 146 MB left that crossed 1 Gbit/s at 190
 * MB/s: 852 ms of downtime for a 300 ms limit.  So QEMU's limit is
 * scaled until its threshold (rate x limit) is what the link carries in
 * the target's time after the fixed steps, as if the rest did not
 * compress at all:
 *   limit = (target - SWITCH_FIXED_MS) x link rate / QEMU's rate.
 * Compressible pages then leave less for the pause, never more.
 */
static int
correct_downtime (struct source *s, json_t *ram)
{
  double link = storage_link_rate (s), q;
  double budget = (double) s->conv.downtime_target - SWITCH_FIXED_MS;
  uint64_t limit = 1;
  json_t *r;

  note_rates (s, ram);
  if (s->conv.wire_rate > link)
    link = s->conv.wire_rate;
  q = s->conv.qrate_cur > s->conv.qrate_prev ? s->conv.qrate_cur : s->conv.qrate_prev;
  if (budget < 1)
    budget = 1;
  if (link > 0 && q > 0)
    limit = (uint64_t) (budget * (link < q ? link / q : 1));
  if (limit < 1)
    limit = 1;
  /* Move only on a real change (each is a QMP round trip). */
  if (s->conv.downtime_set && limit * 10 > s->conv.downtime_set * 9 &&
      limit * 10 < s->conv.downtime_set * 11)
    return 0;
  r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-parameters", "{s:I}", "downtime-limit",
               (json_int_t) limit);
  if (r == NULL)
    return -1;
  json_decref (r);
  debug ("switchover: downtime-limit %" PRIu64 " ms (QEMU's rate %.0f "
         "MB/s, link %.0f MB/s)", limit, q / 1e6, link / 1e6);
  s->conv.downtime_set = limit;
  return 0;
}

/* The QMP side of one action.  -1 + set_error to abort the migration. */
static int
apply (struct source *s, const struct mem_action *a)
{
  json_t *r = NULL;

  switch (a->kind) {
  case MEM_ACT_THROTTLE:
    r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-parameters", "{s:i, s:i, s:i}",
                 "max-cpu-throttle", THROTTLE_MAX,
                 "cpu-throttle-initial", THROTTLE_INITIAL,
                 "cpu-throttle-increment", THROTTLE_INCREMENT);
    if (r && s->conv.throttle_since == 0)
      s->conv.throttle_since = now_ms ();
    break;
  case MEM_ACT_DOWNTIME:
    s->conv.downtime_target = a->downtime_ms;
    if (s->rl.relay)               /* correct_downtime sets QEMU's */
      return 0;
    r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-parameters", "{s:I}", "downtime-limit",
                 (json_int_t) a->downtime_ms);
    break;
  case MEM_ACT_POSTCOPY:
    r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-start-postcopy", NULL);
    s->conv.postcopy = r != NULL;
    break;
  case MEM_ACT_ABORT:
    set_error (0, "pre-copy did not converge within --timeout %u s; "
               "cancelled", s->p->timeout_s);
    return -1;
  case MEM_ACT_NONE:
  case MEM_ACT_STALLED:
    return 0;
  }
  if (r == NULL) {
    set_error (0, "convergence action %s failed: %s",
               mem_action_name (a->kind), get_error ());
    return -1;
  }
  json_decref (r);
  return 0;
}

/* Print and emit an action. */
static void
report_action (struct source *s, const struct mem_action *a)
{
  json_t *ev = json_pack ("{s:s, s:s, s:s}", "event", "converge",
                          "action", mem_action_name (a->kind),
                          "reason", a->reason);

  if (a->kind == MEM_ACT_DOWNTIME) {
    json_object_set_new (ev, "downtime_ms", json_integer (a->downtime_ms));
    progress_event (&s->pr, ev, "convergence: %s; downtime limit now %"
                    PRIu64 " ms", a->reason, a->downtime_ms);
  }
  else
    progress_event (&s->pr, ev, "convergence: %s", a->reason);
}

/* One query-migrate sample during pre-copy. */
int
src_converge_sample (struct source *s, json_t *info)
{
  json_t *ram = json_object_get (info, "ram");
  struct mem_sample smp = {
    .t_ms = now_ms (),
    .remaining = json_integer_value (json_object_get (ram, "remaining")),
    .round = json_integer_value (json_object_get (ram, "dirty-sync-count")),
  };
  struct mem_action a;

  if (ram == NULL)
    return 0;
  if (s->conv.throttle_since) {
    int pct = json_integer_value (json_object_get (info,
                                                   "cpu-throttle-percentage"));
    if (pct > s->conv.throttle_max)
      s->conv.throttle_max = pct;
  }
  forecast_sample (s, ram, smp.round);
  if (s->rl.relay && correct_downtime (s, ram) == -1)
    return -1;
  a = mem_policy_sample (&s->conv.policy, &smp);
  if (a.kind == MEM_ACT_NONE)
    return 0;
  report_action (s, &a);
  return apply (s, &a);
}

bool
src_converge_postcopy (const struct source *s)
{
  return s->conv.postcopy;
}
