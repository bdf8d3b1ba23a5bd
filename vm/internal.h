/* internal.h: private to vm/.
 *
 * The allow-lists are tables of struct vm_key (a key, the type of its
 * value) grouped into struct vm_driver (a driver, back-end or type with
 * its keys), and struct vm_optdef (a command-line option, how its
 * argument is read).  A parsed option keeps typed items whose keys point
 * into these tables, never into the parsed text.
 */
#ifndef VMFERRY_VM_INTERNAL_H
#define VMFERRY_VM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "utils.h"
#include "vm.h"
#include "qmp.h"

/* ---- keyval.c: QEMU's "key=value,key=value" strings ---- */

struct vm_kv_item {
  char *key;                    /* NULL for an item without '=' */
  char *value;
};
struct vm_kv {
  struct vm_kv_item *items;
  size_t n;
};
/* Split str (",," is an escaped comma).  NULL + set_error. */
struct vm_kv *vm_kv_parse (const char *str);
/* The items of a JSON object (JSON_REJECT_DUPLICATES), nested objects
 * flattened to dotted keys, scalars as text (true/false as on/off).
 * Arrays are refused.  NULL + set_error.
 */
struct vm_kv *vm_kv_from_json (const char *text);
void vm_kv_free (struct vm_kv *kv);
/* Append key=value (copies).  -1 + set_error. */
int vm_kv_add (struct vm_kv *kv, const char *key, const char *value);

/* ---- value.c: value types ---- */

enum vm_type {
  VT_ID,        /* a QEMU identifier: letter, then letters, digits, -._ */
  VT_REF,       /* a reference to an identifier (same syntax) */
  VT_BOOL,      /* on/off/yes/no/true/false: emitted on/off */
  VT_UINT,      /* decimal or 0x hex: emitted decimal */
  VT_INT,       /* optional minus sign */
  VT_SIZE,      /* number with optional k/M/G/T suffix: emitted in bytes */
  VT_ENUM,      /* one of key->choices */
  VT_TOKEN,     /* letters, digits and _.:+- (no '/', no spaces) */
  VT_STR,       /* printable text without control characters */
  VT_MAC,       /* 52:54:00:12:34:56 */
  VT_IP,        /* an IPv4 or IPv6 address */
  VT_CIDR,      /* ADDR[/LEN] */
  VT_HOSTFWD,   /* [tcp|udp]:[ADDR]:PORT-[ADDR]:PORT */
  VT_UUID,
  VT_DISK,      /* an image file (the destination maps it) */
  VT_RUNFILE,   /* a file QEMU creates: moved into the run directory */
  VT_READFILE,  /* a file QEMU reads: under a read dir on the destination */
  VT_READDIR,   /* a directory QEMU reads (-L) */
  VT_CHILD,     /* -blockdev child: a node name, or a nested node */
};

#define VK_LIST 1u              /* the key may repeat */

struct vm_key {
  const char *name;
  enum vm_type type;
  const char *const *choices;   /* VT_ENUM: NULL-terminated */
  unsigned flags;
};

/* A driver (device model, back-end, object type, block driver) and the
 * keys it accepts: up to four groups (its own, and shared ones).
 */
struct vm_driver {
  const char *name;
  const struct vm_key *keys[4]; /* each terminated by a NULL name */
};

/* Look up key name in d's groups.  NULL if not allowed. */
const struct vm_key *vm_driver_key (const struct vm_driver *d,
                                    const char *name);
/* The driver called name in the NULL-name-terminated table, or NULL. */
const struct vm_driver *vm_driver_find (const struct vm_driver *table,
                                        const char *name);

/* Check text against key's type and return its canonical form
 * (malloc'd), or NULL + set_error saying what is wrong with it.
 * Paths are only checked for form here (absolute, no control
 * characters; a run file's name must be a safe file name); cwd (may be
 * NULL) makes relative paths absolute.
 */
char *vm_value_canon (const struct vm_key *key, const char *text,
                      const char *cwd);
/* A size with k/M/G/T suffix (default_mult for none) into *out.  -1 if
 * malformed or overflowing.
 */
int vm_parse_size (const char *s, uint64_t default_mult, uint64_t *out);
/* The identifier rule (letter first, then letters, digits, '-', '.', '_',
 * at most 127): QEMU's id_wellformed.
 */
bool vm_id_ok (const char *s);
/* A name that is safe as one file name: letters, digits, '.', '_', '-',
 * not starting with '.', at most 64 characters.
 */
bool vm_file_name_ok (const char *s);

/* ---- options.c: the options vmferry knows ---- */

