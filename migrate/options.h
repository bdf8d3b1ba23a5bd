/* options.h: the allow-list of QEMU options (private to migrate/). */
#ifndef VMFERRY_MIGRATE_OPTIONS_H
#define VMFERRY_MIGRATE_OPTIONS_H

#include <stdbool.h>

enum mig_opt_arity { OPT_FLAG, OPT_ARG };

/* How an option is carried to the destination. */
enum mig_opt_class {
  OPT_DROP,          /* removed; the agent adds its own */
  OPT_KEEP,          /* copied as it is */
  OPT_READ_FILE,     /* a file the VM only reads: must exist there */
  OPT_RUN_FILE,      /* a file the VM writes: moved into the run dir */
  OPT_PIDFILE,       /* -pidfile: moved into the run dir, and recorded */
  OPT_CHARDEV,       /* -chardev backend,path=,logfile= */
  OPT_CHARSPEC,      /* -serial/-qmp/-monitor "unix:PATH,opts" */
  OPT_BLOCKDEV,      /* -blockdev keyval or JSON */
  OPT_DRIVE,         /* -drive file=... */
  OPT_DEVICE,        /* -device: pass-through drivers refused */
  OPT_NETDEV,        /* -netdev/-nic: host scripts refused */
  OPT_OBJECT,        /* -object: host files refused */
};

struct mig_option {
  const char *name;             /* without the leading dash */
  enum mig_opt_arity arity;
  enum mig_opt_class cls;
};

/* The table entry for "-name" or "--name", or NULL if unknown. */
const struct mig_option *mig_option_lookup (const char *arg);
bool mig_device_is_passthrough (const char *driver);
bool mig_blockdrv_is_host (const char *driver);

#endif
