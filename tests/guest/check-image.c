/* check-image: verify the test guest's disk records offline.
 *
 *   check-image [--format auto|raw|qcow2] [--offset MiB --size MiB]
 *               IMAGE CONSOLE_LOG...
 *
 * Reads the record region of IMAGE (layout: record.h) and the console
 * logs of the guest that wrote it (given in the order they were written,
 * e.g. the source's then the destination's after a migration) and checks:
 *
 *  1. every slot holds a valid record (magic, slot, checksum, payload)
 *     or is empty (all zero);
 *  2. every sequence number acknowledged in the logs ("ACK a-b") is in
 *     its slot, or was superseded there by a newer record: a higher seq of
 *     the same run, or any record of a run that started later.
 *
 * Runs are told apart by the run id of each "WORKLOAD CONFIG" line; ACK
 * lines belong to the last one before them.  The region (--offset,
 * --size) defaults to the one in the CONFIG lines, else 768+64 MiB.
 * qcow2 images are read through "qemu-nbd -r" started by libnbd (socket
 * activation): nothing is left behind.
 *
 * Prints one summary line.  Exit status: 0 all good, 1 the data is wrong
 * (the first problem is named), 2 usage error or the check could not run
 * (unreadable image or log).
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libnbd.h>

#include "record.h"

#define MIB (UINT64_C (1024) * 1024)
#define CHUNK_RECORDS 256 /* records read at a time */
#define EXIT_BAD 1
#define EXIT_CANNOT 2

/* Where the image is read from: a raw file, or qemu-nbd for qcow2. */
struct image {
  const char *path;
  int fd;                 /* raw: the file; else -1 */
  struct nbd_handle *nbd; /* qcow2: libnbd handle; else NULL */
  uint64_t size;
};

/* An "ACK first-last" line, and the run it belongs to. */
struct ack {
  size_t run;
  uint64_t first, last;
};

/* What the console logs say. */
struct log {
  uint64_t *runs; /* run ids, in order of first appearance */
  size_t nr_runs;
  struct ack *acks;
  size_t nr_acks;
  int64_t offset, size; /* region from CONFIG lines, MiB; -1 none */
  int region_conflict;  /* CONFIG lines disagree on the region */
};

/* The check itself. */
struct check {
  uint64_t base, nr_slots;
  int64_t *need_run;  /* per slot: run of the newest ACK, or -1 */
  uint64_t *need_seq; /* per slot: seq of the newest ACK */
  uint64_t valid, empty, acked, problems;
  char first[300]; /* the first problem */
};

/* Print the usage (after MSG, if any) and exit: 0 for --help, else 2. */
static void __attribute__ ((noreturn)) usage (const char *msg)
{
  FILE *fp = msg ? stderr : stdout;

  if (msg)
    fprintf (fp, "check-image: %s\n", msg);
  fprintf (fp, "usage: check-image [--format auto|raw|qcow2] "
               "[--offset MiB --size MiB] IMAGE CONSOLE_LOG...\n");
  exit (msg ? EXIT_CANNOT : EXIT_SUCCESS);
}

static void __attribute__ ((noreturn, format (printf, 1, 2)))
cannot (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "check-image: error: ");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (EXIT_CANNOT);
}

static void *
xcalloc (size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size);

  if (p == NULL)
    cannot ("out of memory");
  return p;
}

/* ---- console logs ---- */

static size_t
log_run_index (struct log *lg, uint64_t id)
{
  size_t i;

  for (i = 0; i < lg->nr_runs; i++)
    if (lg->runs[i] == id)
      return i;
  lg->runs = realloc (lg->runs, (lg->nr_runs + 1) * sizeof *lg->runs);
  if (lg->runs == NULL)
    cannot ("out of memory");
  lg->runs[lg->nr_runs] = id;
  return lg->nr_runs++;
}

