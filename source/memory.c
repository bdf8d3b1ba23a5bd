/* source-memory.c: QEMU's own memory pre-copy, stopped at
 * pre-switchover so the disks can be finished while the guest is paused.
 * Waits on MIGRATION events (polling query-migrate during the switchover
 * would add its interval to the downtime); query-migrate is only polled
 * for progress while the guest still runs.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

/* QEMU 7.2's 128 MiB/s default cap is far below a fast link.  The
 * downtime limit comes from the parameters (--downtime).
 */
#define MAX_BANDWIDTH (10LL << 30)

/* QEMU's migration socket has no timeout of its own: a pre-copy that
 * moves no byte for this long is stuck (a dead link) and is cancelled.
 */
#define STALL_MS 60000
#define SAMPLE_MS 500         /* query-migrate, and a progress line */
#define SAMPLE_RELAY_MS 50

static bool
str_in (const char *s, const char *const *list)
{
  for (; s && *list; list++)
    if (strcmp (s, *list) == 0)
      return true;
  return false;
}

/* A MIGRATION event whose status is in the list opaque. */
static bool
status_is (json_t *ev, void *opaque)
{
  return str_in (json_string_value (json_object_get
                                    (json_object_get (ev, "data"),
                                     "status")), opaque);
}

/* Where QEMU migrates to: the relay's socket, or the skeleton's port. */
static char *
migration_uri (struct source *s)
{
  int port = json_integer_value (json_object_get (s->prepared,
                                                  "migration_port"));

  return s->rl.uri ? strdup (s->rl.uri) : net_tcp_uri (s->dhost, port);
}

/* The test hold "precopy" (vmferry(1), VMFERRY_TEST_HOLD): in QEMU's
 * second pass, which a guest that dirties little ends in milliseconds,
 * and QEMU would end pre-copy by itself while vmferry waits.  So while
 * the hold is due, QEMU's downtime limit is 1 ms, its bandwidth
 * HOLD_PRECOPY_BW (the second pass then lasts), vmferry looks every
 * HOLD_PRECOPY_SAMPLE_MS and the convergence policy rests; while held,
 * QEMU sends HOLD_PRECOPY_CRAWL, less than the guest dirties, so that
 * pre-copy goes on and cannot end; then everything is put back.
 */
#define HOLD_PRECOPY_PASS 2
#define HOLD_PRECOPY_BW (32LL << 20)
#define HOLD_PRECOPY_CRAWL (256LL << 10)
#define HOLD_PRECOPY_SAMPLE_MS 10

/* QEMU's max-bandwidth: on the direct path --bandwidth caps QEMU
 * itself; the relay paces.
 */
static json_int_t
qemu_bandwidth (const struct source *s)
{
  return s->rl.relay == NULL && s->p->bandwidth ? (json_int_t) s->p->bandwidth
    : MAX_BANDWIDTH;
}

static int
set_rate (struct source *s, json_int_t bw, json_int_t downtime)
{
  json_t *r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-parameters",
                            "{s:I, s:I}", "max-bandwidth", bw,
                            "downtime-limit", downtime);

  json_decref (r);
  return r ? 0 : -1;
}

static int
setup (struct source *s, bool hold)
{
  json_t *r;
  CLEANUP_FREE char *uri = NULL;

  if (src_relay_start (s) == -1)
    return -1;
  r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-capabilities",
               "{s:[{s:s,s:b},{s:s,s:b},{s:s,s:b}]}",
               "capabilities", "capability", "events", "state", 1,
               "capability", "pause-before-switchover", "state", 1,
               "capability", "postcopy-ram", "state", s->p->allow_postcopy);
  json_decref (r);
  if (r == NULL || src_relay_qemu_setup (s) == -1)
    return -1;
  if ((hold ? set_rate (s, HOLD_PRECOPY_BW, 1)
       : set_rate (s, qemu_bandwidth (s), src_converge_first_limit (s))) == -1
      || (uri = migration_uri (s)) == NULL ||
      src_converge_setup (s) == -1)
    return -1;
  qmp_clear_events (s->q);
  r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate", "{s:s}", "uri", uri);
  json_decref (r);
  if (r == NULL)
    return -1;
  return src_journal_stage (s, SRC_MIGRATING);
}

