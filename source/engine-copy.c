/* source-engine-copy.c: the vmferry engine's copies: the bulk copy of
 * each disk's allocated extents (in resume segments when the copy can
 * be resumed), and the mirrored rounds that re-copy what the planner
 * (storage.h) says until little is left for the switchover.  Every copy
 * goes through storage_copy, over the data channel or libnbd.
 */
#include <config.h>

#include <errno.h>

#include "engine.h"

#define MAX_ROUNDS 10
/* The rounds stop once what is left can be copied in SWITCH_COPY_MS at
 * the bulk copy's rate (at most ENOUGH_BLOCKS, at least a block): that
 * copy happens while the guest is paused.
 */
#define SWITCH_COPY_MS 5
#define ENOUGH_BLOCKS 64
#define BULK_SEGMENT (32u << 20) /* resume state advances by this at least */
/* The test hold "copying" (vmferry(1), VMFERRY_TEST_HOLD): this far into
 * the bulk copy.
 */
#define HOLD_COPYING_BYTES (8u << 20)

/* Disk e's line on a terminal (progress.h draws it only there). */
static void
show_disk (struct src_engine *g, struct eng_disk *e)
{
  progress_disk (&g->s->pr, e->idx, e->d->id,
                 e->done < e->total ? e->done : e->total, e->total);
}

/* storage_copy's progress callback: a line every half second, the
 * totals and the disk being copied.  It runs under the copier's lock,
 * so the test hold "copying" stops every worker with the copy half
 * done.
 */
static void
on_progress (void *opaque, uint64_t bytes)
{
  struct src_engine *g = opaque;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&g->lock);

  g->done += bytes;
  if (g->current)
    g->current->done += bytes;
  if (g->hold_copying && g->done >= HOLD_COPYING_BYTES) {
    g->hold_copying = false;
    src_hold ("copying");
  }
  if (now_ms () - g->shown >= 500) {
    g->shown = now_ms ();
    progress_storage (&g->s->pr, g->done, g->total);
    if (g->current)
      show_disk (g, g->current);
  }
}

/* A copy of disk e begins: total bytes to go. */
static void
begin_disk (struct src_engine *g, struct eng_disk *e, uint64_t total)
{
  g->current = e;
  e->done = 0;
  e->total = total;
  show_disk (g, e);
}

/* Copy set of disk e.  fresh: the destination still reads as zeroes
 * (the bulk copy of a new image).  stream >= 0: one worker, on that
 * stream of the data channel (a copy beside others).
 */
static int
copy_set (struct src_engine *g, struct eng_disk *e,
          const struct storage_bitmap *set, bool fresh, int stream)
{
  struct storage_copy_stats st = { 0 };
  struct storage_copy_params p = {
    .src_uri = e->src_uri, .dst_uri = e->dst_uri, .blocks = set,
    .block_size = BLOCK_SIZE, .dst_is_zero = fresh,
    .progress = on_progress, .opaque = g,
    /* Cancel is honoured until the switchover (then the guest is paused
     * and this is the last copy).
     */
    .cancel_fd = g->s->stage < SRC_SWITCHOVER ? &g->s->p->cancel_fd : NULL,
    .size = fresh ? 0 : (int64_t) e->d->virtual_size,
  };
  struct storage_channel_dst cd = { .ch = g->ch, .disk = e->idx,
                                    .stream = stream > 0 ? stream : 0 };
  uint64_t n = storage_bitmap_count (set);
  int r;

  /* Every connection costs a TLS handshake: a small set (such as the
   * last one, copied while the guest is paused) gets one worker.
   */
  p.workers = n * BLOCK_SIZE < (8u << 20) ? 1 : 4;
  if (g->ch) {
    /* A worker per stream: each worker's flush is its stream's barrier,
     * so every stream is flushed before the round ends.
     */
    p.dst_ops = &storage_channel_ops;
    p.dst_opaque = &cd;
    p.workers = net_channel_streams (g->ch);
    p.size = e->d->virtual_size;
  }
  if (stream >= 0)
    p.workers = 1;
  r = storage_copy (&p, &st);
  pthread_mutex_lock (&g->lock);
  g->s->storage_bytes += st.data_bytes;
  pthread_mutex_unlock (&g->lock);
  debug ("disk %s round %u: %" PRIu64 " blocks, %" PRIu64 " data bytes",
         e->d->id, e->rounds.round, n, st.data_bytes);
  if (r == -1 && strstr (get_error (), "cancelled by the user"))
    set_error (0, "cancelled by the user");
  else if (r == -1)
    prefix_error ("disk %s", e->d->id);
  return r;
}

