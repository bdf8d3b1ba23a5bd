/* source.c: vmferry migrate, the source side's state machine.
 *
 *   preflight -> prepare (dest) -> storage mirror -> memory pre-copy ->
 *   switchover (guest paused) -> finish (dest resumes) -> cleanup
 *
 * s->stage records how far it got; rollback() undoes exactly that much
 * and keeps the invariant: the VM runs on exactly one host, and source
 * files are deleted only once the destination VM runs.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>

#include "internal.h"

#define API_TIMEOUT 60000
#define FINISH_TIMEOUT 180000

/* Cancel (Ctrl-C, SIGTERM) is honoured until the switchover begins. */
bool
src_cancel_requested (struct source *s)
{
  struct pollfd pfd[2] = {
    { .fd = s->p->cancel_fd, .events = POLLIN },
    { .fd = src_control_cancel_fd (s->ctl), .events = POLLIN },
  };

  if (s->stage >= SRC_SWITCHOVER)
    return false;
  if (poll (pfd, 2, 0) > 0) {
    s->cancelled = true;
    set_error (0, "cancelled by the user");
    return true;
  }
  return false;
}

/* VM given as a socket path, or a name in the VM directory. */
static char *
resolve_vm (const struct mig_source_params *p)
{
  char *path;
  struct stat st;

  if (strchr (p->vm, '/'))
    return strdup (p->vm);
  path = xasprintf ("%s/%s.qmp", p->vm_dir, p->vm);
  if (path && stat (path, &st) == 0)
    return path;
  free (path);
  path = xasprintf ("%s/%s/qmp.sock", p->vm_dir, p->vm);
  if (path && stat (path, &st) == 0)
    return path;
  free (path);
  set_error (0, "no VM named '%s' (looked for %s/%s.qmp and "
             "%s/%s/qmp.sock)", p->vm, p->vm_dir, p->vm, p->vm_dir, p->vm);
  return NULL;
}

/* Connect to the VM, learn what it is, refuse what cannot move. */
int
src_preflight (struct source *s)
{
  CLEANUP_FREE char *path = resolve_vm (s->p);
  json_auto_t *st = NULL;
  const char *status;

  if (path == NULL || (s->q = qmp_connect (path, 5000)) == NULL)
    return -1;
  st = qmp_commandf (s->q, QMP_TIMEOUT_MS, "query-status", NULL);
  status = json_string_value (json_object_get (st, "status"));
  if (status == NULL)
    return -1;
  if (strcmp (status, "running") != 0 && strcmp (status, "paused") != 0) {
    set_error (0, "the VM is %s; only running or paused VMs can be "
               "migrated live", status);
    return -1;
  }
  s->was_running = strcmp (status, "running") == 0;
  s->vm = mig_vm_discover (s->q, path);
  if (s->vm == NULL ||
      mig_vm_apply_disk_map (s->vm, s->p->disk_map) == -1 ||
      src_disks_choose (s) == -1 ||
      (s->p->shared_storage == MIG_SHARED_YES &&
       src_shared_select (s) == -1))
    return -1;
  progress_note (&s->pr, "VM %s: pid %d, QEMU %d.%d.%d, machine %s, %s, "
                 "%" PRIu64 " MiB RAM, %zu disk(s)", s->vm->name,
                 (int) s->vm->pid, s->vm->qemu_version / 10000,
                 s->vm->qemu_version / 100 % 100, s->vm->qemu_version % 100,
                 s->vm->machine, s->vm->kvm ? "KVM" : "TCG",
                 s->vm->memory >> 20, s->vm->n_disks);
  /* QEMU 7.2's TCG misses writes after a dirty-bitmap sync when RAM is a
   * multiple of 256 KiB (the sync's fast path does not reset the TLB);
   * see vmferry(1).  KVM tracks dirty pages itself.
   */
  if (!s->vm->kvm && s->vm->memory % (256 * 1024) == 0)
    progress_note (&s->pr, "warning: this VM runs under TCG with a RAM size "
                   "that is a multiple of 256 KiB: QEMU's TCG dirty "
                   "tracking can lose guest writes during a migration of "
                   "more than one pre-copy round (see vmferry(1), BUGS)");
  /* This host's side of --migration-network, before asking the other. */
  if (s->p->migration_network) {
    char local[64];
    if (net_local_addr_in (s->p->migration_network, local,
                           sizeof local) == -1)
      return -1;
  }
  return 0;
}

