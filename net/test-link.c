/* test-link.c: pacing below the link (link.c), driven by a simulated
 * link: each 250 ms window delivers the least of the link's rate, the
 * sender's own rate and the cap.  Checks that startup finds the rate,
 * that cruise paces a little below it and never spirals down while the
 * cap itself is what holds the sender back (the failure of the
 * delay-based controller this replaced), that a sender slower than the
 * link is not capped at its own rate, that an estimate taken while the
 * link was slower is corrected by a probe, and that an idle channel
 * keeps its estimate.  With the pace: --bandwidth below the link wins,
 * and a pace that follows the link but has measured nothing holds no
 * one back.
 */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include "utils.h"
#include "net.h"

#define WIN 250000000LL
#define MB 1e6

struct sim {
  struct net_link l;
  int64_t now;
  double acked;
  uint64_t cap;                 /* the latest cap (0: none) */
};

/* secs of traffic: the link carries link B/s, the sender offers app B/s;
 * a queue builds where the link is what limits.
 */
static void
run (struct sim *s, double secs, double link, double app)
{
  int64_t end = s->now + (int64_t) (secs * 1e9);

  while (s->now < end) {
    double rate = link < app ? link : app;
    uint32_t queue = link <= app ? 20000 : 0;

    if (s->cap && s->cap < rate) {
      rate = s->cap;
      queue = 0;
      net_link_held (&s->l);
    }
    s->now += WIN;
    s->acked += rate * WIN / 1e9;
    s->cap = net_link_update (&s->l, s->now, (uint64_t) s->acked, queue);
  }
}

static void
sim_init (struct sim *s)
{
  net_link_init (&s->l);
  s->now = 1000000000;
  s->acked = 0;
  s->cap = net_link_update (&s->l, s->now, 0, 0);
}

static void
test_startup_cruise (void **state)
{
  struct sim s;

  (void) state;
  sim_init (&s);
  assert_int_equal (s.cap, 0);
  assert_int_equal (s.l.phase, NET_LINK_STARTUP);
  run (&s, 2, 12.5 * MB, 1e12);
  assert_int_equal (s.l.phase, NET_LINK_CRUISE);
  assert_true (s.l.est > 12.4 * MB && s.l.est <= 12.5 * MB + 1);
  /* A little below: not at, not far below. */
  assert_true (s.cap < 12.5 * MB && s.cap > 11.5 * MB);
  assert_int_equal (s.cap, net_link_cruise_cap (&s.l));
}

/* The cap holds the sender for a minute: the estimate must not follow
 * the capped rate down, and the cap stays put (probes find the link
 * unchanged and drain what they queued).
 */
static void
test_no_spiral (void **state)
{
  struct sim s;
  uint64_t first;
  int probes = 0, drains = 0, i;

  (void) state;
  sim_init (&s);
  run (&s, 2, 12.5 * MB, 1e12);
  first = net_link_cruise_cap (&s.l);
  for (i = 0; i < 240; i++) {
    run (&s, 0.25, 12.5 * MB, 1e12);
    probes += s.l.phase == NET_LINK_PROBE;
    drains += s.l.phase == NET_LINK_DRAIN;
    assert_true (s.cap >= first * 0.85 && s.cap <= first * 1.25);
  }
  assert_int_equal (net_link_cruise_cap (&s.l), first);
  assert_true (probes >= 8 && probes <= 30);
  assert_int_equal (probes, drains);
}

/* A sender slower than the link (compressible data, a busy CPU: 2 MB/s
 * on 100 MB/s) builds no queue: startup goes on, without a cap, however
 * flat its rate (such an estimate once capped the memory relay at
 * 1.1 MB/s on a 1 Gbit/s link).  Once it fills the link, cruise.
 */
static void
test_slow_sender (void **state)
{
  struct sim s;

  (void) state;
  sim_init (&s);
  run (&s, 10, 100 * MB, 2 * MB);
  assert_int_equal (s.l.phase, NET_LINK_STARTUP);
  assert_int_equal (s.cap, 0);
  run (&s, 2, 100 * MB, 1e12);
  assert_int_equal (s.l.phase, NET_LINK_CRUISE);
  assert_true (s.cap > 95 * MB && s.cap < 100 * MB);
}

