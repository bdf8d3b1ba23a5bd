/* dest.h: the destination agent (vmferryd), the public face of dest/.
 *
 * struct mig_dest serves the control API (prepare, finish, abort,
 * status, host, check, probe, send-back) and owns the skeleton QEMUs,
 * which it starts confined (vm.h).  Errors: set_error() + NULL / -1.
 */
#ifndef VMFERRY_DEST_H
#define VMFERRY_DEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* POST /v1/send-back (vmferry undo): the migration of a VM received
 * here back to the host it came from.  dest/ knows nothing of the
 * source side: whoever starts the agent hands it this hook (migrate/'s
 * mig_send_back_run); without one, send-back is refused.
 */
struct mig_send_back {
  const char *qmp;              /* the VM's monitor (vmferryd's own) */
  const char *to;               /* the host it goes back to */
  int port;                     /* that host's agent (undo's) */
  const char *tls_dir;
  bool psk;
  char *const *disk_map;        /* "DEST=ORIG" for each copied disk */
};
struct mig_send_back_result {
  int exit_code;                /* vmferry's exit code (0: moved) */
  const char *result;           /* its text ("migrated", ...) */
  char *log;                    /* the migration's output (malloc'd) */
};
typedef void (*mig_send_back_fn) (const struct mig_send_back *b,
                                  struct mig_send_back_result *r);

#define MIG_DEFAULT_MAX_INCOMING 2

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
  mig_send_back_fn send_back;   /* vmferry undo's sending half, or NULL */
  const char *qemu_user;        /* the user confined QEMUs run as
                                   (NULL: MIG_DEFAULT_QEMU_USER) */
#define MIG_DEFAULT_QEMU_USER "vmferry-qemu"
  char *const *bridges;         /* bridges a VM's taps may join */
  const char *vm_dir;           /* VMs received here are registered in
                                   this VM directory (vmferry's --vm-dir),
                                   NULL: not (home.c) */
  char *const *dest_paths;      /* NULL: a disk's dest_path must be a file
                                 * in STORAGE_ROOT/NAME/; else exactly one
                                 * of these (undo: the original images) */
  int port_low, port_high;      /* --port-range: every port a migration
                                   opens here (QEMU's NBD server and
                                   incoming migration, the data channel)
                                   is in it; 0: the kernel's free ports */
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

/* The settings that may change while the agent runs (vmferryd's
 * reload): max_incoming, queue, the port range.  The others of p are
 * ignored.
 */
void mig_dest_reconfigure (struct mig_dest *d,
                           const struct mig_dest_params *p);

/* The agent's metrics in Prometheus' text format (malloc'd; NULL when
 * out of memory): migrations by direction and result, bytes by kind,
 * downtime and duration, in progress, the admission queue (metrics.c).
 */
char *mig_dest_metrics (struct mig_dest *d);

/* Wait until a migration reached an end (finished or aborted) or until
 * stop_fd becomes readable.  Returns 1 when a migration ended, 0 when
 * stop_fd fired.  Meanwhile, expired partial images are deleted every
 * hour.
 */
int mig_dest_wait (struct mig_dest *d, int stop_fd);

/* vmferry start: boot the VM of the definition file (vm.h) again,
 * confined as vmferryd would, registered in vm_dir (NULL: not).  Its
 * QEMU's PID in *pid.  -1 + set_error.
 */
int mig_dest_start_saved (const char *definition, const char *vm_dir,
                          pid_t *pid);

/* Stop the API and free.  Skeletons of unfinished migrations are killed
 * and their files removed; finished VMs keep running.
 */
void mig_dest_stop (struct mig_dest *d);

#endif /* VMFERRY_DEST_H */
