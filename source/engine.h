/* engine.h: the vmferry storage engine's state, shared by
 * source-engine.c (QEMU's side: exports, bitmaps, mirrors, the data
 * channel) and source-engine-copy.c (the copies and the rounds).
 * Private to migrate/.
 */
#ifndef VMFERRY_MIGRATE_ENGINE_H
#define VMFERRY_MIGRATE_ENGINE_H

#include "internal.h"
#include "storage.h"

#define BLOCK_SIZE (64 * 1024)  /* bitmap granularity and copy unit */

struct eng_disk {
  const struct mig_disk *d;
  size_t idx;
  struct storage_rounds rounds;
  bool planned;
  unsigned gen;                 /* current bitmap: vmferry-bm-IDX-GEN */
  bool bitmap;                  /* it exists */
  char src_uri[400], dst_uri[512];
  uint64_t done, total;         /* progress of its current copy */
};

struct src_engine {
  struct mig_qemu_dir dir;      /* private dir of the source NBD socket */
  bool server;                  /* nbd-server-start done */
  struct eng_disk *disks;
  size_t n;
  uint64_t done, total;         /* progress of the current copy */
  int64_t shown;                /* last progress line, ms */
  struct eng_disk *current;     /* the disk being copied (its line) */
  struct source *s;
  struct net_channel *ch;       /* the data channel, or NULL: direct */
  double copy_rate;             /* bulk copy, data bytes/s (0: unknown) */
  pthread_mutex_t lock;         /* done, shown and s->storage_bytes, which
                                   copies running side by side update */
  bool hold_copying;            /* the test hold "copying" is still due */
};

/* source-engine.c: end the round that disk e's current bitmap records
 * (rotate in QEMU, read the disabled bitmap, hand it to the planner).
 */
int eng_rotate (struct src_engine *g, struct eng_disk *e);

/* source-engine-copy.c */
/* The bulk copy of disk e (fresh: the destination reads as zeroes). */
int eng_bulk_copy (struct src_engine *g, struct eng_disk *e, bool fresh);
/* Begin a round on disk e and copy its set: on every stream (stream <
 * 0), or with one worker on that stream.
 */
int eng_copy_round (struct src_engine *g, struct eng_disk *e, int stream);
/* At the switchover, guest paused: the last copies of every disk, side
 * by side, a stream each.
 */
int eng_final_copies (struct src_engine *g);
/* Bytes still to copy on every disk. */
uint64_t eng_pending_bytes (struct src_engine *g);
/* Mirrored rounds until what is left copies in a few ms. */
int eng_run_rounds (struct src_engine *g);

#endif /* VMFERRY_MIGRATE_ENGINE_H */
