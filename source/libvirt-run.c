/* libvirt-run.c: vmferry migrate libvirt:NAME.
 *
 * 1. preflight: the local libvirt's domain (running, no pass-through
 *    devices), vmferry's choice of disks to copy (libvirt-domain.c);
 * 2. setup: vmferryd makes RUN_ROOT/libvirt-ID there (dest/libvirt.c)
 *    and answers its path; vmferry makes the same path here and listens
 *    on DIR/migration.sock and DIR/nbd.sock (net_duplex), each local
 *    connection relayed both ways through the data channel into the
 *    destination QEMU's socket of the same name;
 * 3. libvirt's peer-to-peer migration with the migration and disks URIs
 *    unix://DIR/... (virDomainMigrateToURI3, in a thread), watched every
 *    WATCH_MS: libvirt's job info becomes vmferry's progress, a cancel
 *    (signal or vmferry cancel ID) aborts libvirt's job;
 * 4. on success vmferryd ends its part (/v1/libvirt-finish), the domain
 *    is looked at on the destination (running; libvirt's completed job
 *    statistics: downtime, bytes), and the source images of the copied
 *    disks are deleted (libvirt never does), unless another domain uses
 *    them; on failure the relay is cut, vmferryd aborts, and the result
 *    says where the domain is (libvirt resumes it on the source).
 * libvirt keeps its journal: vmferry keeps none for these (vmferry
 * recover does not see them; vmferryd's part ends with vmferryd).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/signalfd.h>

#include "minmax.h"
#include "internal.h"
#include "libvirt.h"

#define API_TIMEOUT 60000
#define WATCH_MS 500
#define LIBVIRT_QEMU_USER "libvirt-qemu"


/* What this path does not do (yet): said before anything happens. */
static const char *
unsupported (const struct mig_source_params *p)
{
  if (p->offline || p->dry_run)
    return "--offline and --dry-run do not take libvirt domains";
  if (p->allow_postcopy)
    return "--allow-postcopy: vmferry does not switch libvirt's migration "
      "to post-copy";
  if (p->channels > 1)
    return "--channels: libvirt's parallel migration is not relayed yet";
  if (p->transport == MIG_TRANSPORT_DIRECT)
    return "--transport direct: that is libvirt's own transport (virsh "
      "migrate); vmferry carries libvirt's streams through its channel";
  if (p->qemu_storage || p->disk_map)
    return "--storage-engine and --disk-path do not apply to libvirt "
      "domains (libvirt's QEMU mirrors the disks to the same paths)";
  return NULL;
}

char *
lv_peer_uri (const struct mig_source_params *p,
             const struct mig_libvirt_params *lp)
{
  bool v6 = strchr (p->host, ':') != NULL;

  if (lp->peer_uri)
    return strdup (lp->peer_uri);
  return xasprintf ("qemu+tls://%s%s%s/system", v6 ? "[" : "", p->host,
                    v6 ? "]" : "");
}

/* No copied disk's image may exist on the destination yet: libvirt
 * creates each in the destination's storage pool, and after a failure
 * vmferry deletes what libvirt created and left (libvirt-end.c), never
 * an image that was there before.
 */
static int
images_absent_there (struct lv_run *m)
{
  size_t i;

  if ((m->dc = virConnectOpen (m->peer_uri)) == NULL) {
    set_error (0, "the destination's libvirt (%s, --libvirt-peer-uri): %s",
               m->peer_uri, lv_error ());
    return -1;
  }
  for (i = 0; i < m->d.n_disks; i++) {
    struct lv_disk *k = &m->d.disks[i];
    virStorageVolPtr v;
    if (!k->copy)
      continue;
    if ((v = virStorageVolLookupByPath (m->dc, k->path)) != NULL) {
      virStorageVolFree (v);
      set_error (0, "disk %s: %s already exists on the destination",
                 k->target, k->path);
      return -1;
    }
    k->absent_there = true;
  }
  return 0;
}

