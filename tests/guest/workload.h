/* workload.h: private to the test guest's workload (workload.c, disk.c,
 * mem.c).  record.h, the disk record format, is shared with
 * check-image.c.
 *
 * Built by build-guest.sh with gcc -static; it does not use config.h.
 */
#ifndef VMFERRY_GUEST_WORKLOAD_H
#define VMFERRY_GUEST_WORKLOAD_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <linux/fs.h>

#include "record.h"

#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004
#endif

#define PAGE_SIZE 4096
#define PAGE_HEADER 16          /* u64 index, u32 version, u32 magic */
#define PAGE_MAGIC 0x50464d56u  /* "VMFP" */
#define CORPUS_SIZE (64 * 1024) /* source of text-like page content */
#define MIB (UINT64_C (1024) * 1024)
#define RATE_MAX UINT_MAX /* mem_rate=max: as fast as possible */
#define VERIFY_CHUNK 256  /* records read per pread while verifying */

struct config {
  char disk[64];        /* block device, or "none" */
  unsigned disk_offset; /* region offset, MiB */
  unsigned disk_size;   /* region size, MiB */
  unsigned disk_rate;   /* records/s, 0 = as fast as possible */
  unsigned disk_batch;  /* records per write + sync + ACK */
  unsigned disk_sync;   /* 1: fdatasync before each ACK */
  unsigned mem;         /* pattern memory, MiB */
  unsigned mem_rate;    /* pages/s rewritten, 0 = none, RATE_MAX = max */
  unsigned mem_random;  /* page content: 0 text-like, 1 random */
  unsigned hb;          /* heartbeat interval, ms; 0 = off */
  unsigned selftest;    /* 1: accept corrupt-mem / corrupt-disk */
  uint64_t run_id;      /* nonce stored in every record */
};

/* Disk part.  LOCK is held by the writer for each batch and by the
 * verifier (and selftest) for the whole check; PAUSE asks the writer to
 * stay out so that it cannot starve them.
 */
struct disk {
  int fd;          /* -1 if there is no disk */
  char error[160]; /* why the disk part failed, "" if it did not */
  uint64_t base;   /* region offset, bytes */
  uint64_t nr_slots;
  uint64_t last_done; /* highest seq written (and synced); under LOCK */
  void *buf;          /* writer's buffer, disk_batch records */
  void *vbuf;         /* verifier's buffer, VERIFY_CHUNK records */
  pthread_mutex_t lock;
  atomic_int pause;
};

/* Memory part.  Page I holds version VERSION[I]; its content is
 * page_word (I, VERSION[I], w) for each word W.  VERSION lives outside
 * the pattern memory, so verifying reads the pages and writes nothing.
 */
struct mem {
  unsigned char *pages;
  uint32_t *version;
  size_t nr_pages;
  int random;        /* content kind, copy of config.mem_random */
  char *corpus;      /* text-like source for text content */
  size_t corrupted;  /* page damaged by the selftest, or SIZE_MAX */
  uint64_t rewrites; /* pages rewritten so far; under LOCK */
  pthread_mutex_t lock;
  atomic_int pause;
};

struct workload {
  struct config cfg;
  struct disk disk;
  struct mem mem;
  atomic_ullong heartbeats;
};

/* Pace N units of work at RATE units/s.  After a stall (a verify, a
 * paused guest) of more than a second it does not burst to catch up.
 */
struct pacer {
  unsigned rate;
  uint64_t start;
  uint64_t done;
};

/* workload.c: console output and pacing, shared by the threads. */

/* Print one console line with a single write(2). */
extern void say (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* CLOCK_MONOTONIC in ns. */
extern uint64_t now_ns (void);
/* Sleep until CLOCK_MONOTONIC time T, ns. */
extern void sleep_until_ns (uint64_t t);
/* Wait before N more units of work (see struct pacer). */
extern void pacer_wait (struct pacer *p, unsigned n);
/* Wait while *PAUSE is set (a verifier wants the lock). */
extern void wait_unpaused (atomic_int *pause);

/* mem.c: the memory pattern. */

/* Allocate and write the pattern (version 1 everywhere).  -1 (and a
 * WORKLOAD ERROR line) if it cannot be allocated.
 */
extern int mem_init (struct mem *m, const struct config *c);
/* Thread: rewrite random pages at mem_rate pages/s, forever. */
extern void *mem_rewriter (void *arg);
/* Check every page; the caller holds M->lock.  -1 and WHY on failure. */
extern int mem_verify_locked (const struct mem *m, char *why, size_t len);

/* disk.c: the disk records. */

/* Open the disk and set up the region.  -1 and D->error on failure. */
extern int disk_open (struct disk *d, const struct config *c);
/* Thread: write records in batches at disk_rate, "ACK a-b" after each. */
extern void *disk_writer (void *arg);
/* Check every slot written so far; the caller holds D->lock.  Returns
 * the number of records checked, or -1 and WHY.
 */
extern int64_t disk_verify_locked (struct disk *d, uint64_t run_id,
                                   char *why, size_t len);
/* Console "blk OP DEV OFFSET LEN [BYTE]": discard, zero or fill a range
 * of another disk.
 */
extern void disk_blk_command (const char *args);

#endif /* VMFERRY_GUEST_WORKLOAD_H */
