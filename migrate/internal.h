/* internal.h: private to migrate/. */
#ifndef VMFERRY_MIGRATE_INTERNAL_H
#define VMFERRY_MIGRATE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "utils.h"
#include "qmp.h"
#include "api.h"
#include "migrate.h"
#include "vm.h"

/* ---- vm.c / wire.c: what is known about the VM being moved ---- */

struct mig_disk {
  char *id;                     /* device or node name to mirror/export */
  char *node;                   /* node name: the source QEMU's (vm.c), or
                                   the skeleton's export (dest-vm.c) */
  char *path;                   /* image file on the source */
  char *format;                 /* "qcow2", "raw" */
  uint64_t virtual_size;
  uint64_t allocated;           /* bytes allocated on the source host */
  bool read_only;               /* not copied: must exist on the dest */
  char *dest_path;              /* on the destination (NULL: not chosen) */
  bool shared;                  /* on storage both hosts see: not copied,
                                   opened in place, never deleted */
  bool owner_changed;           /* dest: a shared image given to the QEMU
                                   user; owner_uid/gid is its owner before */
  uid_t owner_uid;
  gid_t owner_gid;
};

/* The disk's data moves (it is neither read-only nor shared). */
static inline bool
mig_disk_copied (const struct mig_disk *d)
{
  return !d->read_only && !d->shared;
}

/* Marker file vmferry creates beside a shared disk for the duration of
 * prepare, so that the destination can tell it sees the same directory.
 */
#define MIG_SHARED_MARKER ".vmferry-shared-"


struct mig_vm {
  char *name;
  char *qmp_path;
  pid_t pid;
  char **argv;                  /* the command line in vmferry's canonical
                                   form (vm_wire_argv): what is sent */
  struct vm_desc *desc;         /* the same, parsed (source side only) */
  int qemu_version;             /* major*10000 + minor*100 + micro */
  char *machine;                /* concrete machine type, e.g. pc-q35-7.2 */
  uint64_t memory;              /* guest RAM in bytes */
  bool kvm;                     /* runs under KVM (else TCG) */
  char *cpu_vendor;             /* the source host's vendor_id */
  struct mig_disk *disks;
  size_t n_disks;
  json_t *facts;                /* for the compatibility report: cpu_model,
                                 * cpu_features, cpu_model_name,
                                 * blocked_reasons, passthrough, bridges,
                                 * command_line (compat.h); sent with
                                 * the VM */
};

void mig_vm_free (struct mig_vm *vm);
/* Serialize for the prepare request / parse it back (validating it). */
json_t *mig_vm_to_json (const struct mig_vm *vm);
struct mig_vm *mig_vm_from_json (json_t *j);

/* Discover the VM behind an open QMP connection (vm.c). */
struct mig_vm *mig_vm_discover (struct qmp *q, const char *qmp_path);

/* nbytes (at most 32) random bytes as hex digits into buf, which holds
 * 2 * nbytes + 1 chars: migration ids, resume tokens (wire.c).
 */
int mig_random_hex (char *buf, size_t nbytes);
/* Apply --disk-path SRC=DST items (NULL-terminated, may be NULL) to
 * vm's disks.  -1 + set_error when the VM has no disk SRC.
 */
int mig_vm_apply_disk_map (struct mig_vm *vm, char *const *map);

/* offline-vm.c: a VM that is not running, named name (its directory on
 * the destination), described from its command line in argv_file or,
 * without one, from the disk images disks.  Refuses disks that a QEMU has
 * open for writing, missing files, backing files and formats other than
 * qcow2 and raw.  NULL + set_error.
 */
struct mig_vm *mig_offline_vm (const char *name, const char *argv_file,
                               char *const *disks, char *const *disk_map);

/* A fresh migration id (16 random hex digits) into id.  -1 + set_error. */
int mig_new_id (char id[static 17]);

/* A name that is safe as one path component (wire.c). */
bool mig_safe_name (const char *s);

/* ---- hostinfo.c: facts about this host ---- */
char *mig_host_cpu_vendor (void);
uint64_t mig_host_mem_available (void);
int64_t mig_host_free_bytes (const char *dir);
int mig_qemu_binary_version (const char *qemu);
int mig_qemu_has_machine (const char *qemu, const char *machine);