/* Begin a round on disk e and copy its set. */
int
eng_copy_round (struct src_engine *g, struct eng_disk *e, int stream)
{
  struct storage_bitmap set;
  int r;

  if (storage_bitmap_init (&set, e->rounds.nblocks) == -1)
    return -1;
  r = storage_rounds_begin (&e->rounds, &set);
  if (stream < 0)               /* copies side by side: no disk line */
    begin_disk (g, e, storage_bitmap_count (&set) * BLOCK_SIZE);
  if (r == 0)
    r = copy_set (g, e, &set, false, stream);
  if (r == 0 && stream < 0)
    show_disk (g, e);
  storage_bitmap_free (&set);
  return r;
}

/* The bulk copy of disk e.  With resume state it goes in segments of
 * the disk's address space, in order; after each (flushed on every
 * stream, acknowledged by vmferryd) the state records how far it got.
 */
int
eng_bulk_copy (struct src_engine *g, struct eng_disk *e, bool fresh)
{
  uint64_t nb = e->rounds.nblocks, seg = nb / 64, first, b;
  struct storage_bitmap set = { 0 }, part = { 0 };
  int r;

  if (seg < BULK_SEGMENT / BLOCK_SIZE)
    seg = BULK_SEGMENT / BLOCK_SIZE;
  if (storage_bitmap_init (&set, nb) == -1 ||
      storage_bitmap_init (&part, nb) == -1 ||
      storage_rounds_begin (&e->rounds, &set) == -1) {
    r = -1;
    goto out;
  }
  begin_disk (g, e, storage_bitmap_count (&set) * BLOCK_SIZE);
  if (!src_resume_enabled (g->s)) {
    r = copy_set (g, e, &set, fresh, -1);
    goto out;
  }
  for (r = 0, first = 0; r == 0 && first < nb; first += seg) {
    uint64_t end = first + seg < nb ? first + seg : nb;
    storage_bitmap_clear_all (&part);
    for (b = storage_bitmap_next (&set, first); b < end;
         b = storage_bitmap_next (&set, b + 1))
      storage_bitmap_set (&part, b);
    if (storage_bitmap_count (&part) > 0)
      r = copy_set (g, e, &part, fresh, -1);
    if (r == 0)
      r = src_resume_progress (g->s, e->idx, end * BLOCK_SIZE);
    if (r == 0 && src_cancel_requested (g->s))
      r = -1;
  }
 out:
  if (r == 0)
    show_disk (g, e);
  storage_bitmap_free (&set);
  storage_bitmap_free (&part);
  return r;
}

uint64_t
eng_pending_bytes (struct src_engine *g)
{
  uint64_t n = 0;
  size_t i;

  for (i = 0; i < g->n; i++)
    n += storage_rounds_pending (&g->disks[i].rounds) * BLOCK_SIZE;
  return n;
}

/* What may be left for the switchover, in bytes. */
static uint64_t
enough_bytes (const struct src_engine *g)
{
  double b = g->copy_rate * SWITCH_COPY_MS / 1000;

  if (g->copy_rate <= 0)
    return 4 * BLOCK_SIZE;
  if (b > ENOUGH_BLOCKS * BLOCK_SIZE)
    return ENOUGH_BLOCKS * BLOCK_SIZE;
  return b < BLOCK_SIZE ? BLOCK_SIZE : (uint64_t) b;
}

/* Mirrored rounds until little is left, the rounds are used up, or the
 * amount stops shrinking.
 */
