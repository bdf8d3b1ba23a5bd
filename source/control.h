/* control.h: the run directory of a running migration (control.c),
 * private to migrate/.  See control.c for the files and the protocol.
 */
#ifndef VMFERRY_MIGRATE_CONTROL_H
#define VMFERRY_MIGRATE_CONTROL_H

#include <jansson.h>

struct src_control;
struct progress;

/* Create RUN_DIR/ID with its state file and control socket, and make
 * pr's events update the state file.  NULL + set_error.
 */
struct src_control *src_control_start (const char *run_dir, const char *id,
                                       const char *vm, const char *dest,
                                       struct progress *pr);

/* Store the journal object (copied) in the state file, durably, now.
 * 0 when c is NULL; -1 + set_error if it could not be written.
 */
int src_control_journal (struct src_control *c, json_t *journal);

/* Readable once a cancel was accepted (-1 when c is NULL). */
int src_control_cancel_fd (struct src_control *c);

/* The switchover begins: refuse further cancels.  Returns 1 if a
 * cancel was accepted before (and not yet seen), else 0.
 */
int src_control_last_cancel (struct src_control *c);

/* Stop serving, remove the socket, write the final state.  NULL ok.
 * With discard, remove RUN_DIR/ID instead (a migration refused before
 * anything was done leaves nothing behind).  The caller must have
 * unhooked the progress sink first.
 */
void src_control_stop (struct src_control *c, bool discard);

#endif
