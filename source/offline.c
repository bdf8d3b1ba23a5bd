/* offline.c: vmferry migrate --offline, the source side of moving a VM
 * that is not running:
 *
 *   describe (offline-vm.c: the disks, a lock probe refuses a running VM)
 *   -> serve each disk read-only with our own qemu-nbd on a private unix
 *      socket (it holds the image lock: the VM cannot start meanwhile)
 *   -> prepare {"offline": true}: vmferryd creates the images as for a
 *      live VM and serves them with its own qemu-nbd behind its data
 *      channel
 *   -> copy: the engine's copier, allocated extents only (zeroes are
 *      skipped: the destination stays sparse), over the data channel
 *      (TLS, lz4 per --transport, --bandwidth); every stream ends with
 *      a flush barrier acknowledged by vmferryd
 *   -> finish: vmferryd stops its qemu-nbd and saves the rewritten
 *      command line beside the images; the VM is stored there, not
 *      running
 *   -> stop our qemu-nbd, delete the source files (unless --keep-source).
 *
 * A failure before finish aborts the destination (which removes all it
 * made); the source files are only read until the destination has
 * stored the VM.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"
#include "storage.h"

#define API_TIMEOUT 60000
#define BLOCK_SIZE (64 * 1024)
#define STREAMS 4

struct offline {
  const struct mig_source_params *p;
  struct mig_vm *vm;
  struct progress pr;
  char id[40];
  char dir[64];                 /* our qemu-nbd sockets, or "" */
  pid_t *nbd;                   /* our qemu-nbd per disk (0: none) */
  struct mig_agent *agent;
  json_t *prepared;             /* prepare's reply */
  json_t *stored;               /* finish's reply */
  bool dest_made;               /* the destination may hold something */
  struct net_channel *ch;
  struct net_stream_stats st;   /* what crossed the data channel */
  uint64_t data_bytes;          /* allocated data copied */
  uint64_t done, total;         /* progress */
  int64_t shown;
  bool deleted;
};

const char *
mig_offline_result_text (enum mig_result r)
{
  switch (r) {
  case MIG_OK: return "stored";
  case MIG_FAILED_CLEAN:
    return "failed, source files untouched, destination cleaned";
  case MIG_FAILED_LEFTOVERS:
    return "failed, source files untouched, leftovers remain";
  default: return mig_result_text (r);
  }
}

/* Serve every disk read-only; fails while a QEMU has one open. */
static int
serve_sources (struct offline *o)
{
  size_t i;

  snprintf (o->dir, sizeof o->dir, "/tmp/vmferry-off-XXXXXX");
  if (mkdtemp (o->dir) == NULL) {
    o->dir[0] = '\0';
    set_error (errno, "mkdtemp");
    return -1;
  }
  if ((o->nbd = calloc (o->vm->n_disks + 1, sizeof *o->nbd)) == NULL) {
    set_error (errno, "calloc");
    return -1;
  }
  for (i = 0; i < o->vm->n_disks; i++) {
    const struct mig_disk *d = &o->vm->disks[i];
    struct mig_qemu_nbd n = { .image = d->path, .format = d->format,
                              .read_only = true, .dir = o->dir,
                              .name = d->id };
    if ((o->nbd[i] = mig_qemu_nbd_start (&n)) == -1) {
      o->nbd[i] = 0;
      if (strstr (get_error (), "lock"))
        set_error (0, "disk %s is in use: a QEMU has it open for writing "
                   "(is the VM running?)", d->path);
      return -1;
    }
  }
  return 0;
}

static int
stop_sources (struct offline *o)
{
  int r = 0;
  size_t i;

  for (i = 0; o->nbd && i < o->vm->n_disks; i++)
    if (mig_qemu_nbd_stop (o->nbd[i]) == -1)
      r = -1;
  free (o->nbd);
  o->nbd = NULL;
  if (o->dir[0])
    remove_tree (o->dir);
  o->dir[0] = '\0';
  return r;
}

/* POST path; on an HTTP error, its message.  *status: -1 in transit. */
static json_t *
call (struct offline *o, const char *path, json_t *body, int *status)
{
  return mig_agent_post (o->agent, path, body, API_TIMEOUT, status);
}

/* Ask the destination to store the VM: images created, data channel
 * open.  MIG_OK, or where things are.
 */
static enum mig_result
prepare (struct offline *o)
{
  json_auto_t *body = NULL;
  int status;

  o->agent = mig_agent_new (o->p->host, o->p->port, o->p->tls_dir, NULL);
  if (o->agent == NULL)
    return MIG_REFUSED;
  body = json_pack ("{s:s, s:s, s:o, s:b, s:b, s:o*}", "id", o->id, "host",
                    o->p->host, "vm", mig_vm_to_json (o->vm), "offline", 1,
                    "channel", 1, "data_from", net_local_addrs_json ());
  o->prepared = call (o, "/v1/prepare", body, &status);
  if (o->prepared)
    return MIG_OK;
  /* Lost in transit after it was sent: the destination may have done
   * it; the abort after this failure asks it to undo.
   */
  if (status == -1 && !strstr (get_error (), "could not connect") &&
      !strstr (get_error (), "TLS"))
    o->dest_made = true;
  return o->dest_made ? MIG_FAILED_CLEAN : MIG_REFUSED;
}