/* "WORKLOAD CONFIG run=HEX ... disk_offset=N disk_size=N ...". */
static void
log_config_line (struct log *lg, const char *line, size_t *cur)
{
  const char *p = strstr (line, " run="), *o, *s;
  int64_t off, size;

  if (p == NULL)
    return;
  *cur = log_run_index (lg, strtoull (p + 5, NULL, 16));
  o = strstr (line, " disk_offset=");
  s = strstr (line, " disk_size=");
  if (o == NULL || s == NULL)
    return;
  off = strtoll (o + 13, NULL, 10);
  size = strtoll (s + 11, NULL, 10);
  if (lg->offset >= 0 && (lg->offset != off || lg->size != size))
    lg->region_conflict = 1;
  lg->offset = off;
  lg->size = size;
}

static void
log_ack_line (struct log *lg, const char *line, size_t cur, const char *path)
{
  uint64_t first, last;
  int n = 0;

  if (sscanf (line, "ACK %" SCNu64 "-%" SCNu64 "%n", &first, &last, &n) != 2 ||
      line[n] != '\0' || first == 0 || last < first)
    return; /* not a whole ACK line: ignore it */
  if (cur == SIZE_MAX)
    cannot ("%s: ACK line before any WORKLOAD CONFIG line (give the logs "
            "of the whole run, oldest first)",
            path);
  lg->acks = realloc (lg->acks, (lg->nr_acks + 1) * sizeof *lg->acks);
  if (lg->acks == NULL)
    cannot ("out of memory");
  lg->acks[lg->nr_acks++] = (struct ack) { cur, first, last };
}

/* Read one console log; *CUR is the current run, carried across logs. */
static void
log_read (struct log *lg, const char *path, size_t *cur)
{
  FILE *fp = fopen (path, "r");
  char line[1024];

  if (fp == NULL)
    cannot ("%s: %s", path, strerror (errno));
  while (fgets (line, sizeof line, fp)) {
    size_t len = strlen (line);

    if (len == sizeof line - 1 && line[len - 1] != '\n') {
      int c; /* overlong line: skip the rest of it */
      while ((c = fgetc (fp)) != EOF && c != '\n')
        ;
      continue;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = '\0';
    if (strncmp (line, "WORKLOAD CONFIG ", 16) == 0)
      log_config_line (lg, line, cur);
    else if (strncmp (line, "ACK ", 4) == 0)
      log_ack_line (lg, line, *cur, path);
  }
  if (ferror (fp))
    cannot ("%s: read error", path);
  fclose (fp);
}

/* ---- image access ---- */

static int
is_qcow2 (const char *path)
{
  unsigned char magic[4] = { 0 };
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd == -1)
    cannot ("%s: %s", path, strerror (errno));
  if (read (fd, magic, 4) != 4)
    memset (magic, 0, 4);
  close (fd);
  return memcmp (magic, "QFI\xfb", 4) == 0;
}

static void
image_open (struct image *im, const char *path, const char *format)
{
  char *argv[] = { "qemu-nbd", "-r", "-f", "qcow2", (char *) path, NULL };
  int qcow2 = strcmp (format, "qcow2") == 0 ||
              (strcmp (format, "auto") == 0 && is_qcow2 (path));
  off_t end;

  *im = (struct image) { .path = path, .fd = -1 };
  if (!qcow2) {
    im->fd = open (path, O_RDONLY | O_CLOEXEC);
    if (im->fd == -1 || (end = lseek (im->fd, 0, SEEK_END)) == -1)
      cannot ("%s: %s", path, strerror (errno));
    im->size = end;
    return;
  }
  im->nbd = nbd_create ();
  if (im->nbd == NULL ||
      nbd_connect_systemd_socket_activation (im->nbd, argv) == -1)
    cannot ("%s: qemu-nbd: %s", path, nbd_get_error ());
  im->size = nbd_get_size (im->nbd);
  if ((int64_t) im->size == -1)
    cannot ("%s: %s", path, nbd_get_error ());
}

