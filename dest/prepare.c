/* dest-prepare.c: POST /v1/prepare on the destination agent.
 *
 * Checks that the VM can run here, creates its empty images (only under
 * the storage root), starts the paused skeleton QEMU with the rewritten
 * command line, and opens its NBD exports and incoming migration, both
 * with QEMU's TLS; or, when the source relays its memory migration
 * through the data channel ("relay": true; answered "relay": true), the
 * incoming migration on a unix socket in the run directory that only
 * vmferryd's receivers reach.  Any failure undoes all of it.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include "internal.h"

/* Refuse a VM this host cannot run: the rules of the compatibility
 * report (compat.c), the same ones vmferry check applies.  Returns an
 * HTTP status (0 = ok).
 */
static int
check_compat (struct mig_dest *d, json_t *vmj, const char *host)
{
  json_auto_t *facts = mig_dest_facts (d, vmj, host), *findings = NULL;
  CLEANUP_FREE char *text = NULL;

  findings = facts ? mig_compat_check (vmj, facts) : NULL;
  if (findings == NULL)
    return 500;
  if (!mig_compat_has_error (findings))
    return 0;
  text = mig_compat_errors_text (findings);
  set_error (0, "%s", text ? text : "the VM cannot run here");
  return 422;
}

/* A requested destination path must name a plain file directly in the
 * VM's own directory vm_dir, STORAGE_ROOT/NAME, that this prepare makes:
 * nothing else under the storage root is the request's to name, not
 * another VM's files, and not vmferryd's own dot-directories there (the
 * journal, dest-journal.c; the partial images, dest-partial.c), which
 * that rule alone keeps out of reach: NAME is a safe name and so is the
 * file name (letters, digits, '.', '_', '-', never starting with '.').
 * The path is compared as text: no "..", "." or symbolic link leads
 * elsewhere (make_vm_dir() makes vm_dir a fresh directory).  It must not
 * exist yet.  vmferry undo's agent takes exactly the original paths of
 * the quarantined images instead (d->p.dest_paths).
 */
static int
check_dest_path (struct mig_dest *d, const char *vm_dir, const char *path)
{
  size_t n = strlen (vm_dir), i;
  struct stat st;

  if (d->p.dest_paths) {
    for (i = 0; d->p.dest_paths[i]; i++)
      if (strcmp (d->p.dest_paths[i], path) == 0)
        break;
    if (d->p.dest_paths[i] == NULL) {
      set_error (0, "destination path '%s' is not the path of one of the "
                 "VM's images here", path);
      return -1;
    }
  }
  else if (strncmp (path, vm_dir, n) != 0 || path[n] != '/' ||
           !mig_safe_name (path + n + 1)) {
    set_error (0, "destination path '%s' must name a file directly in "
               "the VM's directory %s/ (letters, digits, '.', '_', '-', "
               "not starting with '.')", path, vm_dir);
    return -1;
  }
  if (lstat (path, &st) == 0) {
    set_error (0, "destination path '%s' already exists", path);
    return -1;
  }
  return 0;
}

/* A shared disk is opened in place: it must be here, and the marker
 * the source made beside it for this migration must be visible, which
 * proves both hosts see the same directory (not merely the same path).
 */
static int
check_shared (struct dest_job *j, struct mig_disk *k)
{
  CLEANUP_FREE char *copy = strdup (k->path);
  CLEANUP_FREE char *marker = copy ? xasprintf ("%s/%s%s", dirname (copy),
                                                MIG_SHARED_MARKER, j->id)
    : NULL;

  if (marker == NULL)
    return -1;
  if (access (k->path, R_OK | W_OK) == -1 || access (marker, F_OK) == -1) {
    set_error (errno, "shared disk %s: this host does not see the source's "
               "%s (no shared storage there?)", k->path,
               access (k->path, F_OK) == -1 ? "file" : "directory");
    return -1;
  }
  free (k->dest_path);
  k->dest_path = strdup (k->path);
  return k->dest_path ? 0 : -1;
}

/* A read-only disk used in place: the same path must lie under a read
 * dir here, with the same content (size and SHA-256 when the source
 * sent one).
 */