/* The copier's progress: a line every half second. */
static void
on_progress (void *opaque, uint64_t bytes)
{
  struct offline *o = opaque;

  o->done += bytes;
  if (now_ms () - o->shown >= 500) {
    o->shown = now_ms ();
    progress_storage (&o->pr, o->done, o->total);
  }
}

/* Copy disk i over the channel into the fresh destination image. */
static int
copy_disk (struct offline *o, size_t i)
{
  const struct mig_disk *d = &o->vm->disks[i];
  struct mig_qemu_nbd n = { .dir = o->dir, .name = d->id };
  CLEANUP_FREE char *uri = mig_qemu_nbd_uri (&n);
  struct storage_channel_dst cd = { .ch = o->ch, .disk = i };
  struct storage_copy_stats st = { 0 };
  struct storage_copy_params cp = {
    .src_uri = uri, .dst_ops = &storage_channel_ops, .dst_opaque = &cd,
    .block_size = BLOCK_SIZE, .workers = net_channel_streams (o->ch),
    .dst_is_zero = true, .progress = on_progress, .opaque = o,
    .cancel_fd = &o->p->cancel_fd, .size = d->virtual_size,
  };
  int r;

  if (uri == NULL)
    return -1;
  if (d->virtual_size == 0)
    return 0;                   /* nothing to copy (and no export size) */
  r = storage_copy (&cp, &st);
  o->data_bytes += st.data_bytes;
  if (r == -1 && strstr (get_error (), "cancelled by the user"))
    set_error (0, "cancelled by the user");
  else if (r == -1)
    prefix_error ("disk %s", d->path);
  return r;
}

/* Every disk through the data channel. */
static int
copy_disks (struct offline *o)
{
  json_t *port = json_object_get (o->prepared, "data_port");
  const char *host = json_string_value (json_object_get (o->prepared,
                                                         "host"));
  struct net_channel_params cp = {
    .host = host, .port = json_integer_value (port),
    .tls_dir = o->p->tls_dir, .id = o->id, .streams = STREAMS,
    .mode = mig_net_mode (o->p->transport), .bandwidth = o->p->bandwidth,
    .follow_link = !o->p->no_link_pacing,
    .zstd = json_is_true (json_object_get (o->prepared, "data_zstd")),
  };
  size_t i;
  int r = 0;

  if (host == NULL || !json_is_integer (port)) {
    set_error (0, "the destination opened no data channel (a vmferryd "
               "without offline moves?)");
    return -1;
  }
  if ((o->ch = net_channel_connect (&cp)) == NULL)
    return -1;
  for (i = 0; i < o->vm->n_disks; i++)
    o->total += o->vm->disks[i].virtual_size;
  for (i = 0; i < o->vm->n_disks && r == 0; i++)
    r = copy_disk (o, i);
  progress_storage (&o->pr, o->done, o->total);
  net_channel_get_stats (o->ch, &o->st);
  net_channel_free (o->ch);
  o->ch = NULL;
  progress_note (&o->pr, "data channel: %" PRIu64 " MiB of disk data sent "
                 "as %" PRIu64 " MiB (%" PRIu64 " of %" PRIu64 " frames "
                 "compressed, %" PRIu64 " with zstd)", o->st.raw_bytes >> 20,
                 o->st.wire_bytes >> 20, o->st.compressed, o->st.frames,
                 o->st.zstd);
  return r;
}

/* Undo the destination after a failure before it stored the VM. */
static enum mig_result
rollback (struct offline *o)
{
  char why[1024];
  json_auto_t *body = json_pack ("{s:s}", "id", o->id), *reply = NULL;
  const char *de;
  int status;

  snprintf (why, sizeof why, "%s", get_error ());
  progress_phase (&o->pr, "rollback", why);
  reply = call (o, "/v1/abort", body, &status);
  de = json_string_value (json_object_get (reply, "data_error"));
  if (de)                       /* what made vmferryd reset the channel */
    snprintf (why + strlen (why), sizeof why - strlen (why),
              " (vmferryd: %s)", de);
  if (reply == NULL && status != 404) {
    set_error (0, "%s; and cleaning the destination failed: %s (left "
               "there: migration %s, %s)", why, get_error (), o->id,
               json_object_get (o->prepared, "vm_dir") ?
               json_string_value (json_object_get (o->prepared, "vm_dir"))
               : "its images");
    return MIG_FAILED_LEFTOVERS;
  }
  set_error (0, "%s", why);
  return MIG_FAILED_CLEAN;
}

/* The destination stops its qemu-nbd and saves the command line. */
static int
finish (struct offline *o)
{
  json_auto_t *body = json_pack ("{s:s}", "id", o->id);
  const char *argv_file;
  int status;

  o->stored = call (o, "/v1/finish", body, &status);
  if (o->stored == NULL)
    return -1;
  argv_file = json_string_value (json_object_get (o->stored, "argv_file"));
  progress_note (&o->pr, "the VM is stored on %s in %s (not running)%s%s",
                 o->p->dest_name ? o->p->dest_name : o->p->host,
                 json_string_value (json_object_get (o->stored, "vm_dir")),
                 argv_file ? "; its command line: " : "",
                 argv_file ? argv_file : "");
  return 0;
}