/* Call the destination; on an HTTP error, record its message. */
static json_t *
call_dest (struct source *s, const char *path, json_t *body, int timeout,
           int *status)
{
  json_t *reply = mig_agent_post (s->agent, path, body, timeout, status);

  s->dest_queued = reply == NULL && *status == 503 &&
    mig_agent_queued (s->agent);
  return reply;
}

/* The prepare request failed in transit (timeout, connection lost): the
 * destination may have done it anyway.  Ask it to abort.  Returns -1
 * with s->stage SRC_NOTHING if nothing is left there, SRC_PREPARED if it
 * could not be confirmed (rollback then reports leftovers).
 */
static int
prepare_lost (struct source *s)
{
  char why[1024];
  json_auto_t *reply = NULL;
  int status;

  snprintf (why, sizeof why, "%s", get_error ());
  /* Failures before the request was sent: nothing to undo there. */
  if (get_errno () == API_NOT_SENT) {
    set_error (0, "%s", why);
    return -1;
  }
  reply = mig_agent_abort (s->agent, s->id, NULL, API_TIMEOUT, &status);
  if (status != 200 && status != 404)
    src_journal_stage (s, SRC_PREPARED); /* it may hold a skeleton */
  set_error (0, "%s", why);
  return -1;
}

int
mig_new_id (char id[static 17])
{
  return mig_random_hex (id, 8);
}

static int
prepare (struct source *s)
{
  json_auto_t *body = NULL;
  char local[64] = "";
  int status;

  if (s->agent == NULL)           /* src_check may have made it */
    s->agent = mig_agent_new (s->p->host, s->p->port, s->p->tls_dir, NULL);
  if (s->agent == NULL ||
      (s->p->migration_network &&
       net_local_addr_in (s->p->migration_network, local,
                          sizeof local) == -1) ||
      (s->p->shared_storage == MIG_SHARED_AUTO &&
       src_shared_detect (s) == -1))
    return -1;
  body = json_pack ("{s:s, s:s, s:o, s:b, s:s?, s:b, s:b, s:i, s:s?, s:s?,"
                    " s:o*}", "id", s->id,
                    "host", s->p->host, "vm", mig_vm_to_json (s->vm),
                    "postcopy", s->p->allow_postcopy,
                    "migration_network", s->p->migration_network,
                    "channel", src_engine_wants_channel (s) ||
                    src_relay_wanted (s),
                    "relay", src_relay_wanted (s),
                    "multifd_channels", s->p->channels > 1 ?
                    (int) s->p->channels : 0,
                    "resume_token", src_resume_token (s),
                    "multifd_compression", src_direct_multifd_request (s),
                    "data_from", net_local_addrs_json ());
  if (src_shared_markers (s, true) == -1) {
    src_shared_markers (s, false);
    return -1;
  }
  /* A busy destination with a queue holds the request, then answers
   * "queued": ask again until admitted (or cancelled).
   */
  for (;;) {
    s->prepared = call_dest (s, "/v1/prepare", body, API_TIMEOUT, &status);
    if (s->prepared || status != 503 || !s->dest_queued ||
        src_cancel_requested (s))
      break;
    progress_note (&s->pr, "the destination is busy: waiting in its queue");
  }
  src_shared_markers (s, false);
  if (s->prepared == NULL && status == -1)
    return prepare_lost (s);
  if (s->prepared == NULL)
    return -1;
  s->dhost = json_string_value (json_object_get (s->prepared, "host"));
  if (src_journal_stage (s, SRC_PREPARED) == -1)
    return -1;
  if (s->dhost)
    progress_note (&s->pr, "migration network: disk and memory data go to "
                   "%s%s%s%s%s", s->dhost,
                   s->p->migration_network ? " in " : "",
                   s->p->migration_network ? s->p->migration_network : "",
                   s->p->migration_network ? ", from this host's " : "",
                   s->p->migration_network ? local : "");
  return s->dhost ? 0 : -1;
}