/* The domain, its disks, and what it refuses. */
static int
preflight (struct lv_run *m)
{
  const char *why = unsupported (m->p);
  size_t i;

  if (why) {
    set_error (0, "%s", why);
    return -1;
  }
  if (lv_domain_open (&m->d, m->lp->uri, m->p->vm + strlen
                      (MIG_LIBVIRT_PREFIX)) == -1)
    return -1;
  if (virDomainIsActive (m->d.dom) != 1) {
    set_error (0, "libvirt domain %s is not running", m->d.name);
    return -1;
  }
  if (m->d.hostdevs) {
    set_error (0, "libvirt domain %s has %u pass-through device(s)",
               m->d.name, m->d.hostdevs);
    return -1;
  }
  m->n_copy = lv_choose_disks (&m->d, m->p->shared_storage == MIG_SHARED_YES);
  for (i = 0; i < m->d.n_disks; i++) {
    struct lv_disk *k = &m->d.disks[i];
    if (!k->copy && strcmp (k->device, "disk") == 0 && !k->read_only &&
        !k->shareable && m->p->shared_storage != MIG_SHARED_YES) {
      set_error (0, "disk %s is of type %s: vmferry copies file and block "
                 "disks (--shared-storage if both hosts see it)", k->target,
                 k->type);
      return -1;
    }
    if (k->copy)
      progress_note (&m->pr, "disk %s: %s (%s) is copied", k->target,
                     k->path, k->format);
  }
  if ((m->peer_uri = lv_peer_uri (m->p, m->lp)) == NULL)
    return -1;
  return images_absent_there (m);
}

/* vmferryd's socket_dir: an absolute, plain path ending in
 * "/libvirt-ID", short enough for the sockets in it.
 */
static const char *
check_dir (const char *dir, const char *id)
{
  CLEANUP_FREE char *tail = xasprintf ("/libvirt-%s", id);
  size_t n = dir ? strlen (dir) : 0, t = tail ? strlen (tail) : 0;

  if (dir == NULL || tail == NULL || dir[0] != '/' || n > 80 || n <= t ||
      strcmp (dir + n - t, tail) != 0 ||
      strspn (dir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
              "0123456789/._-") != n ||
      strstr (dir, "//") || strstr (dir, "/.") )
    return "the destination answered an unusable socket_dir";
  return NULL;
}

/* The relay's local ends: DIR made here, fresh, and its sockets. */
static int
start_relay (struct lv_run *m)
{
  const char *dir = json_string_value (json_object_get (m->prepared,
                                                        "socket_dir"));
  const char *why = check_dir (dir, m->id);
  struct net_duplex_params dp = { .max_conns = 2 + 2 * m->n_copy };
  CLEANUP_FREE char *parent = NULL, *ms = NULL, *ns = NULL;
  struct passwd *pw = getpwnam (LIBVIRT_QEMU_USER);

  if (why) {
    set_error (0, "%s", why);
    return -1;
  }
  parent = strndup (dir, strrchr (dir, '/') - dir);
  if (parent == NULL || (parent[0] && mkdir_p (parent, 0755) == -1))
    return -1;
  if (mkdir (dir, 0711) == -1) {
    set_error (errno, "mkdir %s (it must not exist on this host)", dir);
    return -1;
  }
  m->dir = strdup (dir);
  ms = xasprintf ("%s/migration.sock", dir);
  ns = m->n_copy ? xasprintf ("%s/nbd.sock", dir) : NULL;
  if (m->dir == NULL || ms == NULL || (m->n_copy && ns == NULL))
    return -1;
  dp.paths[0] = ms;
  dp.paths[1] = ns;
  dp.ch = (struct net_channel_params) {
    .host = json_string_value (json_object_get (m->prepared, "host")),
    .port = json_integer_value (json_object_get (m->prepared, "data_port")),
    .tls_dir = m->p->tls_dir, .id = m->id, .streams = 1,
    .mode = mig_net_mode (m->p->transport), .pace = m->pace,
    .zstd = json_is_true (json_object_get (m->prepared, "data_zstd")) };
  if (dp.ch.host == NULL || (m->dx = net_duplex_start (&dp)) == NULL)
    return -1;
  /* libvirt's QEMU connects to them as its own user. */
  if (pw && (chown (ms, pw->pw_uid, pw->pw_gid) == -1 ||
             (ns && chown (ns, pw->pw_uid, pw->pw_gid) == -1))) {
    set_error (errno, "chown the relay's sockets to %s", LIBVIRT_QEMU_USER);
    return -1;
  }
  return 0;
}

