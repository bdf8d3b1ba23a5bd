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
 * vm/ is a leaf: it knows QEMU's command line and how to start a QEMU
 * confined, nothing of migration.  Ownership: a struct vm_desc owns its
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

/* The sandbox every confined QEMU gets (QEMU's -sandbox argument):
 * seccomp with spawning, privilege changes, obsolete calls and resource
 * control denied.
 */
#define VM_QEMU_SANDBOX \
  "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

/* uid and gid of user name (getpwnam).  -1 + set_error naming the user
 * and how to create it.
 */
int vm_user_ids (const char *name, uid_t *uid, gid_t *gid);

#endif /* VMFERRY_VM_H */
