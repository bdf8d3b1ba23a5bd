/* source.h: the source side (vmferry migrate, check, status, cancel,
 * recover, the quarantine), the public face of source/.
 *
 * mig_source_run() moves one running VM to a destination agent and
 * returns where the VM is (enum mig_result).  The invariant: at every
 * instant exactly one host owns a complete, runnable copy of the VM;
 * nothing the guest wrote and saw acknowledged is lost; source files are
 * deleted only after the destination VM runs.
 *
 * Errors: set_error() + a result code / -1 / NULL (utils.h).  Not
 * thread safe across one migration; separate migrations may run in
 * parallel threads (mig_source_run_many).
 */
#ifndef VMFERRY_SOURCE_H
#define VMFERRY_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "protocol.h"

/* Where the VM is after mig_source_run().  These are vmferry's exit
 * codes (documented in vmferry(1)).
 */
enum mig_result {
  MIG_OK = 0,                   /* moved: runs on the destination */
  MIG_USAGE = 1,                /* bad command line */
  MIG_REFUSED = 2,              /* refused before anything was done */
  MIG_FAILED_CLEAN = 3,         /* failed; source runs; dest cleaned */
  MIG_FAILED_LEFTOVERS = 4,     /* failed; source runs; leftovers listed */
  MIG_UNCERTAIN = 5,            /* state uncertain: inspect both hosts */
};

/* Short text for a result ("migrated", "refused, nothing was done",
 * ...), for people.
 */
const char *mig_result_text (enum mig_result r);
/* The stable code of a result, "result" in the JSON summary:
 * "migrated", "usage_error", "refused", "failed_rolled_back",
 * "failed_leftovers", "uncertain" (the summary of a dry run says
 * "rehearsed", of an offline move "stored").
 */
const char *mig_result_code (enum mig_result r);

/* --shared-storage: no (copy the disks), yes, or detect per disk. */
enum mig_shared { MIG_SHARED_NO, MIG_SHARED_YES, MIG_SHARED_AUTO };

/* QEMU's upper bound for its downtime-limit parameter (ms). */
#define MIG_DOWNTIME_MAX_MS 2000000

/* The data path (--transport): the vmferry engine's disk data and
 * QEMU's memory migration (relayed) through vmferry's data channel, or
 * straight into the skeleton.
 */
enum mig_transport {
  MIG_TRANSPORT_AUTO = 0,       /* data channel, lz4 while it pays */
  MIG_TRANSPORT_TCP,            /* data channel, never compressed */
  MIG_TRANSPORT_COMPRESS,       /* data channel, every frame tries lz4 */
  MIG_TRANSPORT_DIRECT,         /* libnbd / QEMU straight into the skeleton */
};


/* The size of a migration id with its NUL (16 hex digits). */
#define MIG_ID_SIZE 17

struct mig_source_params {
  const char *vm;               /* QMP socket path or VM name */
  const char *vm_dir;           /* directory of QMP sockets, for names */
  const char *host;             /* destination agent */
  int port;
  const char *tls_dir;
  bool keep_source;             /* do not delete the source images */
  uint64_t quarantine_s;        /* --keep-source=DURATION: rename the
                                   source images aside, delete them after
                                   this many seconds (0: not) */
  bool no_resume;               /* never resume an earlier failed copy,
                                   keep nothing for a later one */
  char *const *disk_map;        /* "SRC=DST" items, NULL-terminated */
  char *const *only_disks;      /* --disk ID: copy only these (id, node
                                   name or path); NULL: every disk */
  char *const *skip_disks;      /* --skip-disk ID: leave these out */
  bool json;                    /* one JSON object per line on out */
  bool tty;                     /* out is a terminal: progress in place */
  FILE *out;                    /* progress and summary */
  int cancel_fd;                /* readable = cancel requested (-1: none) */
  bool qemu_storage;            /* QEMU's blockdev-mirror sync=full, not
                                   vmferry's engine */
  bool dry_run;                 /* rehearse: connect everything, move nothing */
  bool psk;                     /* QEMUs use TLS-PSK (tls_dir/keys.psk,
                                 * user "vmferry"), not x509 */
  const char *dest_name;        /* destination as the user named it, for
                                 * messages and the summary (NULL: host) */
  /* Convergence policy (memory.h). */
  uint64_t downtime_ms;         /* downtime limit pre-copy starts with */
  uint64_t max_downtime_ms;     /* raise it up to this when stalled */
  unsigned timeout_s;           /* abort pre-copy after this (0: never) */
  bool no_throttle;             /* never throttle the guest's vCPUs */
  bool allow_postcopy;          /* may switch to post-copy when stalled */
  const char *run_dir;          /* RUN_DIR/ID: state + control socket */
  const char *label;            /* tags output lines (several at once) */
  char *id_out;                 /* if not NULL, receives the migration id
                                   (MIG_ID_SIZE bytes) once it is chosen */
  enum mig_shared shared_storage; /* disks on storage both hosts see */
  const char *migration_network; /* CIDR the data must use (or NULL) */
  enum mig_transport transport; /* how disk and memory data travel */
  uint64_t bandwidth;           /* data channel limit, bytes/s (0: none),
                                   disks and memory together */
  bool no_link_pacing;          /* do not pace the data channel a little
                                   below the link's measured rate */
  unsigned channels;            /* QEMU's memory migration connections:
                                   1, or multifd with this many (relayed,
                                   or QEMU's own with --transport direct) */
  const char *qemu_compression; /* direct multifd's multifd-compression:
                                   "none", "zlib", "zstd" (NULL: none) */
  /* --offline: the VM does not run; vm is its name. */
  bool offline;
  const char *argv_file;        /* its QEMU command line (or NULL) */
  char *const *disks;           /* else its images, NULL-terminated */
};

