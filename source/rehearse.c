/* rehearse.c: vmferry migrate --dry-run, a live rehearsal.
 *
 * Runs the real preflight, check and prepare (the destination starts the
 * paused skeleton QEMU with its NBD exports and migration listener,
 * both with TLS), then has the source QEMU connect an NBD client node to
 * every export over TLS and removes it again.  source.c then tears
 * everything down with its rollback: the source VM never stopped, and
 * the destination is left as it was.  s->rehearsal lists what was
 * exercised, for the summary.
 *
 * XXX The migration port is not connected: a skeleton accepts exactly
 * one incoming migration, and a probe connection would consume it.
 */
#include <config.h>

#include "internal.h"

/* Append one line to the list of what was exercised. */
static void __attribute__ ((format (printf, 2, 3)))
exercised (struct source *s, const char *fmt, ...)
{
  char line[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  json_array_append_new (s->rehearsal, json_string (line));
  progress_note (&s->pr, "dry run: %s", line);
}

/* The NBD export of disk i, reached from the source QEMU over TLS. */
static int
connect_export (struct source *s, size_t i, const char *port)
{
  const struct mig_disk *d = &s->vm->disks[i];
  char node[48];
  json_t *r;

  snprintf (node, sizeof node, "vmferry-nbd-%zu", i);
  r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "blockdev-add", "{s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:s}",
               "driver", "nbd", "node-name", node,
               "server", "type", "inet", "host", s->dhost, "port", port,
               "export", d->id, "tls-creds", MIG_TLS_ID);
  if (r == NULL) {
    prefix_error ("dry run: disk %s: NBD over TLS to %s:%s", d->id,
                  s->dhost, port);
    return -1;
  }
  json_decref (r);
  s->n_nodes = i + 1;           /* rollback removes it on failure */
  r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "blockdev-del", "{s:s}", "node-name", node);
  if (r == NULL)
    return -1;
  json_decref (r);
  exercised (s, "disk %s: the source QEMU connected to its NBD export on "
             "%s:%s with TLS and disconnected", d->id, s->dhost, port);
  return 0;
}

int
src_rehearse (struct source *s)
{
  int port = json_integer_value (json_object_get (s->prepared, "nbd_port"));
  char portstr[16];
  size_t i;

  progress_phase (&s->pr, "rehearsal", "connecting the disks' exports");
  if (s->rehearsal == NULL && (s->rehearsal = json_array ()) == NULL)
    return -1;
  exercised (s, "control: HTTPS with mutual TLS to %s:%d (check, prepare)",
             s->p->host, s->p->port);
  if (json_is_true (json_object_get (s->prepared, "relay")))
    exercised (s, "destination: skeleton QEMU started paused, NBD exports "
               "opened with TLS, incoming migration on a unix socket for "
               "the data channel's relay (data port %d)",
               (int) json_integer_value (json_object_get (s->prepared,
                                                          "data_port")));
  else
    exercised (s, "destination: skeleton QEMU started paused, NBD exports "
               "and migration listener (port %d) opened with TLS",
               (int) json_integer_value (json_object_get (s->prepared,
                                                          "migration_port")));
  snprintf (portstr, sizeof portstr, "%d", port);
  for (i = 0; i < s->vm->n_disks; i++) {
    if (!mig_disk_copied (&s->vm->disks[i]))
      continue;
    if (connect_export (s, i, portstr) == -1)
      return -1;
  }
  s->n_nodes = 0;
  exercised (s, "not exercised: the migration stream (the skeleton "
             "accepts one incoming migration only)");
  return 0;
}