int
eng_run_rounds (struct src_engine *g)
{
  uint64_t before = UINT64_MAX, enough = enough_bytes (g);
  size_t i;
  int k;

  for (k = 0; k < MAX_ROUNDS; k++) {
    uint64_t left = eng_pending_bytes (g);
    progress_note (&g->s->pr, "disks: round %d, %" PRIu64 " KiB to copy "
                   "again", k + 1, left >> 10);
    if (left <= enough || left >= before)
      return 0;
    before = left;
    g->done = 0;
    g->total = left;
    for (i = 0; i < g->n; i++) {
      struct eng_disk *e = &g->disks[i];
      if (storage_rounds_pending (&e->rounds) == 0)
        continue;
      if (eng_copy_round (g, e, -1) == -1 || eng_rotate (g, e) == -1)
        return -1;
    }
    if (src_cancel_requested (g->s))
      return -1;
  }
  return 0;
}

/* The switchover's last copies (guest paused: nothing races them).  A
 * thread per stream takes its share of the disks that have blocks left,
 * so that N disks cost about what one does (each copy's connection,
 * flush barrier and the destination's flush overlap).
 */
struct final_worker {
  struct src_engine *g;
  size_t *todo;                 /* indexes into g->disks */
  size_t n_todo;
  unsigned first, step;         /* this worker: todo[first], +step... */
  pthread_t thread;
  int r;
  char error[1024];
};

/* The last copy of disk e, on stream (< 0: every stream). */
static int
final_copy (struct src_engine *g, struct eng_disk *e, int stream)
{
  struct storage_bitmap none;
  int r = eng_copy_round (g, e, stream);

  if (r == 0 && (r = storage_bitmap_init (&none, e->rounds.nblocks)) == 0) {
    r = storage_rounds_end (&e->rounds, &none);
    storage_bitmap_free (&none);
  }
  return r;
}

static void *
final_worker (void *arg)
{
  struct final_worker *w = arg;
  size_t k;

  for (k = w->first; k < w->n_todo && w->r == 0; k += w->step)
    w->r = final_copy (w->g, &w->g->disks[w->todo[k]], w->first);
  if (w->r == -1)
    snprintf (w->error, sizeof w->error, "%s", get_error ());
  return NULL;
}

/* Run n workers over todo; the first error wins. */
static int
run_final_workers (struct src_engine *g, size_t *todo, size_t n_todo,
                   unsigned n)
{
  CLEANUP_FREE struct final_worker *w = calloc (n, sizeof *w);
  unsigned i, started;
  int r = 0;

  if (w == NULL) {
    set_error (errno, "calloc");
    return -1;
  }
  for (started = 0; started < n; started++) {
    w[started] = (struct final_worker) { .g = g, .todo = todo,
                                         .n_todo = n_todo,
                                         .first = started, .step = n };
    if (pthread_create (&w[started].thread, NULL, final_worker,
                        &w[started]) != 0) {
      set_error (errno, "starting a copy thread");
      r = -1;
      break;
    }
  }
  for (i = 0; i < started; i++) {
    pthread_join (w[i].thread, NULL);
    if (w[i].r == -1 && r == 0) {
      set_error (0, "%s", w[i].error);
      r = -1;
    }
  }
  return r;
}

int
eng_final_copies (struct src_engine *g)
{
  CLEANUP_FREE size_t *todo = calloc (g->n + 1, sizeof *todo);
  unsigned streams = g->ch ? net_channel_streams (g->ch) : 4;
  size_t i, n = 0;

  if (todo == NULL) {
    set_error (errno, "calloc");
    return -1;
  }
  for (i = 0; i < g->n; i++)
    if (storage_rounds_pending (&g->disks[i].rounds) > 0)
      todo[n++] = i;
  if (n == 1)                   /* one disk: all the streams for it */
    return final_copy (g, &g->disks[todo[0]], -1);
  g->current = NULL;
  return n == 0 ? 0 : run_final_workers (g, todo, n, n < streams ? n
                                         : streams);
}