static int
check_in_place (struct mig_dest *d, const struct mig_disk *k)
{
  CLEANUP_FREE char *real = vm_read_path (d->p.read_dirs, k->path, false);
  CLEANUP_FREE char *sum = NULL;
  struct stat st;

  if (real == NULL || stat (real, &st) == -1) {
    prefix_error ("disk %s, not copied", k->id);
    return -1;
  }
  if (k->sha256 && (sum = mig_file_sha256 (real)) == NULL)
    return -1;
  if (sum && strcmp (sum, k->sha256) != 0) {
    set_error (0, "disk %s, not copied: %s here differs from the source's "
               "(SHA-256)", k->id, k->path);
    return -1;
  }
  return 0;
}

/* Decide where each disk goes and generate the command line, before
 * anything is created: a request that cannot be honoured is refused
 * with nothing to undo.  vm_dir and run_dir are the paths to be made.
 * Returns 0 or an HTTP status.
 */
/* Where disk i goes when the request does not say: its own file name
 * in the VM's directory, unless that name is not a plain one or another
 * disk has it; then "disk-I.FORMAT".
 */
static char *
default_dest (struct dest_job *j, size_t i, const char *vm_dir,
              const char *base)
{
  char *p = mig_safe_name (base) ? xasprintf ("%s/%s", vm_dir, base) : NULL;
  size_t k;

  for (k = 0; p && k < j->vm->n_disks; k++)
    if (k != i && j->vm->disks[k].dest_path &&
        strcmp (j->vm->disks[k].dest_path, p) == 0) {
      free (p);
      p = NULL;
    }
  return p ? p : xasprintf ("%s/disk-%zu.%s", vm_dir, i, j->vm->disks[i].format);
}

static int
plan_job (struct mig_dest *d, struct dest_job *j, const char *vm_dir,
          const char *run_dir)
{
  size_t i;

  for (i = 0; i < j->vm->n_disks; i++) {
    struct mig_disk *k = &j->vm->disks[i];
    CLEANUP_FREE char *copy = strdup (k->path);

    if (k->in_place) {
      if (check_in_place (d, k) == -1)
        return 422;
      continue;
    }
    if (k->shared) {
      if (check_shared (j, k) == -1)
        return 422;
      continue;
    }
    /* A requested path: a file in the VM's own directory. */
    if (k->dest_path && check_dest_path (d, vm_dir, k->dest_path) == -1)
      return 422;
    if (k->dest_path == NULL && copy)
      k->dest_path = default_dest (j, i, vm_dir, basename (copy));
    if (k->dest_path == NULL)
      return 500;
  }
  /* An offline move may come with its disks alone, no command line. */
  if (j->offline && (j->vm->argv == NULL || j->vm->argv[0] == NULL))
    return 0;
  return mig_dest_vm_plan (d, j, run_dir);
}

/* Create the empty images (same format and virtual size).  Returns 0 or
 * an HTTP status.
 */
static int
create_images (struct mig_dest *d, struct dest_job *j)
{
  size_t i;

  for (i = 0; i < j->vm->n_disks; i++) {
    struct mig_disk *k = &j->vm->disks[i];
    CLEANUP_FREE char *out = NULL;
    char size[32];
    char *argv[] = { "qemu-img", "create", "-q", "-f", k->format,
                     k->dest_path, size, NULL };

    if (!mig_disk_copied (k) || j->resumed)
      continue;
    snprintf (size, sizeof size, "%" PRIu64, k->virtual_size);
    /* Journaled before it exists: a crash then leaves nothing unknown. */
    if (strv_push (&j->images, k->dest_path) == -1 ||
        mig_dest_journal_write (d, j, "preparing") == -1)
      return 500;
    if (run_capture (argv, &out) != 0) {
      set_error (0, "qemu-img create %s: %s", k->dest_path, out ? out : "");
      return 500;
    }
  }
  return 0;
}

/* Is dir empty of everything but what a VM that left here leaves behind
 * (its console log, our pidfile naming a dead process)?
 */
static bool
dir_reusable (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  bool ok = d != NULL;

  while (ok && (e = readdir (d)) != NULL) {
    struct stat st;
    CLEANUP_FREE char *p = xasprintf ("%s/%s", dir, e->d_name);
    CLEANUP_FREE char *pid = NULL;
    size_t l = strlen (e->d_name);
    bool is_pid = l > 4 && strcmp (e->d_name + l - 4, ".pid") == 0;
    bool is_log = l > 4 && strcmp (e->d_name + l - 4, ".log") == 0;

    if (e->d_name[0] == '.' || p == NULL || lstat (p, &st) == -1)
      continue;
    /* Sockets and logs of a dead QEMU are fine; images or dirs are not,
     * nor a pidfile naming a live process.
     */
    if (is_pid && S_ISREG (st.st_mode))
      pid = read_file (p, NULL);
    if ((pid && pid_alive ((pid_t) strtol (pid, NULL, 10))) ||
        !(S_ISSOCK (st.st_mode) || (S_ISREG (st.st_mode) &&
                                    (is_pid || is_log))))
      ok = false;
  }
  if (d)
    closedir (d);
  return ok;
}

