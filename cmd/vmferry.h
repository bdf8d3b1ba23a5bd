/* vmferry.h: vmferry's command line, shared by vmferry.c (the commands)
 * and vmferry-options.c (the option table, parsing and --help).
 */
#ifndef VMFERRY_CMD_VMFERRY_H
#define VMFERRY_CMD_VMFERRY_H

#include <stdbool.h>
#include <stdint.h>

#include "migrate.h"

/* The commands, as bits (an option lists those it belongs to). */
enum vmf_cmd {
  CMD_MIGRATE = 1 << 0,
  CMD_CHECK = 1 << 1,
  CMD_EVACUATE = 1 << 2,
  CMD_STATUS = 1 << 3,
  CMD_CANCEL = 1 << 4,
  CMD_RECOVER = 1 << 5,
  CMD_UNDO = 1 << 6,
  CMD_PKI_INIT = 1 << 7,
  CMD_PKI_ISSUE = 1 << 8,
  CMD_REAP = 1 << 9,            /* internal: the reaper of --keep-source= */
  CMD_LIST = 1 << 10,
  CMD_START = 1 << 11,
  CMD_STOP = 1 << 12,
};

/* Everything the command line can say. */
struct args {
  enum vmf_cmd cmd;
  const char *cmd_name;         /* "migrate", "pki issue", ... */
  char **pos;                   /* the command's arguments (borrowed) */
  int n_pos;
  struct mig_source_params mp;
  struct mig_ssh_params sp;     /* --to ssh://... */
  struct mig_libvirt_params lp; /* VM libvirt:DOMAIN */
  char **ssh_options;
  const char *to, *engine, *name, *out;
  char **disk_map, **ips, **dns;
  char **disks;                 /* --disk: --offline's PATH..., else the
                                   IDs of the disks to copy */
  char **skip_disks;            /* --skip-disk ID... */
  int days;
  bool tls_given;               /* --tls-dir was on the command line */
  unsigned parallel;            /* migrations at once (several VMs) */
  bool keep_going;              /* --continue after a failure */
  uint64_t keep_state_s;        /* --keep-state: prune older state dirs */
};

/* Parse argv into a.  Returns 0 to go on, or an exit code: 0 after
 * --help, --version or --long-options (printed), 1 after a usage error
 * (one line saying what and how to fix it, then "Try 'vmferry CMD
 * --help'.", on stderr).
 */
#define VMF_GO_ON (-1)
int vmf_parse (int argc, char **argv, struct args *a);

/* Print "vmferry CMD: MESSAGE" and the Try line on stderr; returns the
 * exit code of a usage error (1).
 */
int vmf_usage_error (const struct args *a, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* vmferry-values.c: check the value of option name (its argument arg,
 * may be NULL) and store it in a: VMF_GO_ON, or the exit code of a
 * usage error (printed).
 */
int vmf_apply (struct args *a, const char *name, char *arg);

/* Free what parsing allocated. */
void vmf_args_free (struct args *a);

#endif
