/* vm.h: the canonical VM description (the public face of vm/).
 *
 * A QEMU command line is parsed into a typed description: every option
 * class has an allow-list of drivers (types, backends), keys and value
 * rules; unknown options, unknown drivers, unknown keys and duplicate
 * keys are refused, naming the option and the key.  Command lines are
 * only ever generated from the description: keys come from vm/'s own
 * tables, values are re-formatted from their typed form (numbers,
 * booleans, enums, identifiers, paths), so no text of a parsed command
 * line reaches QEMU unparsed.  This is the trust boundary of vmferryd:
 * the source's command line comes from the network.
 *
 * The same description serves the source (which disks, which bridges,
 * what vmferry check reports), the destination (the skeleton's command
 * line) and the fuzzers.
 *
 * vm/ is a leaf below the engines and the two sides: it knows QEMU's
 * command line, how to start a QEMU confined, the VM being moved (its
 * disks, the facts about it and about this host, the compatibility
 * rules, the description sent to the other side), nothing of how the
 * data moves.  Ownership: a struct vm_desc owns its
 * strings; the returned vectors are the caller's.  Not thread safe per
 * object; separate objects may be used in parallel.  Errors: -1/NULL
 * after set_error(); parse problems are collected in desc->problems.
 */
#ifndef VMFERRY_VM_H
#define VMFERRY_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

struct qmp;

/* An image file the VM opens as a disk (or CD-ROM). */
struct vm_disk {
  char *path;                   /* absolute path as the command line has it */
  char *format;                 /* "qcow2" or "raw"; NULL: not named
                                   (-drive without format=: probed) */
  char *node;                   /* the format node's name on a QEMU started
                                   from vm_generate()'s command line */
  bool read_only;               /* read-only=on, readonly=on or a CD-ROM */
  bool cdrom;                   /* media=cdrom, -cdrom, ide-cd, scsi-cd */
  bool drive;                   /* from -drive/-hda/-cdrom (else -blockdev) */
  char *file_node;              /* -blockdev: the name of the "file" node
                                   holding path, if it has one */
};

enum vm_net_type { VM_NET_USER, VM_NET_TAP, VM_NET_BRIDGE };

/* A network back-end (-netdev or -nic). */
struct vm_net {
  char *id;                     /* -netdev id; NULL for -nic */
  enum vm_net_type type;
  char *ifname;                 /* tap: the tap device's name, or NULL */
  char *bridge;                 /* bridge: br= (default br0); tap: the
                                   bridge its tap is on, once known */
  bool vhost;                   /* vhost=on */
  bool vnet_hdr;                /* vnet_hdr (on unless vnet_hdr=off) */
};

struct vm_opt;                  /* one parsed option (private) */

struct vm_desc {
  char *argv0;                  /* the QEMU binary the command line named */
  struct vm_opt *opts;          /* in command-line order */
  size_t n_opts;
  struct vm_disk *disks;        /* every image file, in order */
  size_t n_disks;
  struct vm_net *nets;          /* every tap/bridge/user back-end */
  size_t n_nets;
  char *name;                   /* -name guest=, or NULL */
  char *machine;                /* -machine type, or NULL (QEMU's default) */
  char *cpu_model;              /* -cpu model, or NULL (qemu64) */
  char **cpu_features;          /* "name=on" / "name=off" / "name=VALUE" */
  uint64_t memory;              /* -m in bytes, 0: QEMU's default */
  bool kvm;                     /* -enable-kvm, -accel kvm, accel=kvm */
  char **problems;              /* what is refused, one line each */
};

/* Parse argv (argv[0] is the QEMU binary and is ignored).  cwd: the
 * directory relative paths are relative to (the QEMU's working
 * directory), or NULL to refuse relative paths.  Returns the
 * description with every problem found listed in ->problems (parsing
 * goes on after a problem, so that vmferry check can list them all);
 * NULL + set_error only when out of memory.
 */
struct vm_desc *vm_parse (char *const *argv, const char *cwd);
void vm_desc_free (struct vm_desc *d);

/* 0 when d has no problems, else -1 + set_error (the first problem, and
 * how many more there are).
 */
int vm_ok (const struct vm_desc *d);

/* Record a problem found outside the parser (e.g. by the source, about
 * what QEMU reported).  -1 + set_error if out of memory.
 */