/* TLS credentials for the source QEMU's NBD client and migration. */
static int
add_tls (struct source *s)
{
  json_auto_t *r = NULL;
  CLEANUP_FREE char *qdir = NULL;
  const char *dir = s->p->tls_dir;

  /* A VM that came here through vmferryd may still carry the receiving
   * side's object of the same id.
   */
  json_decref (qmp_commandf (s->q, QMP_TIMEOUT_MS, "object-del", "{s:s}", "id", MIG_TLS_ID));
  if (src_journal_add (s, "tls", MIG_TLS_ID) == -1)
    return -1;
  /* A confined QEMU reads a copy in its own namespace. */
  if (mig_qemu_dir_make (s->vm->pid, "tls", &s->tls_view) == -1)
    return -1;
  if (!s->tls_view.foreign) {
    remove_tree (s->tls_view.host);
    s->tls_view.host[0] = '\0';
  }
  else if (src_journal_add (s, "dir", s->tls_view.host) == -1 ||
           mig_qemu_dir_tls (&s->tls_view, s->p->tls_dir, &qdir) == -1)
    return -1;
  else
    dir = qdir;
  if (s->p->psk)
    r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "object-add", "{s:s, s:s, s:s, s:s, s:s}",
                 "qom-type", "tls-creds-psk", "id", MIG_TLS_ID,
                 "dir", dir, "endpoint", "client",
                 "username", MIG_PSK_USER);
  else
    r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "object-add", "{s:s, s:s, s:s, s:s}",
                 "qom-type", "tls-creds-x509", "id", MIG_TLS_ID,
                 "dir", dir, "endpoint", "client");

  if (r == NULL)
    return -1;
  s->tls_added = true;
  return 0;
}

/* Undo everything after a failure before the destination VM ran.
 * Returns where the VM is.
 */
static enum mig_result
rollback (struct source *s)
{
  char why[1024];
  json_auto_t *st = NULL, *reply = NULL;
  int status;

  snprintf (why, sizeof why, "%s", get_error ());
  progress_phase (&s->pr, "rollback", why);
  if (s->q) {
    src_memory_rollback (s);
    if (s->engine)
      src_engine_rollback (s);
    else
      src_storage_rollback (s);
    if (s->tls_added) {
      json_decref (qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-parameters", "{s:s, s:s}",
                            "tls-creds", "", "tls-hostname", ""));
      json_decref (qmp_commandf (s->q, QMP_TIMEOUT_MS, "object-del", "{s:s}", "id", MIG_TLS_ID));
    }
    if (s->tls_view.host[0])
      remove_tree (s->tls_view.host);
    st = qmp_commandf (s->q, QMP_TIMEOUT_MS, "query-status", NULL);
    if (s->was_running && st &&
        strcmp (json_string_value (json_object_get (st, "status")),
                "running") != 0)
      json_decref (qmp_commandf (s->q, QMP_TIMEOUT_MS, "cont", NULL));
  }
  if (s->stage >= SRC_PREPARED) {
    /* The partial images stay there for a retry (source-resume.c). */
    json_auto_t *body = json_pack ("{s:s, s:s?}", "id", s->id,
                                   "keep_partial", src_resume_keep (s));
    reply = call_dest (s, "/v1/abort", body, API_TIMEOUT, &status);
    if (json_is_true (json_object_get (reply, "partial")))
      progress_note (&s->pr, "the destination keeps the partial disk "
                     "images for a retry (deleted by the next migration "
                     "of this VM that does not resume them, or after "
                     "%d h)", MIG_PARTIAL_EXPIRY_S / 3600);
    /* 404: the agent does not know the migration (it was restarted and
     * rolled it back itself): nothing is left there.
     */
    if (reply == NULL && status != 404) {
      const char *vd = json_string_value (json_object_get (s->prepared,
                                                           "vm_dir"));
      const char *rd = json_string_value (json_object_get (s->prepared,
                                                           "run_dir"));
      char abort_err[512];
      /* get_error() is the buffer set_error() writes: copy it first. */
      snprintf (abort_err, sizeof abort_err, "%s", get_error ());
      set_error (0, "%s; and cleaning the destination failed: %s (left "
                 "there: migration %s%s%s%s%s)", why, abort_err, s->id,
                 vd ? ", " : "", vd ? vd : "", rd ? ", " : "", rd ? rd : "");
      return MIG_FAILED_LEFTOVERS;
    }
  }
  /* A data channel stream that vmferryd reset: its reason. */
  if (json_string_value (json_object_get (reply, "data_error")))
    snprintf (why + strlen (why), sizeof why - strlen (why),
              " (vmferryd: %s)",
              json_string_value (json_object_get (reply, "data_error")));
  set_error (0, "%s", why);
  return MIG_FAILED_CLEAN;
}

