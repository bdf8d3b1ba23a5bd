/* internal.h: the destination agent's state (private to dest/). */
#ifndef VMFERRY_DEST_INTERNAL_H
#define VMFERRY_DEST_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <pthread.h>
#include <jansson.h>

#include "utils.h"
#include "qmp.h"
#include "api.h"
#include "net.h"
#include "vm.h"
#include "storage.h"
#include "dest.h"
#include "protocol.h"

/* ---- skeleton.c: the receiving QEMU's migration set-up ---- */

struct mig_skeleton_net {
  const char *host;             /* address the source connects to */
  int nbd_port;
  int migration_port;
  const char *tls_dir;
  bool psk;                     /* tls-creds-psk (tls_dir/keys.psk) */
  bool postcopy;                /* enable postcopy-ram (source asked) */
  const char *relay_sock;       /* incoming migration on this unix socket,
                                   without QEMU's TLS (vmferryd relays it
                                   from its mutual-TLS data channel);
                                   NULL: TCP migration_port with TLS */
  unsigned multifd;             /* multifd channels (0, 1: no multifd) */
  const char *multifd_compression; /* with multifd: "zlib", "zstd",
                                      "none" (NULL: none) */
};

int mig_skeleton_setup (struct qmp *q, const struct mig_skeleton_net *n,
                        const struct mig_vm *vm);
/* The node that takes the copy of read-only disk i (its export's node). */
void mig_skeleton_write_node (size_t i, char *buf, size_t n);
/* Delete those nodes once the VM runs (their exports are gone).  Best
 * effort: a failure is only logged.
 */
void mig_skeleton_drop_write_nodes (struct qmp *q, const struct mig_vm *vm);

enum job_state {
  JOB_PREPARING, JOB_PREPARED, JOB_RUNNING, JOB_ABORTED,
  JOB_STORED,                   /* offline move done: images here, VM off */
  JOB_LEFT,                     /* moved back by vmferry undo */
  JOB_HANDED,                   /* libvirt's migration ended: the domain
                                   is libvirt's (dest/libvirt.c) */
};

/* One incoming migration.  Fields after lock are protected by it. */
struct dest_job {
  struct dest_job *next;        /* registry list (dest->lock) */
  char *id;                     /* chosen by the source */
  pthread_mutex_t lock;         /* serializes prepare/finish/abort */
  enum job_state state;
  struct mig_vm *vm;            /* with dest_path of every disk set */
  char *vm_dir;                 /* STORAGE_ROOT/name, if we made it */
  char *run_dir;                /* RUN_ROOT/name, if we made it */
  char **images;                /* image files we created */
  pid_t qemu_pid;               /* skeleton, 0 if none */
  struct qmp *qmp;              /* vmferry's own monitor of the skeleton */
  struct vm_desc *desc;         /* the VM's command line, parsed */
  struct vm_cmdline cmd;        /* generated: argv, VM sockets/files */
  int *tap_fds, *vhost_fds;     /* per net until QEMU has them (-1: none,
                                   -2 ends the arrays), or NULL */
  char *qemu_tls_dir;           /* TLS credentials as QEMU sees them */
  json_t *prepared;             /* prepare's reply, for retries */
  bool postcopy;                /* the source may switch to post-copy */
  bool holds_slot;              /* counted in dest->active */
  struct dest_channel *channel; /* data channel receiver, or NULL */
  char **data_peers;            /* the source's addresses, the only ones
                                   its data channel accepts (prepare) */
  bool resumed;                 /* images are a kept partial copy */
  char *undo_token;             /* finish records writes for vmferry undo */
  char *peer;                   /* certificate CN of the source (prepare):
                                   the job's owner, set before the job is
                                   registered, never changed; NULL (a
                                   journal entry without one): nobody */
  bool offline;                 /* an offline move (dest-offline.c) */
  pid_t *nbd;                   /* offline: our qemu-nbd per disk (0: none) */
  char *pidfile;                /* the skeleton's pidfile (journal) */
  char *qmp_path;               /* vmferry's monitor of the skeleton */
  uint64_t qemu_start;          /* the skeleton's start time and command */
  char **qemu_argv;             /* line, as first journaled (identity) */
  int64_t started_ms;           /* prepare came (monotonic), for metrics */
  bool counted;                 /* its end is in the metrics (j->lock) */
  bool home;                    /* its arriving entry exists (home.c) */
  bool libvirt;                 /* a libvirt domain's (dest/libvirt.c):
                                   no VM of ours, no journal */
  struct dest_duplex *duplex;   /* its relayed connections, or NULL */
};

