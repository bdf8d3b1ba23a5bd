/* rounds.c: which blocks must be (re)copied, round by round (the rule
 * is explained in storage.h).
 */
#include <config.h>

#include "utils.h"
#include "storage.h"

int
storage_rounds_init (struct storage_rounds *r,
                     const struct storage_bitmap *initial)
{
  memset (r, 0, sizeof *r);
  r->nblocks = initial->nbits;
  if (storage_bitmap_init (&r->pending, r->nblocks) == -1 ||
      storage_bitmap_init (&r->copying, r->nblocks) == -1) {
    storage_rounds_free (r);
    return -1;
  }
  storage_bitmap_copy (&r->pending, initial);
  return 0;
}

void
storage_rounds_free (struct storage_rounds *r)
{
  storage_bitmap_free (&r->pending);
  storage_bitmap_free (&r->copying);
}

void
storage_rounds_mirroring_on (struct storage_rounds *r)
{
  r->mirroring = true;
}

int
storage_rounds_begin (struct storage_rounds *r, struct storage_bitmap *set)
{
  if (r->in_round || set->nbits != r->nblocks) {
    set_error (0, "storage rounds: begin %s", r->in_round ?
               "during a round" : "with a bitmap of the wrong size");
    return -1;
  }
  storage_bitmap_copy (&r->copying, &r->pending);
  storage_bitmap_copy (set, &r->pending);
  storage_bitmap_clear_all (&r->pending);
  /* A round counts as mirrored only if mirroring was on from its start:
   * writes before that reached the source alone.
   */
  r->mirrored_round = r->mirroring;
  r->in_round = true;
  r->round++;
  return 0;
}

int
storage_rounds_end (struct storage_rounds *r,
                    const struct storage_bitmap *written)
{
  if (!r->in_round || written->nbits != r->nblocks) {
    set_error (0, "storage rounds: end %s", !r->in_round ?
               "outside a round" : "with a bitmap of the wrong size");
    return -1;
  }
  if (r->mirrored_round)
    /* The mirror delivered every write; only a copy that raced with a
     * write may have put stale data over it.
     */
    storage_bitmap_or_and (&r->pending, written, &r->copying);
  else
    storage_bitmap_or (&r->pending, written);
  storage_bitmap_clear_all (&r->copying);
  r->in_round = false;
  return 0;
}

uint64_t
storage_rounds_pending (const struct storage_rounds *r)
{
  return storage_bitmap_count (&r->pending);
}