/* After the source QEMU completed: the destination resumes the VM. */
static enum mig_result
finish (struct source *s)
{
  json_auto_t *body = NULL;
  json_t *reply;
  int status;

  /* A quarantine can be undone: the destination records writes. */
  if (s->p->quarantine_s && mig_random_hex (s->undo_token, 16) == -1)
    s->undo_token[0] = '\0';
  body = json_pack ("{s:s, s:b, s:s?}", "id", s->id, "resume",
                    s->was_running, "undo_token",
                    s->undo_token[0] ? s->undo_token : NULL);
  /* The guest's pause here (QMP STOP, epoch seconds): the destination's
   * downtime metric (vmferryd --metrics) is its resume minus this.
   */
  if (body && s->stop_time > 0)
    json_object_set_new (body, "stop_time", json_real (s->stop_time));

  progress_phase (&s->pr, "resume", "destination resumes the VM");
  src_hold ("resume");
  reply = call_dest (s, "/v1/finish", body, FINISH_TIMEOUT, &status);
  if (reply) {
    json_object_update (s->prepared, reply);
    json_decref (reply);
    if (src_journal_stage (s, SRC_MOVED) == -1)
      debug ("journal: %s", get_error ());  /* recover asks vmferryd */
    return MIG_OK;
  }
  if (status == -1) {
    /* No answer: the destination may or may not have resumed it. */
    prefix_error ("the destination did not answer after the switchover; "
                  "the VM is paused on the source and may be running on "
                  "%s: run vmferry recover %s once it answers (it "
                  "decides; never resume both)",
                  s->p->dest_name ? s->p->dest_name : s->p->host, s->id);
    return MIG_UNCERTAIN;
  }
  /* The destination answered that it did not resume the VM: the paused
   * source still has every byte (its mirrors ended in sync), so resume it
   * here and clean the destination.
   */
  s->stage = SRC_PREPARED;
  return rollback (s);
}

/* Stop the source QEMU (its VM runs on the destination now). */
static int
quit_source (struct source *s)
{
  pid_t pid = s->vm->pid;
  int i;

  json_decref (qmp_commandf (s->q, QMP_TIMEOUT_MS, "quit", NULL));
  qmp_close (s->q);
  s->q = NULL;
  for (i = 0; i < 1000; i++) {
    if (!pid_alive (pid))
      return 0;
    usleep (10000);
  }
  set_error (0, "source QEMU (pid %d) did not exit", (int) pid);
  return -1;
}

static int
delete_source_files (struct source *s)
{
  size_t i;
  int r = 0;

  for (i = 0; i < s->vm->n_disks; i++) {
    const struct mig_disk *d = &s->vm->disks[i];
    /* Never a shared one, a backing file, or a read-only image outside
     * the VM's own directory.
     */
    if (!src_disk_deletable (s->vm, d))
      continue;
    if (unlink (d->path) == -1 && errno != ENOENT) {
      set_error (errno, "delete %s", d->path);
      r = -1;
    }
    else {
      progress_note (&s->pr, "deleted source disk %s", d->path);
      s->deleted = true;
    }
  }
  if (r == -1)
    s->deleted = false;
  return r;
}

/* The source files after the move: deleted, quarantined or kept. */
static int
clean_source (struct source *s)
{
  if (s->p->keep_source)
    return 0;
  if (s->p->quarantine_s)
    return src_quarantine (s);
  return delete_source_files (s);
}