/* mkdir DIR for this VM.  An existing one belongs to someone else unless
 * a VM of that name left this host and only its traces remain.
 */
static char *
make_vm_dir (const char *path)
{
  char *dir = strdup (path);

  if (dir == NULL || mkdir (dir, 0700) == 0)
    return dir;
  if (errno == EEXIST && dir_reusable (dir) && remove_tree (dir) == 0 &&
      mkdir (dir, 0700) == 0)
    return dir;
  set_error (errno, "%s", errno == EEXIST ?
             "a VM of that name already exists on the destination" :
             "mkdir");
  prefix_error ("%s", dir);
  free (dir);
  return NULL;
}

char **
mig_dest_qemu_argv (struct dest_job *j, bool incoming, char **pidfile,
                    char **qmp)
{
  CLEANUP_FREE char *qmpopt = NULL;
  char **v = NULL;
  size_t i;

  /* The VM's own -pidfile (in the run dir) if it had one. */
  *pidfile = j->cmd.pidfile ? strdup (j->cmd.pidfile)
    : xasprintf ("%s/vmferry-qemu.pid", j->run_dir);
  *qmp = xasprintf ("%s/vmferry-qmp.sock", j->run_dir);
  qmpopt = *qmp ? xasprintf ("unix:%s,server=on,wait=off", *qmp) : NULL;
  if (*pidfile == NULL || qmpopt == NULL)
    return NULL;
  for (i = 0; j->cmd.argv[i]; i++)
    if (strv_push (&v, j->cmd.argv[i]) == -1)
      goto err;
  if ((incoming && (strv_push (&v, "-S") == -1 ||
                    strv_push (&v, "-incoming") == -1 ||
                    strv_push (&v, "defer") == -1)) ||
      (j->cmd.pidfile == NULL && (strv_push (&v, "-pidfile") == -1 ||
                                  strv_push (&v, *pidfile) == -1)) ||
      strv_push (&v, "-qmp") == -1 || strv_push (&v, qmpopt) == -1 ||
      strv_push (&v, "-sandbox") == -1 ||
      strv_push (&v, VM_QEMU_SANDBOX) == -1)
    goto err;
  return v;
 err:
  strv_free (v);
  return NULL;
}

/* QEMU's multifd as the source asked for it. */
struct multifd_req {
  unsigned channels;            /* 0, 1: no multifd */
  const char *compression;      /* multifd-compression (NULL: none) */
};

/* The request's "multifd_channels" and "multifd_compression": multifd
 * through the relay, or QEMU's own on the direct path when the source
 * did not ask for the relay and named the compression (a source that
 * asked for the relay and gets none sends one connection; an older
 * source sends no compression and sets no multifd on that path).  -1 +
 * set_error if malformed.
 */
static int
multifd_request (json_t *body, bool relay, struct multifd_req *m)
{
  json_int_t n = json_integer_value (json_object_get (body,
                                                      "multifd_channels"));
  json_t *c = json_object_get (body, "multifd_compression");

  m->compression = json_string_value (c);
  if (n < 0 || n > MIG_MAX_CHANNELS) {
    set_error (0, "\"multifd_channels\" must be 0 to %d", MIG_MAX_CHANNELS);
    return -1;
  }
  if (c && !json_is_null (c) &&
      !mig_qemu_compression_valid (m->compression)) {
    set_error (0, "\"multifd_compression\" must be none, zlib or zstd");
    return -1;
  }
  m->channels = relay || (m->compression &&
                          !json_is_true (json_object_get (body, "relay")))
    ? n : 0;
  if (m->channels < 2 || relay)
    m->compression = NULL;
  return 0;
}

/* The skeleton's multifd, in the prepare reply: the source sets the
 * same on its QEMU.
 */
