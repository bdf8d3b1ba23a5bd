/* source-engine.c: vmferry's own storage engine (--storage-engine
 * vmferry), driving QEMU and storage/:
 *
 *   1. a dirty bitmap per disk starts recording; the source QEMU exports
 *      each disk read-only on a private unix socket;
 *   2. bulk copy: the allocated extents go over vmferry's data channel
 *      (net.h: N TLS streams, lz4 per --transport, --bandwidth) to
 *      vmferryd, which writes them into the skeleton's export; or, with
 *      --transport direct (or a vmferryd without the channel), with
 *      libnbd straight into that export (TLS); zeroes are skipped;
 *   3. blockdev-mirror sync=none copy-mode=write-blocking: from now on
 *      every guest write reaches both sides before it is acknowledged;
 *   4. rounds: rotate the bitmap (one transaction: add the next, disable
 *      the current), read the disabled one over NBD, let the planner
 *      decide (storage.h: the re-copy rule), copy, until little is left;
 *      every copy ends with a flush barrier on every stream, acknowledged
 *      by vmferryd, before the bitmap rotates: the rule assumes the
 *      round's copies have landed;
 *   5. at switchover, guest paused: copy the rest, end the mirrors.
 * This file sets up and tears down (QMP, the data channel) and runs the
 * steps; the copies and the rounds are in source-engine-copy.c.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"
#include "engine.h"

#define STREAMS 4               /* data channel streams = copy workers */

static int
cmd (struct source *s, const char *name, const char *fmt, ...)
{
  json_t *args = NULL, *r;
  va_list ap;

  va_start (ap, fmt);
  args = fmt ? json_vpack_ex (NULL, 0, fmt, ap) : NULL;
  va_end (ap);
  r = qmp_command (s->q, name, args, QMP_TIMEOUT_MS);
  json_decref (r);
  return r ? 0 : -1;
}

static void
bitmap_name (const struct eng_disk *e, unsigned gen, char *buf, size_t n)
{
  snprintf (buf, n, "vmferry-bm-%zu-%u", e->idx, gen);
}

/* The private NBD server and a read-only export of every disk. */
static int
export_sources (struct src_engine *g)
{
  struct source *s = g->s;
  CLEANUP_FREE char *sock = NULL, *qsock = NULL;
  size_t i;

  /* QEMU makes the socket; vmferry reaches it by its own path. */
  if (mig_qemu_dir_make (s->vm->pid, "src", &g->dir) == -1)
    return -1;
  sock = xasprintf ("%s/nbd.sock", g->dir.host);
  qsock = xasprintf ("%s/nbd.sock", g->dir.qemu);
  if (src_journal_add (s, "dir", g->dir.host) == -1 ||
      src_journal_add (s, "nbd-server", qsock ? qsock : "") == -1)
    return -1;
  if (sock == NULL || qsock == NULL ||
      cmd (s, "nbd-server-start", "{s:{s:s, s:{s:s}}}", "addr", "type",
           "unix", "data", "path", qsock) == -1) {
    prefix_error ("the source QEMU's NBD server (is one running already? "
                  "then use --storage-engine qemu)");
    return -1;
  }
  g->server = true;
  for (i = 0; i < g->n; i++) {
    struct eng_disk *e = &g->disks[i];
    char id[48];
    snprintf (id, sizeof id, "vmferry-src-%zu", e->idx);
    snprintf (e->src_uri, sizeof e->src_uri, "nbd+unix:///%s?socket=%s",
              id, sock);
    if (src_journal_add (s, "export", id) == -1 ||
        cmd (s, "block-export-add", "{s:s, s:s, s:s, s:s, s:b}", "type",
             "nbd", "id", id, "node-name", e->d->node, "name", id,
             "writable", 0) == -1)
      return -1;
  }
  return 0;
}

/* The destination export of disk e, through libnbd with TLS (x509, or
 * the per-migration PSK over ssh).
 */