/* The envelope every JSON event of vmferry carries (progress.h):
 * "time" (seconds since t0_ms, monotonic), "ts" (wall clock, RFC 3339),
 * "schema" and "id" (may be NULL).  For events made outside a run.
 */
void mig_event_stamp (json_t *ev, const char *id, int64_t t0_ms);

/* For a run that ended before mig_source_run() took over (e.g. the ssh
 * set-up failed): with --json, still end with a result object, as every
 * run of vmferry migrate does.
 */
void mig_source_early_result (const struct mig_source_params *mp,
                              enum mig_result r);

/* Run one migration.  On a result other than MIG_OK, get_error() says
 * why and, for MIG_FAILED_LEFTOVERS, what was left behind.
 */
enum mig_result mig_source_run (const struct mig_source_params *p);

/* vmferry migrate --offline (offline.c): copy the disks of a VM that is
 * not running into the destination's storage root, where vmferryd saves
 * its rewritten command line; delete the source files unless
 * keep_source.  MIG_REFUSED (nothing done) if a QEMU has a disk open.
 */
enum mig_result mig_offline_run (const struct mig_source_params *p);
/* mig_result_text for an offline move ("stored", ...). */
const char *mig_offline_result_text (enum mig_result r);

/* vmferry check: the compatibility report for moving p->vm to p->host,
 * changing nothing.  Prints it on p->out (one JSON object with
 * p->json).  MIG_OK when the VM can move, MIG_REFUSED when it cannot
 * (or the destination cannot be asked; get_error() says why).
 */
enum mig_result mig_check_run (const struct mig_source_params *p);
/* Default run directory of vmferry migrate/status/cancel. */
#define MIG_DEFAULT_RUN_DIR "/run/vmferry/migrations"

/* vmferry status [ID]: a header, then one line per migration in
 * run_dir, newest first: id, start, VM, destination, phase, result (or
 * the state objects, one per line, with json).  -1 + set_error.
 */
int mig_status (const char *run_dir, const char *id, bool json, FILE *out);

/* Remove the directories of run_dir whose migration ended more than
 * max_age_s ago and holds nothing for recover or a quarantine (prune.c
 * has the rule).  The number removed, or -1 + set_error.
 */
int mig_state_prune (const char *run_dir, uint64_t max_age_s);
/* How long vmferry status and migrate keep them (--keep-state). */
#define MIG_DEFAULT_KEEP_STATE_S (7 * 86400)

/* vmferry cancel ID: ask the running migration to cancel, then wait for
 * its result (printed).  -1 + set_error if it cannot be cancelled (not
 * running, already ended, switchover begun).
 */
int mig_cancel (const char *run_dir, const char *id, FILE *out);

/* vmferry recover: finish or roll back the migrations whose journal in
 * run_dir is still open and whose vmferry is gone (recover.c has the
 * rule).  One line (or JSON object) per migration looked at on out.
 * Returns the worst outcome: MIG_OK (each one rolled back, moved, or
 * nothing to do), MIG_FAILED_LEFTOVERS (the VM runs on one host, but
 * something is left: run it again), MIG_UNCERTAIN (nothing changed for
 * that one: inspect both hosts).
 */
struct mig_recover_params {
  const char *run_dir;
  const char *id;               /* only this migration (NULL: all) */
  const char *tls_dir;          /* NULL: the one the migration used */
  bool json;
  FILE *out;
};
enum mig_result mig_recover (const struct mig_recover_params *p);

/* ---- quarantine.c: --keep-source=DURATION ---- */

/* The reaper (vmferry quarantine-reap ID, started detached by migrate):
 * with wait, sleep until the deadline of RUN_DIR/ID/quarantine.json,
 * then delete the quarantined source files if the destination confirms
 * that the VM still runs there (asking again for an hour if it cannot be
 * reached).  Without wait, do that only if the deadline has passed.
 * -1 + set_error if there is no such quarantine.
 */
int mig_quarantine_reap (const char *run_dir, const char *id, bool wait);

/* For vmferry recover (after a reboot): reap every overdue quarantine in
 * run_dir whose reaper is gone.  -1 + set_error if one failed.
 */
int mig_quarantine_sweep (const char *run_dir);

/* vmferry cancel ID after the migration: stop the reaper, keep the
 * files (listed on out).  -1 + set_error if nothing is waiting.
 */
int mig_quarantine_cancel (const char *run_dir, const char *id, FILE *out);