/* Record the source's STOP time (start of the guest's downtime). */
static void
note_stop (struct source *s)
{
  json_auto_t *ev = qmp_poll_event (s->q, "STOP", NULL, NULL);
  json_t *ts = json_object_get (ev, "timestamp");

  if (ev)
    s->stop_time = json_integer_value (json_object_get (ts, "seconds")) +
      json_integer_value (json_object_get (ts, "microseconds")) / 1e6;
}

/* -1 + set_error once ram.transferred has not grown for STALL_MS. */
static int
check_stall (struct source *s, json_t *info)
{
  uint64_t t = json_integer_value
    (json_object_get (json_object_get (info, "ram"), "transferred"));

  if (s->stall_since == 0 || t != s->stall_bytes) {
    s->stall_bytes = t;
    s->stall_since = now_ms ();
    return 0;
  }
  if (now_ms () - s->stall_since < STALL_MS)
    return 0;
  set_error (0, "the memory migration sent nothing for %d s (is the link "
             "down?)", STALL_MS / 1000);
  return -1;
}

/* At QEMU's HOLD_PRECOPY_PASS, the test hold "precopy" (its progress
 * and a note first: the note saves the state, so that vmferry status
 * names the pass it holds in), then QEMU's rate back: 1 held, 0 not
 * yet, -1 + set_error.
 */
static int
hold_precopy (struct source *s, json_t *info)
{
  json_int_t pass = json_integer_value
    (json_object_get (json_object_get (info, "ram"), "dirty-sync-count"));

  if (pass < HOLD_PRECOPY_PASS)
    return 0;
  if (set_rate (s, HOLD_PRECOPY_CRAWL, 1) == -1)
    return -1;
  progress_memory (&s->pr, info);
  progress_note (&s->pr, "test hold precopy: in QEMU's pass %"
                 JSON_INTEGER_FORMAT, pass);
  src_hold ("precopy");
  if (set_rate (s, qemu_bandwidth (s), src_converge_first_limit (s)) == -1)
    return -1;
  return 1;
}

/* Run pre-copy until the source pauses at pre-switchover. */
int
src_memory_run (struct source *s)
{
  static const char *const ends[] = { "pre-switchover", "failed",
                                      "cancelled", "completed", NULL };
  json_auto_t *ev = NULL;
  const char *st;
  int64_t shown = 0;
  /* The relay path corrects QEMU's downtime limit as QEMU's rate moves
   * (every 100 ms): it looks more often.
   */
  int every = s->rl.relay ? SAMPLE_RELAY_MS : SAMPLE_MS;
  bool hold = test_hold_wanted ("precopy");
  int h;

  if (setup (s, hold) == -1)
    return -1;
  while ((ev = qmp_wait_event (s->q, "MIGRATION", status_is, (void *) ends,
                               hold ? HOLD_PRECOPY_SAMPLE_MS : every))
         == NULL) {
    json_t *info;
    if (get_errno () != ETIMEDOUT || src_cancel_requested (s))
      return -1;
    info = qmp_commandf (s->q, QMP_TIMEOUT_MS, "query-migrate", NULL);
    if (info == NULL)
      return -1;
    json_decref (s->migrate_info);
    s->migrate_info = info;
    if (json_object_get (info, "ram") && now_ms () - shown >= SAMPLE_MS) {
      shown = now_ms ();
      progress_memory (&s->pr, info);
    }
    if (hold && (h = hold_precopy (s, info)) != 0) {
      if (h == -1)
        return -1;
      hold = false;
    }
    if ((!hold && src_converge_sample (s, info) == -1) ||
        check_stall (s, info) == -1)
      return -1;
  }
  note_stop (s);
  st = json_string_value (json_object_get (json_object_get (ev, "data"),
                                           "status"));
  if (strcmp (st, "pre-switchover") != 0) {
    json_auto_t *info = qmp_commandf (s->q, QMP_TIMEOUT_MS, "query-migrate", NULL);
    const char *e = json_string_value (json_object_get (info, "error-desc"));
    set_error (0, "memory migration %s%s%s", st, e ? ": " : "", e ? e : "");
    return -1;
  }
  return src_journal_stage (s, SRC_SWITCHOVER);
}