/* Read LEN bytes at OFF; a raw file that ends early reads as zeroes. */
static void
image_pread (struct image *im, void *buf, size_t len, uint64_t off)
{
  size_t done = 0;

  if (im->nbd) {
    if (nbd_pread (im->nbd, buf, len, off, 0) == -1)
      cannot ("%s: read at %" PRIu64 ": %s", im->path, off, nbd_get_error ());
    return;
  }
  while (done < len) {
    ssize_t r = pread (im->fd, (char *) buf + done, len - done, off + done);

    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1)
      cannot ("%s: read at %" PRIu64 ": %s", im->path, off + done,
              strerror (errno));
    if (r == 0)
      break;
    done += r;
  }
  memset ((char *) buf + done, 0, len - done);
}

static void
image_close (struct image *im)
{
  if (im->nbd) {
    nbd_shutdown (im->nbd, 0);
    nbd_close (im->nbd); /* also stops qemu-nbd */
  }
  if (im->fd >= 0)
    close (im->fd);
}

/* ---- the check ---- */

static void __attribute__ ((format (printf, 2, 3)))
problem (struct check *ck, const char *fmt, ...)
{
  va_list ap;

  if (ck->problems++ > 0)
    return;
  va_start (ap, fmt);
  vsnprintf (ck->first, sizeof ck->first, fmt, ap);
  va_end (ap);
}

/* Record for every slot the newest acknowledged (run, seq) it must hold. */
static void
check_apply_acks (struct check *ck, const struct log *lg)
{
  size_t i;
  uint64_t s;

  for (i = 0; i < lg->nr_acks; i++) {
    const struct ack *a = &lg->acks[i];
    uint64_t from = a->first;

    if (a->last - from >= ck->nr_slots) /* older ones are overwritten */
      from = a->last - ck->nr_slots + 1;
    for (s = from; s <= a->last; s++) {
      uint64_t slot = s % ck->nr_slots;
      int64_t r = ck->need_run[slot];

      if (r < (int64_t) a->run ||
          (r == (int64_t) a->run && ck->need_seq[slot] < s)) {
        ck->need_run[slot] = a->run;
        ck->need_seq[slot] = s;
      }
    }
  }
}

static int64_t
run_index (const struct log *lg, uint64_t id)
{
  size_t i;

  for (i = 0; i < lg->nr_runs; i++)
    if (lg->runs[i] == id)
      return i;
  return -1;
}

/* Check the record BUF found in SLOT. */
static void
check_slot (struct check *ck, const struct log *lg, const void *buf,
            uint64_t slot)
{
  uint64_t off = ck->base + slot * RECORD_SIZE;
  int64_t need = ck->need_run[slot], have;
  uint64_t seq = ck->need_seq[slot];
  struct record_header h;
  enum record_status st = record_check (buf, slot, &h);

  if (st == RECORD_EMPTY) {
    ck->empty++;
    if (need >= 0)
      problem (ck,
               "slot %" PRIu64 " (offset %" PRIu64
               "): acknowledged seq %" PRIu64 " of run %016" PRIx64
               " is missing: the slot is empty",
               slot, off, seq, lg->runs[need]);
    return;
  }
  if (st != RECORD_VALID) {
    problem (ck,
             "slot %" PRIu64 " (offset %" PRIu64 "): %s (seq %" PRIu64
             " of run %016" PRIx64 ")",
             slot, off, record_status_str (st), h.seq, h.run_id);
    return;
  }
  ck->valid++;
  if (need < 0)
    return;
  have = run_index (lg, h.run_id);
  if (have < need || (have == need && h.seq < seq))
    problem (ck,
             "slot %" PRIu64 " (offset %" PRIu64 "): holds seq %" PRIu64
             " of run %016" PRIx64 "%s, but seq %" PRIu64 " of run %016" PRIx64
             " was acknowledged",
             slot, off, h.seq, h.run_id, have < 0 ? " (not in the logs)" : "",
             seq, lg->runs[need]);
  else
    ck->acked++;
}

