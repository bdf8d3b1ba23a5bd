/* internal.h: the source side's state during one migration (private to
 * source/).
 */
#ifndef VMFERRY_SOURCE_INTERNAL_H
#define VMFERRY_SOURCE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "utils.h"
#include "qmp.h"
#include "api.h"
#include "net.h"
#include "vm.h"
#include "storage.h"
#include "memory.h"
#include "source.h"
#include "progress.h"
#include "control.h"

/* How far the migration got: rollback undoes exactly this much. */
enum src_stage {
  SRC_NOTHING,          /* nothing changed anywhere */
  SRC_PREPARED,         /* destination skeleton exists */
  SRC_MIRRORING,        /* source has NBD nodes / mirror jobs */
  SRC_MIGRATING,        /* QEMU migration running */
  SRC_SWITCHOVER,       /* source paused at pre-switchover */
  SRC_COMPLETED,        /* source QEMU finished sending: dest has it all */
  SRC_MOVED,            /* destination VM runs */
};

/* The convergence driver's state (converge.c owns it: no other file
 * reads or writes it but through converge.c's functions).
 */
struct src_converge {
  struct mem_policy policy;
  double dirty_rate;            /* sampled, bytes/s (< 0: not known) */
  int64_t dirty_started;        /* ms: calc-dirty-rate started (0: not) */
  int64_t dirty_polled;         /* ms: last query-dirty-rate */
  bool forecast_done;           /* a forecast with a link rate was given */
  /* the relay path's downtime limit */
  uint64_t downtime_target;     /* ms: what the policy allows now */
  uint64_t downtime_set;        /* ms: QEMU's downtime-limit now */
  double qrate_cur, qrate_prev; /* QEMU's highest rate, this / last second */
  int64_t qrate_t;              /* ms: this second began */
  uint64_t wire_anchor;         /* relay bytes on the wire at wire_t */
  int64_t wire_t;
  double wire_rate;             /* highest relay rate seen, bytes/s */
  bool postcopy;                /* post-copy started: no way back */
  int64_t throttle_since;       /* ms: the throttle's cap lifted (0: not) */
  int throttle_max;             /* highest throttle QEMU applied since, % */
};

/* QEMU's migration relayed through the data channel (relay.c owns it;
 * memory.c, converge.c and run.c read it).
 */
struct src_relay {
  struct net_relay *relay;      /* QEMU's migration relayed, or NULL */
  struct mig_qemu_dir dir;      /* its private dir (host "" if none) */
  char *uri;                    /* "unix:DIR/migration.sock" */
  bool multifd_set;             /* the source QEMU's multifd capability */
  unsigned multifd_channels;    /* ... with this many channels */
  char multifd_compression[8]; /* and this multifd-compression */
  uint64_t raw, wire;           /* QEMU's bytes, and on the wire */
  unsigned conns;               /* connections relayed */
};

struct source {
  const struct mig_source_params *p;
  struct qmp *q;
  struct mig_vm *vm;
  struct mig_agent *agent;      /* the destination's agent (agent.c) */
  struct progress pr;
  char id[40];                  /* migration id */
  enum src_stage stage;
  json_t *prepared;             /* destination's prepare reply */
  const char *dhost;            /* its data address (in prepared) */
  bool tls_added;               /* vmferry-tls object on the source */
  size_t n_nodes;               /* NBD client nodes added */
  size_t n_jobs;                /* mirror jobs started */
  bool was_running;             /* the VM ran when we started */
  bool cancelled;
  bool deleted;                 /* source images deleted */
  /* measurements */
  int64_t t_start, t_storage, t_memory, t_switch, t_end;
  uint64_t storage_bytes;
  uint64_t storage_wire_bytes;  /* the engine's: as sent on the link */
  json_t *migrate_info;         /* last query-migrate on the source */
  struct src_engine *engine;    /* --storage-engine vmferry, else NULL */
  double stop_time;             /* source's STOP event */
  json_t *rehearsal;            /* --dry-run: what was exercised */
  int64_t t_mirror;             /* storage phase start */
  struct src_converge conv;     /* owned by converge.c */
  struct src_control *ctl;      /* run dir: status and cancel (or NULL) */
  bool dest_queued;             /* last refusal said "queued" */
  bool shared;                  /* some disk is on shared storage */
  struct src_resume *resume;    /* source-resume.c (NULL before preflight) */
  char undo_token[33];          /* --keep-source=DURATION: the destination
                                   records writes for vmferry undo */
  /* the data channel */
  struct net_pace *pace;        /* --bandwidth, disks and memory together */
  struct mig_qemu_dir tls_view; /* the TLS copy a confined QEMU reads */
  struct src_relay rl;          /* owned by relay.c */
  json_t *journal;              /* source-journal.c (NULL: no run dir) */
  uint64_t stall_bytes;         /* memory sent at stall_since */
  int64_t stall_since;          /* ms; 0: not sampled yet */
  struct src_latency *latency;  /* latency.c (NULL: not measured) */
};