static void
reply_multifd (json_t *prepared, const struct mig_skeleton_net *n)
{
  json_object_set_new (prepared, "multifd_channels",
                       json_integer (n->multifd > 1 ? n->multifd : 0));
  if (n->multifd > 1)
    json_object_set_new (prepared, "multifd_compression",
                         json_string (n->multifd_compression
                                      ? n->multifd_compression : "none"));
}

/* Start the skeleton and open its exports and migration listener.
 * relay: the memory migration comes through the data channel (channel
 * is then true); m: multifd.  Returns 0 or an HTTP status.
 */
static int
start_skeleton (struct mig_dest *d, struct dest_job *j, const char *host,
                bool channel, bool relay, const struct multifd_req *m)
{
  CLEANUP_FREE char *pidfile = NULL, *qmp = NULL, *relay_sock = NULL;
  CLEANUP_STRV char **argv = NULL;
  struct mig_skeleton_net n = { .host = host, .psk = d->p.psk,
                                .postcopy = j->postcopy,
                                .multifd = m->channels,
                                .multifd_compression = m->compression };

  int status;

  if ((argv = mig_dest_qemu_argv (j, true, &pidfile, &qmp)) == NULL ||
      (j->pidfile = strdup (pidfile)) == NULL ||
      (j->qmp_path = strdup (qmp)) == NULL ||
      mig_dest_journal_write (d, j, "preparing") == -1)
    return 500;
  status = mig_dest_vm_spawn (d, j, argv, qmp);
  if (status) {                 /* journaled still, keeping the reason */
    CLEANUP_FREE char *why = strdup (get_error ());
    mig_dest_journal_write (d, j, "preparing");
    set_error (0, "%s", why ? why : "QEMU did not start");
    return status;
  }
  if (mig_dest_journal_write (d, j, "preparing") == -1)
    return 500;
  n.tls_dir = j->qemu_tls_dir;
  if (relay && (relay_sock = xasprintf ("%s/vmferry-migration.sock",
                                        j->run_dir)) == NULL)
    return 500;
  n.relay_sock = relay_sock;
  if ((n.nbd_port = net_ports_pick (d->ports, host, 0)) == -1)
    return mig_dest_port_status ();
  /* The first port is free again once probed: the second probe may
   * return it too (seen: migrate-incoming then found it in use).
   */
  if (!relay &&
      (n.migration_port = net_ports_pick (d->ports, host, n.nbd_port)) == -1)
    return mig_dest_port_status ();
  if (mig_skeleton_setup (j->qmp, &n, j->vm) == -1)
    return 500;
  j->prepared = json_pack ("{s:s, s:s, s:i, s:s?, s:o, s:s, s:s}",
                           "id", j->id, "host", host, "nbd_port", n.nbd_port,
                           "qmp", j->cmd.qmp, "files", json_array (),
                           "run_dir", j->run_dir, "vm_dir", j->vm_dir);
  if (j->prepared) {
    json_object_set_new (j->prepared, relay ? "relay" : "migration_port",
                         relay ? json_true () : json_integer
                         (n.migration_port));
    reply_multifd (j->prepared, &n);
  }
  for (size_t i = 0; j->prepared && j->cmd.files && j->cmd.files[i]; i++)
    json_array_append_new (json_object_get (j->prepared, "files"),
                           json_string (j->cmd.files[i]));
  if (j->prepared && channel &&
      mig_dest_channel_start (d, j, host, mig_dest_skeleton_uris
                              (d, j, host, n.nbd_port), relay_sock) == -1)
    return mig_dest_port_status ();
  return j->prepared ? 0 : 500;
}

/* The address the source's data must go to: the first configured
 * migration address here in the source's network (cidr, NULL: any),
 * else the API's own address, or the one the source used.
 */
const char *
mig_dest_data_host (struct mig_dest *d, const char *used, const char *cidr)
{
  const char *l = d->p.listen_addr, *h = NULL;
  unsigned char buf[16];

  if (d->p.migration_addrs)
    return net_pick_addr (d->p.migration_addrs, cidr);
  if (strcmp (l, "0.0.0.0") != 0 && strcmp (l, "::") != 0)
    h = l;
  else if (used && (inet_pton (AF_INET, used, buf) == 1 ||
                    inet_pton (AF_INET6, used, buf) == 1))
    h = used;
  return h && net_addr_in_cidr (h, cidr) ? h : NULL;
}