/* The VMs in vm_dir (NAME.qmp or NAME/qmp.sock), smallest RAM first
 * (asked over QMP), as names for mig_source_run_many().  NULL +
 * set_error; an empty list if there are none.
 */
char **mig_list_vms (const char *vm_dir);

/* ---- inventory.c: vmferry list ---- */

/* This host's VMs: the VM directory's (running, paused, migrating out,
 * busy, arriving, stopped) and the quarantines of run_dir, sorted by
 * name; each {"name", "state", "qmp", "memory", "disks": [{"id",
 * "path", "format", "virtual_size", "allocated"}], "qemu_version",
 * "machine", "received": {"from", "peer", "arrived", "stored"} or
 * null, ...}.  NULL + set_error if vm_dir cannot be read (a missing one
 * is empty).
 */
json_t *mig_inventory (const char *vm_dir, const char *run_dir);

/* ---- stop.c: vmferry stop ---- */

/* Shut down the VM whose monitor is sock: the ACPI power button, then
 * quit if the guest has not powered off within timeout_s.  Returns once
 * its QEMU is gone; says how on out.  -1 + set_error.
 */
int mig_vm_stop (const char *sock, int timeout_s, FILE *out);

/* ---- quarantine.c, for undo.c ---- */

/* Take migration id's open quarantine over: stop its reaper, mark it
 * "undoing".  The record (new reference) and its path (*path, malloc'd,
 * also on failure).  NULL + set_error if there is none or it ended.
 */
json_t *mig_quarantine_hold (const char *run_dir, const char *id,
                             char **path);
/* Set its state (and note, may be NULL) and save it. */
int mig_quarantine_settle (const char *path, json_t *rec, const char *state,
                           const char *note);
/* Give it back: "waiting" again, with a new reaper. */
int mig_quarantine_release (const char *run_dir, const char *id,
                            const char *path, json_t *rec);

/* ---- libvirt*.c: libvirt-managed domains (VM "libvirt:NAME") ---- */

/* libvirt keeps the domain (its definition, taps, QEMU's NBD mirror and
 * migration, peer to peer); vmferry carries the streams through its data
 * channel, reports libvirt's job, deletes the source images after
 * success (unless keep_source) and checks beforehand.  Needs libvirt
 * 6.8 or later on the source (VIR_MIGRATE_PARAM_DISKS_URI).
 */
#define MIG_LIBVIRT_PREFIX "libvirt:"
struct mig_libvirt_params {
  const char *uri;              /* the local libvirt (NULL: default) */
  const char *peer_uri;         /* the destination's libvirt as the local
                                   one reaches it (NULL:
                                   qemu+tls://HOST/system) */
  bool transient;               /* not persistent on the destination */
  bool keep_definition;         /* not undefined on the source (its
                                   images are then kept too) */
};
/* vmferry migrate libvirt:NAME: result and error as mig_source_run. */
enum mig_result mig_libvirt_run (const struct mig_source_params *p,
                                 const struct mig_libvirt_params *lp);
/* vmferry check libvirt:NAME: as mig_check_run. */
enum mig_result mig_libvirt_check (const struct mig_source_params *p,
                                   const struct mig_libvirt_params *lp);

/* ---- agent.c: the one client of vmferryd's API ---- */

struct mig_agent;

/* A client of the agent at host:port with the certificates of tls_dir;
 * name (NULL: "HOST:PORT") names it in messages.  NULL + set_error.
 */
struct mig_agent *mig_agent_new (const char *host, int port,
                                 const char *tls_dir, const char *name);
void mig_agent_free (struct mig_agent *a);

/* method path with body (borrowed, may be NULL), waiting up to
 * timeout_ms.  The reply object of a 200 (new reference); else NULL +
 * set_error: for an answer, "destination NAME refused PATH (HTTP N):
 * MESSAGE"; for a transport failure, get_errno() API_NOT_SENT (the agent
 * cannot have acted on it) or API_NO_REPLY (it may have).  *status (may
 * be NULL): the HTTP status, or -1 for a transport failure.
 */
json_t *mig_agent_call (struct mig_agent *a, const char *method,
                        const char *path, json_t *body, int timeout_ms,
                        int *status);
json_t *mig_agent_post (struct mig_agent *a, const char *path, json_t *body,
                        int timeout_ms, int *status);
/* The requests about migration id, with extra members (may be NULL). */
json_t *mig_agent_abort (struct mig_agent *a, const char *id, json_t *extra,
                         int timeout_ms, int *status);
json_t *mig_agent_finish (struct mig_agent *a, const char *id,
                          json_t *extra, int timeout_ms, int *status);
json_t *mig_agent_send_back (struct mig_agent *a, const char *id,
                             json_t *extra, int timeout_ms, int *status);
json_t *mig_agent_status (struct mig_agent *a, int timeout_ms, int *status);
/* Did the last refusal say the request waits in the agent's queue? */
bool mig_agent_queued (const struct mig_agent *a);

/* A fresh migration id (16 random hex digits) into id.  -1 + set_error. */
int mig_new_id (char id[static 17]);

#endif /* VMFERRY_SOURCE_H */
