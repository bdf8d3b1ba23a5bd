/* storage.h: vmferry's own disk copy engine.
 *
 * This first part is the engine's bookkeeping, kept free of I/O so it can
 * be tested deterministically: block bitmaps, and the round planner that
 * decides which blocks must be (re)copied.  The libnbd copier that reads
 * the source's NBD export and the data channel that carries blocks to
 * vmferryd build on it.
 *
 * The race the planner exists for: with write mirroring active (QEMU's
 * blockdev-mirror sync=none copy-mode=write-blocking), every guest write
 * reaches both sides before it is acknowledged.  But a block the engine
 * read before such a write and writes to the destination after it
 * overwrites the mirrored write with stale data.  So every block the guest
 * wrote during the round in which it was copied is copied again in the
 * next round (QEMU gives a fresh dirty bitmap per round); the last set is
 * copied at switchover while the guest is paused, when nothing races.
 *
 * Errors: -1 after set_error() (utils.h).  Not thread-safe: one owner.
 */
#ifndef VMFERRY_STORAGE_H
#define VMFERRY_STORAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "net.h"

/* A set of blocks 0 .. nbits-1. */
struct storage_bitmap {
  uint64_t nbits;
  uint64_t *words;              /* (nbits + 63) / 64 words */
};

int storage_bitmap_init (struct storage_bitmap *b, uint64_t nbits);
void storage_bitmap_free (struct storage_bitmap *b);  /* accepts zeroed */
void storage_bitmap_set (struct storage_bitmap *b, uint64_t bit);
bool storage_bitmap_test (const struct storage_bitmap *b, uint64_t bit);
void storage_bitmap_clear_all (struct storage_bitmap *b);
/* Set bits first .. first+count-1 (clipped to the bitmap). */
void storage_bitmap_set_range (struct storage_bitmap *b, uint64_t first,
                               uint64_t count);
uint64_t storage_bitmap_count (const struct storage_bitmap *b);
/* dst |= src, dst |= (a & b), dst = src: same sizes required. */
void storage_bitmap_or (struct storage_bitmap *dst,
                        const struct storage_bitmap *src);
void storage_bitmap_or_and (struct storage_bitmap *dst,
                            const struct storage_bitmap *a,
                            const struct storage_bitmap *b);
void storage_bitmap_copy (struct storage_bitmap *dst,
                          const struct storage_bitmap *src);
/* Next set bit at or after from, or nbits if none. */
uint64_t storage_bitmap_next (const struct storage_bitmap *b, uint64_t from);

/* The round planner. */
struct storage_rounds {
  uint64_t nblocks;
  unsigned round;               /* rounds begun so far */
  bool in_round;
  bool mirroring;               /* guest writes reach the destination now */
  bool mirrored_round;          /* ... and did for the whole current round */
  struct storage_bitmap pending;        /* must still be copied */
  struct storage_bitmap copying;        /* handed out in this round */
};

/* Start with the blocks in initial (e.g. the allocated extents) pending. */
int storage_rounds_init (struct storage_rounds *r,
                         const struct storage_bitmap *initial);
void storage_rounds_free (struct storage_rounds *r);

/* Write mirroring is now active: from the next round on, a guest write
 * reaches the destination by itself.
 */
void storage_rounds_mirroring_on (struct storage_rounds *r);

/* Begin a round: set (initialized to nblocks bits) receives every
 * pending block, which are now "being copied"; pending becomes empty.
 * The caller starts a fresh dirty bitmap in QEMU at the same moment.
 */
int storage_rounds_begin (struct storage_rounds *r,
                          struct storage_bitmap *set);

/* End the round with written = the blocks the guest wrote during it.
 * Without mirroring for the whole round every written block is pending
 * again; with it, only the written blocks this round copied (the race).
 */
int storage_rounds_end (struct storage_rounds *r,
                        const struct storage_bitmap *written);

/* Blocks still to copy (0 once the final round at switchover ended). */
uint64_t storage_rounds_pending (const struct storage_rounds *r);

/* ---- the copier's destination back-ends (shaped like nbdcopy's
 * rw_ops): each worker opens its own handle, writes through it, and
 * flushes it at the end; a handle belongs to one worker thread.
 */

struct storage_dst_ops {
  /* Open the destination for worker (0 .. workers-1); NULL + set_error. */
  void *(*open) (void *opaque, unsigned worker);
  /* Write len bytes / zeroes at offset; -1 + set_error. */
  int (*pwrite) (void *h, const void *buf, uint32_t len, uint64_t offset);
  int (*zero) (void *h, uint32_t len, uint64_t offset);
  /* Return once everything written through h has landed on the
   * destination and is flushed there; -1 + set_error.
   */
  int (*flush) (void *h);
  void (*close) (void *h);
};