/* summary.c: the final object of vmferry migrate (a new reference). */
json_t *src_summary (struct source *s, enum mig_result r);

/* latency.c: the guest's write latency per phase, from QEMU's block
 * latency histograms.  start: -1 (noted) if it cannot be measured;
 * mark closes the phase named (since the last mark); report is a new
 * reference to {"PHASE": {"writes", "p50_us", "p99_us", "max_us"}}
 * or NULL; stop frees it (remove: also turn the histograms off).
 */
int src_latency_start (struct source *s);
void src_latency_mark (struct source *s, const char *phase);
json_t *src_latency_report (const struct source *s);
void src_latency_stop (struct source *s, bool remove);

/* source-journal.c: the crash-safe journal in RUN_DIR/ID/state.json.
 * Each call writes it durably before returning; -1 + set_error if it
 * could not be written (the migration must then not go on).
 */
const char *src_stage_name (enum src_stage st);
int src_journal_begin (struct source *s);
/* Set s->stage and record it. */
int src_journal_stage (struct source *s, enum src_stage st);
/* Record that an object of kind (tls, node, job, bitmap, nbd-server,
 * export, dir) named name is about to be made.
 */
int src_journal_add (struct source *s, const char *kind, const char *name);
/* The migration ended: open = something is left for vmferry recover. */
void src_journal_close (struct source *s, bool open);
/* VMFERRY_TEST_HOLD for vmferry (a testing aid, vmferry(1)). */
#define src_hold(point) test_hold ("vmferry", (point))

/* source-storage.c */
int src_storage_start (struct source *s, const char *sync);
int src_storage_wait_ready (struct source *s);
/* At the switchover: every mirror asked to stop at once, then their
 * ends awaited; then the NBD nodes deleted.
 */
int src_storage_complete (struct source *s);
void src_storage_rollback (struct source *s);

/* source-engine.c: vmferry's storage engine */
/* The data channel's mode for --transport (direct: auto). */
enum net_transport mig_net_mode (enum mig_transport t);
/* Should prepare ask vmferryd for the data channel? */
bool src_engine_wants_channel (const struct source *s);
int src_engine_start (struct source *s);
int src_engine_finish (struct source *s);
void src_engine_done (struct source *s);
void src_engine_rollback (struct source *s);
void src_engine_free (struct src_engine *g);

/* source-resume.c: resuming a failed copy of vmferry's engine.
 * load: after preflight, check the state an earlier attempt left (or
 * discard it with --no-resume / the QEMU engine); token: what prepare
 * offers vmferryd (NULL: nothing); begin: after prepare, learn whether
 * vmferryd reused its partial images (else a fresh token); accepted:
 * it did; bitmap_name: the persistent bitmap's name; copied_to: how far
 * the earlier bulk copy of disk idx got (bytes; 0 unless accepted);
 * progress: record that disk idx is copied and flushed up to copied_to
 * (also the first record of a fresh attempt); forget: after success,
 * remove bitmaps and state files; keep: the token the rollback asks
 * vmferryd to keep the partial images under (NULL: none).
 */
