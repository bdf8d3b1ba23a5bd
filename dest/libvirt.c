/* libvirt.c: vmferryd's part in the migration of a libvirt-managed
 * domain (vmferry migrate libvirt:NAME, vmferry-api(7)).
 *
 * libvirt moves the domain itself (definition, taps, QEMU's NBD mirror
 * and migration); vmferry only carries its streams.  With libvirt's
 * unix:// migration and disks URIs, the destination's QEMU listens on
 * the very paths the source's QEMU connects to.  So vmferryd picks a
 * fresh directory of its run root, RUN_ROOT/libvirt-ID, answers it as
 * "socket_dir" (the source makes the same path on its host, where
 * vmferry listens), and its data channel relays each connection both
 * ways into DIR/migration.sock or DIR/nbd.sock, made there by the
 * destination's QEMU once libvirt prepared the incoming migration.
 *
 * What the peer sends is only the migration id, the domain's name (a
 * safe name, kept for status) and whether disks are copied; vmferryd
 * connects to nothing but the two sockets of the directory it made
 * (NET_DUPLEX_ARG selects one of them by number), never to a path or
 * an address the peer names.  The job holds an admission slot; abort
 * (POST /v1/abort) removes the directory and ends the channel, as does
 * finish, which ends the job as "handed" (the domain is libvirt's).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include "internal.h"

#define MAX_CONNS 64                    /* as net_duplex's */
/* The user libvirt's QEMU runs as on Debian (libvirt-daemon-system). */
#define LIBVIRT_QEMU_USER "libvirt-qemu"

struct dest_duplex {
  char *paths[NET_DUPLEX_TARGETS];      /* NULL: no such target */
  pthread_mutex_t lock;                 /* protects fds */
  int fds[MAX_CONNS];                   /* a connection's other direction
                                           until its down stream takes it */
  unsigned conns;                       /* connections made (lock) */
  uint64_t delivered;                   /* bytes written into the
                                           targets (atomic) */
};

void
mig_dest_duplex_delivered (struct dest_duplex *x, uint64_t bytes)
{
  if (x)
    __atomic_add_fetch (&x->delivered, bytes, __ATOMIC_RELAXED);
}

void
mig_dest_duplex_free (struct dest_duplex *x)
{
  unsigned i;

  if (x == NULL)
    return;
  for (i = 0; i < NET_DUPLEX_TARGETS; i++)
    free (x->paths[i]);
  for (i = 0; i < MAX_CONNS; i++)
    if (x->fds[i] >= 0)
      close (x->fds[i]);
  pthread_mutex_destroy (&x->lock);
  free (x);
}

static struct dest_duplex *
duplex_new (const char *dir, bool nbd)
{
  struct dest_duplex *x = calloc (1, sizeof *x);
  unsigned i;

  if (x == NULL)
    return NULL;
  pthread_mutex_init (&x->lock, NULL);
  for (i = 0; i < MAX_CONNS; i++)
    x->fds[i] = -1;
  x->paths[0] = xasprintf ("%s/migration.sock", dir);
  x->paths[1] = nbd ? xasprintf ("%s/nbd.sock", dir) : NULL;
  if (x->paths[0] == NULL || (nbd && x->paths[1] == NULL)) {
    mig_dest_duplex_free (x);
    return NULL;
  }
  return x;
}

int
mig_dest_duplex_connect (struct dest_duplex *x, uint64_t arg)
{
  unsigned conn = arg >> 8, target = (arg >> 1) & 0x7f;
  bool down = arg & 1;
  int fd;

  if (x == NULL || conn >= MAX_CONNS || target >= NET_DUPLEX_TARGETS ||
      x->paths[target] == NULL) {
    set_error (0, "no such relayed connection here (%" PRIu64 ")", arg);
    return -1;
  }
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&x->lock);
  if (down) {                   /* the other direction of an open one */
    fd = x->fds[conn];
    x->fds[conn] = -1;
    if (fd == -1)
      set_error (0, "relayed connection %u is not open", conn);
    return fd;
  }
  if (x->fds[conn] >= 0) {
    set_error (0, "relayed connection %u is open already", conn);
    return -1;
  }
  if ((fd = net_unix_connect (x->paths[target])) == -1)
    return -1;
  x->conns++;
  if ((x->fds[conn] = fcntl (fd, F_DUPFD_CLOEXEC, 0)) == -1) {
    set_error (errno, "dup");
    close (fd);
    return -1;
  }
  return fd;
}

/* The request has nothing but what this route knows, each of its type. */
static const char *
check_body (json_t *body)
{
  const char *key;
  json_t *v;

  json_object_foreach (body, key, v) {
    if (strcmp (key, "id") == 0 || strcmp (key, "domain") == 0) {
      if (!json_is_string (v) || !mig_safe_name (json_string_value (v)) ||
          strlen (json_string_value (v)) > 64)
        return "\"id\" and \"domain\" must be safe names of 1 to 64 "
          "characters";
    }
    else if (strcmp (key, "nbd") == 0) {
      if (!json_is_boolean (v))
        return "\"nbd\" must be a boolean";
    }
    else if (strcmp (key, "host") == 0) {
      if (!json_is_string (v))
        return "\"host\" must be a string";
    }
    else if (strcmp (key, "data_from") != 0)
      return "unknown member in a libvirt prepare request";
  }
  if (!json_is_string (json_object_get (body, "id")))
    return "missing \"id\"";
  return NULL;
}