/* What the data channel measured of the link, and paced at. */
static void
note_link (struct source *s)
{
  uint64_t link, cap;

  net_pace_get_link (s->pace, &link, &cap);
  if (cap)
    progress_note (&s->pr, "data channel: the link delivered up to %.1f "
                   "MB/s; paced at %.1f MB/s when that was the limit",
                   link / 1e6, cap / 1e6);
  else if (link)
    progress_note (&s->pr, "data channel: not paced: the streams never "
                   "filled the link (at most %.1f MB/s)", link / 1e6);
}

/* --dry-run: exercise the connections (rehearse.c), then undo it all
 * with the rollback.  MIG_OK if both went well.
 */
static enum mig_result
rehearse (struct source *s)
{
  enum mig_result r;

  if (add_tls (s) == -1 || src_rehearse (s) == -1)
    return rollback (s);
  set_error (0, "dry run: tearing everything down");
  r = rollback (s);
  return r == MIG_FAILED_CLEAN ? MIG_OK : r;
}

/* Post-copy failed after the switchover: the VM's state is split
 * between the hosts, so neither side can simply resume it.
 */
static enum mig_result
postcopy_lost (struct source *s)
{
  prefix_error ("post-copy failed after the switchover; the VM's memory "
                "is split between this host and %s: inspect both (migration "
                "%s) before resuming it anywhere", s->p->host, s->id);
  return MIG_UNCERTAIN;
}

/* The run directory for vmferry status / cancel.  Without it the
 * migration goes on, but only signals can cancel it.
 */
static void
start_control (struct source *s)
{
  if (s->p->run_dir == NULL)
    return;
  s->ctl = src_control_start (s->p->run_dir, s->id, s->p->vm,
                              s->p->dest_name ? s->p->dest_name : s->p->host,
                              &s->pr);
  if (s->ctl == NULL)
    progress_note (&s->pr, "warning: vmferry status and cancel cannot see "
                   "this migration: %s", get_error ());
  else
    progress_note (&s->pr, "migration %s (vmferry status|cancel %s)", s->id,
                   s->id);
}

/* The phases up to the destination VM running. */
static enum mig_result
run_phases (struct source *s)
{
  enum mig_result r;

  if (mig_new_id (s->id) == -1)
    return MIG_REFUSED;
  s->pr.id = s->id;
  if (s->p->id_out) {           /* the id is 16 hex digits */
    size_t n = strnlen (s->id, MIG_ID_SIZE - 1);
    memcpy (s->p->id_out, s->id, n);
    s->p->id_out[n] = '\0';
  }
  progress_phase (&s->pr, "preflight", NULL);
  start_control (s);
  if (src_preflight (s) == -1 || src_check (s) == -1 ||
      src_journal_begin (s) == -1 || src_resume_load (s) == -1)
    return MIG_REFUSED;
  progress_phase (&s->pr, "setup", "preparing the destination");
  src_latency_start (s);
  src_hold ("setup");
  if (prepare (s) == -1)
    return s->stage == SRC_NOTHING ? MIG_REFUSED : rollback (s);
  src_disks_note (s);
  if (s->p->dry_run)
    return rehearse (s);
  if (src_journal_stage (s, SRC_MIRRORING) == -1)
    return rollback (s);
  s->t_mirror = now_ms ();
  src_latency_mark (s, "before");
  src_converge_begin (s);
  if (s->p->qemu_storage) {
    progress_phase (&s->pr, "storage", "mirroring disks (QEMU blockdev-mirror)");
    if (add_tls (s) == -1 || src_storage_start (s, "full") == -1 ||
        src_storage_wait_ready (s) == -1)
      return rollback (s);
  }
  else {
    progress_phase (&s->pr, "storage", "copying disks (vmferry engine)");
    if (add_tls (s) == -1 || src_engine_start (s) == -1)
      return rollback (s);
  }
  s->t_storage = now_ms ();
  src_latency_mark (s, "copy");
  progress_phase (&s->pr, "memory", "disks synchronized; pre-copying RAM");
  src_hold ("memory");
  if (src_memory_run (s) == -1)
    return rollback (s);
  if (src_control_last_cancel (s->ctl) == 1) {
    s->cancelled = true;
    set_error (0, "cancelled by the user (vmferry cancel)");
    return rollback (s);
  }
  s->t_memory = now_ms ();
  src_latency_mark (s, "mirror_memory");
  progress_phase (&s->pr, "switchover", "guest paused");
  src_hold ("switchover");
  if ((s->engine ? src_engine_finish (s) : src_storage_complete (s)) == -1 ||
      src_memory_continue (s) == -1)
    return src_converge_postcopy (s) ? postcopy_lost (s) : rollback (s);
  r = finish (s);
  if (r == MIG_OK)
    src_engine_done (s);
  note_link (s);
  /* The relay delivered everything once the destination finished. */
  if (r == MIG_OK && src_relay_stop (s, true) == -1)
    progress_note (&s->pr, "warning: the VM runs on the destination, but "
                   "the memory relay ended badly: %s", get_error ());
  return r;
}

