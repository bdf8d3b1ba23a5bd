/* disk.c: the test guest's disk records.
 *
 * Numbered, checksummed 4 KiB records (record.h) written with O_DIRECT
 * to a ring of slots in a region of the raw disk, in batches, "ACK a-b"
 * once records a..b have completed; the verifier checks that each slot
 * holds the newest record this run wrote to it.
 */

#include "workload.h"

int
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

void *
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
int64_t
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

/* "blk OP DEV OFFSET LEN [BYTE]" (KiB): on another block device than the
 * records', OP discard (BLKDISCARD), zero (BLKZEROOUT) or fill (every
 * byte BYTE, written with O_DIRECT and synced): what a guest does to a
 * disk while it moves.  Says "BLK ok OP DEV OFFSET LEN" or "BLK error".
 */
void
disk_blk_command (const char *args)
{
  char op[16], dev[64];
  unsigned long long off, len;
  unsigned byte = 0;
  uint64_t range[2];
  void *buf = NULL;
  int fd, n, r = -1;

  n = sscanf (args, "%15s %63s %llu %llu %u", op, dev, &off, &len, &byte);
  if (n < 4 || len == 0 || (strcmp (op, "fill") == 0 && n != 5)) {
    say ("BLK error usage: blk discard|zero|fill DEV OFF_KIB LEN_KIB [BYTE]");
    return;
  }
  range[0] = off * 1024;
  range[1] = len * 1024;
  fd = open (dev, O_RDWR | O_DIRECT | O_CLOEXEC);
  if (fd >= 0 && strcmp (op, "discard") == 0)
    r = ioctl (fd, BLKDISCARD, range);
  else if (fd >= 0 && strcmp (op, "zero") == 0)
    r = ioctl (fd, BLKZEROOUT, range);
  else if (fd >= 0 && strcmp (op, "fill") == 0 &&
           posix_memalign (&buf, 4096, range[1]) == 0) {
    memset (buf, byte, range[1]);
    r = pwrite (fd, buf, range[1], range[0]) == (ssize_t) range[1] ? 0 : -1;
  }
  if (r == 0)
    r = fdatasync (fd);
  if (r == 0)
    say ("BLK ok %s %s %llu %llu", op, dev, off, len);
  else
    say ("BLK error %s %s: %s", op, dev, strerror (errno));
  free (buf);
  if (fd >= 0)
    close (fd);
}
