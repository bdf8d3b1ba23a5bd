/* source-relay.c: QEMU's memory migration through vmferry's data
 * channel (net.h, relay.c).  The source QEMU migrates to a unix socket
 * in a private directory; each of its connections (the main one, then
 * one per multifd channel with --channels N > 1) is relayed over its
 * own TLS stream to vmferryd, framed and compressed per --transport,
 * paced by --bandwidth together with the disks' data, and handed to
 * the skeleton's incoming migration.  QEMU's own TLS is off on this
 * path: the unix sockets are private to each host and the channel is
 * mutual TLS.  With --transport direct, --allow-postcopy (the relay is
 * one-way), TLS-PSK (no certificates), or a vmferryd without the relay,
 * QEMU migrates straight to the skeleton with its TLS.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

/* How long the connections may take to deliver their last bytes once
 * the source QEMU completed (the destination has finished by then).
 */
#define END_GRACE_MS 30000

bool
src_relay_wanted (const struct source *s)
{
  return !s->p->psk && !s->p->allow_postcopy &&
    s->p->transport != MIG_TRANSPORT_DIRECT;
}

/* Through the relay: --channels.  Direct: what the skeleton set (the
 * prepare reply; a vmferryd without multifd on this path says none).
 */
unsigned
src_relay_multifd (const struct source *s)
{
  json_int_t n = json_integer_value (json_object_get (s->prepared,
                                                      "multifd_channels"));

  if (s->rl.relay)
    return s->p->channels > 1 ? s->p->channels : 0;
  return n > 1 && n <= MIG_MAX_CHANNELS ? n : 0;
}

/* The agent sets multifd on the direct path only when the request
 * names its compression: an older source never does, and sets no
 * multifd on its QEMU there (with TLS-PSK, --channels meant nothing).
 */
const char *
src_direct_multifd_request (const struct source *s)
{
  if (src_relay_wanted (s) || s->p->channels < 2)
    return NULL;
  return s->p->qemu_compression ? s->p->qemu_compression : "none";
}

/* The direct path's multifd-compression, as the skeleton set it. */
static const char *
direct_compression (const struct source *s)
{
  const char *c = json_string_value (json_object_get (s->prepared,
                                                      "multifd_compression"));
  return c ? c : "none";
}

/* --qemu-compression needs the skeleton's multifd on the direct path. */
static int
direct_multifd_check (struct source *s, unsigned multifd)
{
  if (s->rl.relay || s->p->channels < 2 || multifd == s->p->channels ||
      src_relay_wanted (s))       /* src_relay_start said why not */
    return 0;
  if (s->p->qemu_compression == NULL) {
    progress_note (&s->pr, "memory: the destination does not use QEMU's "
                   "multifd on this path; QEMU sends one connection");
    return 0;
  }
  set_error (0, "--qemu-compression: the destination's vmferryd does not "
             "set up QEMU's multifd on the direct path");
  return -1;
}

int
src_relay_start (struct source *s)
{
  json_t *port = json_object_get (s->prepared, "data_port");
  CLEANUP_FREE char *path = NULL;
  struct net_relay_params p = {
    .ch = { .host = s->dhost, .port = json_integer_value (port),
            .tls_dir = s->p->tls_dir, .id = s->id, .streams = 1,
            .mode = mig_net_mode (s->p->transport), .pace = s->pace,
            .zstd = json_is_true (json_object_get (s->prepared,
                                                   "data_zstd")) },
    .max_conns = 1 + (s->p->channels > 1 ? s->p->channels : 0),
  };

  if (!src_relay_wanted (s))
    return 0;
  if (!json_is_true (json_object_get (s->prepared, "relay")) ||
      !json_is_integer (port)) {
    progress_note (&s->pr, "memory: the destination cannot relay QEMU's "
                   "migration; QEMU sends it directly%s",
                   s->p->channels > 1 ? " (one connection)" : "");
    return 0;
  }
  /* vmferry listens; QEMU connects by its own path to the socket. */
  if (mig_qemu_dir_make (s->vm->pid, "relay", &s->rl.dir) == -1)
    return -1;
  if (src_journal_add (s, "dir", s->rl.dir.host) == -1)
    return -1;
  if ((path = xasprintf ("%s/migration.sock", s->rl.dir.host)) == NULL)
    return -1;
  p.path = path;
  s->rl.relay = net_relay_start (&p);
  if (s->rl.relay == NULL || mig_qemu_dir_give (&s->rl.dir, path) == -1)
    return -1;
  s->rl.uri = xasprintf ("unix:%s/migration.sock", s->rl.dir.qemu);
  return s->rl.uri ? 0 : -1;
}

/* The capabilities and parameters of this path on the source QEMU. */
int
src_relay_qemu_setup (struct source *s)
{
  unsigned multifd = src_relay_multifd (s);
  json_t *r;

  if (direct_multifd_check (s, multifd) == -1)
    return -1;
  r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-capabilities", "{s:[{s:s,s:b}]}",
               "capabilities", "capability", "multifd", "state",
               multifd > 0);
  json_decref (r);
  if (r == NULL)
    return -1;
  s->rl.multifd_set = multifd > 0;
  s->rl.multifd_channels = multifd;
  snprintf (s->rl.multifd_compression, sizeof s->rl.multifd_compression, "%s",
            s->rl.relay ? "none" : direct_compression (s));
  if (s->rl.relay == NULL && multifd)
    r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-parameters", "{s:s, s:s, s:i, s:s}",
                 "tls-creds", MIG_TLS_ID, "tls-hostname", s->dhost,
                 "multifd-channels", (int) multifd,
                 "multifd-compression", direct_compression (s));
  else if (s->rl.relay == NULL)
    r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-parameters", "{s:s, s:s}",
                 "tls-creds", MIG_TLS_ID, "tls-hostname", s->dhost);
  else if (multifd)
    r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-parameters", "{s:s, s:s, s:i, s:s}",
                 "tls-creds", "", "tls-hostname", "",
                 "multifd-channels", (int) multifd,
                 "multifd-compression", "none");
  else
    r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-parameters", "{s:s, s:s}",
                 "tls-creds", "", "tls-hostname", "");
  json_decref (r);
  return r ? 0 : -1;
}

/* Stop the relay: after a migration that completed, the connections
 * end by themselves; on a rollback they are cut.
 */
int
src_relay_stop (struct source *s, bool completed)
{
  struct net_stream_stats st;
  int r;

  if (s->rl.relay == NULL && s->rl.dir.host[0] == '\0')
    return 0;
  r = net_relay_stop (s->rl.relay, completed ? END_GRACE_MS : 0, &st,
                      &s->rl.conns);
  s->rl.relay = NULL;
  if (s->rl.dir.host[0])
    remove_tree (s->rl.dir.host);
  s->rl.dir.host[0] = '\0';
  free (s->rl.uri);
  s->rl.uri = NULL;
  s->rl.raw = st.raw_bytes;
  s->rl.wire = st.wire_bytes;
  if (completed)
    progress_note (&s->pr, "memory relay: %" PRIu64 " MiB of QEMU's "
                   "migration stream sent as %" PRIu64 " MiB over %u "
                   "connection(s) (%" PRIu64 " of %" PRIu64 " frames "
                   "compressed, %" PRIu64 " with zstd)", st.raw_bytes >> 20,
                   st.wire_bytes >> 20, s->rl.conns, st.compressed,
                   st.frames, st.zstd);
  return r;
}