struct mig_dest {
  struct mig_dest_params p;     /* strings owned by the caller */
  int qemu_version;
  char *cpu_vendor;
  struct api_server *srv;
  pthread_mutex_t lock;         /* protects jobs */
  struct dest_job *jobs;
  int ended_pipe[2];            /* a byte per migration that ended */
  pthread_mutex_t probe_lock;   /* protects probe */
  json_t *probe[2];             /* facts of our QEMU, [kvm] (dest-check.c) */
  /* dest-admit.c (under lock) */
  pthread_cond_t slot_cond;     /* a slot or the queue's head changed */
  unsigned active;              /* admitted jobs not ended yet */
  struct dest_waiter *waiters;  /* queued prepares, FIFO */
  pthread_mutex_t journal_lock; /* the journal directory (dest-journal.c) */
  char **recovered;             /* notes of the start-up recovery */
  struct net_ports *ports;      /* --port-range: the ports it may open */
  struct dest_metrics *metrics; /* metrics.c */
  int64_t partial_swept;        /* now_ms() of the last partial sweep */
};

/* dest-vm.c: plan parses the VM's command line (j->vm->argv) into
 * j->desc, matches the request's disks (setting their node), opens the
 * taps and generates j->cmd for run_dir; returns 0 or an HTTP status
 * (422: the VM cannot run here, with the reason); an offline move gets
 * no taps (its saved command line names the bridges).  spawn starts
 * argv confined as the QEMU user and connects j->qmp to qmp: 0 or an
 * HTTP status.  Caller holds j->lock.
 */
int mig_dest_vm_plan (struct mig_dest *d, struct dest_job *j,
                      const char *run_dir);
int mig_dest_vm_spawn (struct mig_dest *d, struct dest_job *j,
                       char *const *argv, const char *qmp);
/* dest-prepare.c: QEMU's command line for job j: the generated one
 * plus ours: with incoming, paused and waiting for its incoming
 * migration (the skeleton; else it boots); our own monitor (*qmp) and
 * pidfile (*pidfile), the sandbox.  NULL + set_error.
 */
char **mig_dest_qemu_argv (struct dest_job *j, bool incoming,
                           char **pidfile, char **qmp);
/* Give shared images back to their owners (the VM did not move here). */
void mig_dest_shared_restore (struct dest_job *j);

/* dest-tap.c: open a tap on its bridge (allowed by --bridge) for every
 * tap/bridge net of j->desc: 0 or an HTTP status.  close: close what
 * is still open (idempotent).
 */
int mig_dest_taps_open (struct mig_dest *d, struct dest_job *j);
void mig_dest_taps_close (struct dest_job *j);

/* dest-journal.c: the crash-safe journal of incoming migrations.
 * write records job j in state ("preparing", "prepared", "finishing",
 * "running"), durably, before returning (-1 + set_error); remove drops
 * the entry of an aborted job.  recover settles every entry at start-up
 * (before the API listens) and fills d->recovered.
 */
int mig_dest_journal_write (struct mig_dest *d, struct dest_job *j,
                            const char *state);
void mig_dest_journal_remove (struct mig_dest *d, struct dest_job *j);
int mig_dest_recover (struct mig_dest *d);

/* dest-admit.c: take a slot for a new incoming migration: 0, or an
 * HTTP status with *reply set (503: busy; "queued": true to ask again).
 */
int mig_dest_admit (struct mig_dest *d, json_t **reply);
/* Give back a slot taken by mig_dest_admit() that no job holds. */
void mig_dest_slot_put (struct mig_dest *d);
/* Prepares waiting in the queue (caller holds d->lock). */
unsigned mig_dest_queue_length_locked (struct mig_dest *d);

/* metrics.c: the counters of vmferryd --metrics (thread safe; each
 * function accepts m NULL).  result: a static string ("migrated",
 * "aborted", "refused", a send-back's result code); out: a send-back.
 * bytes: sent (a send-back) or received (the data channel), memory or
 * disk.  times: seconds, < 0 when not known.  sending: +1 / -1 around a
 * send-back.
 */
struct dest_metrics;
struct dest_metrics *mig_dest_metrics_new (void);
void mig_dest_metrics_free (struct dest_metrics *m);
void mig_dest_metrics_result (struct dest_metrics *m, bool out,
                              const char *result);
