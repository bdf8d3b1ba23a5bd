/* skeleton.c: the paused QEMU on the destination that receives a VM. */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "internal.h"

/* Run one QMP command and drop its reply. */
static int
cmd (struct qmp *q, const char *name, json_t *args)
{
  json_t *r = qmp_command (q, name, args, QMP_TIMEOUT_MS);

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

static int add_write_node (struct qmp *q, const struct mig_disk *d,
                           const char *node);

/* TLS credentials, migration capabilities, NBD server with one writable
 * export per copied disk, and the incoming migration listener.
 */
int
mig_skeleton_setup (struct qmp *q, const struct mig_skeleton_net *n,
                    const struct mig_vm *vm)
{
  CLEANUP_FREE char *uri = n->relay_sock
    ? xasprintf ("unix:%s", n->relay_sock)
    : net_tcp_uri (n->host, n->migration_port);
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
    char wnode[48];
    if (!mig_disk_copied (d))
      continue;
    mig_skeleton_write_node (i, wnode, sizeof wnode);
    if (id == NULL || (d->read_only && add_write_node (q, d, wnode) == -1) ||
        cmd (q, "block-export-add",
             json_pack ("{s:s, s:s, s:s, s:s, s:b}", "type", "nbd",
                        "id", id, "node-name", d->read_only ? wnode
                        : d->node, "name", d->id, "writable", 1)) == -1)
      return -1;
  }
  return cmd (q, "migrate-incoming", json_pack ("{s:s}", "uri", uri));
}

void
mig_skeleton_write_node (size_t i, char *buf, size_t n)
{
  snprintf (buf, n, "vmferry-w-%zu", i);
}

/* The VM opens a read-only disk read-only, so its node cannot be
 * exported for writing: a second node on the same image file is.  The
 * VM's node stays inactive until the incoming migration completes (as
 * for images on shared storage), and reads the image again then, with
 * what the copy wrote; this node takes no lock, which would keep the VM's
 * node from taking its own then.  Deleted once the VM runs
 * (mig_skeleton_drop_write_nodes).
 */
static int
add_write_node (struct qmp *q, const struct mig_disk *d, const char *node)
{
  return cmd (q, "blockdev-add",
              json_pack ("{s:s, s:s, s:b, s:{s:s, s:s, s:s}}",
                         "driver", d->format, "node-name", node,
                         "read-only", 0, "file", "driver", "file",
                         "filename", d->dest_path, "locking", "off"));
}

void
mig_skeleton_drop_write_nodes (struct qmp *q, const struct mig_vm *vm)
{
  size_t i;

  for (i = 0; i < vm->n_disks; i++) {
    char node[48];
    if (!mig_disk_copied (&vm->disks[i]) || !vm->disks[i].read_only)
      continue;
    mig_skeleton_write_node (i, node, sizeof node);
    if (cmd (q, "blockdev-del", json_pack ("{s:s}", "node-name", node)) == -1)
      debug ("%s: %s", node, get_error ());
  }
}
