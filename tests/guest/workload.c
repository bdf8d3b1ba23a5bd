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
 * "blk ..." (disk.c), and with selftest=1 "corrupt-mem" and
 * "corrupt-disk".
 *
 * Every console line is produced by a single write(2) (say), so host
 * tools can parse the console log line by line.
 *
 * Built by build-guest.sh with gcc -static -O2 -Wall -Wextra; it does
 * not use config.h.  It must never exit while it is PID 1: errors are
 * printed as "WORKLOAD ERROR ..." and the rest keeps running.
 *
 * This file: configuration, console commands, the heartbeat and main;
 * also say and the pacer, shared by the threads.  disk.c writes and
 * verifies the disk records, mem.c the memory pattern (workload.h).
 */

#include "workload.h"

static pthread_mutex_t say_lock = PTHREAD_MUTEX_INITIALIZER;

/* Print one console line with a single write(2). */
void
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

uint64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
sleep_until_ns (uint64_t t)
{
  struct timespec ts = { .tv_sec = t / 1000000000, .tv_nsec = t % 1000000000 };

  while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

/* Wait before N more units of work (see struct pacer in workload.h). */
void
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

void
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
  else if (strcmp (key, "ip") == 0) {
    /* the network address /init gave eth0: not the workload's */
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
  else if (strncmp (line, "blk ", 4) == 0)
    disk_blk_command (line + 4);
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
