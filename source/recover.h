/* recover.h: vmferry recover (private to migrate/).  recover.c decides
 * per journal; recover-source.c acts on the source QEMU and host.
 */
#ifndef VMFERRY_MIGRATE_RECOVER_H
#define VMFERRY_MIGRATE_RECOVER_H

#include "internal.h"

/* What QEMU's migration on the source says. */
enum rec_migration {
  REC_NOT_MIGRATED,             /* none, cancelled or failed: source owns it */
  REC_COMPLETED,                /* completed, VM still paused after it */
  REC_POSTCOPY,                 /* post-copy: the state is split */
};

/* Cancel a migration still in progress on the source QEMU (waiting for
 * it to end) and say where it ended.  -1 + set_error.
 */
int rec_source_migration (struct qmp *q, enum rec_migration *m);

/* Remove everything the journal j (or the vmferry-* naming) says
 * vmferry made on the source QEMU and host, and resume the VM if it ran
 * before.  Best effort: what could not be removed is set_error'd and
 * -1 returned, after trying the rest.
 */
int rec_source_rollback (struct qmp *q, json_t *j);

/* Quit the source QEMU (pid) and wait for it; kill it if it lingers. */
int rec_source_quit (struct qmp *q, pid_t pid);

/* Delete the images listed in j's "delete" unless "keep_source". */
int rec_source_delete (json_t *j);

#endif
