/* dest.c: the destination agent: API routes, the job registry, host
 * facts, status and abort.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include "internal.h"

#define SWEEP_INTERVAL_MS (3600 * 1000)
#define HOME_SWEEP_MS 3000

static const char *const state_names[] = {
  [JOB_PREPARING] = "preparing", [JOB_PREPARED] = "prepared",
  [JOB_RUNNING] = "running", [JOB_ABORTED] = "aborted",
  [JOB_LEFT] = "left",
  [JOB_STORED] = "stored",
  [JOB_HANDED] = "handed",
};

/* An error reply.  A 500 is vmferryd's own failure, never a property
 * of the VM (those are 4xx): it says so, and where to look.
 */
int
mig_dest_error (json_t **reply, int status, const char *msg)
{
  CLEANUP_FREE char *own = status == 500 ?
    xasprintf ("vmferryd failed (see its log): %s", msg) : NULL;

  *reply = json_pack ("{s:s}", "error", own ? own : msg);
  return status;
}

struct dest_job *
mig_dest_find_job (struct mig_dest *d, const char *id)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->lock);
  struct dest_job *j;

  for (j = d->jobs; j; j = j->next)
    if (strcmp (j->id, id) == 0)
      return j;
  return NULL;
}

bool
mig_dest_job_owned_by (const struct dest_job *j, const struct api_request *req)
{
  return j->peer && req->peer_name && strcmp (j->peer, req->peer_name) == 0;
}

int
mig_dest_not_owner (const struct dest_job *j, json_t **reply)
{
  char msg[256];

  snprintf (msg, sizeof msg, "migration %s belongs to another client "
            "certificate (the one that prepared it)", j->id);
  return mig_dest_error (reply, 403, msg);
}

void
mig_dest_job_ended (struct mig_dest *d)
{
  char c = 'x';

  if (write (d->ended_pipe[1], &c, 1) == -1)
    debug ("ended pipe: %m");
}

int
mig_dest_job_cleanup (struct mig_dest *d, struct dest_job *j)
{
  int r = 0;
  size_t i;

  if (j->home)
    mig_dest_home_drop (d, j->vm->name);
  j->home = false;
  mig_dest_channel_stop (j);
  mig_dest_duplex_free (j->duplex);
  j->duplex = NULL;
  mig_dest_taps_close (j);
  if (mig_dest_offline_stop_nbd (j) == -1)
    r = -1;
  qmp_close (j->qmp);
  j->qmp = NULL;
  if (mig_qemu_kill (j->qemu_pid) == -1)
    r = -1;
  j->qemu_pid = 0;
  mig_dest_shared_restore (j);
  for (i = 0; j->images && j->images[i]; i++)
    if (unlink (j->images[i]) == -1 && errno != ENOENT)
      r = -1;
  strv_free (j->images);
  j->images = NULL;
  if (j->run_dir && remove_tree (j->run_dir) == -1)
    r = -1;
  if (j->vm_dir && rmdir (j->vm_dir) == -1 && errno != ENOENT)
    r = -1;
  free (j->run_dir);
  free (j->vm_dir);
  j->run_dir = j->vm_dir = NULL;
  return r;
}

/* GET /v1/host */
static int
handle_host (void *opaque, const struct api_request *req, json_t **reply)
{
  struct mig_dest *d = opaque;

  *reply = json_pack ("{s:s, s:s, s:i, s:s, s:I, s:I, s:b}",
                      "vmferry", PACKAGE_VERSION, "qemu", d->p.qemu,
                      "qemu_version", d->qemu_version,
                      "cpu_vendor", d->cpu_vendor,
                      "mem_available",
                      (json_int_t) mig_host_mem_available (),
                      "storage_free",
                      (json_int_t) mig_host_free_bytes (d->p.storage_root),
                      "kvm", access ("/dev/kvm", R_OK | W_OK) == 0);
  return 200;
}

/* GET /v1/status: the caller's own migrations (j->peer is constant once
 * the job is listed, so d->lock is enough to read it).
 */
static int
handle_status (void *opaque, const struct api_request *req, json_t **reply)
{
  struct mig_dest *d = opaque;
  json_t *list = json_array ();
  struct dest_job *j;

  pthread_mutex_lock (&d->lock);
  for (j = d->jobs; j; j = j->next) {
    if (!mig_dest_job_owned_by (j, req))
      continue;
    json_array_append_new (list, json_pack ("{s:s, s:s, s:s, s:b}", "id",
                                            j->id, "name",
                                            j->vm ? j->vm->name : "",
                                            "state", state_names[j->state],
                                            "alive", j->qemu_pid > 0 &&
                                            pid_alive (j->qemu_pid)));
  }
  pthread_mutex_unlock (&d->lock);
  *reply = json_pack ("{s:o}", "migrations", list);
  return 200;
}