/* Why data_host() found nothing. */
static int
no_data_host (struct mig_dest *d, const char *cidr, json_t **reply)
{
  char msg[512];

  if (cidr == NULL && d->p.migration_addrs == NULL)
    return mig_dest_error (reply, 400, "connect to the agent by IP address");
  snprintf (msg, sizeof msg, "no usable migration address on this host%s%s "
            "(%s)", cidr ? " in " : "", cidr ? cidr : "",
            d->p.migration_addrs ? "none of its --migration-address is "
            "configured here" : "its listen address is elsewhere");
  return mig_dest_error (reply, 422, msg);
}

/* Can an unprivileged QEMU take page faults of its guest in user space
 * (post-copy)?  QEMU 7.2 opens userfaultfd with the system call, which
 * needs this sysctl for a process without CAP_SYS_PTRACE.
 */
static bool
postcopy_possible (void)
{
  CLEANUP_FREE char *v = read_file ("/proc/sys/vm/unprivileged_userfaultfd",
                                    NULL);

  return v && v[0] == '1';
}

/* The owner is set before anyone can find the job. */
struct dest_job *
mig_dest_new_job (struct mig_dest *d, const char *id, struct mig_vm *vm,
         const char *peer)
{
  struct dest_job *j;

  if (mig_dest_find_job (d, id))
    return NULL;
  j = calloc (1, sizeof *j);
  if (j == NULL || (j->id = strdup (id)) == NULL ||
      (j->peer = peer ? strdup (peer) : NULL) == NULL) {
    if (j)
      free (j->id);
    free (j);
    return NULL;
  }
  j->vm = vm;
  j->started_ms = now_ms ();
  pthread_mutex_init (&j->lock, NULL);
  pthread_mutex_lock (&d->lock);
  j->next = d->jobs;
  d->jobs = j;
  pthread_mutex_unlock (&d->lock);
  return j;
}

/* Do the work of prepare for job j (caller holds its lock).  token:
 * the source's resume token (NULL: none); *why: why it was not used.
 */
static int
prepare_job (struct mig_dest *d, struct dest_job *j, const char *host,
             bool channel, json_t *body, const char *token,
             const char **why)
{
  /* The relay comes through the data channel, one-way (no post-copy). */
  bool relay = channel && !j->postcopy &&
    json_is_true (json_object_get (body, "relay"));
  struct multifd_req multifd;
  CLEANUP_FREE char *vm_dir = xasprintf ("%s/%s", d->p.storage_root,
                                         j->vm->name);
  CLEANUP_FREE char *run_dir = xasprintf ("%s/%s", d->p.run_root,
                                          j->vm->name);
  int status;

  if (multifd_request (body, relay, &multifd) == -1)
    return 400;
  if (vm_dir == NULL || run_dir == NULL)
    return 500;
  status = plan_job (d, j, vm_dir, run_dir);
  if (status)
    return status;
  if ((j->vm_dir = make_vm_dir (vm_dir)) == NULL ||
      (j->run_dir = make_vm_dir (run_dir)) == NULL)
    return 409;
  if (mig_dest_journal_write (d, j, "preparing") == -1)
    return 500;
  switch (mig_dest_partial_take (d, j, token, why)) {
  case -2: return 422;
  case -1: return 500;
  case 1: j->resumed = true; break;
  }
  status = create_images (d, j);
  if (status == 0 && j->offline)
    status = mig_dest_offline_start (d, j, host);
  else if (status == 0)
    status = start_skeleton (d, j, host, channel, relay, &multifd);
  return status;
}

/* What this host cannot do for the VM of the request: a VM that does
 * not run has no CPU or devices to compare (an offline move checks what
 * storing it needs); post-copy needs userfaultfd for the QEMU user.
 * 0 or an HTTP status, with the reason.
 */
static int
check_request (struct mig_dest *d, const struct api_request *req,
               struct mig_vm *vm, bool offline, const char *host)
{
  int status = mig_dest_home_check (d, vm->name);

  if (status == 0)
    status = offline ? mig_dest_offline_check (d, vm)
      : check_compat (d, json_object_get (req->body, "vm"), host);

  if (status == 0 && json_is_true (json_object_get (req->body, "postcopy"))
      && !postcopy_possible ()) {
    set_error (0, "post-copy: the confined QEMU (an unprivileged user) "
               "cannot use userfaultfd here: set sysctl "
               "vm.unprivileged_userfaultfd=1 on this host, or migrate "
               "without --allow-postcopy");
    status = 422;
  }
  return status;
}

