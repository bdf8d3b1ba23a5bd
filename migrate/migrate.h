/* migrate.h: what composes both sides, the public face of migrate/:
 * vmferry undo (role reversal), the one-shot over ssh, several VMs at
 * once (evacuate).  Includes the two sides' public headers.
 *
 * Errors: set_error() + a result code / -1 / NULL (utils.h).
 */
#ifndef VMFERRY_MIGRATE_H
#define VMFERRY_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "source.h"
#include "dest.h"

/* vmferry undo ID (undo.c): move the VM of migration id, quarantined
 * with --keep-source=DURATION, back to this host, sending only what
 * changed on the destination.  Prints the outcome on out.  -1 +
 * set_error if it did not come back (it then runs on the destination,
 * and the quarantine goes on as before).
 */
int mig_undo (const char *run_dir, const char *id, FILE *out);

/* Migrate every VM of vms (NULL-terminated), at most parallel at once,
 * each with base's parameters.  After a failure no new migration
 * starts unless keep_going.  Prints one line per VM; returns the worst
 * result (MIG_REFUSED for VMs not started).
 */
enum mig_result mig_source_run_many (const struct mig_source_params *base,
                                     char *const *vms, unsigned parallel,
                                     bool keep_going);

/* ---- ssh.c: vmferry migrate VM --to ssh://[user@]host[:port] ---- */

struct mig_ssh_params {
  const char *target;           /* "ssh://[user@]host[:port]" */
  char *const *ssh_options;     /* each passed as "-o OPT" (may be NULL) */
  const char *ssh;              /* ssh client binary ("ssh") */
  const char *vmferryd;         /* vmferryd on the destination */
  const char *storage_root;     /* destination's roots (created) */
  const char *run_root;
  bool check;                   /* vmferry check: the report, no move */
};

/* Start "vmferryd --once" on the destination over ssh with fresh
 * per-migration credentials, run mig_source_run() through it (mp's
 * host, port, tls_dir, psk and dest_name are set here), and tear the
 * connection down.  Returns where the VM is, as mig_source_run().
 * With sp->check, run mig_check_run() instead (nothing moves).
 */
enum mig_result mig_ssh_run (const struct mig_ssh_params *sp,
                             struct mig_source_params *mp);

/* The send-back hook of mig_dest_params (dest.h): run a migration of
 * the VM behind b->qmp back to the host it came from (undo.c).
 */
void mig_send_back_run (const struct mig_send_back *b,
                        struct mig_send_back_result *r);

#endif /* VMFERRY_MIGRATE_H */
