/* mem.c: the test guest's memory pattern.
 *
 * N MiB of pages whose content is a function of (page index, version):
 * a 16-byte header (index, version, magic) and either text-like content
 * from a corpus or pseudo-random words.  A thread rewrites random pages
 * with the next version at mem_rate pages/s; the verifier checks every
 * page against the versions it keeps outside the pattern, reading only.
 */

#include "workload.h"

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

int
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

void *
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
int
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