/* GET /v1/vms: the VMs the caller sent that live here (by name, from
 * their saved definitions: known across restarts of vmferryd).
 */
static int
handle_vms (void *opaque, const struct api_request *req, json_t **reply)
{
  json_t *vms = mig_dest_home_list (opaque, req->peer_name);

  if (vms == NULL)
    return mig_dest_error (reply, 500, "out of memory");
  *reply = json_pack ("{s:o}", "vms", vms);
  return 200;
}

/* POST /v1/abort {"id"}: kill the skeleton, delete what prepare made.
 * Idempotent; refused once the VM runs here (it is the only copy then),
 * and to any certificate but the one that prepared it.
 */
int
mig_dest_abort (void *opaque, const struct api_request *req, json_t **reply)
{
  struct mig_dest *d = opaque;
  const char *id = json_string_value (json_object_get (req->body, "id"));
  const char *keep = json_string_value (json_object_get (req->body,
                                                        "keep_partial"));
  struct dest_job *j = id ? mig_dest_find_job (d, id) : NULL;
  char data_error[512];
  int r, kept = 0;

  if (j == NULL)
    return mig_dest_error (reply, 404, "no such migration");
  pthread_mutex_lock (&j->lock);
  if (!mig_dest_job_owned_by (j, req)) {
    pthread_mutex_unlock (&j->lock);
    return mig_dest_not_owner (j, reply);
  }
  if (j->state == JOB_RUNNING || j->state == JOB_STORED) {
    pthread_mutex_unlock (&j->lock);
    return mig_dest_error (reply, 409, j->state == JOB_STORED ?
                           "the VM is stored on this host; refusing to "
                           "abort" : "the VM already runs on this host; "
                           "refusing to abort");
  }
  mig_dest_channel_error (j, data_error, sizeof data_error);
  if (keep && j->state != JOB_ABORTED)
    kept = mig_dest_partial_keep (d, j, keep);
  r = mig_dest_job_cleanup (d, j);
  mig_dest_job_end (d, j, JOB_ABORTED);
  pthread_mutex_unlock (&j->lock);
  mig_dest_job_ended (d);
  if (r == -1)
    return mig_dest_error (reply, 500, get_error ());
  /* The source saw its stream reset; this is why. */
  *reply = json_pack ("{s:s, s:b, s:s?}", "state", "aborted", "partial",
                      kept, "data_error", data_error[0] ? data_error : NULL);
  return 200;
}

static const struct api_route routes[] = {
  { "GET", "/v1/host", handle_host },
  { "GET", "/v1/status", handle_status },
  { "GET", "/v1/vms", handle_vms },
  { "POST", "/v1/prepare", mig_dest_prepare },
  { "POST", "/v1/finish", mig_dest_finish },
  { "POST", "/v1/abort", mig_dest_abort },
  { "POST", "/v1/check", mig_dest_check },
  { "POST", "/v1/probe", mig_dest_probe },
  { "POST", "/v1/send-back", mig_dest_send_back },
  { "POST", "/v1/libvirt-prepare", mig_dest_libvirt_prepare },
  { "POST", "/v1/libvirt-finish", mig_dest_libvirt_finish },
};

/* The roots must exist and be directories. */
static int
check_dir (const char *what, const char *dir)
{
  struct stat st;

  if (dir == NULL || dir[0] != '/') {
    set_error (0, "%s must be an absolute path", what);
    return -1;
  }
  if (stat (dir, &st) == -1 || !S_ISDIR (st.st_mode)) {
    set_error (errno ? errno : ENOTDIR, "%s %s", what, dir);
    return -1;
  }
  return 0;
}

