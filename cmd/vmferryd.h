/* vmferryd.h: vmferryd's settings, shared by vmferryd.c (the agent's
 * life: start, reload, stop) and vmferryd-config.c (command line and
 * configuration file).
 */
#ifndef VMFERRY_CMD_VMFERRYD_H
#define VMFERRY_CMD_VMFERRYD_H

#include <stdbool.h>

#include "utils.h"
#include "migrate.h"

struct dargs {
  struct mig_dest_params dp;
  char *listen;                 /* ADDR[:PORT] as given (owned) */
  const char *config;           /* --config FILE (borrowed), or NULL */
  const char *metrics;          /* --metrics ADDR:PORT (owned), or NULL */
  enum log_level log_level;
  char **strings;               /* every value set (owned) */
  char **maddrs;                /* --migration-address list (owned) */
  char **rdirs;                 /* --read-dir list (owned) */
  char **bridges;               /* --bridge list (owned) */
  char **settings;              /* "key=value" of each setting, in order:
                                   what a reload compares */
};

/* Fill a from the configuration file (--config), then the command line
 * (which overrides it), and check it: the required settings, the
 * directories and the certificates (each message names the option and
 * how to fix it).  Returns 0, or 1 after printing the error (one line;
 * a command-line error adds "Try 'vmferryd --help'."), or 2 after
 * --help or --version (printed; exit 0).
 */
int vmfd_parse (int argc, char **argv, struct dargs *a);

/* The defaults, before parsing. */
void vmfd_init (struct dargs *a);
void vmfd_free (struct dargs *a);

/* systemd.c: readiness and status for systemd (Type=notify), which
 * does nothing where systemd did not start us; and the journal sink of
 * log.c, when our stderr is the journal (JOURNAL_STREAM) and libsystemd
 * is there.  state: "READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...".
 */
void cmd_notify (const char *state);
/* The sink for log_setup(): the journal, or NULL (stderr). */
log_sink_fn cmd_journal_sink (void);

#endif
