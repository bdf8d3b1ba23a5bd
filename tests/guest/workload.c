/* workload.c: the vmferry test guest's workload.
 *
 * Runs as PID 1 of the test guest (exec'd by /init with the serial
 * console as stdin and stdout) and gives migration tests something to
 * check:
 *
 *   disk       numbered, checksummed 4 KiB records (record.h) written
 *              with O_DIRECT to a region of the raw disk, "ACK a-b" once
 *              records a..b have completed;
 *   memory     N MiB of pages whose content is a function of (page
 *              index, version), rewritten at a given rate;
 *   heartbeat  "HB n" every interval;
 *   verify     a line "verify" on the console checks the disk region and
 *              every page, READING ONLY, and prints one VERDICT line.
 *
 * Configured by vmferry.KEY=VALUE items on the kernel command line and
 * by KEY=VALUE arguments (these win).  Keys and defaults: set_option and
 * config_init below; they are listed for test writers in
 * tests/functions.sh.in (vm_start).  Console input: "verify", "status",
 * and with selftest=1 "corrupt-mem" and "corrupt-disk".
 *
 * Every console line is produced by a single write(2) (say), so host
 * tools can parse the console log line by line.
 *
 * Built by build-guest.sh with gcc -static -O2 -Wall -Wextra; it does
 * not use config.h.  It must never exit while it is PID 1: errors are
 * printed as "WORKLOAD ERROR ..." and the rest keeps running.
 */

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

static pthread_mutex_t say_lock = PTHREAD_MUTEX_INITIALIZER;