enum mig_result
mig_source_run (const struct mig_source_params *p)
{
  struct source s = { .p = p, .t_start = now_ms () };
  enum mig_result r;
  json_auto_t *sum = NULL;
  char err[1024] = "";

  progress_init (&s.pr, p->out, p->json, p->tty);
  s.pr.label = p->label;
  clear_error ();
  s.pace = net_pace_new (p->bandwidth, !p->no_link_pacing);
  r = (p->bandwidth || !p->no_link_pacing) && s.pace == NULL ? MIG_REFUSED
    : run_phases (&s);
  if (r == MIG_OK && !p->dry_run) {
    src_memory_final_info (&s);
    src_resume_forget (&s);
    progress_phase (&s.pr, "cleanup", p->keep_source ? "keeping source files"
                    : p->quarantine_s ? "quitting source QEMU, "
                    "quarantining source files"
                    : s.shared ? "quitting source QEMU, keeping "
                    "the shared disks" : "quitting source QEMU, deleting "
                    "source files");
    src_hold ("cleanup");
    if (quit_source (&s) == -1 || clean_source (&s) == -1) {
      snprintf (err, sizeof err, "%s", get_error ());
      progress_note (&s.pr, "warning: the VM runs on the destination, but "
                     "cleaning the source failed: %s", err);
    }
  }
  if (r != MIG_OK)
    snprintf (err, sizeof err, "%s", get_error ());
  /* Open: something is left for vmferry recover (the destination's
   * leftovers, an uncertain outcome, source files to delete).
   */
  src_journal_close (&s, r == MIG_FAILED_LEFTOVERS || r == MIG_UNCERTAIN
                     || (r == MIG_OK && err[0] != '\0'));
  sum = src_summary (&s, r);
  src_latency_stop (&s, r != MIG_OK || p->dry_run);
  progress_result (&s.pr, sum);
  s.pr.sink = NULL;
  /* Refused before anything was done: nothing for status or recover. */
  src_control_stop (s.ctl, r == MIG_REFUSED && s.stage == SRC_NOTHING);
  src_relay_stop (&s, false);   /* left only by an uncertain end */
  qmp_close (s.q);
  mig_agent_free (s.agent);
  mig_vm_free (s.vm);
  json_decref (s.prepared);
  json_decref (s.migrate_info);
  src_engine_free (s.engine);
  src_resume_free (s.resume);
  net_pace_free (s.pace);
  json_decref (s.rehearsal);
  json_decref (s.journal);
  set_error (0, "%s", err);
  return r;
}

void
mig_source_early_result (const struct mig_source_params *mp,
                         enum mig_result r)
{
  struct progress pr;
  json_auto_t *o = json_pack ("{s:s, s:s, s:i, s:s, s:n, s:s, s:f, s:s}",
                              "result", mig_result_code (r),
                              "result_text", mig_result_text (r),
                              "exit_code", r, "vm", mp->vm, "id",
                              "destination",
                              mp->dest_name ? mp->dest_name : "?",
                              "total_s", 0.0, "error", get_error ());

  if (mp->json && o) {
    progress_init (&pr, mp->out, true, false);
    progress_result (&pr, o);
  }
}
