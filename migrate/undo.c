/* undo.c: vmferry undo ID, on the host a VM left with
 * --keep-source=DURATION: move it back, sending only what changed.
 *
 * The quarantined images are the disks as they were when the VM left;
 * the destination agent has recorded every write since its VM resumed
 * (dest-undo.c), under the quarantine's undo token.  So undo:
 *   1. takes the quarantine over (its reaper stops; state "undoing");
 *   2. stages the quarantined images as partial images under the token
 *      (STORAGE/.vmferry-partial/NAME/disk-I + marker, dest-partial.c),
 *      STORAGE being the images' directory;
 *   3. starts an agent in this process (mig_dest_start) on the address
 *      this host uses toward the destination, with that storage root and
 *      RUN_DIR/ID/undo as run root;
 *   4. asks the destination's agent (POST /v1/send-back) to migrate the
 *      VM here with vmferry's engine, each disk to its original path: it
 *      resumes the copy, so only the blocks written there are sent;
 *   5. stops the local agent: the VM keeps running here (its sockets and
 *      logs in RUN_DIR/ID/undo/NAME).
 * On failure the VM runs on the destination, the images go back to
 * their quarantine names and the quarantine goes on (a new reaper).
 */
#include <config.h>

#include <errno.h>
#include <libgen.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "internal.h"

#define SEND_BACK_TIMEOUT 1800000       /* the whole migration back */

/* The address of this host toward host, a name or an address (UDP
 * connect sends nothing).
 */
