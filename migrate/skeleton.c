/* skeleton.c: the paused QEMU on the destination that receives a VM. */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "internal.h"

#define QMP_TIMEOUT 10000

/* Find a free TCP port on host by binding port 0.  The port is free when
 * this returns; QEMU binds it a moment later (a race only with other
 * programs picking ports the same way, which fails loudly at bind).
 */
int
mig_free_port (const char *host)
{
  struct sockaddr_storage ss = { 0 };
  socklen_t len = sizeof ss;
  CLEANUP_CLOSE int fd = -1;
  struct sockaddr_in *in4 = (struct sockaddr_in *) &ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;

  if (inet_pton (AF_INET, host, &in4->sin_addr) == 1)
    in4->sin_family = AF_INET;
  else if (inet_pton (AF_INET6, host, &in6->sin6_addr) == 1)
    in6->sin6_family = AF_INET6;
  else {
    set_error (0, "'%s' is not an IP address", host);
    return -1;
  }
  fd = socket (ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1 || bind (fd, (struct sockaddr *) &ss,
                        ss.ss_family == AF_INET ? sizeof *in4 : sizeof *in6)
      == -1 || getsockname (fd, (struct sockaddr *) &ss, &len) == -1) {
    set_error (errno, "bind %s", host);
    return -1;
  }
  return ntohs (ss.ss_family == AF_INET ? in4->sin_port : in6->sin6_port);
}

/* The last line of the log (QEMU's error), malloc'd or NULL. */
static char *
last_line (const char *log)
{
  char *text = read_file (log, NULL), *nl;

  if (text == NULL)
    return NULL;
  while ((nl = strrchr (text, '\n')) && nl[1] == '\0')
    *nl = '\0';
  nl = strrchr (text, '\n');
  if (nl)
    memmove (text, nl + 1, strlen (nl + 1) + 1);
  return text;
}

struct qmp *
mig_qemu_start (char *const *argv, const struct vm_confine *c,
                const char *qmp, pid_t *pid)
{
  int64_t end = now_ms () + MIG_QEMU_START_MS;
  CLEANUP_FREE char *why = NULL;
  struct qmp *q;

  *pid = vm_spawn_confined (argv, c);
  if (*pid == -1) {
    *pid = 0;
    return NULL;
  }
  while (now_ms () < end && pid_alive (*pid)) {
    q = qmp_connect (qmp, (int) (end - now_ms ()));
    if (q)
      return q;
    if (get_errno () != ENOENT && get_errno () != ECONNREFUSED)
      break;
    usleep (20000);
  }
  /* QEMU's own message, once it is gone (if it goes). */
  while (now_ms () < end && pid_alive (*pid) && get_errno () != ETIMEDOUT)
    usleep (20000);
  why = last_line (c->log);
  set_error (0, "QEMU did not start%s: %s", pid_alive (*pid)
             ? " in time" : "", why && *why ? why : "no message");
  return NULL;
}

/* Kill the skeleton and wait (up to 5 s) until it is gone. */
int
mig_skeleton_kill (pid_t pid)
{
  int i;

  if (pid <= 1)
    return 0;
  kill (pid, SIGKILL);
  for (i = 0; i < 500; i++) {
    if (!pid_alive (pid))
      return 0;
    usleep (10000);
  }
  set_error (0, "QEMU process %d does not die", (int) pid);
  return -1;
}

/* "tcp:HOST:PORT" with brackets around an IPv6 host. */
char *
mig_tcp_uri (const char *host, int port)
{
  return strchr (host, ':') ? xasprintf ("tcp:[%s]:%d", host, port)
    : xasprintf ("tcp:%s:%d", host, port);
}

/* Run one QMP command and drop its reply. */
static int
cmd (struct qmp *q, const char *name, json_t *args)
{
  json_t *r = qmp_command (q, name, args, QMP_TIMEOUT);

  json_decref (r);
  return r ? 0 : -1;
}

/* The skeleton's TLS credentials: x509 with the peer verified by the
 * CA, or (one-shot over ssh) the per-migration pre-shared key, which
 * authenticates both ends by itself.
 */
static json_t *
tls_object (const struct mig_skeleton_net *n)
{
  if (n->psk)
    return json_pack ("{s:s, s:s, s:s, s:s}", "qom-type", "tls-creds-psk",
                      "id", MIG_TLS_ID, "dir", n->tls_dir,
                      "endpoint", "server");
  return json_pack ("{s:s, s:s, s:s, s:s, s:b}", "qom-type", "tls-creds-x509",
                    "id", MIG_TLS_ID, "dir", n->tls_dir, "endpoint", "server",
                    "verify-peer", 1);
}

/* Migration capabilities and parameters: QEMU's TLS on the TCP
 * listener, none on the relay's unix socket; multifd (and its
 * compression) as the source will use it.
 */
static int
migration_setup (struct qmp *q, const struct mig_skeleton_net *n)
{
  bool multifd = n->multifd > 1;
  const char *tls = n->relay_sock ? "" : MIG_TLS_ID;
  const char *comp = n->multifd_compression ? n->multifd_compression
    : "none";

  return cmd (q, "migrate-set-capabilities",
              json_pack ("{s:[{s:s, s:b}, {s:s, s:b}, {s:s, s:b}]}",
                         "capabilities", "capability", "events", "state", 1,
                         "capability", "postcopy-ram", "state", n->postcopy,
                         "capability", "multifd", "state", multifd)) == -1 ||
    cmd (q, "migrate-set-parameters",
         multifd ? json_pack ("{s:s, s:i, s:s}", "tls-creds", tls,
                              "multifd-channels", (int) n->multifd,
                              "multifd-compression", comp)
         : json_pack ("{s:s}", "tls-creds", tls)) == -1 ? -1 : 0;
}

/* TLS credentials, migration capabilities, NBD server with one writable
 * export per disk, and the incoming migration listener.
 */
int
mig_skeleton_setup (struct qmp *q, const struct mig_skeleton_net *n,
                    const struct mig_vm *vm)
{
  CLEANUP_FREE char *uri = n->relay_sock
    ? xasprintf ("unix:%s", n->relay_sock)
    : mig_tcp_uri (n->host, n->migration_port);
  char port[16];
  size_t i;

  snprintf (port, sizeof port, "%d", n->nbd_port);
  if (uri == NULL ||
      cmd (q, "object-add", tls_object (n)) == -1 ||
      migration_setup (q, n) == -1 ||
      cmd (q, "nbd-server-start",
           json_pack ("{s:{s:s, s:{s:s, s:s}}, s:s}", "addr", "type", "inet",
                      "data", "host", n->host, "port", port,
                      "tls-creds", MIG_TLS_ID)) == -1)
    return -1;
  for (i = 0; i < vm->n_disks; i++) {
    const struct mig_disk *d = &vm->disks[i];
    CLEANUP_FREE char *id = xasprintf ("vmferry-exp-%zu", i);
    if (!mig_disk_copied (d))
      continue;
    if (id == NULL ||
        cmd (q, "block-export-add",
             json_pack ("{s:s, s:s, s:s, s:s, s:b}", "type", "nbd",
                        "id", id, "node-name", d->node, "name", d->id,
                        "writable", 1)) == -1)
      return -1;
  }
  return cmd (q, "migrate-incoming", json_pack ("{s:s}", "uri", uri));
}
