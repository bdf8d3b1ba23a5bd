/* test-rounds.c: the round planner against a simulated disk and guest.
 *
 * The simulation is deterministic (fixed seeds).  A "block" holds a
 * version number; the guest writes new versions; the engine copies a
 * block by reading it, letting the guest run, then writing what it read
 * to the destination.  With mirroring on, a guest write also lands on the
 * destination at once.  The planner must leave the destination equal to
 * the source after the final round at switchover.  The same schedule run
 * without the re-copy rule must leave them different: that proves the
 * schedule really races copies with mirrored writes.
 */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include "utils.h"
#include "storage.h"

#define NBLOCKS 512

struct sim {
  uint32_t src[NBLOCKS], dst[NBLOCKS];
  uint32_t version;
  bool mirroring;
  struct storage_bitmap written;  /* QEMU's dirty bitmap of this round */
  uint64_t rng;
  bool rule_removed;              /* drop the re-copy rule (the ablation) */
};

static uint32_t
next_rand (struct sim *s)
{
  s->rng = s->rng * 6364136223846793005ULL + 1442695040888963407ULL;
  return s->rng >> 33;
}

static void
guest_write (struct sim *s, uint64_t b)
{
  s->src[b] = ++s->version;
  storage_bitmap_set (&s->written, b);
  if (s->mirroring)
    s->dst[b] = s->src[b];        /* write-blocking mirror */
}

/* The guest writes a few random blocks, favouring a hot set. */
static void
guest_runs (struct sim *s, int writes)
{
  while (writes-- > 0)
    guest_write (s, next_rand (s) % 4 == 0 ? next_rand (s) % NBLOCKS
                 : next_rand (s) % 32);
}

/* One round: copy every block of the set; between reading a block and
 * writing it the guest runs, sometimes writing that very block.
 */
static void
copy_round (struct sim *s, struct storage_rounds *r, bool guest_paused)
{
  struct storage_bitmap set;
  uint64_t b;

  assert_int_equal (storage_bitmap_init (&set, NBLOCKS), 0);
  assert_int_equal (storage_rounds_begin (r, &set), 0);
  storage_bitmap_clear_all (&s->written);
  for (b = storage_bitmap_next (&set, 0); b < NBLOCKS;
       b = storage_bitmap_next (&set, b + 1)) {
    uint32_t data = s->src[b];            /* read */
    if (!guest_paused) {
      guest_runs (s, next_rand (s) % 3);
      if (next_rand (s) % 8 == 0)
        guest_write (s, b);               /* the race */
    }
    s->dst[b] = data;                     /* write, maybe stale */
  }
  if (s->rule_removed && r->mirrored_round)
    storage_bitmap_clear_all (&s->written);   /* "writes were mirrored" */
  assert_int_equal (storage_rounds_end (r, &s->written), 0);
  storage_bitmap_free (&set);
}

/* Bulk copy, mirrored rounds, then the final round while paused.
 * Returns the number of blocks that differ at the end.
 */
static int
migrate (uint64_t seed, bool rule_removed, unsigned *rounds)
{
  struct sim *s = calloc (1, sizeof *s);
  struct storage_bitmap all;
  struct storage_rounds r;
  int i, diff = 0;

  assert_non_null (s);
  s->rng = seed;
  s->rule_removed = rule_removed;
  assert_int_equal (storage_bitmap_init (&s->written, NBLOCKS), 0);
  assert_int_equal (storage_bitmap_init (&all, NBLOCKS), 0);
  for (i = 0; i < NBLOCKS; i++)
    s->src[i] = ++s->version;             /* the disk's initial data */
  storage_bitmap_set_range (&all, 0, NBLOCKS);
  assert_int_equal (storage_rounds_init (&r, &all), 0);
  copy_round (s, &r, false);              /* bulk copy, no mirror yet */
  s->mirroring = true;
  storage_rounds_mirroring_on (&r);
  for (i = 0; i < 20 && storage_rounds_pending (&r) > 4; i++)
    copy_round (s, &r, false);
  copy_round (s, &r, true);               /* switchover: guest paused */
  assert_int_equal (storage_rounds_pending (&r), 0);
  for (i = 0; i < NBLOCKS; i++)
    diff += s->src[i] != s->dst[i];
  *rounds = r.round;
  storage_rounds_free (&r);
  storage_bitmap_free (&all);
  storage_bitmap_free (&s->written);
  free (s);
  return diff;
}