/* Release the paused source to send its final state; wait for the end. */
int
src_memory_continue (struct source *s)
{
  static const char *const ends[] = { "completed", "failed", "cancelled",
                                      NULL };
  json_auto_t *r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-continue", "{s:s}",
                            "state", "pre-switchover");
  json_auto_t *ev = NULL, *info = NULL;
  const char *st;

  if (r == NULL)
    return -1;
  ev = qmp_wait_event (s->q, "MIGRATION", status_is, (void *) ends, 120000);
  if (ev == NULL)
    return -1;
  st = json_string_value (json_object_get (json_object_get (ev, "data"),
                                           "status"));
  if (strcmp (st, "completed") != 0) {
    info = qmp_commandf (s->q, QMP_TIMEOUT_MS, "query-migrate", NULL);
    const char *e = json_string_value (json_object_get (info, "error-desc"));
    set_error (0, "memory migration %s at switchover%s%s", st,
               e ? ": " : "", e ? e : "");
    return -1;
  }
  /* Recorded for vmferry recover; the source QEMU itself also says
   * "completed" if this write is lost.
   */
  if (src_journal_stage (s, SRC_COMPLETED) == -1)
    debug ("journal: %s", get_error ());
  return 0;
}

/* QEMU's final figures.  "downtime" appears a moment after the
 * "completed" event, so this runs once the destination has resumed (it
 * would otherwise add to the guest's downtime).
 */
void
src_memory_final_info (struct source *s)
{
  int i;

  for (i = 0; i < 20; i++) {
    json_t *info = qmp_commandf (s->q, QMP_TIMEOUT_MS, "query-migrate", NULL);
    if (info == NULL)
      return;
    json_decref (s->migrate_info);
    s->migrate_info = info;
    if (json_object_get (info, "downtime"))
      return;
    usleep (25000);
  }
}

/* Undo: cancel QEMU's migration, put the VM back as it was. */
void
src_memory_rollback (struct source *s)
{
  static const char *const ends[] = { "cancelled", "failed", "completed",
                                      NULL };
  json_t *r;

  if (s->stage >= SRC_MIGRATING) {
    json_auto_t *info = qmp_commandf (s->q, QMP_TIMEOUT_MS, "query-migrate", NULL);
    const char *st = json_string_value (json_object_get (info, "status"));
    if (st && !str_in (st, ends)) {
      json_decref (qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate_cancel", NULL));
      json_decref (qmp_wait_event (s->q, "MIGRATION", status_is,
                                   (void *) ends, 30000));
    }
  }
  /* QEMU has let go of the relay's sockets (migrate_cancel shuts them
   * down even when a write blocks): cut what is left of the relay.
   */
  src_relay_stop (s, false);
  r = qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-capabilities", "{s:[{s:s,s:b}]}",
               "capabilities", "capability", "pause-before-switchover",
               "state", 0);
  json_decref (r);
  /* multifd off, and its compression back to QEMU's default. */
  if (s->rl.multifd_set) {
    json_decref (qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-capabilities", "{s:[{s:s,s:b}]}",
                          "capabilities", "capability", "multifd",
                          "state", 0));
    json_decref (qmp_commandf (s->q, QMP_TIMEOUT_MS, "migrate-set-parameters", "{s:s}",
                          "multifd-compression", "none"));
  }
  s->rl.multifd_set = false;
}