static void
dest_uri (struct src_engine *g, struct eng_disk *e)
{
  struct source *s = g->s;
  int port = json_integer_value (json_object_get (s->prepared, "nbd_port"));
  bool v6 = strchr (s->dhost, ':') != NULL;

  if (s->p->psk)                /* vmferry migrate --to ssh://... */
    snprintf (e->dst_uri, sizeof e->dst_uri,
              "nbds://%s@%s%s%s:%d/%s?tls-psk-file=%s/keys.psk",
              MIG_PSK_USER, v6 ? "[" : "", s->dhost, v6 ? "]" : "", port,
              e->d->id, s->p->tls_dir);
  else
    snprintf (e->dst_uri, sizeof e->dst_uri,
              "nbds://%s%s%s:%d/%s?tls-certificates=%s", v6 ? "[" : "",
              s->dhost, v6 ? "]" : "", port, e->d->id, s->p->tls_dir);
}

/* Wait until QEMU has dropped export id (block-export-del is async). */
static bool
export_deleted (json_t *ev, void *opaque)
{
  const char *id = json_string_value
    (json_object_get (json_object_get (ev, "data"), "id"));

  return id && strcmp (id, opaque) == 0;
}

/* Read bitmap bm of disk e over a temporary export of it. */
static int
read_bitmap (struct src_engine *g, struct eng_disk *e, const char *bm,
             struct storage_bitmap *out)
{
  char id[64], uri[400];
  json_auto_t *ev = NULL;
  int r;

  snprintf (id, sizeof id, "%s-x", bm);
  snprintf (uri, sizeof uri, "nbd+unix:///%s?socket=%s/nbd.sock", id,
            g->dir.host);
  if (cmd (g->s, "block-export-add", "{s:s, s:s, s:s, s:s, s:b, s:[s]}",
           "type", "nbd", "id", id, "node-name", e->d->node, "name", id,
           "writable", 0, "bitmaps", bm) == -1)
    return -1;
  r = storage_read_dirty_bitmap (uri, bm, BLOCK_SIZE, out);
  /* "hard": our reader has closed its connection, but QEMU may not have
   * seen it yet, and a "safe" delete then fails ("still in use"; seen in
   * CI 3 ms after the read) and leaves the bitmap busy.
   */
  if (cmd (g->s, "block-export-del", "{s:s, s:s}", "id", id,
           "mode", "hard") == -1 ||
      (ev = qmp_wait_event (g->s->q, "BLOCK_EXPORT_DELETED", export_deleted,
                            id, QMP_TIMEOUT_MS)) == NULL)
    r = -1;
  return r;
}

/* Remove bitmap bm of disk e.  The temporary export that read it may
 * still hold it for a moment after BLOCK_EXPORT_DELETED (seen under
 * load: "currently in use by another operation"): ask again, for up to
 * 2 s.
 */
static int
remove_bitmap (struct src_engine *g, struct eng_disk *e, const char *bm)
{
  int i;

  for (i = 0;; i++) {
    if (cmd (g->s, "block-dirty-bitmap-remove", "{s:s, s:s}", "node",
             e->d->node, "name", bm) == 0)
      return 0;
    if (i == 40 || strstr (get_error (), "in use") == NULL)
      return -1;
    usleep (50000);
  }
}

/* End disk e's round: swap bitmaps atomically, read the old one, give it
 * to the planner, drop it.
 */
int
eng_rotate (struct src_engine *g, struct eng_disk *e)
{
  char cur[48], next[48];
  struct storage_bitmap written;
  int r;

  bitmap_name (e, e->gen, cur, sizeof cur);
  bitmap_name (e, e->gen + 1, next, sizeof next);
  if (cmd (g->s, "transaction", "{s:[{s:s, s:{s:s, s:s, s:i}},"
           " {s:s, s:{s:s, s:s}}]}", "actions",
           "type", "block-dirty-bitmap-add", "data", "node", e->d->node,
           "name", next, "granularity", BLOCK_SIZE,
           "type", "block-dirty-bitmap-disable", "data", "node", e->d->node,
           "name", cur) == -1)
    return -1;
  e->gen++;
  r = read_bitmap (g, e, cur, &written);
  if (r == 0) {
    r = storage_rounds_end (&e->rounds, &written);
    storage_bitmap_free (&written);
  }
  if (remove_bitmap (g, e, cur) == -1)
    r = -1;
  return r;
}

/* The blocks a resumed copy of disk e must send: those the earlier
 * attempts did not copy, and those the guest wrote since the first one
 * began (the persistent bitmap, read through a disabled copy tmp).
 */