enum vm_form {
  VF_FLAG,        /* no argument, kept */
  VF_DROP,        /* dropped (with its argument if it has one) */
  VF_REFUSE,      /* refused: why says what to use instead */
  VF_VALUE,       /* one value of type vtype */
  VF_KEYVAL,      /* keyval: implied first key selects the driver */
  VF_BLOCKDEV,    /* -blockdev (keyval or JSON): a node graph */
  VF_DRIVE,       /* -drive */
  VF_DISK,        /* -hda..-hdd, -cdrom: a -drive in short */
  VF_CHARSPEC,    /* -serial, -monitor, -qmp, -parallel */
  VF_CPU,         /* -cpu model,+feat,feat=on */
  VF_GLOBAL,      /* -global driver.prop=value */
};

struct vm_optdef {
  const char *name;             /* without the dash */
  enum vm_form form;
  bool arg;                     /* takes an argument */
  enum vm_type vtype;           /* VF_VALUE */
  const char *const *choices;   /* VF_VALUE of VT_ENUM */
  const char *implied;          /* VF_KEYVAL: name of the implied key */
  const struct vm_driver *drivers; /* VF_KEYVAL: allowed drivers; with
                                      implied NULL, the first is the one
                                      schema of the option */
  bool json;                    /* the argument may be a JSON object */
  const char *why;              /* VF_REFUSE / VF_DROP: explanation */
  int index;                    /* VF_DISK: drive index; -1 for -cdrom */
};

/* The option "-name" or "--name"; NULL if unknown. */
const struct vm_optdef *vm_option_lookup (const char *arg);

/* ---- schema-*.c: the allow-lists ---- */

extern const struct vm_driver vm_block_drivers[];  /* -blockdev */
extern const struct vm_driver vm_drive_schema[];   /* -drive (one) */
extern const struct vm_driver vm_device_drivers[]; /* -device */
extern const struct vm_driver vm_netdev_drivers[]; /* -netdev */
extern const struct vm_driver vm_nic_drivers[];    /* -nic */
extern const struct vm_driver vm_chardev_drivers[];
extern const struct vm_driver vm_object_drivers[];
extern const struct vm_driver vm_machine_schema[];
extern const struct vm_driver vm_accel_drivers[];
extern const struct vm_driver vm_memory_schema[];
extern const struct vm_driver vm_smp_schema[];
extern const struct vm_driver vm_name_schema[];
extern const struct vm_driver vm_boot_schema[];
extern const struct vm_driver vm_rtc_schema[];
extern const struct vm_driver vm_display_drivers[];
extern const struct vm_driver vm_vnc_schema[];
extern const struct vm_driver vm_mon_schema[];
extern const struct vm_driver vm_msg_schema[];
extern const struct vm_driver vm_overcommit_schema[];
extern const struct vm_driver vm_action_schema[];
extern const struct vm_driver vm_smbios_schema[];
extern const struct vm_driver vm_numa_drivers[];
extern const struct vm_driver vm_icount_schema[];
extern const struct vm_key vm_global_keys[];       /* "DRIVER.PROP" */
extern const char *const vm_enum_vga[];
extern const char *const vm_enum_watchdog_action[];
extern const char *const vm_enum_format[];         /* qcow2, raw */
/* Is f one of vm_enum_format? */
bool vm_format_known (const char *f);
/* A device model that passes a host device through (vfio-*, vhost-*,
 * usb-host...).
 */
bool vm_device_is_passthrough (const char *driver);

/* ---- a parsed option ---- */

/* One key=value of an option, typed.  key is built from table names. */
struct vm_item {
  char *key;
  const struct vm_key *def;
  char *text;                   /* canonical value */
  ssize_t disk;                 /* VT_DISK: index in desc->disks, else -1 */
};

/* -serial/-monitor/-qmp's character device shorthand. */
enum vm_cs_kind {
  CS_NONE, CS_NULL, CS_CHARDEV, CS_UNIX, CS_FILE, CS_TCP,
};
struct vm_charspec {
  bool mon;                     /* "mon:" prefix: muxed with a monitor */
  enum vm_cs_kind kind;
  char *arg;                    /* chardev id, path, or "HOST:PORT" */
  bool server, wait, nodelay, telnet;
};