/* The estimate was taken while the link was slower (50 MB/s: other
 * traffic); it is 100 MB/s now.  The cap holds the sender back, and
 * within a few probe periods the estimate is the link's.
 */
static void
test_probe_corrects (void **state)
{
  struct sim s;

  (void) state;
  sim_init (&s);
  run (&s, 2, 50 * MB, 1e12);
  assert_int_equal (s.l.phase, NET_LINK_CRUISE);
  assert_true (s.l.est < 50.01 * MB);
  run (&s, 8, 100 * MB, 1e12);
  assert_true (s.l.est > 99 * MB);
  run (&s, 2, 100 * MB, 1e12);
  assert_int_not_equal (s.l.phase, NET_LINK_STARTUP);
  assert_true (net_link_cruise_cap (&s.l) > 95 * MB &&
               net_link_cruise_cap (&s.l) < 100 * MB);
}

/* After startup the queue it built is drained (below the link) until no
 * stream sees one, then cruise: not seconds at 2 % below the link.
 */
static void
test_drain_after_startup (void **state)
{
  struct sim s;
  int windows = 0;

  (void) state;
  sim_init (&s);
  while (s.l.phase == NET_LINK_STARTUP && windows++ < 40)
    run (&s, 0.25, 12.5 * MB, 1e12);
  assert_int_equal (s.l.phase, NET_LINK_DRAIN);
  assert_true (s.cap < 0.95 * s.l.est);
  /* The queue persists: drain goes on, for at most 1 s. */
  s.cap = net_link_update (&s.l, s.now + WIN, (uint64_t) s.acked + 2800000,
                           20000);
  assert_int_equal (s.l.phase, NET_LINK_DRAIN);
  s.now += WIN;
  s.acked += 2800000;
  /* Gone: cruise. */
  s.cap = net_link_update (&s.l, s.now + WIN, (uint64_t) s.acked + 2800000,
                           0);
  assert_int_equal (s.l.phase, NET_LINK_CRUISE);
}

/* A sender slower than the cap is not held: no probe, no drain; an idle
 * channel (no bytes) keeps its estimate.
 */
static void
test_unheld_idle (void **state)
{
  struct sim s;
  uint64_t cap;
  int i;

  (void) state;
  sim_init (&s);
  run (&s, 2, 12.5 * MB, 1e12);
  cap = net_link_cruise_cap (&s.l);
  run (&s, 6, 12.5 * MB, 5 * MB);       /* the probe the cap had earned */
  for (i = 0; i < 40; i++) {
    run (&s, 0.25, 12.5 * MB, 5 * MB);
    assert_int_equal (s.l.phase, NET_LINK_CRUISE);
  }
  run (&s, 30, 12.5 * MB, 0);
  assert_int_equal (s.cap, cap);
  /* Windows that move almost nothing (hellos, barriers) do not end
   * startup with a tiny estimate, even with a queue (another flow's).
   */
  sim_init (&s);
  run (&s, 5, 100000, 1e12);
  assert_int_equal (s.l.phase, NET_LINK_STARTUP);
  assert_int_equal (s.cap, 0);
}

/* The pace: --bandwidth alone, and following a link it has not measured
 * (no sockets): nothing holds the sender back beyond --bandwidth.
 */
static void
test_pace_follow (void **state)
{
  struct net_pace *p = net_pace_new (0, true);
  struct net_pace *q = net_pace_new (1000000, true);
  int64_t t = 1000000000;
  uint64_t est, cap;
  int i;

  (void) state;
  assert_non_null (p);
  assert_non_null (q);
  for (i = 0; i < 20; i++)
    assert_int_equal (net_pace_reserve (p, 10000000, t + i * WIN), 0);
  net_pace_get_link (p, &est, &cap);
  assert_int_equal (est, 0);
  assert_int_equal (cap, 0);
  assert_int_equal (net_pace_reserve (q, 50000, t), 0);
  assert_int_equal (net_pace_reserve (q, 100000, t), 100000000);
  net_pace_free (p);
  net_pace_free (q);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_startup_cruise),
    cmocka_unit_test (test_no_spiral),
    cmocka_unit_test (test_slow_sender),
    cmocka_unit_test (test_probe_corrects),
    cmocka_unit_test (test_drain_after_startup),
    cmocka_unit_test (test_unheld_idle),
    cmocka_unit_test (test_pace_follow),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