/* ---- vm-facts.c: what the compatibility report needs of the VM ---- */

/* Fill vm->facts (created by mig_vm_discover) from the running VM. */
int mig_vm_gather_facts (struct qmp *q, struct mig_vm *vm);
char *mig_host_cpu_model_name (void);

/* ---- cmdline.c: the VM's command line ---- */

/* Read /proc/PID/cmdline. */
char **mig_cmdline_read (pid_t pid);
/* The start time of process pid (/proc/PID/stat field 22, clock ticks
 * since boot): with the PID it names one process, even after the PID is
 * reused.  -1 + set_error.
 */
int mig_proc_start_time (pid_t pid, uint64_t *start);

/* Read a QEMU command line from a file (argv-file.c): one argument per
 * line, or NUL-separated as in /proc/PID/cmdline.  NULL + set_error.
 */
char **mig_argv_read_file (const char *path);

/* ---- qemu-view.c: directories the source QEMU sees too ---- */

struct mig_qemu_dir {
  char host[256];               /* the directory as vmferry reaches it */
  char qemu[256];               /* the same as QEMU sees it */
  bool foreign;                 /* QEMU runs in another mount namespace
                                   (confined by vmferryd) */
  uid_t uid;                    /* QEMU's user, who owns the directory */
  gid_t gid;
};

/* Make a private directory vmferry-TAG-XXXXXX in QEMU process qemu's
 * /tmp (through /proc/PID/root when it is foreign), owned by QEMU's
 * user.  -1 + set_error.
 */
int mig_qemu_dir_make (pid_t qemu, const char *tag, struct mig_qemu_dir *out);
/* Give host_path (a socket vmferry made in dir) to QEMU's user. */
int mig_qemu_dir_give (const struct mig_qemu_dir *dir, const char *host_path);
/* Copy the client TLS credentials of tls_dir into dir/tls; *qemu_path
 * (malloc'd) is where QEMU sees them.
 */
int mig_qemu_dir_tls (const struct mig_qemu_dir *dir, const char *tls_dir,
                      char **qemu_path);
/* Copy those of files that exist in from into the new directory to
 * (0700), each 0400, all owned by uid:gid.  -1 + set_error.
 */
int mig_copy_creds (const char *from, const char *to,
                    const char *const *files, uid_t uid, gid_t gid);

/* ---- netsel.c: the migration network ---- */

/* addr (an IP literal) lies in cidr (NULL: any). */
bool mig_addr_in_cidr (const char *addr, const char *cidr);
/* The first of addrs configured on this host and in cidr, or NULL. */
const char *mig_pick_migration_addr (char *const *addrs, const char *cidr);
/* This host's first address in cidr, into out.  -1 + set_error. */
int mig_local_addr_in (const char *cidr, char *out, size_t n);
/* This host's addresses (interfaces up, loopback aside), at most
 * MIG_MAX_DATA_FROM, as a JSON array of strings: prepare's "data_from",
 * the addresses the destination's data channel accepts besides the one
 * the request came from (the data may leave by another interface: a
 * migration network, or routes).  NULL if they cannot be read.
 */
#define MIG_MAX_DATA_FROM 64
json_t *mig_local_addrs_json (void);

/* ---- skeleton.c: the receiving QEMU ---- */

/* Id of the tls-creds-x509 object vmferry adds to both QEMUs. */
#define MIG_TLS_ID "vmferry-tls"

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

/* Name of the PSK user in keys.psk ("vmferry:HEXKEY"). */
#define MIG_PSK_USER "vmferry"

int mig_free_port (const char *host);
char *mig_tcp_uri (const char *host, int port);
/* How long a QEMU may take to start and answer on QMP (ms). */
#define MIG_QEMU_START_MS 30000
/* Start argv confined (c) and connect to its QMP socket qmp within
 * MIG_QEMU_START_MS.  The handle, with *pid its PID; or NULL +
 * set_error with QEMU's own last message (from c->log), *pid its PID if
 * it started (the caller kills it) or 0.
 */
struct qmp *mig_qemu_start (char *const *argv, const struct vm_confine *c,
                            const char *qmp, pid_t *pid);
int mig_skeleton_kill (pid_t pid);
int mig_skeleton_setup (struct qmp *q, const struct mig_skeleton_net *n,
                        const struct mig_vm *vm);

