/* libvirt.h: libvirt-managed domains on the source side (private to
 * source/): vmferry migrate libvirt:NAME and vmferry check libvirt:NAME.
 *
 * libvirt keeps its domain: it defines it on the destination, makes
 * its taps and runs QEMU's NBD mirror and migration (peer to peer,
 * libvirt-run.c).  vmferry carries those streams through its data
 * channel (net.h's duplex relay, into vmferryd's dest/libvirt.c),
 * reports libvirt's job as its progress, deletes the source images
 * afterwards (libvirt never does) and checks beforehand
 * (libvirt-check.c).  libvirt-domain.c reads the domain's XML.
 */
#ifndef VMFERRY_SOURCE_LIBVIRT_H
#define VMFERRY_SOURCE_LIBVIRT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <libvirt/libvirt.h>

#include "source.h"
#include "progress.h"
#include "control.h"

/* One <disk> of the domain. */
struct lv_disk {
  char *target;                 /* "vda" */
  char *path;                   /* its source file or block device ("" for
                                   other source types) */
  char *format;                 /* driver type ("qcow2", "raw", "") */
  char *device;                 /* "disk", "cdrom", ... */
  char *type;                   /* "file", "block", "network", ... */
  bool read_only, shareable;
  bool copy;                    /* vmferry's choice: migrate it */
  bool absent_there;            /* copied, and no image at its path on
                                   the destination before (libvirt
                                   creates one there) */
};

/* The domain as its XML describes it (what vmferry looks at). */
struct lv_domain {
  virConnectPtr conn;
  virDomainPtr dom;
  char *name;
  char *xml;                    /* its live XML */
  struct lv_disk *disks;
  size_t n_disks;
  char **bridges;               /* <interface type='bridge'> sources */
  char **networks;              /* <interface type='network'> sources */
  char *machine;                /* os/type/@machine */
  char *cpu_xml;                /* <cpu> element ("" if none) */
  unsigned hostdevs;            /* pass-through devices */
  uint64_t memory_kib;
};

/* Silence libvirt's printing of errors (vmferry reports them itself). */
void lv_quiet (void);
/* libvirt's last error as text, for set_error. */
const char *lv_error (void);

/* Connect to uri (NULL: the default), find domain name, read it.
 * -1 + set_error.  lv_domain_close accepts one half-open.
 */
int lv_domain_open (struct lv_domain *d, const char *uri, const char *name);
void lv_domain_close (struct lv_domain *d);
/* Choose the disks to copy: writable disk devices (file or block)
 * unless shared (--shared-storage=yes, or shareable).  The number.
 */
size_t lv_choose_disks (struct lv_domain *d, bool shared_storage);
/* Is path a disk source of another domain (defined or running) of
 * d->conn, or in the backing chain of one of its disks?  -1 +
 * set_error if it cannot be told.
 */
int lv_path_used_elsewhere (struct lv_domain *d, const char *path);

/* Does domain name run on the libvirt of uri?  1 yes, 0 no (it says
 * so: not there, or not running), -1 cannot tell (set_error).
 */
int lv_domain_runs_at (const char *uri, const char *name);

/* libvirt-events.c: the domain's events, from libvirt's event loop
 * (run by a thread of start) to a pipe that the watch loop reads.
 * virEventRegisterDefaultImpl must have been called before the
 * connection was opened.  kind: 'p' paused for the switchover, 'r'
 * resumed (value: libvirt's detail), 'i' memory pass (value: its
 * number).
 */
struct lv_event {
  char kind;
  int value;
};
struct lv_events {
  virConnectPtr conn;
  int ids[2];                   /* callbacks, or -1 */
  int timer;                    /* the loop's wake-up, or -1 */
  int pipe[2];                  /* callbacks -> watch loop */
  pthread_t thread;
  bool running, stop;           /* stop: atomic */
};
/* -1 + set_error (then nothing is left to stop). */
int lv_events_start (struct lv_events *e, virConnectPtr c, virDomainPtr d);
/* The read end, for poll (-1 when not started). */
#define lv_events_fd(e) ((e)->pipe[0])
/* One event into *ev: 1, or 0 when none is waiting. */
int lv_events_read (struct lv_events *e, struct lv_event *ev);
/* Deregister, stop the thread, close the pipe.  Idempotent. */
void lv_events_stop (struct lv_events *e);

/* One run of vmferry migrate libvirt:NAME (libvirt-run.c, libvirt-end.c). */
struct lv_run {
  const struct mig_source_params *p;
  const struct mig_libvirt_params *lp;
  struct lv_domain d;
  struct progress pr;
  struct src_control *ctl;
  struct mig_agent *agent;
  char id[17];
  json_t *prepared;             /* vmferryd's answer */
  char *dir;                    /* the sockets' directory here (ours) */
  char *peer_uri;
  virConnectPtr dc;             /* the destination's libvirt, or NULL */
  struct net_pace *pace;
  struct net_duplex *dx;
  struct net_stream_stats up, down;
  unsigned conns;               /* connections relayed here */
  json_t *finished;             /* vmferryd's answer to finish: what it
                                   delivered into the destination QEMU */
  size_t n_copy;                /* disks copied */
  unsigned flags;               /* virDomainMigrateFlags */
  virTypedParameterPtr params;
  int nparams;
  struct lv_events ev;          /* the domain's events */
  /* the libvirt call (its thread writes these, then done_pipe) */
  int done_pipe[2];
  int rc;
  char err[1024];
  bool cancelled;
  const char *phase;
  json_t *completed;            /* the destination's job statistics */
  uint64_t disk_seen;           /* the most disk bytes libvirt's job said
                                   it mirrored (the destination's
                                   statistics may not have them) */
  json_t *deleted;              /* source files deleted */
  int64_t t_start;
};

/* libvirt-end.c: how the run ends.  moved: libvirt's migration
 * succeeded (vmferryd's part ends, the domain is looked at there, the
 * source files go); else the relay is cut, vmferryd aborts, and the
 * result says where the domain is.  Frees what the run holds.
 */
enum mig_result lv_run_end (struct lv_run *m, bool moved);
/* The summary of result r (progress_result), then free everything;
 * returns r with the error of the run restored.
 */
enum mig_result lv_run_finish (struct lv_run *m, enum mig_result r);
/* The destination's libvirt as this host's libvirt reaches it. */
char *lv_peer_uri (const struct mig_source_params *p,
                   const struct mig_libvirt_params *lp);

#endif