/* Print one console line with a single write(2). */
static void say (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
static void
say (const char *fmt, ...)
{
  char line[512];
  va_list ap;
  int n;
  size_t off = 0;

  va_start (ap, fmt);
  n = vsnprintf (line, sizeof line - 1, fmt, ap);
  va_end (ap);
  if (n < 0)
    return;
  if ((size_t) n > sizeof line - 2)
    n = sizeof line - 2;
  line[n++] = '\n';
  pthread_mutex_lock (&say_lock);
  while (off < (size_t) n) {
    ssize_t r = write (STDOUT_FILENO, line + off, n - off);
    if (r <= 0 && errno != EINTR)
      break;
    if (r > 0)
      off += r;
  }
  pthread_mutex_unlock (&say_lock);
}

static uint64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
sleep_until_ns (uint64_t t)
{
  struct timespec ts = { .tv_sec = t / 1000000000, .tv_nsec = t % 1000000000 };

  while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

/* Pace N units of work at RATE units/s.  After a stall (a verify, a
 * paused guest) of more than a second it does not burst to catch up.
 */
struct pacer {
  unsigned rate;
  uint64_t start;
  uint64_t done;
};

static void
pacer_wait (struct pacer *p, unsigned n)
{
  uint64_t target, now;

  if (p->rate == 0 || p->rate == RATE_MAX)
    return;
  now = now_ns ();
  if (p->start == 0)
    p->start = now;
  target = p->start + p->done * 1000000000 / p->rate;
  if (now > target + 1000000000) {
    p->start = now;
    p->done = 0;
    target = now;
  }
  p->done += n;
  sleep_until_ns (target);
}

static void
wait_unpaused (atomic_int *pause)
{
  while (atomic_load (pause))
    usleep (1000);
}

/* ---- configuration ---- */

static int
parse_uint (const char *s, unsigned min, unsigned max, unsigned *out)
{
  char *end;
  unsigned long v;

  errno = 0;
  v = strtoul (s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

/* Set configuration KEY to VALUE; -1 (and a message) if either is bad. */
static int
set_option (struct config *c, const char *key, const char *value)
{
  int r = 0;

  if (strcmp (key, "disk") == 0) {
    if (strlen (value) >= sizeof c->disk)
      r = -1;
    else
      snprintf (c->disk, sizeof c->disk, "%s", value);
  }
  else if (strcmp (key, "disk_offset") == 0)
    r = parse_uint (value, 0, 1 << 20, &c->disk_offset);
  else if (strcmp (key, "disk_size") == 0)
    r = parse_uint (value, 1, 1 << 20, &c->disk_size);
  else if (strcmp (key, "disk_rate") == 0)
    r = parse_uint (value, 0, 1000000, &c->disk_rate);
  else if (strcmp (key, "disk_batch") == 0)
    r = parse_uint (value, 1, 256, &c->disk_batch);
  else if (strcmp (key, "disk_sync") == 0)
    r = parse_uint (value, 0, 1, &c->disk_sync);
  else if (strcmp (key, "mem") == 0)
    r = parse_uint (value, 1, 1 << 16, &c->mem);
  else if (strcmp (key, "mem_rate") == 0) {
    if (strcmp (value, "max") == 0)
      c->mem_rate = RATE_MAX;
    else
      r = parse_uint (value, 0, 10000000, &c->mem_rate);
  }
  else if (strcmp (key, "mem_content") == 0) {
    if (strcmp (value, "text") == 0 || strcmp (value, "random") == 0)
      c->mem_random = value[0] == 'r';
    else
      r = -1;
  }
  else if (strcmp (key, "hb") == 0)
    r = parse_uint (value, 0, 3600000, &c->hb);
  else if (strcmp (key, "selftest") == 0)
    r = parse_uint (value, 0, 1, &c->selftest);
  else if (strcmp (key, "run") == 0) {
    char *end;
    errno = 0;
    c->run_id = strtoull (value, &end, 16);
    if (errno || end == value || *end || c->run_id == 0)
      r = -1;
  }
  else {
    say ("WORKLOAD ERROR unknown option %s", key);
    return -1;
  }
  if (r == -1)
    say ("WORKLOAD ERROR bad value for option %s: %s", key, value);
  return r;
}

/* Apply "KEY=VALUE" (PREFIX stripped first; items without it ignored). */
static void
apply_item (struct config *c, char *item, const char *prefix)
{
  char *eq;

  if (strncmp (item, prefix, strlen (prefix)) != 0)
    return;
  item += strlen (prefix);
  eq = strchr (item, '=');
  if (eq == NULL) {
    say ("WORKLOAD ERROR option without a value: %s", item);
    return;
  }
  *eq = '\0';
  set_option (c, item, eq + 1);
}

static void
config_init (struct config *c, int argc, char **argv)
{
  char cmdline[4096], *tok, *save;
  ssize_t n = 0;
  int fd, i;

  *c = (struct config) {
    .disk = "/dev/vda",
    .disk_offset = 768,
    .disk_size = 64,
    .disk_rate = 50,
    .disk_batch = 1,
    .disk_sync = 1,
    .mem = 64,
    .mem_rate = 256,
    .hb = 100,
  };
  fd = open ("/proc/cmdline", O_RDONLY);
  if (fd >= 0) {
    n = read (fd, cmdline, sizeof cmdline - 1);
    close (fd);
  }
  cmdline[n > 0 ? n : 0] = '\0';
  for (tok = strtok_r (cmdline, " \t\n", &save); tok;
       tok = strtok_r (NULL, " \t\n", &save))
    apply_item (c, tok, "vmferry.");
  for (i = 1; i < argc; i++)
    apply_item (c, argv[i], "");
  if (c->run_id == 0 && getrandom (&c->run_id, sizeof c->run_id,
                                   GRND_INSECURE) != sizeof c->run_id)
    c->run_id = record_mix64 (now_ns () ^ getpid ());
  if (c->run_id == 0)
    c->run_id = 1;
}

/* ---- memory ---- */

/* Word W (W >= 2) of page I at version V with random content. */
static uint64_t
page_random_word (size_t i, uint32_t v, unsigned w)
{
  return record_mix64 (record_mix64 (((uint64_t) i << 32) | v) + w);
}

/* Offset into the corpus of the text content of page I at version V. */
static size_t
page_text_offset (size_t i, uint32_t v)
{
  uint64_t h = record_mix64 (((uint64_t) i << 32) | v);

  return (h % (CORPUS_SIZE - PAGE_SIZE)) & ~(size_t) 7;
}

static void
page_write (struct mem *m, size_t i, uint32_t v)
{
  unsigned char *p = m->pages + i * PAGE_SIZE;
  uint64_t idx = i;
  uint32_t magic = PAGE_MAGIC;
  unsigned w;

  if (m->random) {
    for (w = PAGE_HEADER / 8; w < PAGE_SIZE / 8; w++)
      record_put64 (p, w, page_random_word (i, v, w));
  }
  else
    memcpy (p + PAGE_HEADER, m->corpus + page_text_offset (i, v),
            PAGE_SIZE - PAGE_HEADER);
  memcpy (p, &idx, 8);
  memcpy (p + 8, &v, 4);
  memcpy (p + 12, &magic, 4);
  m->version[i] = v;
}

/* Check page I against VERSION[I] without writing anything.  Returns
 * NULL if it is right, else a description of the first difference.
 */
static const char *
page_check (const struct mem *m, size_t i, char *why, size_t len)
{
  const unsigned char *p = m->pages + i * PAGE_SIZE;
  uint32_t v = m->version[i], pv, magic;
  uint64_t idx;
  unsigned w;

  memcpy (&idx, p, 8);
  memcpy (&pv, p + 8, 4);
  memcpy (&magic, p + 12, 4);
  if (idx != i || magic != PAGE_MAGIC) {
    snprintf (why, len, "mem page %zu: bad header", i);
    return why;
  }
  if (pv != v) {
    snprintf (why, len,
              "mem page %zu: holds version %" PRIu32 ", expected %" PRIu32, i,
              pv, v);
    return why;
  }
  if (m->random) {
    for (w = PAGE_HEADER / 8; w < PAGE_SIZE / 8; w++)
      if (record_get64 (p, w) != page_random_word (i, v, w))
        break;
    if (w == PAGE_SIZE / 8)
      return NULL;
  }
  else if (memcmp (p + PAGE_HEADER, m->corpus + page_text_offset (i, v),
                   PAGE_SIZE - PAGE_HEADER) == 0)
    return NULL;
  snprintf (why, len, "mem page %zu: content differs (version %" PRIu32 ")", i,
            v);
  return why;
}

/* Build a text-like corpus: words separated by spaces and newlines. */
static void
corpus_fill (char *c)
{
  static const char *const words[] = {
    "the",       "guest",      "memory",    "page",        "is",
    "copied",    "while",      "it",        "runs",        "and",
    "dirty",     "pages",      "are",       "sent",        "again",
    "until",     "switchover", "disk",      "mirror",      "block",
    "job",       "ready",      "source",    "destination", "migration",
    "converges", "when",       "bandwidth", "wins",        "over",
    "rate",      "of",         "writes",    "to",          "a",
    "virtual",   "machine",
  };
  size_t n = sizeof words / sizeof words[0], off = 0, col = 0;
  uint64_t x = 42;

  while (off < CORPUS_SIZE) {
    const char *word;
    size_t len;

    x = record_mix64 (x);
    word = words[x % n];
    len = strlen (word);
    col += len + 1;
    if (off + len + 1 > CORPUS_SIZE)
      len = CORPUS_SIZE - off - 1;
    memcpy (c + off, word, len);
    off += len;
    c[off++] = col > 72 ? '\n' : ' ';
    if (col > 72)
      col = 0;
  }
}

static int
mem_init (struct mem *m, const struct config *c)
{
  size_t i;

  m->nr_pages = (size_t) c->mem * MIB / PAGE_SIZE;
  m->random = c->mem_random;
  m->corrupted = SIZE_MAX;
  pthread_mutex_init (&m->lock, NULL);
  m->version = calloc (m->nr_pages, sizeof *m->version);
  m->corpus = malloc (CORPUS_SIZE);
  m->pages = mmap (NULL, m->nr_pages * PAGE_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m->version == NULL || m->corpus == NULL || m->pages == MAP_FAILED) {
    say ("WORKLOAD ERROR cannot allocate %u MiB of pattern memory", c->mem);
    m->pages = NULL;
    m->nr_pages = 0;
    return -1;
  }
  corpus_fill (m->corpus);
  for (i = 0; i < m->nr_pages; i++)
    page_write (m, i, 1);
  return 0;
}

static void *
mem_rewriter (void *arg)
{
  struct workload *wl = arg;
  struct mem *m = &wl->mem;
  struct pacer pacer = { .rate = wl->cfg.mem_rate };
  unsigned batch = wl->cfg.mem_rate / 100, k;
  uint64_t x = wl->cfg.run_id;

  if (batch == 0 || wl->cfg.mem_rate == RATE_MAX)
    batch = wl->cfg.mem_rate == RATE_MAX ? 64 : 1;
  for (;;) {
    wait_unpaused (&m->pause);
    pacer_wait (&pacer, batch);
    pthread_mutex_lock (&m->lock);
    for (k = 0; k < batch; k++) {
      size_t i;

      x = record_mix64 (x);
      i = x % m->nr_pages;
      if (i != m->corrupted)
        page_write (m, i, m->version[i] + 1);
    }
    m->rewrites += batch;
    pthread_mutex_unlock (&m->lock);
  }
  return NULL;
}

/* Check every page; the caller holds M->lock.  -1 and WHY on failure.
 * The pages are made read-only meanwhile: a write by the verifier would
 * fault (PID 1 dies, the kernel panics: loud) instead of silently
 * dirtying all of the guest's memory under a migration.  mprotect only
 * changes page tables, not the pages.
 */
static int
mem_verify_locked (const struct mem *m, char *why, size_t len)
{
  size_t i, size = m->nr_pages * PAGE_SIZE;
  int r = 0;

  if (mprotect (m->pages, size, PROT_READ) == -1)
    say ("WORKLOAD ERROR mprotect read-only: %s", strerror (errno));
  for (i = 0; i < m->nr_pages && r == 0; i++)
    if (page_check (m, i, why, len))
      r = -1;
  if (mprotect (m->pages, size, PROT_READ | PROT_WRITE) == -1)
    say ("WORKLOAD ERROR mprotect read-write: %s", strerror (errno));
  return r;
}

/* ---- disk ---- */

static int
disk_open (struct disk *d, const struct config *c)
{
  uint64_t size = 0, end = ((uint64_t) c->disk_offset + c->disk_size) * MIB;
  int tries;

  d->base = (uint64_t) c->disk_offset * MIB;
  d->nr_slots = (uint64_t) c->disk_size * MIB / RECORD_SIZE;
  /* The device may appear a little after virtio_blk is loaded. */
  for (tries = 0; tries < 50; tries++) {
    d->fd = open (c->disk, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (d->fd >= 0 || errno != ENOENT)
      break;
    usleep (100000);
  }
  if (d->fd < 0) {
    snprintf (d->error, sizeof d->error, "cannot open %s: %s", c->disk,
              strerror (errno));
    return -1;
  }
  if (ioctl (d->fd, BLKGETSIZE64, &size) == -1) {
    struct stat st;
    size = fstat (d->fd, &st) == 0 ? (uint64_t) st.st_size : 0;
  }
  if (size < end) {
    snprintf (d->error, sizeof d->error,
              "%s has %" PRIu64 " MiB, region ends at %" PRIu64 " MiB", c->disk,
              size / MIB, end / MIB);
    close (d->fd);
    d->fd = -1;
    return -1;
  }
  if (posix_memalign (&d->buf, 4096, (size_t) c->disk_batch * RECORD_SIZE) ||
      posix_memalign (&d->vbuf, 4096, VERIFY_CHUNK * RECORD_SIZE)) {
    snprintf (d->error, sizeof d->error, "out of memory");
    close (d->fd);
    d->fd = -1;
    return -1;
  }
  return 0;
}

/* Write records FIRST .. FIRST+N-1 (already in D->buf) to their slots. */
static int
disk_write_records (struct disk *d, uint64_t first, unsigned n)
{
  unsigned i = 0;

  while (i < n) {
    uint64_t slot = (first + i) % d->nr_slots;
    uint64_t len = n - i;
    ssize_t r;

    if (len > d->nr_slots - slot)
      len = d->nr_slots - slot;
    r = pwrite (d->fd, (char *) d->buf + (size_t) i * RECORD_SIZE,
                len * RECORD_SIZE, d->base + slot * RECORD_SIZE);
    if (r != (ssize_t) (len * RECORD_SIZE)) {
      snprintf (d->error, sizeof d->error,
                "write of seq %" PRIu64 " (slot %" PRIu64 ") failed: %s",
                first + i, slot, r < 0 ? strerror (errno) : "short write");
      return -1;
    }
    i += len;
  }
  return 0;
}

static void *
disk_writer (void *arg)
{
  struct workload *wl = arg;
  struct disk *d = &wl->disk;
  const struct config *c = &wl->cfg;
  struct pacer pacer = { .rate = c->disk_rate };
  uint64_t seq = 1;
  unsigned k;
  int r;

  for (;;) {
    wait_unpaused (&d->pause);
    pacer_wait (&pacer, c->disk_batch);
    pthread_mutex_lock (&d->lock);
    for (k = 0; k < c->disk_batch; k++)
      record_fill ((char *) d->buf + (size_t) k * RECORD_SIZE, c->run_id,
                   seq + k, d->nr_slots);
    r = disk_write_records (d, seq, c->disk_batch);
    if (r == 0 && c->disk_sync && fdatasync (d->fd) == -1) {
      snprintf (d->error, sizeof d->error,
                "fdatasync after seq %" PRIu64 ": %s", seq + c->disk_batch - 1,
                strerror (errno));
      r = -1;
    }
    if (r == 0)
      d->last_done = seq + c->disk_batch - 1;
    pthread_mutex_unlock (&d->lock);
    if (r == -1) {
      say ("WORKLOAD ERROR disk: %s", d->error);
      return NULL;
    }
    say ("ACK %" PRIu64 "-%" PRIu64, seq, seq + c->disk_batch - 1);
    seq += c->disk_batch;
  }
  return NULL;
}

/* Newest seq <= LAST written to SLOT (0: none yet). */
static uint64_t
newest_in_slot (uint64_t last, uint64_t slot, uint64_t nr_slots)
{
  uint64_t back;

  if (last < slot)
    return 0;
  back = (last - slot) % nr_slots;
  return last - back;
}

/* Check slot S, read into BUF, against what this run wrote up to LAST. */
static int
disk_check_slot (const struct disk *d, const void *buf, uint64_t s,
                 uint64_t last, uint64_t run_id, char *why, size_t len)
{
  uint64_t want = newest_in_slot (last, s, d->nr_slots);
  struct record_header h;
  enum record_status st;

  st = record_check (buf, s, &h);
  if (st != RECORD_VALID) {
    snprintf (why, len, "disk slot %" PRIu64 " (expected seq %" PRIu64 "): %s",
              s, want, record_status_str (st));
    return -1;
  }
  if (h.run_id != run_id || h.seq != want) {
    snprintf (why, len,
              "disk slot %" PRIu64 ": holds seq %" PRIu64 " of run %016" PRIx64
              ", expected seq %" PRIu64,
              s, h.seq, h.run_id, want);
    return -1;
  }
  return 0;
}

/* Check every slot written so far; the caller holds D->lock.  Returns
 * the number of records checked, or -1 and WHY.
 */
static int64_t
disk_verify_locked (struct disk *d, uint64_t run_id, char *why, size_t len)
{
  uint64_t last = d->last_done, end, s, k;

  end = last >= d->nr_slots ? d->nr_slots : last + 1;
  for (s = last >= d->nr_slots ? 0 : 1; s < end; s += k) {
    uint64_t n = end - s < VERIFY_CHUNK ? end - s : VERIFY_CHUNK;
    ssize_t r = pread (d->fd, d->vbuf, n * RECORD_SIZE,
                       d->base + s * RECORD_SIZE);

    if (r != (ssize_t) (n * RECORD_SIZE)) {
      snprintf (why, len, "disk read at slot %" PRIu64 " failed: %s", s,
                r < 0 ? strerror (errno) : "short read");
      return -1;
    }
    for (k = 0; k < n; k++)
      if (disk_check_slot (d, (char *) d->vbuf + k * RECORD_SIZE, s + k, last,
                           run_id, why, len) == -1)
        return -1;
  }
  return end - (last >= d->nr_slots ? 0 : 1);
}

/* ---- console commands ---- */

static void
lock_all (struct workload *wl)
{
  atomic_store (&wl->disk.pause, 1);
  atomic_store (&wl->mem.pause, 1);
  pthread_mutex_lock (&wl->disk.lock);
  pthread_mutex_lock (&wl->mem.lock);
}

static void
unlock_all (struct workload *wl)
{
  pthread_mutex_unlock (&wl->mem.lock);
  pthread_mutex_unlock (&wl->disk.lock);
  atomic_store (&wl->mem.pause, 0);
  atomic_store (&wl->disk.pause, 0);
}

/* "verify": check disk and memory, print exactly one VERDICT line.  The
 * pattern memory is only read (see the header comment of struct mem).
 */
static void
cmd_verify (struct workload *wl)
{
  char dwhy[200] = "", mwhy[200] = "";
  int64_t records = 0;
  int dfail = 0, mfail;

  lock_all (wl);
  if (wl->disk.error[0]) {
    snprintf (dwhy, sizeof dwhy, "disk: %s", wl->disk.error);
    dfail = 1;
  }
  else if (wl->disk.fd >= 0) {
    records = disk_verify_locked (&wl->disk, wl->cfg.run_id, dwhy, sizeof dwhy);
    dfail = records < 0;
  }
  if (wl->mem.pages == NULL) {
    snprintf (mwhy, sizeof mwhy, "mem: pattern memory not allocated");
    mfail = 1;
  }
  else
    mfail = mem_verify_locked (&wl->mem, mwhy, sizeof mwhy) == -1;
  unlock_all (wl);
  if (!dfail && !mfail)
    say ("VERDICT ok disk=%" PRId64 " mem=%zu", records, wl->mem.nr_pages);
  else
    say ("VERDICT fail %s%s%s", dwhy, dfail && mfail ? "; " : "", mwhy);
}

/* "corrupt-mem" (selftest only): flip a byte of one page's content. */
static void
cmd_corrupt_mem (struct workload *wl)
{
  struct mem *m = &wl->mem;
  size_t i = m->nr_pages / 2;

  lock_all (wl);
  m->corrupted = i;
  m->pages[i * PAGE_SIZE + PAGE_SIZE / 2] ^= 0x01;
  unlock_all (wl);
  say ("SELFTEST corrupted mem page %zu", i);
}

/* "corrupt-disk" (selftest only): flip a payload byte of the newest
 * record, on the disk, through the same O_DIRECT descriptor.
 */
static void
cmd_corrupt_disk (struct workload *wl)
{
  struct disk *d = &wl->disk;
  uint64_t seq, off;
  char *b = d->vbuf;
  int ok = 0;

  lock_all (wl);
  seq = d->last_done;
  off = d->base + (seq % (d->nr_slots ? d->nr_slots : 1)) * RECORD_SIZE;
  if (d->fd >= 0 && seq > 0 &&
      pread (d->fd, b, RECORD_SIZE, off) == RECORD_SIZE) {
    b[100] ^= 0x01;
    ok = pwrite (d->fd, b, RECORD_SIZE, off) == RECORD_SIZE &&
         fdatasync (d->fd) == 0;
  }
  unlock_all (wl);
  if (ok)
    say ("SELFTEST corrupted disk slot %" PRIu64 " (seq %" PRIu64 ")",
         seq % d->nr_slots, seq);
  else
    say ("SELFTEST cannot corrupt the disk (no record written yet?)");
}

static void
cmd_status (struct workload *wl)
{
  uint64_t last, rewrites;

  pthread_mutex_lock (&wl->disk.lock);
  last = wl->disk.last_done;
  pthread_mutex_unlock (&wl->disk.lock);
  pthread_mutex_lock (&wl->mem.lock);
  rewrites = wl->mem.rewrites;
  pthread_mutex_unlock (&wl->mem.lock);
  say ("STATUS acked=%" PRIu64 " mem_rewrites=%" PRIu64 " hb=%llu", last,
       rewrites, atomic_load (&wl->heartbeats));
}

static void
run_command (struct workload *wl, const char *line)
{
  if (line[0] == '\0')
    return;
  if (strcmp (line, "verify") == 0)
    cmd_verify (wl);
  else if (strcmp (line, "status") == 0)
    cmd_status (wl);
  else if (wl->cfg.selftest && strcmp (line, "corrupt-mem") == 0)
    cmd_corrupt_mem (wl);
  else if (wl->cfg.selftest && strcmp (line, "corrupt-disk") == 0)
    cmd_corrupt_disk (wl);
  else
    say ("UNKNOWN-COMMAND %.64s", line);
}

/* Read console lines forever (or until EOF when not PID 1). */
static void
command_loop (struct workload *wl)
{
  char buf[256];
  size_t have = 0;

  for (;;) {
    char *nl;
    ssize_t r = read (STDIN_FILENO, buf + have, sizeof buf - 1 - have);

    if (r <= 0) {
      if (r < 0 && errno == EINTR)
        continue;
      if (getpid () != 1)
        return;
      pause (); /* no console input: keep the threads running */
      continue;
    }
    have += r;
    buf[have] = '\0';
    while ((nl = strchr (buf, '\n')) != NULL) {
      *nl = '\0';
      if (nl > buf && nl[-1] == '\r')
        nl[-1] = '\0';
      run_command (wl, buf);
      have -= nl + 1 - buf;
      memmove (buf, nl + 1, have + 1);
    }
    if (have == sizeof buf - 1)
      have = 0; /* overlong line: drop it */
  }
}

/* ---- startup ---- */

static void *
heartbeat (void *arg)
{
  struct workload *wl = arg;
  uint64_t next = now_ns ();

  for (;;) {
    next += (uint64_t) wl->cfg.hb * 1000000;
    sleep_until_ns (next);
    say ("HB %llu", atomic_fetch_add (&wl->heartbeats, 1) + 1);
  }
  return NULL;
}

/* No echo (it could interleave with our lines), no CR before LF. */
static void
console_setup (void)
{
  struct termios t;

  if (tcgetattr (STDIN_FILENO, &t) == 0) {
    t.c_lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL);
    t.c_oflag &= ~ONLCR;
    tcsetattr (STDIN_FILENO, TCSANOW, &t);
  }
}

static void
start_thread (void *(*fn) (void *), struct workload *wl, const char *what)
{
  pthread_t t;
  int e = pthread_create (&t, NULL, fn, wl);

  if (e)
    say ("WORKLOAD ERROR cannot start the %s thread: %s", what, strerror (e));
  else
    pthread_detach (t);
}

int
main (int argc, char **argv)
{
  static struct workload wl;
  const struct config *c = &wl.cfg;
  char mem_rate[16] = "max";

  console_setup ();
  config_init (&wl.cfg, argc, argv);
  if (c->mem_rate != RATE_MAX)
    snprintf (mem_rate, sizeof mem_rate, "%u", c->mem_rate);
  say ("WORKLOAD CONFIG run=%016" PRIx64 " disk=%s disk_offset=%u"
       " disk_size=%u disk_rate=%u disk_batch=%u disk_sync=%u mem=%u"
       " mem_rate=%s mem_content=%s hb=%u selftest=%u",
       c->run_id, c->disk, c->disk_offset, c->disk_size, c->disk_rate,
       c->disk_batch, c->disk_sync, c->mem, mem_rate,
       c->mem_random ? "random" : "text", c->hb, c->selftest);
  pthread_mutex_init (&wl.disk.lock, NULL);
  wl.disk.fd = -1;
  mem_init (&wl.mem, c);
  if (strcmp (c->disk, "none") != 0 && disk_open (&wl.disk, c) == -1)
    say ("WORKLOAD ERROR disk: %s", wl.disk.error);
  if (wl.disk.fd >= 0)
    start_thread (disk_writer, &wl, "disk writer");
  if (c->mem_rate > 0 && wl.mem.pages != NULL)
    start_thread (mem_rewriter, &wl, "memory rewriter");
  if (c->hb > 0)
    start_thread (heartbeat, &wl, "heartbeat");
  say ("WORKLOAD READY");
  command_loop (&wl);
  return 0;
}
