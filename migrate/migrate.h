/* migrate.h: the migration state machines.
 *
 * Source side (vmferry migrate): mig_source_run() moves one running VM to
 * a destination agent and returns where the VM is (enum mig_result).
 * Destination side (vmferryd): struct mig_dest serves the control API
 * (prepare, finish, abort, status, host) and owns the skeleton QEMUs.
 *
 * The invariant both sides keep: at every instant exactly one host owns a
 * complete, runnable copy of the VM; nothing the guest wrote and saw
 * acknowledged is lost; source files are deleted only after the
 * destination VM runs.
 *
 * Errors: set_error() + a result code / -1 / NULL (utils.h).
 */
#ifndef VMFERRY_MIGRATE_H
#define VMFERRY_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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

/* Short text for a result ("migrated", "refused", ...). */
const char *mig_result_text (enum mig_result r);

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

/* Most QEMU migration connections relayed at once (--channels). */
#define MIG_MAX_CHANNELS 16

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

/* QEMU's multifd-compression: "none", "zlib" or "zstd" (wire.c). */
bool mig_qemu_compression_valid (const char *c);

/* "ADDR/BITS" or an IP address (netsel.c). */
bool mig_cidr_valid (const char *cidr);

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

/* vmferry status [ID]: one line per migration in run_dir (or the state
 * object with json).  -1 + set_error.
 */
int mig_status (const char *run_dir, const char *id, bool json, FILE *out);

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

/* vmferry undo ID (undo.c): move the VM of migration id, quarantined
 * with --keep-source=DURATION, back to this host, sending only what
 * changed on the destination.  Prints the outcome on out.  -1 +
 * set_error if it did not come back (it then runs on the destination,
 * and the quarantine goes on as before).
 */
int mig_undo (const char *run_dir, const char *id, FILE *out);

#define MIG_DEFAULT_MAX_INCOMING 2

/* Migrate every VM of vms (NULL-terminated), at most parallel at once,
 * each with base's parameters.  After a failure no new migration
 * starts unless keep_going.  Prints one line per VM; returns the worst
 * result (MIG_REFUSED for VMs not started).
 */
enum mig_result mig_source_run_many (const struct mig_source_params *base,
                                     char *const *vms, unsigned parallel,
                                     bool keep_going);

/* The VMs in vm_dir (NAME.qmp or NAME/qmp.sock), smallest RAM first
 * (asked over QMP), as names for mig_source_run_many().  NULL +
 * set_error; an empty list if there are none.
 */
char **mig_list_vms (const char *vm_dir);

struct mig_dest_params {
  const char *listen_addr;      /* IP literal */
  int port;
  const char *storage_root;     /* disk images go under here only */
  const char *run_root;         /* sockets, logs, pidfiles */
  const char *tls_dir;
  const char *qemu;             /* QEMU binary for skeletons */
  bool once;                    /* serve one migration then stop */
  bool psk;                     /* QEMUs use TLS-PSK (tls_dir/keys.psk) */
  unsigned max_incoming;        /* simultaneous migrations (0: default) */
  bool queue;                   /* beyond it: wait (true) or refuse */
  char *const *migration_addrs; /* where data listens, tried in order */
  bool keep_partials;           /* a prepare that cannot reuse the kept
                                   partial images of its VM is refused
                                   instead of deleting them (undo) */
  char *const *read_dirs;       /* VMs may read host files only from under
                                 * these (NULL: the defaults, vm.h) */
  const char *qemu_user;        /* the user confined QEMUs run as
                                   (NULL: MIG_DEFAULT_QEMU_USER) */
#define MIG_DEFAULT_QEMU_USER "vmferry-qemu"
  char *const *bridges;         /* bridges a VM's taps may join */
  char *const *dest_paths;      /* NULL: a disk's dest_path must be a file
                                 * in STORAGE_ROOT/NAME/; else exactly one
                                 * of these (undo: the original images) */
};

struct mig_dest;

/* Check the roots and QEMU, start the HTTPS API. */
struct mig_dest *mig_dest_start (const struct mig_dest_params *p);

/* What the start-up recovery did (dest-journal.c): one note per
 * migration it settled, NULL-terminated (may be NULL).
 */
char *const *mig_dest_recovered (struct mig_dest *d);

/* The port the API listens on. */
int mig_dest_port (struct mig_dest *d);

/* Wait until a migration reached an end (finished or aborted) or until
 * stop_fd becomes readable.  Returns 1 when a migration ended, 0 when
 * stop_fd fired.  Meanwhile, expired partial images are deleted every
 * hour.
 */
int mig_dest_wait (struct mig_dest *d, int stop_fd);

/* Stop the API and free.  Skeletons of unfinished migrations are killed
 * and their files removed; finished VMs keep running.
 */
void mig_dest_stop (struct mig_dest *d);

/* ---- ssh.c: vmferry migrate VM --to ssh://[user@]host[:port] ---- */

struct mig_ssh_params {
  const char *target;           /* "ssh://[user@]host[:port]" */
  char *const *ssh_options;     /* each passed as "-o OPT" (may be NULL) */
  const char *ssh;              /* ssh client binary ("ssh") */
  const char *vmferryd;         /* vmferryd on the destination */
  const char *storage_root;     /* destination's roots (created) */
  const char *run_root;
};

/* Start "vmferryd --once" on the destination over ssh with fresh
 * per-migration credentials, run mig_source_run() through it (mp's
 * host, port, tls_dir, psk and dest_name are set here), and tear the
 * connection down.  Returns where the VM is, as mig_source_run().
 */
enum mig_result mig_ssh_run (const struct mig_ssh_params *sp,
                             struct mig_source_params *mp);

#endif /* VMFERRY_MIGRATE_H */