static void
test_recopy_rule_keeps_destination_equal (void **state)
{
  uint64_t seed;
  unsigned rounds;
  int raced = 0;

  for (seed = 1; seed <= 20; seed++) {
    assert_int_equal (migrate (seed, false, &rounds), 0);
    assert_true (rounds >= 3);
    /* The ablation on the same schedule: stale copies survive. */
    raced += migrate (seed, true, &rounds) > 0;
  }
  /* Nearly every schedule races; if none did the test proves nothing. */
  assert_true (raced >= 15);
}

static void
test_unmirrored_round_recopies_every_write (void **state)
{
  struct storage_bitmap init, set, written;
  struct storage_rounds r;

  assert_int_equal (storage_bitmap_init (&init, 100), 0);
  assert_int_equal (storage_bitmap_init (&set, 100), 0);
  assert_int_equal (storage_bitmap_init (&written, 100), 0);
  storage_bitmap_set_range (&init, 0, 10);
  assert_int_equal (storage_rounds_init (&r, &init), 0);
  assert_int_equal (storage_rounds_begin (&r, &set), 0);
  assert_int_equal (storage_bitmap_count (&set), 10);
  assert_int_equal (storage_rounds_pending (&r), 0);
  storage_bitmap_set (&written, 5);       /* copied and written */
  storage_bitmap_set (&written, 50);      /* written only */
  /* Mirroring switched on mid-round does not make this round mirrored. */
  storage_rounds_mirroring_on (&r);
  assert_int_equal (storage_rounds_end (&r, &written), 0);
  assert_int_equal (storage_rounds_pending (&r), 2);
  /* A mirrored round: only the copied-and-written block comes back. */
  assert_int_equal (storage_rounds_begin (&r, &set), 0);
  assert_true (storage_bitmap_test (&set, 5) && storage_bitmap_test (&set, 50));
  storage_bitmap_clear_all (&written);
  storage_bitmap_set (&written, 50);
  storage_bitmap_set (&written, 70);
  assert_int_equal (storage_rounds_end (&r, &written), 0);
  assert_int_equal (storage_rounds_pending (&r), 1);
  assert_int_equal (storage_bitmap_next (&r.pending, 0), 50);
  /* Misuse is an error, not a crash. */
  assert_int_equal (storage_rounds_end (&r, &written), -1);
  storage_rounds_free (&r);
  storage_bitmap_free (&init);
  storage_bitmap_free (&set);
  storage_bitmap_free (&written);
}

static void
test_bitmap_ranges (void **state)
{
  struct storage_bitmap b;

  assert_int_equal (storage_bitmap_init (&b, 200), 0);
  storage_bitmap_set_range (&b, 3, 130);  /* 3 .. 132 */
  assert_int_equal (storage_bitmap_count (&b), 130);
  assert_int_equal (storage_bitmap_next (&b, 0), 3);
  assert_int_equal (storage_bitmap_next (&b, 133), 200);
  storage_bitmap_set_range (&b, 190, 100);  /* clipped */
  assert_int_equal (storage_bitmap_count (&b), 140);
  assert_false (storage_bitmap_test (&b, 250));
  storage_bitmap_free (&b);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_recopy_rule_keeps_destination_equal),
    cmocka_unit_test (test_unmirrored_round_recopies_every_write),
    cmocka_unit_test (test_bitmap_ranges),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