static int
local_addr (const char *host, int port, char *buf, size_t n)
{
  struct sockaddr_storage ss = { 0 };
  struct sockaddr_in *v4 = (struct sockaddr_in *) &ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) &ss;
  socklen_t len = sizeof ss;
  CLEANUP_CLOSE int fd = -1;
  char addr[64];

  if (net_resolve (host, addr, sizeof addr) == -1) {
    prefix_error ("undo: the destination");
    return -1;
  }
  if (inet_pton (AF_INET, addr, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons (port);
  }
  else if (inet_pton (AF_INET6, addr, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons (port);
  }
  else {
    set_error (0, "undo: %s resolves to %s, not an IP address", host, addr);
    return -1;
  }
  fd = socket (ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd == -1 || connect (fd, (struct sockaddr *) &ss,
                           ss.ss_family == AF_INET ? sizeof *v4
                           : sizeof *v6) == -1 ||
      getsockname (fd, (struct sockaddr *) &ss, &len) == -1 ||
      inet_ntop (ss.ss_family, ss.ss_family == AF_INET
                 ? (void *) &v4->sin_addr : (void *) &v6->sin6_addr,
                 buf, n) == NULL) {
    set_error (errno, "the local address toward %s", host);
    return -1;
  }
  return 0;
}

/* The directory of the quarantined images (all must share it). */
static char *
storage_root (json_t *files)
{
  char *root = NULL;
  size_t i;
  json_t *f;

  json_array_foreach (files, i, f) {
    CLEANUP_FREE char *c = strdup (json_string_value
                                   (json_object_get (f, "path")));
    if (c == NULL || (root && strcmp (root, dirname (c)) != 0)) {
      set_error (0, "undo needs all the VM's disks in one directory");
      free (root);
      return NULL;
    }
    if (root == NULL && (root = strdup (dirname (c))) == NULL)
      return NULL;
  }
  if (root == NULL)
    set_error (0, "the quarantine holds no files");
  return root;
}

/* STORAGE/.vmferry-partial/NAME/disk-I for file f (malloc'd). */
static char *
staged (const char *root, json_t *rec, json_t *f)
{
  return xasprintf ("%s/" MIG_PARTIAL_DIR "/%s/disk-%" JSON_INTEGER_FORMAT,
                    root, json_string_value (json_object_get (rec, "vm")),
                    json_integer_value (json_object_get (f, "index")));
}

/* Step 2: the quarantined images become partial images under token. */
static int
stage (const char *root, json_t *rec, const char *token)
{
  const char *vm = json_string_value (json_object_get (rec, "vm"));
  CLEANUP_FREE char *dir = xasprintf ("%s/" MIG_PARTIAL_DIR "/%s", root, vm);
  CLEANUP_FREE char *mpath = dir ? xasprintf ("%s/marker.json", dir) : NULL;
  json_auto_t *m = json_pack ("{s:s, s:I, s:I, s:[], s:b}", "token", token,
                              "created", (json_int_t) time (NULL),
                              "expires", (json_int_t) time (NULL) + 3600,
                              "disks", "staged_by_undo", 1);
  size_t i;
  json_t *f;

  if (mpath == NULL || m == NULL || !mig_safe_name (vm) ||
      mkdir_p (dir, 0700) == -1)
    return -1;
  json_array_foreach (json_object_get (rec, "files"), i, f) {
    CLEANUP_FREE char *to = staged (root, rec, f);
    json_array_append_new (json_object_get (m, "disks"), json_pack
                           ("{s:O, s:O, s:O}", "index",
                            json_object_get (f, "index"), "virtual_size",
                            json_object_get (f, "virtual_size"), "format",
                            json_object_get (f, "format")));
    if (to == NULL || rename (json_string_value
                              (json_object_get (f, "quarantine")), to)) {
      set_error (errno, "stage %s", to ? to : "an image");
      return -1;
    }
  }
  return json_state_save (mpath, m);
}

/* Remove the staging directories; with restore (after a failure),
 * every image goes back to its quarantine name first.  Returns true if
 * the images had been taken for a copy (then a failed copy may have
 * changed them): the staging marker is no longer undo's own.
 */
static bool
unstage (const char *root, json_t *rec, bool restore)
{
  const char *vm = json_string_value (json_object_get (rec, "vm"));
  CLEANUP_FREE char *dir = xasprintf ("%s/" MIG_PARTIAL_DIR "/%s", root, vm);
  CLEANUP_FREE char *area = xasprintf ("%s/" MIG_PARTIAL_DIR, root);
  CLEANUP_FREE char *vmdir = xasprintf ("%s/%s", root, vm);
  CLEANUP_FREE char *mpath = dir ? xasprintf ("%s/marker.json", dir) : NULL;
  json_auto_t *m = mpath ? json_load_file (mpath, 0, NULL) : NULL;
  bool taken = !json_is_true (json_object_get (m, "staged_by_undo"));
  size_t i;
  json_t *f;

  json_array_foreach (json_object_get (rec, "files"), i, f) {
    CLEANUP_FREE char *from = restore ? staged (root, rec, f) : NULL;
    const char *q = json_string_value (json_object_get (f, "quarantine"));
    const char *orig = json_string_value (json_object_get (f, "path"));
    if (!restore)
      continue;
    if (from && access (from, F_OK) == 0)
      rename (from, q);
    else if (access (orig, F_OK) == 0)
      rename (orig, q);
  }
  if (dir)
    remove_tree (dir);
  if (area)
    rmdir (area);
  if (vmdir)
    rmdir (vmdir);
  return taken;
}

/* Step 4: the destination's agent moves the VM here.  Its reply. */
static json_t *
ask_send_back (json_t *rec, const char *id, const char *addr, int port)
{
  struct mig_agent *a = mig_agent_new
    (json_string_value (json_object_get (rec, "host")),
     json_integer_value (json_object_get (rec, "port")),
     json_string_value (json_object_get (rec, "tls_dir")), NULL);
  json_auto_t *extra = json_pack ("{s:s, s:i, s:[]}", "to", addr, "port",
                                  port, "disk_paths");
  json_t *paths = json_object_get (extra, "disk_paths"), *f, *reply = NULL;
  size_t i;
  int status;

  json_array_foreach (json_object_get (rec, "files"), i, f) {
    size_t k = json_integer_value (json_object_get (f, "index"));
    while (json_array_size (paths) <= k)
      json_array_append_new (paths, json_null ());
    json_array_set (paths, k, json_object_get (f, "path"));
  }
  if (a)
    reply = mig_agent_send_back (a, id, extra, SEND_BACK_TIMEOUT, &status);
  mig_agent_free (a);
  return reply;
}

/* The original paths of the quarantined images (malloc'd strv). */
static char **
original_paths (json_t *rec)
{
  char **v = NULL;
  size_t i;
  json_t *f;

  json_array_foreach (json_object_get (rec, "files"), i, f) {
    const char *p = json_string_value (json_object_get (f, "path"));
    if (p == NULL || strv_push (&v, p) == -1) {
      set_error (0, "the quarantine record lacks a path");
      strv_free (v);
      return NULL;
    }
  }
  return v;
}

/* Steps 3 to 5.  The send-back reply, or NULL + set_error. */
static json_t *
move_back (json_t *rec, const char *run_dir, const char *id,
           const char *root)
{
  CLEANUP_FREE char *run_root = xasprintf ("%s/%s/undo", run_dir, id);
  /* The images go back to their own paths, directly in root, not to
   * root/NAME/: the only paths the destination may name.
   */
  CLEANUP_STRV char **paths = original_paths (rec);
  char addr[64];
  struct mig_dest_params dp = {
    .listen_addr = addr, .port = 0, .storage_root = root,
    .run_root = run_root, .tls_dir = json_string_value
    (json_object_get (rec, "tls_dir")), .qemu = json_string_value
    (json_object_get (rec, "qemu")),
    /* Never delete the quarantined images: refuse a full copy. */
    .keep_partials = true, .dest_paths = paths,
  };
  /* The VM ran here before it left: the files it reads (-kernel, ...)
   * were acceptable here.  This trusts the destination's agent (mutual
   * TLS, the same CA) not to name other files; recording the original
   * directories in the quarantine would close that (vmferry(1), BUGS).
   */
  static char *const anywhere[] = { (char *) "/", NULL };
  struct mig_dest *d;
  json_t *reply;

  dp.read_dirs = anywhere;
  if (run_root == NULL || paths == NULL || dp.qemu == NULL ||
      local_addr (json_string_value (json_object_get (rec, "host")),
                  json_integer_value (json_object_get (rec, "port")),
                  addr, sizeof addr) == -1 ||
      mkdir_p (run_root, 0700) == -1 || (d = mig_dest_start (&dp)) == NULL)
    return NULL;
  reply = ask_send_back (rec, id, addr, mig_dest_port (d));
  mig_dest_stop (d);            /* a VM that arrived runs on by itself */
  return reply;
}

int
mig_undo (const char *run_dir, const char *id, FILE *out)
{
  CLEANUP_FREE char *path = NULL, *root = NULL;
  json_auto_t *rec = mig_quarantine_hold (run_dir, id, &path), *r = NULL;
  const char *token = json_string_value (json_object_get (rec,
                                                          "undo_token"));
  json_t *sum;
  char why[1024];

  if (rec == NULL)
    return -1;
  if (!mig_safe_name (json_string_value (json_object_get (rec, "vm")))) {
    mig_quarantine_release (run_dir, id, path, rec);
    set_error (0, "migration %s: its record names no valid VM", id);
    return -1;
  }
  if (token == NULL || (root = storage_root (json_object_get (rec, "files")))
      == NULL || stage (root, rec, token) == -1 ||
      (r = move_back (rec, run_dir, id, root)) == NULL ||
      json_integer_value (json_object_get (r, "exit_code")) != MIG_OK) {
    snprintf (why, sizeof why, "%s", token == NULL ? "the destination "
              "recorded no writes for an undo" : r ? json_string_value
              (json_object_get (r, "result")) : get_error ());
    if (r)
      fputs (json_string_value (json_object_get (r, "log")), out);
    if (root && unstage (root, rec, true))
      json_object_set_new (rec, "note", json_string
                           ("a failed undo changed the quarantined images "
                            "in part: only another undo (which resumes) "
                            "makes them consistent again; do not start "
                            "the VM from them"));
    mig_quarantine_release (run_dir, id, path, rec);
    set_error (0, "undo failed, the VM runs on %s: %s", json_string_value
               (json_object_get (rec, "host")), why);
    return -1;
  }
  mig_quarantine_settle (path, rec, "undone", NULL);
  unstage (root, rec, false);   /* the empty directories */
  sum = json_object_get (r, "summary");
  fprintf (out, "migration %s undone: VM %s runs on this host again "
           "(sockets and logs in %s/%s/undo/%s); %" JSON_INTEGER_FORMAT
           " bytes of disk data and %" JSON_INTEGER_FORMAT " of memory "
           "came back\n", id, json_string_value (json_object_get (rec, "vm")),
           run_dir, id, json_string_value (json_object_get (rec, "vm")),
           json_integer_value (json_object_get (sum, "storage_bytes")),
           json_integer_value (json_object_get (sum, "memory_bytes")));
  return 0;
}

/* The agent's send-back hook (dest.h): the VM behind b->qmp migrates to
 * b->to's undo agent, its output collected for the reply.
 */
void
mig_send_back_run (const struct mig_send_back *b,
                   struct mig_send_back_result *r)
{
  size_t len = 0;
  FILE *out = open_memstream (&r->log, &len);
  struct mig_source_params p = {
    .vm = b->qmp, .host = b->to, .port = b->port, .tls_dir = b->tls_dir,
    .disk_map = b->disk_map, .json = true, .out = out, .cancel_fd = -1,
    .downtime_ms = 300, .dest_name = b->to, .psk = b->psk,
  };
  enum mig_result res = MIG_REFUSED;

  if (out == NULL)
    set_error (errno, "open_memstream");
  else {
    res = mig_source_run (&p);
    fclose (out);
  }
  r->exit_code = res;
  r->result = mig_result_text (res);
}