static int
resume_set (struct src_engine *g, struct eng_disk *e, const char *tmp,
            struct storage_bitmap *set)
{
  uint64_t from = src_resume_copied_to (g->s, e->idx) / BLOCK_SIZE;
  int r = read_bitmap (g, e, tmp, set);

  if (remove_bitmap (g, e, tmp) == -1)
    r = -1;
  if (r == 0 && set->nbits != e->rounds.nblocks) {
    set_error (0, "disk %s: its write record has %" PRIu64 " blocks, not %"
               PRIu64, e->d->id, set->nbits, e->rounds.nblocks);
    r = -1;
  }
  if (r == 0 && from < set->nbits)
    storage_bitmap_set_range (set, from, set->nbits - from);
  return r;
}

/* A read-only disk: nothing writes it, so no bitmap records anything;
 * the bulk copy takes all of it (its allocated data), once.
 */
static int
start_read_only (struct eng_disk *e)
{
  struct storage_bitmap set = { 0 };
  int r;

  e->rounds.nblocks = (e->d->virtual_size + BLOCK_SIZE - 1) / BLOCK_SIZE;
  if (storage_bitmap_init (&set, e->rounds.nblocks) == -1)
    return -1;
  storage_bitmap_set_range (&set, 0, set.nbits);
  r = storage_rounds_init (&e->rounds, &set);
  e->planned = r == 0;
  storage_bitmap_free (&set);
  return r;
}

/* After the bulk copy of a read-only disk: nothing was written during
 * it, nothing is left.
 */
static int
settle_read_only (struct eng_disk *e)
{
  struct storage_bitmap none;
  int r;

  if (storage_bitmap_init (&none, e->rounds.nblocks) == -1)
    return -1;
  r = storage_rounds_end (&e->rounds, &none);
  storage_bitmap_free (&none);
  return r;
}

/* A disk the guest writes: bitmap generation 0 starts recording for the
 * rounds, in the same transaction as the resume bitmap (a fresh copy:
 * created, persistent; a resumed one: copied into tmp to be read), then
 * the planner starts with what must be copied.
 */
static int
start_written (struct src_engine *g, struct eng_disk *e)
{
  char bm[48], rb[64], tmp[64], rec[160];
  bool resume = src_resume_enabled (g->s);
  bool resumed = src_resume_accepted (g->s);
  struct storage_bitmap set = { 0 };
  json_t *a = json_array ();
  int r;

  e->rounds.nblocks = (e->d->virtual_size + BLOCK_SIZE - 1) / BLOCK_SIZE;
  bitmap_name (e, 0, bm, sizeof bm);
  src_resume_bitmap_name (g->s, rb, sizeof rb);
  snprintf (tmp, sizeof tmp, "vmferry-bm-%zu-resume", e->idx);
  json_array_append_new (a, json_pack ("{s:s, s:{s:s, s:s, s:i}}", "type",
                                       "block-dirty-bitmap-add", "data",
                                       "node", e->d->node, "name", bm,
                                       "granularity", BLOCK_SIZE));
  if (resumed) {
    json_array_append_new (a, json_pack ("{s:s, s:{s:s, s:s, s:i, s:b}}",
                                         "type", "block-dirty-bitmap-add",
                                         "data", "node", e->d->node, "name",
                                         tmp, "granularity", BLOCK_SIZE,
                                         "disabled", 1));
    json_array_append_new (a, json_pack ("{s:s, s:{s:s, s:s, s:[s]}}",
                                         "type", "block-dirty-bitmap-merge",
                                         "data", "node", e->d->node,
                                         "target", tmp, "bitmaps", rb));
  }
  else if (resume)
    json_array_append_new (a, json_pack ("{s:s, s:{s:s, s:s, s:i, s:b}}",
                                         "type", "block-dirty-bitmap-add",
                                         "data", "node", e->d->node, "name",
                                         rb, "granularity", BLOCK_SIZE,
                                         "persistent", 1));
  /* Journaled first: every generation of this disk's bitmaps
   * (NODE/vmferry-bm-IDX-), for vmferry recover; the persistent resume
   * bitmap is meant to outlive a failure and is not.
   */
  snprintf (rec, sizeof rec, "%s/vmferry-bm-%zu-", e->d->id, e->idx);
  if (src_journal_add (g->s, "bitmap", rec) == -1) {
    json_decref (a);
    return -1;
  }
  if (cmd (g->s, "transaction", "{s:o}", "actions", a) == -1)
    return -1;
  e->bitmap = true;
  if (resumed)
    r = resume_set (g, e, tmp, &set);
  else if ((r = storage_bitmap_init (&set, e->rounds.nblocks)) == 0) {
    storage_bitmap_set_range (&set, 0, set.nbits);
    if (resume)
      r = src_resume_progress (g->s, e->idx, 0);
  }
  if (r == 0)
    r = storage_rounds_init (&e->rounds, &set);
  e->planned = r == 0;
  storage_bitmap_free (&set);
  return r;
}