/* RUN_ROOT/libvirt-ID, new, where libvirt's QEMU can make its sockets:
 * owned by the user it runs as when that user exists, else root's.
 */
static int
make_dir (struct dest_job *j, const char *dir)
{
  struct passwd *pw = getpwnam (LIBVIRT_QEMU_USER);

  if (mkdir (dir, 0700) == -1) {
    set_error (errno, "mkdir %s", dir);
    return -1;
  }
  if ((j->run_dir = strdup (dir)) == NULL) {
    set_error (errno, "strdup");
    rmdir (dir);
    return -1;
  }
  if (pw && chown (dir, pw->pw_uid, pw->pw_gid) == -1) {
    set_error (errno, "chown %s to %s", dir, LIBVIRT_QEMU_USER);
    return -1;
  }
  return 0;
}

/* Make the directory and the channel of job j (its lock held). */
static int
prepare_job (struct mig_dest *d, struct dest_job *j, const char *host,
             bool nbd, json_t **reply)
{
  CLEANUP_FREE char *dir = xasprintf ("%s/libvirt-%s", d->p.run_root,
                                      j->id);

  j->prepared = json_pack ("{s:s, s:s, s:s}", "id", j->id, "socket_dir",
                           dir ? dir : "", "host", host);
  if (dir == NULL || j->prepared == NULL || make_dir (j, dir) == -1 ||
      (j->duplex = duplex_new (dir, nbd)) == NULL ||
      mig_dest_channel_start (d, j, host, NULL, NULL) == -1) {
    if (get_error ()[0] == '\0')
      set_error (errno, "libvirt prepare");
    return mig_dest_error (reply, 500, get_error ());
  }
  j->state = JOB_PREPARED;
  *reply = json_incref (j->prepared);
  return 200;
}

/* POST /v1/libvirt-prepare {"id", "domain", "nbd", "host", "data_from"} */
int
mig_dest_libvirt_prepare (void *opaque, const struct api_request *req,
                          json_t **reply)
{
  struct mig_dest *d = opaque;
  const char *why = req->body ? check_body (req->body) : "no request body";
  const char *id = json_string_value (json_object_get (req->body, "id"));
  const char *used = json_string_value (json_object_get (req->body, "host"));
  const char *host = mig_dest_data_host (d, used, NULL);
  CLEANUP_STRV char **peers = NULL;
  struct dest_job *j;
  int status;

  if (why)
    return mig_dest_error (reply, 400, why);
  if (mig_dest_data_peers (req, &peers) == -1)
    return mig_dest_error (reply, 400, get_error ());
  if (host == NULL)
    return mig_dest_error (reply, 400, "connect to the agent by IP address");
  if ((status = mig_dest_admit (d, reply)) != 0)
    return *reply ? status : mig_dest_error (reply, status, get_error ());
  if ((j = mig_dest_new_job (d, id, NULL, req->peer_name)) == NULL) {
    mig_dest_slot_put (d);
    return mig_dest_error (reply, 409, "migration id already used");
  }
  pthread_mutex_lock (&j->lock);
  j->holds_slot = true;
  j->libvirt = true;
  j->data_peers = peers;
  peers = NULL;
  status = prepare_job (d, j, host,
                        json_is_true (json_object_get (req->body, "nbd")),
                        reply);
  if (status != 200) {
    mig_dest_job_cleanup (d, j);
    mig_dest_job_end (d, j, JOB_ABORTED);
  }
  pthread_mutex_unlock (&j->lock);
  return status;
}

/* POST /v1/libvirt-finish {"id"}: libvirt's migration ended well; the
 * relay and its directory go, the job ends as handed to libvirt.
 */
int
mig_dest_libvirt_finish (void *opaque, const struct api_request *req,
                         json_t **reply)
{
  struct mig_dest *d = opaque;
  const char *id = json_string_value (json_object_get (req->body, "id"));
  struct dest_job *j = id ? mig_dest_find_job (d, id) : NULL;
  uint64_t delivered = 0;
  unsigned conns = 0;
  int r;

  if (j == NULL || !j->libvirt)
    return mig_dest_error (reply, 404, "no such libvirt migration");
  pthread_mutex_lock (&j->lock);
  if (!mig_dest_job_owned_by (j, req)) {
    pthread_mutex_unlock (&j->lock);
    return mig_dest_not_owner (j, reply);
  }
  if (j->state != JOB_PREPARED && j->state != JOB_HANDED) {
    pthread_mutex_unlock (&j->lock);
    return mig_dest_error (reply, 409, "this migration was aborted");
  }
  /* The source ended its relay first: each connection's "eof" was
   * answered, so what was delivered is all there will be.
   */
  if (j->duplex) {
    pthread_mutex_lock (&j->duplex->lock);
    conns = j->duplex->conns;
    pthread_mutex_unlock (&j->duplex->lock);
    delivered = __atomic_load_n (&j->duplex->delivered, __ATOMIC_RELAXED);
  }
  r = mig_dest_job_cleanup (d, j);
  mig_dest_job_end (d, j, JOB_HANDED);
  pthread_mutex_unlock (&j->lock);
  mig_dest_job_ended (d);
  if (r == -1)
    return mig_dest_error (reply, 500, get_error ());
  *reply = json_pack ("{s:s, s:I, s:i}", "state", "handed",
                      "delivered_bytes", (json_int_t) delivered,
                      "connections", (int) conns);
  return 200;
}