/* The source images, once the destination has stored the VM. */
static int
delete_sources (struct offline *o)
{
  size_t i;

  for (i = 0; i < o->vm->n_disks; i++) {
    const char *path = o->vm->disks[i].path;
    if (unlink (path) == -1 && errno != ENOENT) {
      set_error (errno, "delete %s", path);
      return -1;
    }
    progress_note (&o->pr, "deleted source disk %s", path);
  }
  o->deleted = true;
  return 0;
}

static uint64_t
allocated (const struct mig_vm *vm)
{
  uint64_t n = 0;
  size_t i;

  for (i = 0; i < vm->n_disks; i++)
    n += vm->disks[i].allocated;
  return n;
}

static enum mig_result
run_phases (struct offline *o)
{
  enum mig_result r;

  if (mig_new_id (o->id) == -1)
    return MIG_REFUSED;
  o->pr.id = o->id;
  progress_phase (&o->pr, "preflight", "the VM must not be running");
  if (o->p->psk) {
    set_error (0, "--offline needs the data channel, which needs x509 "
               "certificates: not over ssh://");
    return MIG_REFUSED;
  }
  if ((o->vm = mig_offline_vm (o->p->vm, o->p->argv_file, o->p->disks,
                               o->p->disk_map)) == NULL ||
      serve_sources (o) == -1)
    return MIG_REFUSED;
  progress_note (&o->pr, "VM %s (not running): %zu disk(s), %" PRIu64
                 " MiB allocated", o->vm->name, o->vm->n_disks,
                 allocated (o->vm) >> 20);
  progress_phase (&o->pr, "setup", "preparing the destination");
  if ((r = prepare (o)) != MIG_OK)
    return r == MIG_REFUSED ? r : rollback (o);
  o->dest_made = true;
  progress_phase (&o->pr, "storage", "copying disks (vmferry engine, "
                  "data channel)");
  if (copy_disks (o) == -1)
    return rollback (o);
  progress_phase (&o->pr, "store", "the destination keeps the VM");
  if (finish (o) == -1)
    return rollback (o);
  return MIG_OK;
}

/* The final object. */
static json_t *
summary (struct offline *o, enum mig_result r, int64_t t0)
{
  json_t *s = json_pack ("{s:s, s:s, s:i, s:s, s:s?, s:s, s:o, s:b}",
                         "result", r == MIG_OK ? "stored"
                         : mig_result_code (r),
                         "result_text", mig_offline_result_text (r),
                         "exit_code", r,
                         "vm", o->p->vm, "id", o->id[0] ? o->id : NULL,
                         "destination", o->p->dest_name ? o->p->dest_name
                         : o->p->host, "total_s",
                         progress_seconds ((now_ms () - t0) / 1000.0),
                         "offline", 1);

  if (r != MIG_OK) {
    json_object_set_new (s, "error", json_string (get_error ()));
    return s;
  }
  json_object_set_new (s, "storage_bytes", json_integer (o->data_bytes));
  json_object_set_new (s, "wire_bytes", json_integer (o->st.wire_bytes));
  json_object_set (s, "vm_dir", json_object_get (o->stored, "vm_dir"));
  json_object_set (s, "images", json_object_get (o->stored, "images"));
  json_object_set (s, "argv_file", json_object_get (o->stored,
                                                    "argv_file"));
  json_object_set_new (s, "source_deleted", json_boolean (o->deleted));
  return s;
}

enum mig_result
mig_offline_run (const struct mig_source_params *p)
{
  struct offline o = { .p = p };
  int64_t t0 = now_ms ();
  enum mig_result r;
  json_auto_t *sum = NULL;
  char err[1024] = "";

  progress_init (&o.pr, p->out, p->json, p->tty);
  o.pr.label = p->label;
  clear_error ();
  r = run_phases (&o);
  if (r != MIG_OK)
    snprintf (err, sizeof err, "%s", get_error ());
  /* Our qemu-nbd go first: they hold the images the cleanup deletes. */
  if (stop_sources (&o) == -1 && r == MIG_OK)
    progress_note (&o.pr, "warning: %s", get_error ());
  if (r == MIG_OK && !p->keep_source) {
    progress_phase (&o.pr, "cleanup", "deleting source files");
    if (delete_sources (&o) == -1)
      progress_note (&o.pr, "warning: the VM is stored on the destination, "
                     "but deleting the source failed: %s", get_error ());
  }
  if (r != MIG_OK)
    set_error (0, "%s", err);
  sum = summary (&o, r, t0);
  progress_result (&o.pr, sum);
  mig_agent_free (o.agent);
  mig_vm_free (o.vm);
  json_decref (o.prepared);
  json_decref (o.stored);
  set_error (0, "%s", err);
  return r;
}
