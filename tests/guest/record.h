/* record.h: on-disk layout of the test guest's disk records.
 *
 * Shared by the in-guest workload (tests/guest/workload.c, built static
 * by build-guest.sh without config.h) and the host-side checker
 * (tests/guest/check-image.c).  Header-only, no dependencies beyond libc.
 *
 * The workload writes 4 KiB records into a region of its disk, cycling
 * over its nr_slots = region size / RECORD_SIZE slots: record number SEQ
 * (starting at 1) goes to slot SEQ % nr_slots.  All integers are stored
 * little-endian (the guest and the host are both x86-64; the code relies
 * on that).
 *
 *   offset  size  field
 *        0     8  magic     RECORD_MAGIC
 *        8     8  run_id    random per boot of the workload (its nonce)
 *       16     8  seq       sequence number, 1, 2, 3, ... within the run
 *       24     8  slot      seq % nr_slots: where the record must be found
 *       32     8  seed      record_seed (run_id, seq): payload generator seed
 *       40  4048  payload   record_payload_word (seed, i) for word i
 *     4088     8  checksum  record_checksum () over bytes 0..4087
 *
 * An all-zero slot is "empty" (never written).
 */

#ifndef VMFERRY_TESTS_GUEST_RECORD_H
#define VMFERRY_TESTS_GUEST_RECORD_H

#include <stdint.h>
#include <string.h>

#define RECORD_SIZE 4096
#define RECORD_MAGIC UINT64_C (0x0031434552464d56) /* "VMFREC1\0" */
#define RECORD_WORDS (RECORD_SIZE / 8)
#define RECORD_HEADER_WORDS 5
#define RECORD_CHECKSUM_WORD (RECORD_WORDS - 1)

/* What record_check found in a slot. */
enum record_status {
  RECORD_VALID = 0,
  RECORD_EMPTY, /* all zero */
  RECORD_BAD_MAGIC,
  RECORD_BAD_SLOT, /* valid-looking record in the wrong slot */
  RECORD_BAD_CHECKSUM,
  RECORD_BAD_PAYLOAD, /* checksum fine but payload not from its seed */
};

/* Decoded header of a record. */
struct record_header {
  uint64_t run_id;
  uint64_t seq;
  uint64_t slot;
  uint64_t seed;
};

static inline uint64_t
record_get64 (const void *buf, unsigned word)
{
  uint64_t v;

  memcpy (&v, (const char *) buf + 8 * word, 8);
  return v;
}

static inline void
record_put64 (void *buf, unsigned word, uint64_t v)
{
  memcpy ((char *) buf + 8 * word, &v, 8);
}

/* splitmix64 finaliser: a cheap, well-mixing 64-bit hash. */
static inline uint64_t
record_mix64 (uint64_t x)
{
  x += UINT64_C (0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C (0x94d049bb133111eb);
  return x ^ (x >> 31);
}

static inline uint64_t
record_seed (uint64_t run_id, uint64_t seq)
{
  return record_mix64 (run_id ^ record_mix64 (seq));
}

/* Payload word I (counted from the start of the record) for SEED. */
static inline uint64_t
record_payload_word (uint64_t seed, unsigned i)
{
  return record_mix64 (seed + i);
}

/* FNV-1a, applied to 64-bit words instead of bytes (8 times fewer
 * multiplications, which matters in a TCG guest).  Every step is a
 * bijection of the state, so any single changed word changes the sum.
 */
static inline uint64_t
record_checksum (const void *buf)
{
  uint64_t h = UINT64_C (0xcbf29ce484222325);
  unsigned i;

  for (i = 0; i < RECORD_CHECKSUM_WORD; i++) {
    h ^= record_get64 (buf, i);
    h *= UINT64_C (0x100000001b3);
  }
  return h;
}

/* Fill BUF (RECORD_SIZE bytes) with record SEQ of run RUN_ID. */
static inline void
record_fill (void *buf, uint64_t run_id, uint64_t seq, uint64_t nr_slots)
{
  uint64_t seed = record_seed (run_id, seq);
  unsigned i;

  record_put64 (buf, 0, RECORD_MAGIC);
  record_put64 (buf, 1, run_id);
  record_put64 (buf, 2, seq);
  record_put64 (buf, 3, seq % nr_slots);
  record_put64 (buf, 4, seed);
  for (i = RECORD_HEADER_WORDS; i < RECORD_CHECKSUM_WORD; i++)
    record_put64 (buf, i, record_payload_word (seed, i));
  record_put64 (buf, RECORD_CHECKSUM_WORD, record_checksum (buf));
}

static inline int
record_is_zero (const void *buf)
{
  unsigned i;

  for (i = 0; i < RECORD_WORDS; i++)
    if (record_get64 (buf, i) != 0)
      return 0;
  return 1;
}

/* Check the record in BUF, found in slot SLOT.  Fills *HDR whenever the
 * magic is right (so callers can name the record in error messages).
 */
static inline enum record_status
record_check (const void *buf, uint64_t slot, struct record_header *hdr)
{
  unsigned i;

  memset (hdr, 0, sizeof *hdr);
  if (record_get64 (buf, 0) != RECORD_MAGIC)
    return record_is_zero (buf) ? RECORD_EMPTY : RECORD_BAD_MAGIC;
  hdr->run_id = record_get64 (buf, 1);
  hdr->seq = record_get64 (buf, 2);
  hdr->slot = record_get64 (buf, 3);
  hdr->seed = record_get64 (buf, 4);
  if (record_checksum (buf) != record_get64 (buf, RECORD_CHECKSUM_WORD))
    return RECORD_BAD_CHECKSUM;
  if (hdr->slot != slot)
    return RECORD_BAD_SLOT;
  if (hdr->seed != record_seed (hdr->run_id, hdr->seq))
    return RECORD_BAD_PAYLOAD;
  for (i = RECORD_HEADER_WORDS; i < RECORD_CHECKSUM_WORD; i++)
    if (record_get64 (buf, i) != record_payload_word (hdr->seed, i))
      return RECORD_BAD_PAYLOAD;
  return RECORD_VALID;
}

static inline const char *
record_status_str (enum record_status s)
{
  switch (s) {
  case RECORD_VALID:
    return "valid";
  case RECORD_EMPTY:
    return "empty";
  case RECORD_BAD_MAGIC:
    return "bad magic (not a record)";
  case RECORD_BAD_SLOT:
    return "record in the wrong slot";
  case RECORD_BAD_CHECKSUM:
    return "bad checksum";
  case RECORD_BAD_PAYLOAD:
    return "payload does not match its seed";
  }
  return "?";
}

#endif /* VMFERRY_TESTS_GUEST_RECORD_H */
