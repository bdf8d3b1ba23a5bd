/* bitmap.c: fixed-size block bitmaps. */
#include <config.h>

#include <errno.h>

#include "utils.h"
#include "storage.h"

#define WORDS(n) (((n) + 63) / 64)

int
storage_bitmap_init (struct storage_bitmap *b, uint64_t nbits)
{
  b->nbits = nbits;
  b->words = calloc (WORDS (nbits) ? WORDS (nbits) : 1, sizeof *b->words);
  if (b->words == NULL) {
    set_error (errno, "bitmap of %" PRIu64 " blocks", nbits);
    return -1;
  }
  return 0;
}

void
storage_bitmap_free (struct storage_bitmap *b)
{
  free (b->words);
  b->words = NULL;
  b->nbits = 0;
}

void
storage_bitmap_set (struct storage_bitmap *b, uint64_t bit)
{
  if (bit < b->nbits)
    b->words[bit / 64] |= UINT64_C (1) << (bit % 64);
}

bool
storage_bitmap_test (const struct storage_bitmap *b, uint64_t bit)
{
  return bit < b->nbits && (b->words[bit / 64] >> (bit % 64)) & 1;
}

void
storage_bitmap_clear_all (struct storage_bitmap *b)
{
  memset (b->words, 0, WORDS (b->nbits) * sizeof *b->words);
}

void
storage_bitmap_set_range (struct storage_bitmap *b, uint64_t first,
                          uint64_t count)
{
  uint64_t i, end = first + count > b->nbits ? b->nbits : first + count;

  for (i = first; i < end; i++) {
    if (i % 64 == 0 && end - i >= 64) {
      b->words[i / 64] = UINT64_MAX;
      i += 63;
      continue;
    }
    storage_bitmap_set (b, i);
  }
}

uint64_t
storage_bitmap_count (const struct storage_bitmap *b)
{
  uint64_t i, n = 0;

  for (i = 0; i < WORDS (b->nbits); i++)
    n += __builtin_popcountll (b->words[i]);
  return n;
}

void
storage_bitmap_or (struct storage_bitmap *dst,
                   const struct storage_bitmap *src)
{
  uint64_t i;

  for (i = 0; i < WORDS (dst->nbits); i++)
    dst->words[i] |= src->words[i];
}

void
storage_bitmap_or_and (struct storage_bitmap *dst,
                       const struct storage_bitmap *a,
                       const struct storage_bitmap *b)
{
  uint64_t i;

  for (i = 0; i < WORDS (dst->nbits); i++)
    dst->words[i] |= a->words[i] & b->words[i];
}

void
storage_bitmap_copy (struct storage_bitmap *dst,
                     const struct storage_bitmap *src)
{
  memcpy (dst->words, src->words, WORDS (dst->nbits) * sizeof *dst->words);
}

uint64_t
storage_bitmap_next (const struct storage_bitmap *b, uint64_t from)
{
  uint64_t w;

  while (from < b->nbits) {
    w = b->words[from / 64] >> (from % 64);
    if (w)
      return from + __builtin_ctzll (w);
    from = (from / 64 + 1) * 64;
  }
  return b->nbits;
}