/* vmferryd opens its side of the relay. */
static int
prepare (struct lv_run *m)
{
  json_auto_t *body = json_pack ("{s:s, s:s, s:b, s:s, s:o*}", "id", m->id,
                                 "domain", m->d.name, "nbd", m->n_copy > 0,
                                 "host", m->p->host,
                                 "data_from", net_local_addrs_json ());
  int status;

  m->agent = mig_agent_new (m->p->host, m->p->port, m->p->tls_dir, NULL);
  if (m->agent == NULL || body == NULL)
    return -1;
  m->prepared = mig_agent_post (m->agent, "/v1/libvirt-prepare", body,
                                API_TIMEOUT, &status);
  return m->prepared ? 0 : -1;
}

/* libvirt's migration parameters and flags. */
static int
migrate_params (struct lv_run *m)
{
  CLEANUP_FREE char *uri = xasprintf ("unix://%s/migration.sock", m->dir);
  CLEANUP_FREE char *disks = xasprintf ("unix://%s/nbd.sock", m->dir);
  int max = 0;
  size_t i;

  m->flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER;
  if (!m->lp->transient)
    m->flags |= VIR_MIGRATE_PERSIST_DEST;
  if (!m->lp->keep_definition)
    m->flags |= VIR_MIGRATE_UNDEFINE_SOURCE;
  if (uri == NULL || disks == NULL ||
      virTypedParamsAddString (&m->params, &m->nparams, &max,
                               VIR_MIGRATE_PARAM_URI, uri) < 0)
    goto err;
  if (m->n_copy == 0)
    return 0;
  m->flags |= VIR_MIGRATE_NON_SHARED_DISK;
  if (virTypedParamsAddString (&m->params, &m->nparams, &max,
                               VIR_MIGRATE_PARAM_DISKS_URI, disks) < 0)
    goto err;
  for (i = 0; i < m->d.n_disks; i++)
    if (m->d.disks[i].copy &&
        virTypedParamsAddString (&m->params, &m->nparams, &max,
                                 VIR_MIGRATE_PARAM_MIGRATE_DISKS,
                                 m->d.disks[i].target) < 0)
      goto err;
  return 0;
 err:
  set_error (errno, "libvirt's migration parameters: %s", lv_error ());
  return -1;
}

static void *
migrate_thread (void *opaque)
{
  struct lv_run *m = opaque;

  m->rc = virDomainMigrateToURI3 (m->d.dom, m->peer_uri, m->params,
                                  m->nparams, m->flags);
  if (m->rc < 0)
    snprintf (m->err, sizeof m->err, "%s", lv_error ());
  if (write (m->done_pipe[1], "x", 1) != 1)
    debug ("libvirt migration: done pipe: %m");
  return NULL;
}

/* A value of libvirt's job statistics (0 if absent). */
static unsigned long long
stat_ull (virTypedParameterPtr par, int n, const char *name)
{
  unsigned long long v = 0;

  virTypedParamsGetULLong (par, n, name, &v);
  return v;
}

static void
phase (struct lv_run *m, const char *name, const char *detail)
{
  if (m->phase == NULL || strcmp (m->phase, name) != 0)
    progress_phase (&m->pr, name, detail);
  m->phase = name;
}