/* nbd-ops.c: opaque is the destination's libnbd URI (const char *). */
extern const struct storage_dst_ops storage_nbd_ops;
/* Connect to uri (TLS URIs included; local files allowed for
 * tls-certificates); src: also ask for base:allocation.  NULL + set_error.
 */
struct nbd_handle *storage_nbd_open (const char *uri, bool src);

/* channel-ops.c: opaque is a struct storage_channel_dst.  Worker i sends
 * on stream stream + i (so stream + workers <= streams); flush is the
 * stream's barrier.  Copies that run side by side use other streams.
 */
struct storage_channel_dst {
  struct net_channel *ch;
  uint16_t disk;                /* the frames' channel field */
  unsigned stream;              /* the first worker's stream */
};
extern const struct storage_dst_ops storage_channel_ops;

/* ---- copy.c: the copier (NBD source, destination by ops) ---- */

struct storage_copy_params {
  const char *src_uri;          /* libnbd URI, e.g. nbd+unix:///x?socket=S */
  const char *dst_uri;           /* with dst_ops NULL: an NBD export */
  const struct storage_dst_ops *dst_ops;        /* else this back-end, */
  void *dst_opaque;                             /* opened with this */
  const struct storage_bitmap *blocks;  /* blocks to copy; NULL: all */
  uint32_t block_size;          /* bytes per block (power of two) */
  unsigned workers;             /* connections per side; 0: 4 */
  bool dst_is_zero;             /* the destination reads as zeroes */
  /* Called (from a worker, never two at once) after each extent with the
   * number of bytes it covered; may be NULL.
   */
  void (*progress) (void *opaque, uint64_t bytes);
  void *opaque;
  const int *cancel_fd;         /* readable: stop with an error; NULL: none */
  int64_t size;                 /* the export size if already checked
                                   (saves two connections); 0: check
                                   (required with dst_ops) */
};

struct storage_copy_stats {
  uint64_t data_bytes;          /* read and written */
  uint64_t zero_bytes;          /* sent as zero requests */
  uint64_t skipped_bytes;       /* zero, and the destination already was */
};

/* Copy the wanted blocks of the source export to the same offsets of the
 * destination, reading only what the source reports allocated.  Blocks
 * are copied once each, in no particular order, by several workers.
 * stats (may be NULL) receives the byte counts, also on failure.
 */
int storage_copy (const struct storage_copy_params *p,
                  struct storage_copy_stats *stats);

/* ---- dirty.c ---- */

/* Read QEMU dirty bitmap name, exported with the disk at uri, into out
 * (initialized here: one bit per block_size bytes of the export).
 */
int storage_read_dirty_bitmap (const char *uri, const char *name,
                               uint32_t block_size,
                               struct storage_bitmap *out);

/* ---- qemu-nbd.c: serving an image that no QEMU has open ---- */

struct mig_qemu_nbd {
  const char *image;
  const char *format;           /* "qcow2", "raw" */
  bool read_only;
  const char *dir;              /* DIR/NAME.sock, .pid and .log */
  const char *name;
  const char *user;             /* non-NULL: run confined as this user
                                   (vm_spawn_confined, vmferryd's side),
                                   seeing dir and the image only */
};

/* Start qemu-nbd (daemonized, persistent, up to 16 clients) and return
 * its pid, once it serves.  -1 + set_error with qemu-nbd's own message
 * (e.g. 'Failed to get shared "write" lock' while a QEMU has the image).
 */
pid_t mig_qemu_nbd_start (const struct mig_qemu_nbd *n);
/* Its libnbd URI (malloc'd). */
char *mig_qemu_nbd_uri (const struct mig_qemu_nbd *n);
/* Stop it (SIGTERM: it flushes and closes the image) and wait; SIGKILL
 * after 10 s.  0 for pid <= 1.  -1 + set_error.
 */
int mig_qemu_nbd_stop (pid_t pid);

/* ---- resume-state.c: resumable copies (source/resume.c, dest/undo.c) ---- */

/* Beside a disk image: how far a copy of it got (resume-state.c). */
#define MIG_RESUME_SUFFIX ".vmferry-resume"
/* The persistent dirty bitmap recording writes since a copy began. */
#define MIG_RESUME_BITMAP "vmferry-resume-"

/* The state object: the copy identified by token of an image of
 * virtual size size reached the destination (dest) up to copied_to.
 */
struct json_t;
struct json_t *mig_resume_state (const char *token, uint64_t size,
                          uint64_t copied_to, const char *dest);


/* ---- the destination's partial images kept for a resumed copy ---- */

/* Directory under the storage root where vmferryd keeps them. */
#define MIG_PARTIAL_DIR ".vmferry-partial"
/* How long a partial image is kept (seconds). */
#define MIG_PARTIAL_EXPIRY_S (24 * 3600)

#endif /* VMFERRY_STORAGE_H */