/* ---- qemu-nbd.c: serving an image that no QEMU has open ---- */

struct mig_qemu_nbd {
  const char *image;
  const char *format;           /* "qcow2", "raw" */
  bool read_only;
  const char *dir;              /* DIR/NAME.sock, .pid and .log */
  const char *name;
  const char *user;             /* non-NULL: run confined as this user
                                   (vm_spawn_confined, vmferryd's side),
                                   seeing dir and the image only */
};

/* Start qemu-nbd (daemonized, persistent, up to 16 clients) and return
 * its pid, once it serves.  -1 + set_error with qemu-nbd's own message
 * (e.g. 'Failed to get shared "write" lock' while a QEMU has the image).
 */
pid_t mig_qemu_nbd_start (const struct mig_qemu_nbd *n);
/* Its libnbd URI (malloc'd). */
char *mig_qemu_nbd_uri (const struct mig_qemu_nbd *n);
/* Stop it (SIGTERM: it flushes and closes the image) and wait; SIGKILL
 * after 10 s.  0 for pid <= 1.  -1 + set_error.
 */
int mig_qemu_nbd_stop (pid_t pid);

/* ---- image-check.c: images vmferryd reopens, exports or stores ---- */

/* Before an image a peer has written into is reopened (a kept partial
 * image), served or stored: read path with qemu-img as format (raw or
 * qcow2: the format it was created in, never the one a request names
 * alone), it must be that format and name no other file (no backing
 * file, no external data file).  probe: let qemu-img probe the format
 * instead, as QEMU does for a command line that names none; the result
 * must still be format (only for an image already checked as format).
 * 0, or -1 + set_error.
 */
int mig_image_check (const char *path, const char *format, bool probe);

/* The same for the image of a VM whose command line is desc (NULL:
 * none known; its user may name the format or let QEMU probe) opened at
 * path (the source's path, as desc names it), the image being at image
 * now: desc must open it as format, or leave it to the probe, and then
 * the probe must find format too.  0, or -1 + set_error.
 */
int mig_image_check_reopen (const struct vm_desc *desc, const char *path,
                            const char *image, const char *format);

/* ---- ssh.c: the one-shot over ssh ---- */

struct mig_ssh_target {
  char *user;                   /* NULL: ssh's default */
  char *host;                   /* name or IP literal (no brackets) */
  char *port;                   /* digits, NULL: ssh's default */
};

/* Split "ssh://[USER@]HOST[:PORT]" ("[V6]" for an IPv6 HOST).  A user
 * or host that starts with '-' (an ssh option) or holds '/', '@',
 * quotes, backslashes or white space is refused.  -1 + set_error.
 */
int mig_ssh_parse_target (const char *target, struct mig_ssh_target *tg);
void mig_ssh_target_clear (struct mig_ssh_target *tg);

/* s as one sh word in single quotes (malloc'd). */
char *mig_sh_quote (const char *s);

/* ---- statefile.c: crash-safe JSON state files ---- */

/* Write o to path atomically and durably (tmp + fsync + rename + fsync
 * of the directory).  -1 + set_error.
 */
int mig_json_save (const char *path, json_t *o);
/* Read a JSON object from path; NULL + set_error. */
json_t *mig_json_load (const char *path);

/* ---- resumable copies (source-resume.c, dest-undo.c) ---- */

/* Beside a disk image: how far a copy of it got (statefile.c). */
#define MIG_RESUME_SUFFIX ".vmferry-resume"
/* The persistent dirty bitmap recording writes since a copy began. */
#define MIG_RESUME_BITMAP "vmferry-resume-"

/* The state object: the copy identified by token of an image of
 * virtual size size reached the destination (dest) up to copied_to.
 */
json_t *mig_resume_state (const char *token, uint64_t size,
                          uint64_t copied_to, const char *dest);

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

/* ---- the destination's partial images kept for a resumed copy ---- */

/* Directory under the storage root where vmferryd keeps them. */
#define MIG_PARTIAL_DIR ".vmferry-partial"
/* How long a partial image is kept (seconds). */
#define MIG_PARTIAL_EXPIRY_S (24 * 3600)

#endif /* VMFERRY_MIGRATE_INTERNAL_H */