/* libvirt's job info as vmferry's progress: the disks' copy, then
 * memory (query-migrate's shape, which progress_memory takes).
 */
static void
report_job (struct lv_run *m)
{
  virTypedParameterPtr par = NULL;
  int type, n = 0;
  unsigned long long mem, dtotal;
  json_auto_t *info = NULL;

  if (m->phase && strcmp (m->phase, "switchover") == 0)
    return;                     /* the guest is paused: nothing moves */
  if (virDomainGetJobStats (m->d.dom, &type, &par, &n, 0) < 0 ||
      type == VIR_DOMAIN_JOB_NONE) {
    virTypedParamsFree (par, n);
    return;
  }
  mem = stat_ull (par, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED);
  dtotal = stat_ull (par, n, VIR_DOMAIN_JOB_DISK_TOTAL);
  m->disk_seen = MAX (m->disk_seen,
                      stat_ull (par, n, VIR_DOMAIN_JOB_DISK_PROCESSED));
  /* Memory follows the disks: never back to "storage". */
  if (mem == 0 && dtotal && (m->phase == NULL ||
                             strcmp (m->phase, "memory") != 0)) {
    phase (m, "storage", "libvirt mirrors the disks (QEMU's NBD mirror, "
           "relayed)");
    progress_storage (&m->pr, stat_ull (par, n, VIR_DOMAIN_JOB_DISK_PROCESSED),
                      dtotal);
  }
  else if (mem) {
    phase (m, "memory", "libvirt migrates the memory (relayed)");
    info = json_pack ("{s:{s:I, s:I, s:I, s:I, s:I}, s:I}", "ram",
                      "transferred", (json_int_t) mem,
                      "remaining", (json_int_t)
                      stat_ull (par, n, VIR_DOMAIN_JOB_MEMORY_REMAINING),
                      "total", (json_int_t)
                      stat_ull (par, n, VIR_DOMAIN_JOB_MEMORY_TOTAL),
                      "dirty-pages-rate", (json_int_t)
                      stat_ull (par, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE),
                      "dirty-sync-count", (json_int_t)
                      stat_ull (par, n, VIR_DOMAIN_JOB_MEMORY_ITERATION),
                      "cpu-throttle-percentage", (json_int_t)
                      stat_ull (par, n, VIR_DOMAIN_JOB_AUTO_CONVERGE_THROTTLE));
    if (info)
      progress_memory (&m->pr, info);
  }
  virTypedParamsFree (par, n);
}

/* A cancel arrived (a signal, or vmferry cancel ID): abort libvirt's
 * job once.
 */
static void
cancel (struct lv_run *m, int sigfd)
{
  struct signalfd_siginfo si;

  if (sigfd >= 0 && read (sigfd, &si, sizeof si) == -1)
    debug ("signalfd: %m");
  if (m->cancelled)
    return;
  m->cancelled = true;
  progress_note (&m->pr, "cancelling: aborting libvirt's migration job");
  if (virDomainAbortJob (m->d.dom) < 0)
    progress_note (&m->pr, "libvirt did not abort its job: %s", lv_error ());
}

/* The domain's events that came (libvirt-events.c). */
static void
report_events (struct lv_run *m)
{
  struct lv_event ev;

  while (lv_events_read (&m->ev, &ev) == 1) {
    if (ev.kind == 'p')
      phase (m, "switchover", "libvirt paused the domain for the last "
             "pass");
    else if (ev.kind == 'r' && m->phase &&
             strcmp (m->phase, "switchover") == 0)
      progress_note (&m->pr, "libvirt resumed the domain here");
    else if (ev.kind == 'i')
      debug ("libvirt: memory pass %d", ev.value);
  }
}