/* Start disk e: its planner begins with what must be copied. */
static int
start_disk (struct src_engine *g, struct eng_disk *e)
{
  if (e->d->read_only)
    return start_read_only (e);
  return start_written (g, e);
}


/* Close the data channel, telling what crossed the link. */
static void
channel_close (struct src_engine *g)
{
  struct net_stream_stats st;

  if (g->ch == NULL)
    return;
  net_channel_get_stats (g->ch, &st);
  progress_note (&g->s->pr, "data channel: %" PRIu64 " MiB of disk data "
                 "sent as %" PRIu64 " MiB (%" PRIu64 " of %" PRIu64
                 " frames compressed, %" PRIu64 " with zstd)",
                 st.raw_bytes >> 20, st.wire_bytes >> 20, st.compressed,
                 st.frames, st.zstd);
  net_channel_free (g->ch);
  g->ch = NULL;
}

/* Undo QEMU-side state: exports, server, bitmaps, the private dir. */
static void
engine_cleanup (struct src_engine *g)
{
  size_t i;

  for (i = 0; g->s->q && i < g->n; i++) {
    struct eng_disk *e = &g->disks[i];
    char id[48], bm[48];
    snprintf (id, sizeof id, "vmferry-src-%zu", e->idx);
    if (g->server)
      cmd (g->s, "block-export-del", "{s:s, s:s}", "id", id, "mode", "hard");
    bitmap_name (e, e->gen, bm, sizeof bm);
    if (e->bitmap)
      cmd (g->s, "block-dirty-bitmap-remove", "{s:s, s:s}", "node", e->d->node,
           "name", bm);
    e->bitmap = false;
  }
  channel_close (g);
  if (g->s->q && g->server)
    cmd (g->s, "nbd-server-stop", NULL);
  g->server = false;
  if (g->dir.host[0])
    remove_tree (g->dir.host);
  g->dir.host[0] = '\0';
}

void
src_engine_free (struct src_engine *g)
{
  size_t i;

  if (g == NULL)
    return;
  for (i = 0; i < g->n; i++)
    if (g->disks[i].planned)
      storage_rounds_free (&g->disks[i].rounds);
  pthread_mutex_destroy (&g->lock);
  free (g->disks);
  free (g);
}

/* A disk entry per copied disk (planners come in start_disk). */
static struct src_engine *
engine_new (struct source *s)
{
  struct src_engine *g = calloc (1, sizeof *g);
  size_t i;

  if (g == NULL || (g->disks = calloc (s->vm->n_disks + 1,
                                       sizeof *g->disks)) == NULL) {
    free (g);
    set_error (errno, "calloc");
    return NULL;
  }
  g->s = s;
  pthread_mutex_init (&g->lock, NULL);
  for (i = 0; i < s->vm->n_disks; i++) {
    struct eng_disk *e = &g->disks[g->n];
    if (!mig_disk_copied (&s->vm->disks[i]))
      continue;                 /* read-only, or on shared storage */
    e->d = &s->vm->disks[i];
    e->idx = i;
    g->n++;
  }
  return g;
}

enum net_transport
mig_net_mode (enum mig_transport t)
{
  return t == MIG_TRANSPORT_TCP ? NET_TRANSPORT_TCP
    : t == MIG_TRANSPORT_COMPRESS ? NET_TRANSPORT_COMPRESS
    : NET_TRANSPORT_AUTO;
}

bool
src_engine_wants_channel (const struct source *s)
{
  return !s->p->qemu_storage && !s->p->psk &&
    s->p->transport != MIG_TRANSPORT_DIRECT;
}

/* Connect the data channel if vmferryd opened one (prepare's data_port);
 * an agent without it gets the direct path.
 */