static void
check_region (struct check *ck, const struct log *lg, struct image *im)
{
  void *buf = xcalloc (CHUNK_RECORDS, RECORD_SIZE);
  uint64_t s, k;

  for (s = 0; s < ck->nr_slots; s += k) {
    uint64_t n = ck->nr_slots - s;

    if (n > CHUNK_RECORDS)
      n = CHUNK_RECORDS;
    image_pread (im, buf, n * RECORD_SIZE, ck->base + s * RECORD_SIZE);
    for (k = 0; k < n; k++)
      check_slot (ck, lg, (char *) buf + k * RECORD_SIZE, s + k);
  }
  free (buf);
}

static int64_t
parse_mib (const char *s, const char *what)
{
  char *end;
  long long v;

  errno = 0;
  v = strtoll (s, &end, 10);
  if (errno || end == s || *end || v < 0 || v > (1LL << 30))
    usage (what);
  return v;
}

int
main (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "format", required_argument, NULL, 'f' },
    { "offset", required_argument, NULL, 'o' },
    { "size", required_argument, NULL, 's' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *format = "auto";
  int64_t offset = -1, size = -1;
  struct log lg = { .offset = -1, .size = -1 };
  struct check ck = { 0 };
  struct image im;
  size_t cur = SIZE_MAX, i;
  int c;

  while ((c = getopt_long (argc, argv, "f:o:s:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'f':
      format = optarg;
      break;
    case 'o':
      offset = parse_mib (optarg, "bad --offset");
      break;
    case 's':
      size = parse_mib (optarg, "bad --size");
      break;
    case 'h':
      usage (NULL);
    default:
      usage ("unknown option");
    }
  }
  if (strcmp (format, "auto") && strcmp (format, "raw") &&
      strcmp (format, "qcow2"))
    usage ("--format must be auto, raw or qcow2");
  if (argc - optind < 2)
    usage ("need an image and at least one console log");

  for (i = optind + 1; i < (size_t) argc; i++)
    log_read (&lg, argv[i], &cur);
  if (offset < 0 && lg.region_conflict)
    cannot ("the logs name different regions: give --offset and --size");
  if (offset < 0)
    offset = lg.offset >= 0 ? lg.offset : 768;
  if (size < 0)
    size = lg.size > 0 ? lg.size : 64;
  if (size == 0)
    usage ("--size must not be 0");

  ck.base = (uint64_t) offset * MIB;
  ck.nr_slots = (uint64_t) size * MIB / RECORD_SIZE;
  ck.need_run = xcalloc (ck.nr_slots, sizeof *ck.need_run);
  ck.need_seq = xcalloc (ck.nr_slots, sizeof *ck.need_seq);
  for (i = 0; i < ck.nr_slots; i++)
    ck.need_run[i] = -1;
  check_apply_acks (&ck, &lg);

  image_open (&im, argv[optind], format);
  if (ck.base + ck.nr_slots * RECORD_SIZE > im.size && im.nbd)
    cannot ("%s: region %" PRId64 "+%" PRId64 " MiB ends beyond the image "
            "(%" PRIu64 " MiB)",
            im.path, offset, size, im.size / MIB);
  check_region (&ck, &lg, &im);
  image_close (&im);

  if (ck.problems) {
    printf ("check-image: FAIL: %s: %s (%" PRIu64 " problem%s in all)\n",
            argv[optind], ck.first, ck.problems, ck.problems > 1 ? "s" : "");
    return EXIT_BAD;
  }
  printf ("check-image: OK: %s: region %" PRId64 "+%" PRId64 " MiB: %" PRIu64
          " records, %" PRIu64 " empty slots; %" PRIu64
          " acknowledged records present (runs: %zu, ACK lines: %zu)\n",
          argv[optind], offset, size, ck.valid, ck.empty, ck.acked, lg.nr_runs,
          lg.nr_acks);
  return 0;
}