int vm_add_problem (struct vm_desc *d, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* Pin what the command line left to QEMU, as the running QEMU reports
 * it: the concrete machine type (for an alias such as "q35" or none
 * given), a disk's format (for -drive without format=), the bridge a
 * tap device is on.  -1 + set_error on a bad value.
 */
int vm_set_machine (struct vm_desc *d, const char *machine);
int vm_set_disk_format (struct vm_desc *d, size_t disk, const char *format);
int vm_set_net_bridge (struct vm_desc *d, size_t net, const char *bridge);

/* The index of the disk whose path is path, or -1. */
ssize_t vm_find_disk (const struct vm_desc *d, const char *path);

/* The canonical command line of d, with the source's own paths: what the
 * source sends.  Formats and the machine as pinned; a tap on a known
 * bridge becomes "bridge,br=NAME".  NULL + set_error.
 */
char **vm_wire_argv (const struct vm_desc *d);

/* Where the destination puts things. */
struct vm_layout {
  const char *qemu;             /* the binary (argv[0]) */
  const char *run_dir;          /* sockets, logs and pidfile go here */
  char *const *read_dirs;       /* read-only files only from under these
                                   (NULL: VM_DEFAULT_READ_DIRS) */
  char *const *disk_paths;      /* per disk: the destination's image; NULL
                                   entry: a read-only file used in place,
                                   which must lie under a read dir */
  const int *tap_fds;           /* per net: the tap descriptor QEMU
                                   inherits (tap and bridge nets); NULL:
                                   a saved command line, not started
                                   here: "-netdev bridge,br=NAME" */
  const int *vhost_fds;         /* per net: /dev/vhost-net descriptor for
                                   vhost=on, else -1 (NULL: none) */
};

/* Where vmferry may let a VM read -kernel, -initrd, -bios, -dtb, -L and
 * read-only images from unless told otherwise (vmferryd --read-dir):
 * QEMU's and the distribution's firmware directories.  Never the storage
 * root: a VM must not read another VM's image.
 */
#define VM_DEFAULT_READ_DIRS                                            \
  { "/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe",           \
    "/usr/share/ipxe", "/usr/share/ovmf", "/usr/share/OVMF",            \
    "/usr/share/qemu-efi-aarch64", "/usr/lib/qemu", NULL }

/* A generated command line. */
struct vm_cmdline {
  char **argv;                  /* QEMU's argv */
  char **files;                 /* files QEMU creates in run_dir */
  char *qmp;                    /* the VM's own first QMP unix socket */
  char *pidfile;                /* the VM's -pidfile (in run_dir) or NULL */
  char **reads;                 /* files and directories QEMU reads in
                                   place (resolved), for vm_confine */
};
void vm_cmdline_clear (struct vm_cmdline *c);

/* Generate the destination's command line from d (which must have no
 * problems) and layout l.  Checks what only the destination can: every
 * read-only file lies under a read dir and is a regular file (a
 * directory for -L), run files do not collide, every tap has its
 * descriptor.  0, or -1 + set_error naming the option.
 */
int vm_generate (const struct vm_desc *d, const struct vm_layout *l,
                 struct vm_cmdline *out);

/* The path of a file under one of dirs (NULL: the defaults), resolved
 * (realpath, malloc'd); NULL + set_error if it lies elsewhere or is not
 * of the wanted kind (want_dir: a directory, else a regular file).
 */
char *vm_read_path (char *const *dirs, const char *path, bool want_dir);

/* ---- confine.c: starting a QEMU confined ---- */

/* How to start a QEMU (or qemu-nbd, qemu-img) that handles a peer's VM.
 * The process runs as user (its uid, gid and supplementary groups:
 * e.g. kvm for /dev/kvm), in a private mount namespace whose root shows
 * only /usr (and the /bin, /lib... links), a minimal /dev (null, zero,
 * full, random, urandom, kvm if present), /proc, /sys read-only, a few
 * files of /etc (dynamic linker cache, time zone, passwd/group), an
 * empty private /tmp, and the paths below: rw_dirs (directories, or
 * files such as images) read-write, ro_paths (files or directories)
 * read-only, each at its own path.  It is detached (its own
 * session, a child of init, not of the caller) with stdin /dev/null and
 * stdout/stderr to log.  keep_fds (-1 terminated, may be NULL) are
 * inherited at their numbers; every other descriptor is closed.
 */
struct vm_confine {
  const char *user;             /* user name; NULL: run as the caller (no
                                   uid change, namespace still private) */
  char *const *rw_dirs;         /* the first, a directory, holds the
                                   staging directory .root of the new
                                   root */
  char *const *ro_paths;
  const char *log;              /* stdout+stderr (appended) */
  const int *keep_fds;
};

/* Start argv confined and return its PID (once the exec succeeded).
 * -1 + set_error.
 */
pid_t vm_spawn_confined (char *const *argv, const struct vm_confine *c);

/* The sandbox every confined QEMU is given (its -sandbox argument):
 * seccomp with spawning, privilege changes, obsolete calls and resource
 * control denied.
 */
#define VM_QEMU_SANDBOX \
  "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

/* ---- scope.c: a VM's QEMU outside its starter's cgroup ---- */

/* systemd is PID 1 here. */
bool vm_scope_systemd (void);
/* Where systemd runs, put the QEMU of VM name (pid) in a scope of its
 * own, registered with machined (else a transient scope), so that
 * stopping its starter (vmferryd) does not stop it.  Elsewhere: nothing
 * to do (0).  -1 + set_error if systemd runs and it failed.
 */
int vm_scope_register (const char *name, pid_t pid);

/* uid and gid of user name (getpwnam).  -1 + set_error naming the user
 * and how to create it.
 */
int vm_user_ids (const char *name, uid_t *uid, gid_t *gid);

/* ================================================================
 * The migration's view of a VM: what vmferry moves (disks with their
 * sizes and destinations, facts for the compatibility report), how it
 * is told to the other side, and the host facts it is compared with.
 * These keep the mig_ names they had in migrate/.
 * ================================================================
 */

/* ---- discover.c, wire.c: the VM a migration moves ---- */

/* A backing file of a disk (the nearest first), as QEMU reports it. */
struct mig_backing {
  char *path;
  char *format;                 /* "qcow2", "raw" */
  uint64_t allocated;           /* bytes allocated on the source host */
};

struct mig_disk {
  char *id;                     /* device or node name to mirror/export */
  char *node;                   /* node name: the source QEMU's (vm.c), or
                                   the skeleton's export (dest-vm.c) */
  char *path;                   /* image file on the source */
  char *format;                 /* "qcow2", "raw" */
  uint64_t virtual_size;
  uint64_t allocated;           /* bytes allocated on the source host, the
                                   backing files' included */
  bool read_only;               /* the VM opens it read-only (a read-only
                                   image, a CD-ROM's medium): copied like
                                   any disk, but nothing writes it */
  bool cdrom;                   /* a CD-ROM's medium */
  char *dest_path;              /* on the destination (NULL: not chosen) */
  bool shared;                  /* on storage both hosts see: not copied,
                                   opened in place, never deleted */
  bool in_place;                /* read-only, not copied: the destination
                                   opens the same path under one of its
                                   read dirs, whose content must be the
                                   same (sha256) */
  char *sha256;                 /* in_place: the content's checksum (hex) */
  struct mig_backing *backing;  /* its backing chain (none: NULL): the
                                   destination gets one standalone image
                                   with what the guest sees (flattened) */
  size_t n_backing;
  bool owner_changed;           /* dest: a shared image given to the QEMU
                                   user; owner_uid/gid is its owner before */
  uid_t owner_uid;
  gid_t owner_gid;
};

/* The disk's data moves (it is neither on shared storage nor used in
 * place).
 */
static inline bool
mig_disk_copied (const struct mig_disk *d)
{
  return !d->shared && !d->in_place;
}

/* The disk moves and the guest may write it while it does: its writes
 * are recorded (dirty bitmaps) and mirrored.  A read-only disk is copied
 * once.
 */
static inline bool
mig_disk_written (const struct mig_disk *d)
{
  return mig_disk_copied (d) && !d->read_only;
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
/* Free what d holds and zero it. */
void mig_disk_clear (struct mig_disk *d);
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

/* QEMU's multifd-compression: "none", "zlib" or "zstd" (wire.c). */
bool mig_qemu_compression_valid (const char *c);

/* A name that is safe as one path component (wire.c). */
bool mig_safe_name (const char *s);

/* ---- definition.c: the saved definition of a VM living here ---- */

/* What vmferryd saves for each VM it received (or stored), durably, to
 * list and start it again: the canonical description (disks with their
 * dest_path), where it came from, and how vmferryd ran it.
 */
struct vm_definition {
  struct mig_vm *vm;
  char *from;                   /* address of the host it came from */
  char *peer;                   /* CN of the certificate that sent it */
  int64_t arrived;              /* when (seconds since the epoch) */
  bool stored;                  /* an offline move: it never ran here */
  char *run_dir;                /* RUN_ROOT/NAME */
  char *vm_dir;                 /* STORAGE_ROOT/NAME */
  char *qemu;                   /* the QEMU binary */
  char *qemu_user;              /* the user its QEMU runs as */
  char **read_dirs;             /* the read dirs it was admitted with */
  char **bridges;               /* the bridges its taps may join */
};

/* Where vmferryd keeps definitions: STORAGE_ROOT/VM_DEFINITIONS/NAME.json
 * (no request can name it: request names never start with '.').
 */
#define VM_DEFINITIONS ".vmferry-vms"

/* Save durably (atomic replace) / load and check (mig_vm_from_json's
 * rules, absolute directories named after the VM).  -1/NULL + set_error.
 */
int vm_definition_save (const struct vm_definition *def, const char *path);
struct vm_definition *vm_definition_load (const char *path);
void vm_definition_free (struct vm_definition *def);

/* The last component of path (after the last '/'). */
const char *vm_base_name (const char *path);

/* ---- hostinfo.c: facts about this host ---- */
char *mig_host_cpu_vendor (void);
uint64_t mig_host_mem_available (void);
int64_t mig_host_free_bytes (const char *dir);
int mig_qemu_binary_version (const char *qemu);
int mig_qemu_has_machine (const char *qemu, const char *machine);

/* ---- facts.c: what the compatibility report needs of the VM ---- */

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

/* ---- qemu-start.c: a QEMU started confined, ready on its monitor ---- */

/* Id of the tls-creds object vmferry adds to both QEMUs. */
#define MIG_TLS_ID "vmferry-tls"
/* Name of the PSK user in keys.psk ("vmferry:HEXKEY"). */
#define MIG_PSK_USER "vmferry"

/* How long a QEMU may take to start and answer on QMP (ms). */
#define MIG_QEMU_START_MS 30000
/* Start argv confined (c) and connect to its QMP socket qmp within
 * MIG_QEMU_START_MS.  The handle, with *pid its PID; or NULL +
 * set_error with QEMU's own last message (from c->log), *pid its PID if
 * it started (the caller kills it) or 0.
 */
struct qmp *mig_qemu_start (char *const *argv, const struct vm_confine *c,
                            const char *qmp, pid_t *pid);
/* Kill QEMU process pid and wait (up to 5 s) until it is gone; 0 for
 * pid <= 1.  -1 + set_error.
 */
int mig_qemu_kill (pid_t pid);

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

/* The SHA-256 of a file's content, in lower-case hex (malloc'd), for
 * a read-only image used in place: the source's and the destination's
 * must be the same.  NULL + set_error.
 */
char *mig_file_sha256 (const char *path);

/* ---- compat.c: the compatibility report ----
 *
 * A pure function of two JSON documents, so that vmferry check, vmferry
 * migrate's preflight and vmferryd's prepare apply the same rules, and
 * unit tests can drive every rule with recorded facts:
 *
 * src: the VM description sent on the wire (mig_vm_to_json): name,
 *   qemu_version, machine, memory, cpu_vendor, disks[] (allocated,
 *   read_only), and the facts vm.c gathers: kvm, cpu_model,
 *   cpu_features[] (enabled features, static expansion), cpu_model_name
 *   (the source host's /proc/cpuinfo "model name"), blocked_reasons[],
 *   passthrough[], bridges[], command_line[] (what the canonical
 *   description of the command line refuses, vm.h).
 * dst: what the destination agent knows about itself (dest-check.c):
 *   qemu, qemu_version, kvm, machines[] {name, deprecated},
 *   cpu_vendor, cpu_model_name, cpu_models[] {name, unavailable[]},
 *   cpu_features[] (what its "max" model offers), mem_available,
 *   storage_free, bridges[], ports_error (a string when it cannot
 *   listen on its data address).
 *
 * Both come from another host: a missing or mistyped field yields a
 * finding ("cannot tell"), never a crash.
 */
/* Every rule applied to src and dst.  Returns a new JSON array of
 * findings {"id", "severity": "error"|"warning"|"info", "message",
 * "fix" (string or null)}, in a stable order; NULL only when out of
 * memory.
 */
json_t *mig_compat_check (json_t *src, json_t *dst);

/* Does the list hold a finding of severity "error"? */
bool mig_compat_has_error (json_t *findings);

/* The error findings' messages joined by "; " (malloc'd), for a one
 * line refusal.
 */
char *mig_compat_errors_text (json_t *findings);

#endif /* VMFERRY_VM_H */