int src_resume_load (struct source *s);
const char *src_resume_token (const struct source *s);
bool src_resume_enabled (const struct source *s);
int src_resume_begin (struct source *s);
bool src_resume_accepted (const struct source *s);
void src_resume_bitmap_name (const struct source *s, char *buf, size_t n);
uint64_t src_resume_copied_to (const struct source *s, size_t idx);
int src_resume_progress (struct source *s, size_t idx, uint64_t copied_to);
void src_resume_forget (struct source *s);
const char *src_resume_keep (const struct source *s);
void src_resume_free (struct src_resume *r);

/* quarantine.c: rename the source images aside, record the quarantine
 * in the run dir and start its reaper.  -1 + set_error (files that were
 * not renamed are kept).
 */
int src_quarantine (struct source *s);
/* The same for any source: rec has "files" [{"path", ...}] (renamed
 * aside, each given its "quarantine" name) and what the reaper's
 * confirmation needs: "host", "port", "tls_dir" (vmferryd's status) or
 * "libvirt_uri", "domain" (libvirt's).  id, deadline and state are set
 * here.
 */
int src_quarantine_files (const char *run_dir, const char *id, json_t *rec,
                          uint64_t seconds, struct progress *pr);
/* source-relay.c: QEMU's migration through the data channel */
/* Should prepare ask for the relay? */
bool src_relay_wanted (const struct source *s);
/* The prepare request's "multifd_compression": QEMU's own multifd on
 * the direct path wanted (NULL: not).
 */
const char *src_direct_multifd_request (const struct source *s);
/* multifd channels in use (0: none). */
unsigned src_relay_multifd (const struct source *s);
/* Start relaying if the destination agreed (s->relay stays NULL if not). */
int src_relay_start (struct source *s);
/* multifd and TLS of the migration on the source QEMU. */
int src_relay_qemu_setup (struct source *s);
/* Stop, record the figures; completed: wait for the connections' ends. */
int src_relay_stop (struct source *s, bool completed);

/* source-memory.c */
int src_memory_run (struct source *s);
int src_memory_continue (struct source *s);
void src_memory_rollback (struct source *s);
void src_memory_final_info (struct source *s);

/* check.c: the compatibility report from the destination (POST
 * /v1/check); -1 (set_error) if the VM cannot move there.
 */
int src_check (struct source *s);

/* rehearse.c: --dry-run, after prepare and add_tls. */
int src_rehearse (struct source *s);
/* disks.c: --disk / --skip-disk (after discovery; a disk left out
 * becomes shared or used in place, refused if it cannot be), notes of
 * what happens to each disk, whether --disk names d, and whether a
 * disk's source file goes once the VM runs on the destination (copied,
 * and writable or in the VM's own directory: named after the VM, holding
 * an image the guest writes).
 */
int src_disks_choose (struct source *s);
void src_disks_note (struct source *s);
bool src_disk_pinned (const struct source *s, const struct mig_disk *d);
bool src_disk_deletable (const struct mig_vm *vm, const struct mig_disk *d);

/* source-shared.c */
int src_shared_select (struct source *s);
int src_shared_markers (struct source *s, bool on);
int src_shared_detect (struct source *s);

/* source-converge.c */
/* At the storage phase's start: the dirty-rate sample begins. */
void src_converge_begin (struct source *s);
int src_converge_setup (struct source *s);
/* The downtime-limit pre-copy starts with. */
uint64_t src_converge_first_limit (const struct source *s);
int src_converge_sample (struct source *s, json_t *info);
/* Has the migration switched to post-copy (no way back to the source)? */
bool src_converge_postcopy (const struct source *s);

/* run.c */
int src_preflight (struct source *s);
bool src_cancel_requested (struct source *s);

#endif