/* Prepare admitted job j (its lock held, released here).  200 with
 * *reply, or the job undone and an HTTP status.
 */
static int
run_job (struct mig_dest *d, struct dest_job *j, const struct api_request *req,
         const char *host, const char *token, json_t **reply)
{
  const char *why = NULL;
  int status;

  j->postcopy = json_is_true (json_object_get (req->body, "postcopy"));
  j->offline = json_is_true (json_object_get (req->body, "offline"));
  mig_dest_partial_sweep (d);
  /* The data channel needs x509 certificates (not TLS-PSK). */
  status = prepare_job (d, j, host, !d->p.psk &&
                        json_is_true (json_object_get (req->body, "channel")),
                        req->body, token, &why);
  if (status != 0) {
    char msg[1024];
    snprintf (msg, sizeof msg, "%s", get_error ());
    mig_dest_job_cleanup (d, j);
    mig_dest_job_end (d, j, JOB_ABORTED);
    pthread_mutex_unlock (&j->lock);
    return mig_dest_error (reply, status, msg);
  }
  j->state = JOB_PREPARED;
  if (mig_dest_home_arriving (d, j) == 0)
    j->home = true;
  else
    debug ("home: %s", get_error ());   /* vmferry list will miss it */
  if (mig_dest_journal_write (d, j, "prepared") == -1)
    debug ("journal: %s", get_error ());  /* "preparing" rolls back too */
  json_object_set_new (j->prepared, "partial_reused",
                       json_boolean (j->resumed));
  if (token && !j->resumed && why)
    json_object_set_new (j->prepared, "resume_reason", json_string (why));
  *reply = json_incref (j->prepared);
  pthread_mutex_unlock (&j->lock);
  return 200;
}

/* A retry of prepare for job j: the same answer, or a conflict. */
static int
retried (struct dest_job *j, const struct api_request *req, json_t **reply)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&j->lock);

  if (!mig_dest_job_owned_by (j, req))
    return mig_dest_not_owner (j, reply);
  if (j->state != JOB_PREPARED)
    return mig_dest_error (reply, 409, "migration id already used");
  *reply = json_incref (j->prepared);
  return 200;
}

int
mig_dest_prepare (void *opaque, const struct api_request *req,
                  json_t **reply)
{
  struct mig_dest *d = opaque;
  const char *id = json_string_value (json_object_get (req->body, "id"));
  const char *used = json_string_value (json_object_get (req->body, "host"));
  const char *cidr = json_string_value (json_object_get (req->body,
                                                         "migration_network"));
  const char *host = mig_dest_data_host (d, used, cidr);
  const char *token = json_string_value (json_object_get (req->body,
                                                         "resume_token"));
  bool offline = json_is_true (json_object_get (req->body, "offline"));
  CLEANUP_STRV char **data_peers = NULL;
  struct dest_job *j;
  struct mig_vm *vm;
  int status;

  if (!mig_safe_name (id) || (token && !mig_safe_name (token)))
    return mig_dest_error (reply, 400, "missing or malformed \"id\"");
  if (cidr && !net_cidr_valid (cidr))
    return mig_dest_error (reply, 400, "malformed \"migration_network\"");
  if (mig_dest_data_peers (req, &data_peers) == -1)
    return mig_dest_error (reply, 400, get_error ());
  if (host == NULL)
    return no_data_host (d, cidr, reply);
  if ((j = mig_dest_find_job (d, id)) != NULL)
    return retried (j, req, reply);
  vm = mig_vm_from_json (json_object_get (req->body, "vm"));
  if (vm == NULL)
    return mig_dest_error (reply, 400, get_error ());
  if ((status = check_request (d, req, vm, offline, host)) != 0 ||
      (status = mig_dest_admit (d, reply)) != 0) {
    mig_vm_free (vm);
    return *reply ? status : mig_dest_error (reply, status, get_error ());
  }
  j = mig_dest_new_job (d, id, vm, req->peer_name);
  if (j == NULL) {
    mig_dest_slot_put (d);
    mig_vm_free (vm);
    return mig_dest_error (reply, 409, "migration id already used");
  }
  pthread_mutex_lock (&j->lock);
  j->holds_slot = true;
  j->data_peers = data_peers;
  data_peers = NULL;
  return run_job (d, j, req, host, token, reply);
}
