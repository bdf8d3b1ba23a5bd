/* test-converge.c: the convergence policy, driven by made-up samples. */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "memory.h"

#define MiB (1024.0 * 1024.0)

static void
forecast_idle_guest (void **state)
{
  /* 512 MiB over 100 MiB/s with nothing dirtied: one round, ~5 s. */
  struct mem_forecast f = mem_forecast (512 * MiB, 0, 100 * MiB, 300);

  assert_true (f.known);
  assert_true (f.converges);
  assert_int_equal (f.rounds, 1);
  assert_true (f.seconds > 5.0 && f.seconds < 5.2);
}

static void
forecast_dirty_guest (void **state)
{
  /* Dirtying half the link rate: rounds halve, ~2x the first round. */
  struct mem_forecast f = mem_forecast (512 * MiB, 50 * MiB, 100 * MiB, 300);

  assert_true (f.converges);
  assert_true (f.rounds > 3 && f.rounds < 10);
  assert_true (f.seconds > 9.5 && f.seconds < 10.5);
}

static void
forecast_too_dirty (void **state)
{
  struct mem_forecast f = mem_forecast (512 * MiB, 120 * MiB, 100 * MiB,
                                        300);

  assert_true (f.known);
  assert_false (f.converges);
  f = mem_forecast (512 * MiB, 100 * MiB, 100 * MiB, 300);
  assert_false (f.converges);
}

static void
forecast_unknown_link (void **state)
{
  struct mem_forecast f = mem_forecast (512 * MiB, 10 * MiB, 0, 300);

  assert_false (f.known);
  assert_false (f.converges);
}

/* Feed rounds with the given remaining bytes, one second apart; return
 * the first action that is not NONE (and the round it came in *at).
 */
static struct mem_action
feed (struct mem_policy *pol, const uint64_t *rem, size_t n, size_t *at)
{
  struct mem_action a = { MEM_ACT_NONE, 0, NULL };
  size_t i;

  for (i = 0; i < n; i++) {
    struct mem_sample s = { .t_ms = 1000 * (int64_t) i, .remaining = rem[i],
                            .round = i + 1 };
    a = mem_policy_sample (pol, &s);
    if (a.kind != MEM_ACT_NONE)
      break;
  }
  *at = i;
  return a;
}

static void
shrinking_needs_nothing (void **state)
{
  struct mem_policy_params p = { .allow_throttle = true, .downtime_ms = 300,
                                 .max_downtime_ms = 2000 };
  struct mem_policy pol;
  const uint64_t rem[] = { 500, 300, 200, 150, 100, 80, 60, 50, 40, 30 };
  size_t at;

  mem_policy_init (&pol, &p, 0);
  assert_int_equal (feed (&pol, rem, 10, &at).kind, MEM_ACT_NONE);
}

static void
stall_order (void **state)
{
  struct mem_policy_params p = { .allow_throttle = true,
                                 .allow_postcopy = true, .downtime_ms = 300,
                                 .max_downtime_ms = 1000 };
  struct mem_policy pol;
  const uint64_t flat[] = { 100, 100, 100, 100, 100, 100, 100, 100 };
  struct mem_action a;
  size_t at;

  mem_policy_init (&pol, &p, 0);
  a = feed (&pol, flat, 8, &at);
  assert_int_equal (a.kind, MEM_ACT_THROTTLE);
  assert_int_equal (at, 3);     /* round 1 sets the best, 3 rounds flat */
  assert_non_null (a.reason);
  /* Rounds keep counting from where they were. */
  pol.round = 0;
  a = feed (&pol, flat, 8, &at);
  assert_int_equal (a.kind, MEM_ACT_DOWNTIME);
  assert_int_equal (a.downtime_ms, 600);
  pol.round = 0;
  a = feed (&pol, flat, 8, &at);
  assert_int_equal (a.kind, MEM_ACT_DOWNTIME);
  assert_int_equal (a.downtime_ms, 1000);       /* capped at the max */
  pol.round = 0;
  assert_int_equal (feed (&pol, flat, 8, &at).kind, MEM_ACT_POSTCOPY);
  /* After post-copy: nothing more, and no abort either. */
  pol.round = 0;
  assert_int_equal (feed (&pol, flat, 8, &at).kind, MEM_ACT_NONE);
}

static void
nothing_allowed_reports_stall_once (void **state)
{
  struct mem_policy_params p = { .downtime_ms = 300 };
  struct mem_policy pol;
  const uint64_t flat[] = { 100, 100, 100, 100, 100, 100, 100, 100, 100 };
  size_t at;

  mem_policy_init (&pol, &p, 0);
  assert_int_equal (feed (&pol, flat, 9, &at).kind, MEM_ACT_STALLED);
  assert_int_equal (feed (&pol, flat, 9, &at).kind, MEM_ACT_NONE);
}

static void
timeout_aborts (void **state)
{
  struct mem_policy_params p = { .allow_throttle = true, .downtime_ms = 300,
                                 .timeout_ms = 5000 };
  struct mem_policy pol;
  const uint64_t shrinking[] = { 900, 800, 700, 600, 500, 400, 300, 200 };
  struct mem_action a;
  size_t at;

  mem_policy_init (&pol, &p, 0);
  a = feed (&pol, shrinking, 8, &at);
  assert_int_equal (a.kind, MEM_ACT_ABORT);
  assert_int_equal (at, 5);     /* t = 5000 ms */
}

static void
downtime_never_past_qemu_max (void **state)
{
  struct mem_policy_params p = { .downtime_ms = MEM_DOWNTIME_MAX_MS / 2 + 1,
                                 .max_downtime_ms = UINT64_MAX };
  struct mem_policy pol;
  const uint64_t flat[] = { 100, 100, 100, 100, 100, 100, 100, 100 };
  struct mem_action a;
  size_t at;

  mem_policy_init (&pol, &p, 0);
  a = feed (&pol, flat, 8, &at);
  assert_int_equal (a.kind, MEM_ACT_DOWNTIME);
  assert_int_equal (a.downtime_ms, MEM_DOWNTIME_MAX_MS);
}

static void
slow_progress_is_not_a_stall (void **state)
{
  /* Each round 15% smaller: progress, however slow. */
  struct mem_policy_params p = { .allow_throttle = true, .downtime_ms = 300 };
  struct mem_policy pol;
  uint64_t rem[12];
  size_t i, at;

  rem[0] = 1000000;
  for (i = 1; i < 12; i++)
    rem[i] = rem[i - 1] * 85 / 100;
  mem_policy_init (&pol, &p, 0);
  assert_int_equal (feed (&pol, rem, 12, &at).kind, MEM_ACT_NONE);
}

static void
names (void **state)
{
  assert_string_equal (mem_action_name (MEM_ACT_THROTTLE), "throttle");
  assert_string_equal (mem_action_name (MEM_ACT_ABORT), "abort");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (forecast_idle_guest),
    cmocka_unit_test (forecast_dirty_guest),
    cmocka_unit_test (forecast_too_dirty),
    cmocka_unit_test (forecast_unknown_link),
    cmocka_unit_test (shrinking_needs_nothing),
    cmocka_unit_test (stall_order),
    cmocka_unit_test (nothing_allowed_reports_stall_once),
    cmocka_unit_test (timeout_aborts),
    cmocka_unit_test (downtime_never_past_qemu_max),
    cmocka_unit_test (slow_progress_is_not_a_stall),
    cmocka_unit_test (names),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