/* Run libvirt's migration and watch it until it returns. */
static int
run_migration (struct lv_run *m)
{
  pthread_t t;

  if (lv_events_start (&m->ev, m->d.conn, m->d.dom) == -1)
    progress_note (&m->pr, "warning: without libvirt's events: %s",
                   get_error ());
  if (migrate_params (m) == -1 || pipe2 (m->done_pipe, O_CLOEXEC) == -1 ||
      pthread_create (&t, NULL, migrate_thread, m) != 0) {
    set_error (errno, "starting libvirt's migration");
    return -1;
  }
  for (;;) {
    struct pollfd pfd[4] = {
      { .fd = m->done_pipe[0], .events = POLLIN },
      { .fd = m->p->cancel_fd, .events = POLLIN },
      { .fd = m->cancelled ? -1 : src_control_cancel_fd (m->ctl),
        .events = POLLIN },
      { .fd = lv_events_fd (&m->ev), .events = POLLIN },
    };
    if (poll (pfd, 4, WATCH_MS) == -1 && errno != EINTR)
      break;
    report_events (m);
    if (pfd[0].revents)
      break;
    if (pfd[1].revents || pfd[2].revents)
      cancel (m, pfd[1].revents ? m->p->cancel_fd : -1);
    report_job (m);
  }
  pthread_join (t, NULL);
  report_events (m);
  lv_events_stop (&m->ev);
  if (m->rc < 0)
    set_error (0, "%s%s", m->cancelled ? "cancelled: " : "", m->err);
  return m->rc < 0 ? -1 : 0;
}

static enum mig_result
run (struct lv_run *m)
{
  enum mig_result r;

  phase (m, "preflight", NULL);
  if (mig_new_id (m->id) == -1)
    return MIG_REFUSED;
  m->pr.id = m->id;
  if (m->p->id_out)
    memcpy (m->p->id_out, m->id, sizeof m->id);
  if (preflight (m) == -1)
    return MIG_REFUSED;
  if (m->p->run_dir &&
      (m->ctl = src_control_start (m->p->run_dir, m->id, m->p->vm,
                                   m->p->dest_name ? m->p->dest_name
                                   : m->p->host, &m->pr)) != NULL)
    progress_note (&m->pr, "migration %s (vmferry status|cancel %s)", m->id,
                   m->id);
  phase (m, "setup", "vmferryd opens the destination ends of the relay");
  if (prepare (m) == -1 || start_relay (m) == -1) {
    r = lv_run_end (m, false);
    /* vmferryd said no: nothing was done. */
    return r == MIG_FAILED_CLEAN && m->prepared == NULL ? MIG_REFUSED : r;
  }
  progress_note (&m->pr, "libvirt migrates %s peer to peer to %s, its "
                 "streams relayed through %s", m->d.name, m->peer_uri,
                 m->dir);
  src_hold ("libvirt");
  if (run_migration (m) == -1)
    return lv_run_end (m, false);
  return lv_run_end (m, true);
}

enum mig_result
mig_libvirt_run (const struct mig_source_params *p,
                 const struct mig_libvirt_params *lp)
{
  struct lv_run m = { .p = p, .lp = lp, .t_start = now_ms (),
                      .done_pipe = { -1, -1 },
                      .ev = { .ids = { -1, -1 }, .timer = -1,
                              .pipe = { -1, -1 } } };
  enum mig_result r;

  /* libvirt's event loop, before any connection: once per process
   * (vmferry migrates one libvirt domain per process, cmd/vmferry.c).
   */
  if (virEventRegisterDefaultImpl () < 0)
    debug ("libvirt's event loop: %s", lv_error ());

  progress_init (&m.pr, p->out, p->json, p->tty);
  m.pr.label = p->label;
  clear_error ();
  m.pace = net_pace_new (p->bandwidth, !p->no_link_pacing);
  r = (p->bandwidth || !p->no_link_pacing) && m.pace == NULL ? MIG_REFUSED
    : run (&m);
  return lv_run_finish (&m, r);
}