void mig_dest_metrics_bytes (struct dest_metrics *m, bool sent, bool memory,
                             uint64_t n);
void mig_dest_metrics_times (struct dest_metrics *m, double total_s,
                             double downtime_s);
void mig_dest_metrics_sending (struct dest_metrics *m, int delta);

/* audit.c: the API's observer (api.h): the audit log line of a request
 * and the metrics of its answer.
 */
void mig_dest_observe (void *opaque, const struct api_request *req,
                       int status, json_t *reply);

/* The HTTP status for a port that could not be had: 503 when the port
 * range has none free (get_errno() EADDRNOTAVAIL), else 500.
 */
int mig_dest_port_status (void);
/* Job j ends in state (caller holds j->lock): its slot is given back. */
void mig_dest_job_end (struct mig_dest *d, struct dest_job *j,
                       enum job_state state);

/* Handlers (dest.c, dest-prepare.c, dest-finish.c). */
int mig_dest_prepare (void *opaque, const struct api_request *req,
                      json_t **reply);
int mig_dest_finish (void *opaque, const struct api_request *req,
                     json_t **reply);
int mig_dest_abort (void *opaque, const struct api_request *req,
                    json_t **reply);
int mig_dest_probe (void *opaque, const struct api_request *req,
                    json_t **reply);

/* dest-check.c: POST /v1/check, and the facts prepare checks. */
int mig_dest_check (void *opaque, const struct api_request *req,
                    json_t **reply);
json_t *mig_dest_facts (struct mig_dest *d, json_t *vm, const char *host);
/* The address the source's data must go to (dest-prepare.c): the first
 * --migration-address in the network cidr (NULL: any), else ours, or the
 * one the source used.
 */
const char *mig_dest_data_host (struct mig_dest *d, const char *used,
                                const char *cidr);

/* dest-channel.c: the data channel's listener and receivers of job j
 * (caller holds j->lock): start adds "data_port" to j->prepared; with
 * relay_path (the skeleton's incoming migration socket), streams may
 * also relay the memory migration there.  It serves only the addresses
 * in j->data_peers (none: start fails), each connection given 5 s for
 * its TLS handshake.  stop (idempotent) closes the listener and ends
 * every receiver.
 */
int mig_dest_channel_start (struct mig_dest *d, struct dest_job *j,
                            const char *host, char **uris,
                            const char *relay_path);
/* dest-peers.c: the addresses the data channel of prepare request req
 * accepts connections from, into *peers (a new vector): the address req
 * came from and those the source lists in its "data_from" (its own:
 * with a migration network, or routes, its data may leave from another
 * one than its request did).  -1 + set_error if "data_from" is
 * malformed.
 */
int mig_dest_data_peers (const struct api_request *req, char ***peers);
/* The URIs for mig_dest_channel_start (taken over by it, freed also on
 * failure): per disk index, NULL for a disk not copied.  These are the
 * skeleton's NBD exports at host:nbd_port (TLS).
 */
char **mig_dest_skeleton_uris (struct mig_dest *d, struct dest_job *j,
                               const char *host, int nbd_port);

/* dest-offline.c: an offline move ("offline": true in prepare).  check
 * replaces the compatibility report (returns 0 or an HTTP status), start
 * replaces the skeleton once the images exist, finish stores the VM,
 * stop_nbd (cleanup) ends our qemu-nbd.  Caller holds j->lock.
 */
int mig_dest_offline_check (struct mig_dest *d, const struct mig_vm *vm);
int mig_dest_offline_start (struct mig_dest *d, struct dest_job *j,
                            const char *host);
int mig_dest_offline_finish (struct mig_dest *d, struct dest_job *j,
                             json_t **reply);
int mig_dest_offline_stop_nbd (struct dest_job *j);
void mig_dest_channel_stop (struct dest_job *j);
/* Why a receiver could not write a frame (the first failure), into buf;
 * "" if none failed.
 */
void mig_dest_channel_error (struct dest_job *j, char *buf, size_t n);

/* dest-partial.c: partial images kept for a resumed copy (caller holds
 * j->lock).  keep: move job j's images aside under token (the skeleton
 * quits first); 1 if kept, 0 if not (then the cleanup deletes them).
 * take: at prepare, after plan_job, reuse the kept images of j's VM if
 * they match token (moved to their dest_path, added to j->images): 1;
 * else delete them, *why says why, 0 (with d->p.keep_partials: keep
 * them and refuse, -2 + set_error); -1 + set_error.  sweep: delete the
 * expired ones.
 */