static int
channel_open (struct src_engine *g)
{
  struct source *s = g->s;
  json_t *port = json_object_get (s->prepared, "data_port");
  struct net_channel_params p = {
    .host = s->dhost, .port = json_integer_value (port),
    .tls_dir = s->p->tls_dir, .id = s->id, .streams = STREAMS,
    .mode = mig_net_mode (s->p->transport), .pace = s->pace,
    .zstd = json_is_true (json_object_get (s->prepared, "data_zstd")),
  };

  if (!src_engine_wants_channel (s))
    return 0;
  if (!json_is_integer (port)) {
    progress_note (&s->pr, "disks: the destination has no data channel; "
                   "writing to its NBD export directly");
    return 0;
  }
  g->ch = net_channel_connect (&p);
  return g->ch ? 0 : -1;
}

int
src_engine_start (struct source *s)
{
  struct src_engine *g = s->engine = engine_new (s);
  bool fresh;
  size_t i;
  int64_t t0;

  if (g == NULL || src_resume_begin (s) == -1 || export_sources (g) == -1)
    return -1;
  for (i = 0; i < g->n; i++)
    if (start_disk (g, &g->disks[i]) == -1)
      return -1;
  if (channel_open (g) == -1)
    return -1;
  fresh = !src_resume_accepted (s);
  for (i = 0; i < g->n; i++) {
    dest_uri (g, &g->disks[i]);
    g->total += storage_rounds_pending (&g->disks[i].rounds) * BLOCK_SIZE;
  }
  src_hold ("storage");
  g->hold_copying = test_hold_wanted ("copying");
  if (!fresh)
    progress_note (&s->pr, "disks: %" PRIu64 " MiB of the disks' range "
                   "not copied before or written since (only its allocated "
                   "data is sent)", g->total >> 20);
  t0 = now_ms ();
  for (i = 0; i < g->n; i++)                    /* bulk copy */
    if (eng_bulk_copy (g, &g->disks[i], fresh) == -1 ||
        src_cancel_requested (s))
      return -1;
  g->hold_copying = false;      /* only ever in the bulk copy */
  if (s->storage_bytes >= (1u << 20) && now_ms () > t0)
    g->copy_rate = s->storage_bytes * 1000.0 / (now_ms () - t0);
  progress_storage (&s->pr, g->done, g->total);
  progress_note (&s->pr, "disks: bulk copy done (%" PRIu64 " MiB of data); "
                 "mirroring writes", s->storage_bytes >> 20);
  if (src_storage_start (s, "none") == -1 ||
      src_storage_wait_ready (s) == -1)
    return -1;
  src_hold ("mirroring");
  for (i = 0; i < g->n; i++) {
    struct eng_disk *e = &g->disks[i];
    storage_rounds_mirroring_on (&e->rounds);
    if ((e->d->read_only ? settle_read_only (e)
         : eng_rotate (g, e)) == -1)                /* ends the bulk round */
      return -1;
  }
  if (eng_run_rounds (g) == -1)
    return -1;
  s->storage_wire_bytes = s->storage_bytes;
  if (g->ch) {
    struct net_stream_stats st;
    net_channel_get_stats (g->ch, &st);
    s->storage_wire_bytes = st.wire_bytes;
  }
  return 0;
}

int
src_engine_finish (struct source *s)
{
  struct src_engine *g = s->engine;

  g->done = 0;
  g->total = eng_pending_bytes (g);
  /* The last copies first (side by side), then every mirror asked to
   * stop at once.  Asking the mirrors first made their ends (the
   * destination flushing each written image) race the copies' flush of
   * the same image: slower, measured.
   */
  if (eng_final_copies (g) == -1)
    return -1;
  return src_storage_complete (s);
}

/* After the destination resumed the VM: close the channel, drop the
 * exports and bitmaps.  Not done in src_engine_finish because the guest
 * is paused there: every QMP round trip would add to the downtime.
 */
void
src_engine_done (struct source *s)
{
  /* The resume state files go; QEMU has already stored the (inactive)
   * write record in the image: a later migration drops it.
   */
  src_resume_forget (s);
  if (s->engine)
    engine_cleanup (s->engine);
}

void
src_engine_rollback (struct source *s)
{
  src_storage_rollback (s);
  if (s->engine)
    engine_cleanup (s->engine);
}