struct vm_opt {
  const struct vm_optdef *def;
  const struct vm_driver *drv;  /* VF_KEYVAL: the driver chosen */
  char *value;                  /* VF_VALUE, VF_CPU: canonical value */
  struct vm_item *items;
  size_t n_items;
  struct vm_charspec cs;        /* VF_CHARSPEC */
  ssize_t net;                  /* -netdev/-nic: index in desc->nets */
  ssize_t disk;                 /* -drive: index in desc->disks */
  bool gen_node;                /* -drive: emit node-name=disk->node */
  bool json;                    /* -device given in JSON: re-emitted in
                                   JSON, since QEMU creates JSON devices
                                   after the others (device order makes
                                   the guest's PCI addresses) */
};

/* Append an item to o (key and text copied).  -1 + set_error. */
int vm_opt_add_item (struct vm_opt *o, const char *key,
                     const struct vm_key *def, const char *text,
                     ssize_t disk);
/* The item with key, or NULL. */
struct vm_item *vm_opt_item (const struct vm_opt *o, const char *key);
void vm_opt_clear (struct vm_opt *o);

/* Parse kv against drv's keys into o's items (duplicates refused
 * unless VK_LIST; an item without '=' is KEY=on, or noKEY for KEY=off,
 * for a boolean KEY).  skip: a key already consumed (the implied key),
 * or NULL.  -1 + set_error naming the key.
 */
int vm_parse_items (struct vm_desc *d, struct vm_opt *o,
                    const struct vm_driver *drv, const struct vm_kv *kv,
                    size_t first, const char *skip, const char *cwd);

/* ---- desc.c ---- */

/* Append a disk / net / option slot (zeroed).  NULL + set_error. */
struct vm_disk *vm_desc_new_disk (struct vm_desc *d, ssize_t *index);
struct vm_net *vm_desc_new_net (struct vm_desc *d, ssize_t *index);
struct vm_opt *vm_desc_new_opt (struct vm_desc *d);
/* A problem with option opt ("-drive ARG: " + the current error). */
int vm_problem (struct vm_desc *d, const char *opt, const char *arg);

/* ---- parse-*.c: one per option class ---- */

int vm_parse_keyval (struct vm_desc *d, struct vm_opt *o, const char *arg,
                     const char *cwd);
int vm_parse_blockdev (struct vm_desc *d, struct vm_opt *o,
                       const char *arg, const char *cwd);
int vm_parse_drive (struct vm_desc *d, struct vm_opt *o, const char *arg,
                    const char *cwd);
int vm_parse_disk_short (struct vm_desc *d, struct vm_opt *o,
                         const char *arg, const char *cwd);
int vm_parse_charspec (struct vm_desc *d, struct vm_opt *o,
                       const char *arg, const char *cwd);
int vm_parse_cpu (struct vm_desc *d, struct vm_opt *o, const char *arg);
int vm_parse_global (struct vm_desc *d, struct vm_opt *o, const char *arg);
/* An image file of option o (-blockdev filename=, -drive file=): a new
 * disk, and the item key=path that names it.  Host devices (/dev) are
 * refused.  -1 + set_error.
 */
int vm_add_disk_item (struct vm_desc *d, struct vm_opt *o, const char *key,
                      const struct vm_key *def, const char *path);
/* After every option: resolve -blockdev references into disks, check
 * that references between options exist.
 */
int vm_parse_finish_blocks (struct vm_desc *d);
/* Semantic checks of a keyval option once its items are known
 * (chardev sockets that would block QEMU's start, netdev back-ends,
 * memory).  -1 + set_error.
 */
int vm_check_keyval (struct vm_desc *d, struct vm_opt *o);

/* ---- generate*.c ---- */

struct gen {
  const struct vm_desc *d;
  const struct vm_layout *l;    /* NULL: the wire form */
  struct vm_cmdline *out;
};

/* Append s to *buf (length *len), doubling commas when escape.  -1. */
int vm_buf_add (char **buf, size_t *len, const char *s, bool escape);
/* Append ",key=value" (key NULL: the value alone; no comma first when
 * *len is 0).  -1 + set_error.
 */
int vm_gen_kv (char **buf, size_t *len, const char *key, const char *value);
/* The text QEMU gets for a value of type t (disk: its index), mapped for
 * the destination.  malloc'd, or NULL + set_error.
 */
char *vm_gen_value (struct gen *g, enum vm_type t, const char *text,
                    ssize_t disk);
/* o's items as key=value, without skip (may be NULL), and, with tap,
 * without what the destination's tap descriptor replaces.
 */
int vm_gen_items (struct gen *g, const struct vm_opt *o, char **buf,
                  size_t *len, const char *skip, bool tap);
/* Append opt and arg (taken; may be NULL) to the command line. */
int vm_gen_push (struct gen *g, const char *opt, char *arg);

#endif /* VMFERRY_VM_INTERNAL_H */