int mig_dest_partial_keep (struct mig_dest *d, struct dest_job *j,
                           const char *token);
int mig_dest_partial_take (struct mig_dest *d, struct dest_job *j,
                           const char *token, const char **why);
void mig_dest_partial_sweep (struct mig_dest *d);

/* dest-undo.c: vmferry undo.  record: before the VM resumes here, start
 * the write record of every copied disk under the source's token (caller
 * holds j->lock, j->qmp open).  send_back: POST /v1/send-back.
 */
int mig_dest_undo_record (struct dest_job *j, const char *token);
int mig_dest_send_back (void *opaque, const struct api_request *req,
                        json_t **reply);

/* Registry. */
struct dest_job *mig_dest_find_job (struct mig_dest *d, const char *id);
/* Register a new job of owner peer (dest-prepare.c); NULL if the id is
 * taken.
 */
struct dest_job *mig_dest_new_job (struct mig_dest *d, const char *id,
                                   struct mig_vm *vm, const char *peer);
/* A job belongs to the client certificate that prepared it (j->peer):
 * true if req comes from it.  No lock needed (j->peer never changes).
 * Every request about one job (finish, abort, prepare's retry,
 * send-back) answers mig_dest_not_owner's 403 to any other certificate,
 * before it looks at or changes anything; GET /v1/status lists only the
 * caller's jobs.
 */
bool mig_dest_job_owned_by (const struct dest_job *j,
                            const struct api_request *req);
/* The 403 for a request about job j from another certificate. */
int mig_dest_not_owner (const struct dest_job *j, json_t **reply);
/* Undo everything the job created on this host (caller holds job lock). */
int mig_dest_job_cleanup (struct mig_dest *d, struct dest_job *j);
void mig_dest_job_ended (struct mig_dest *d);

/* home.c: received VMs live here (see there).  check: 0, or 409 +
 * set_error if a VM of that name lives here already.  arriving: its
 * entry while it is received (j->home set); drop removes that entry of
 * an arrival that failed.  save: after finish (stored: an offline
 * move), its definition and entry.  restore (start-up) makes the
 * entries of every definition; sweep forgets the VMs that left.
 */
int mig_dest_home_check (struct mig_dest *d, const char *name);
int mig_dest_home_arriving (struct mig_dest *d, struct dest_job *j);
void mig_dest_home_drop (struct mig_dest *d, const char *name);
int mig_dest_home_save (struct mig_dest *d, struct dest_job *j, bool stored);
void mig_dest_home_restore (struct mig_dest *d);
/* entry: VM_DIR/NAME's links for definition def (at path), if d has a
 * VM directory.  running: a QEMU listens on monitor socket path.
 */
int mig_dest_home_entry (struct mig_dest *d, const struct vm_definition *def,
                         const char *path);
bool mig_dest_home_running (const char *path);
void mig_dest_home_sweep (struct mig_dest *d);
/* The VM name left this host now (sent back): forget it at once, as
 * the sweep would (only if it did leave).
 */
void mig_dest_home_left (struct mig_dest *d, const char *name);
/* GET /v1/vms: the VMs living here that peer (a client certificate's
 * CN) sent: [{"name", "state": running|stopped|stored, "arrived"}].
 */
json_t *mig_dest_home_list (struct mig_dest *d, const char *peer);

/* dest-libvirt.c: a libvirt domain's migration, which vmferryd only
 * relays: POST /v1/libvirt-prepare and /v1/libvirt-finish.  The relayed
 * connections of a job: connect gives the local end of the stream that
 * "duplex" ARG (NET_DUPLEX_ARG) introduces (up: a new connection to the
 * target's socket; down: the other direction of that connection), -1 +
 * set_error; free accepts NULL.
 */
struct dest_duplex;
int mig_dest_libvirt_prepare (void *opaque, const struct api_request *req,
                              json_t **reply);
int mig_dest_libvirt_finish (void *opaque, const struct api_request *req,
                             json_t **reply);
int mig_dest_duplex_connect (struct dest_duplex *x, uint64_t arg);
/* What vmferryd wrote into the destination QEMU's sockets: bytes, which
 * finish answers (any thread; NULL x: a no-op).
 */
void mig_dest_duplex_delivered (struct dest_duplex *x, uint64_t bytes);
void mig_dest_duplex_free (struct dest_duplex *x);

/* {"error": msg} with status. */
int mig_dest_error (json_t **reply, int status, const char *msg);

#endif