struct mig_dest *
mig_dest_start (const struct mig_dest_params *p)
{
  struct mig_dest *d = calloc (1, sizeof *d);
  struct api_server_params sp = {
    .address = p->listen_addr, .port = p->port, .tls_dir = p->tls_dir,
    .routes = routes, .n_routes = sizeof routes / sizeof routes[0],
    .observe = mig_dest_observe,
  };
  uid_t uid;
  gid_t gid;

  if (d == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  d->p = *p;
  if (d->p.qemu_user == NULL)
    d->p.qemu_user = MIG_DEFAULT_QEMU_USER;
  pthread_mutex_init (&d->lock, NULL);
  pthread_mutex_init (&d->probe_lock, NULL);
  pthread_cond_init (&d->slot_cond, NULL);
  pthread_mutex_init (&d->journal_lock, NULL);
  d->ended_pipe[0] = d->ended_pipe[1] = -1;
  sp.opaque = d;
  if ((d->ports = net_ports_new (p->port_low, p->port_high)) == NULL ||
      (d->metrics = mig_dest_metrics_new ()) == NULL ||
      check_dir ("storage root", p->storage_root) == -1 ||
      check_dir ("run root", p->run_root) == -1 ||
      vm_user_ids (d->p.qemu_user, &uid, &gid) == -1 ||
      (d->qemu_version = mig_qemu_binary_version (p->qemu)) == -1 ||
      (d->cpu_vendor = mig_host_cpu_vendor ()) == NULL ||
      mig_dest_recover (d) == -1 ||
      pipe2 (d->ended_pipe, O_CLOEXEC) == -1 ||
      (d->srv = api_server_start (&sp)) == NULL) {
    if (get_error ()[0] == '\0')
      set_error (errno, "pipe");
    mig_dest_stop (d);
    return NULL;
  }
  mig_dest_partial_sweep (d);   /* expired while vmferryd was down */
  d->partial_swept = now_ms ();
  mig_dest_home_restore (d);
  mig_dest_home_sweep (d);
  return d;
}

int
mig_dest_port (struct mig_dest *d)
{
  return api_server_port (d->srv);
}

void
mig_dest_reconfigure (struct mig_dest *d, const struct mig_dest_params *p)
{
  net_ports_set (d->ports, p->port_low, p->port_high);
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->lock);
  d->p.max_incoming = p->max_incoming;
  d->p.queue = p->queue;
  /* Waiters see the new limit (and a refusing agent's queue empties as
   * their holds end).
   */
  pthread_cond_broadcast (&d->slot_cond);
}

int
mig_dest_port_status (void)
{
  return get_errno () == EADDRNOTAVAIL ? 503 : 500;
}

int
mig_dest_wait (struct mig_dest *d, int stop_fd)
{
  struct pollfd pfd[2] = {
    { .fd = d->ended_pipe[0], .events = POLLIN },
    { .fd = stop_fd, .events = POLLIN },
  };
  char c;
  int n;

  /* Wake up every few seconds to forget the VMs that left, every hour
   * to delete expired partial images.
   */
  while ((n = poll (pfd, 2, HOME_SWEEP_MS)) <= 0) {
    if (n == -1 && errno != EINTR)
      return 0;
    mig_dest_home_sweep (d);
    if (now_ms () - d->partial_swept >= SWEEP_INTERVAL_MS) {
      mig_dest_partial_sweep (d);
      d->partial_swept = now_ms ();
    }
  }
  if (pfd[0].revents & POLLIN) {
    if (read (d->ended_pipe[0], &c, 1) == -1)
      return 0;
    return 1;
  }
  return 0;
}

void
mig_dest_stop (struct mig_dest *d)
{
  struct dest_job *j, *next;

  if (d == NULL)
    return;
  api_server_stop (d->srv);
  for (j = d->jobs; j; j = next) {
    next = j->next;
    if (j->state == JOB_RUNNING || j->state == JOB_STORED)
      qmp_close (j->qmp);
    else if (mig_dest_job_cleanup (d, j) == 0 && j->state != JOB_ABORTED)
      mig_dest_journal_remove (d, j);
    mig_dest_channel_stop (j);
    mig_vm_free (j->vm);
    vm_cmdline_clear (&j->cmd);
    vm_desc_free (j->desc);
    mig_dest_taps_close (j);
    free (j->qemu_tls_dir);
    json_decref (j->prepared);
    free (j->pidfile);
    free (j->qmp_path);
    strv_free (j->qemu_argv);
    free (j->undo_token);
    free (j->peer);
    strv_free (j->data_peers);
    pthread_mutex_destroy (&j->lock);
    free (j->id);
    free (j);
  }
  if (d->ended_pipe[0] >= 0)
    close (d->ended_pipe[0]);
  if (d->ended_pipe[1] >= 0)
    close (d->ended_pipe[1]);
  free (d->cpu_vendor);
  json_decref (d->probe[0]);
  json_decref (d->probe[1]);
  pthread_mutex_destroy (&d->probe_lock);
  pthread_mutex_destroy (&d->journal_lock);
  strv_free (d->recovered);
  net_ports_free (d->ports);
  mig_dest_metrics_free (d->metrics);
  pthread_mutex_destroy (&d->lock);
  free (d);
}
