/* vmferry-options.c: vmferry's commands and options, one table each:
 * what each command takes, its --help, and the checks of every value.
 *
 * Options are parsed for the whole command line first (GNU getopt lets
 * them come before or after the command), then each one is checked
 * against the command: an option that is not one of the command's is
 * refused, by name.  Errors are one line that says what is wrong and
 * how to fix it, then "Try 'vmferry CMD --help'."  The hidden option
 * --long-options lists a command's options (all of them without a
 * command) for the man page test and the bash completion.
 */
#include <config.h>

#include <arpa/inet.h>
#include <getopt.h>

#include "utils.h"
#include "net.h"
#include "vm.h"
#include "common.h"
#include "vmferry.h"

#define MOVE (CMD_MIGRATE | CMD_EVACUATE)  /* options of a migration */
#define ANY 0xffff

/* The commands: name, positional arguments (max -1: any number), what
 * a missing one is, and the text of --help.
 */
static const struct vmf_cmd_info {
  const char *name;
  enum vmf_cmd cmd;
  int min, max;
  const char *args;             /* synopsis of the arguments */
  const char *missing;          /* what to say when one is missing */
  const char *summary;          /* for vmferry --help */
} cmds[] = {
  { "migrate", CMD_MIGRATE, 1, -1, "VM... --to ADDR[:PORT]",
    "which VM? Give its QMP socket (a path), its name in --vm-dir or "
    "libvirt:DOMAIN",
    "move running VMs (or with --offline one that is shut down) to "
    "another host" },
  { "check", CMD_CHECK, 1, 1, "VM --to ADDR[:PORT]",
    "which VM? Give its QMP socket (a path), its name in --vm-dir or "
    "libvirt:DOMAIN",
    "can the VM move there?  Changes nothing" },
  { "evacuate", CMD_EVACUATE, 0, 0, "--to ADDR[:PORT]", NULL,
    "move every VM of --vm-dir, smallest RAM first" },
  { "status", CMD_STATUS, 0, 1, "[ID]", NULL,
    "list the migrations of --run-dir (or show one), newest first" },
  { "cancel", CMD_CANCEL, 1, 1, "ID",
    "which migration? Give its ID (vmferry status lists them)",
    "cancel a running migration (or a --keep-source=DURATION quarantine)" },
  { "recover", CMD_RECOVER, 0, 1, "[ID]", NULL,
    "finish or roll back migrations whose vmferry died" },
  { "undo", CMD_UNDO, 1, 1, "ID",
    "which migration? Give its ID (vmferry status lists them)",
    "move a VM quarantined with --keep-source=DURATION back here" },
  { "pki init", CMD_PKI_INIT, 1, 1, "CADIR",
    "where? Give the directory of the new CA",
    "create a certificate authority in CADIR" },
  { "pki issue", CMD_PKI_ISSUE, 1, 1, "CADIR --name NAME",
    "which CA? Give the directory that vmferry pki init made",
    "issue a host's certificates, signed by the CA in CADIR" },
  { "quarantine-reap", CMD_REAP, 1, 1, "ID", "which migration?", NULL },
  { "list", CMD_LIST, 0, 0, "", NULL,
    "this host's VMs: state, memory, disks, QEMU, where they came from" },
  { "start", CMD_START, 1, 1, "NAME",
    "which VM? Give its name (vmferry list shows them)",
    "start a stopped VM this host received, from its saved definition" },
  { "stop", CMD_STOP, 1, 1, "NAME",
    "which VM? Give its name (vmferry list shows them)",
    "shut a VM down (ACPI power button, then quit after --timeout)" },
};

/* The options: name, argument, the commands that take it, help. */
static const struct vmf_opt {
  const char *name;
  int has_arg;
  const char *arg;
  unsigned cmds;
  const char *help;
} opts[] = {
  { "to", required_argument, "ADDR[:PORT]", MOVE | CMD_CHECK,
    "the destination's vmferryd (a host name or an address, port 7480 by "
    "default), or ssh://[USER@]HOST[:PORT] for a one-shot vmferryd "
    "started over ssh" },
  { "tls-dir", required_argument, "DIR",
    MOVE | CMD_CHECK | CMD_RECOVER,
    "this host's certificates (default " VMFERRY_DEFAULT_TLS_DIR "; "
    "made with vmferry pki issue)" },
  { "vm-dir", required_argument, "DIR",
    MOVE | CMD_CHECK | CMD_LIST | CMD_START | CMD_STOP,
    "where VM names are looked up as NAME.qmp or NAME/qmp.sock (default "
    "/run/vmferry/vms)" },
  { "storage-engine", required_argument, "vmferry|qemu", MOVE,
    "who copies the disks: vmferry's engine (default) or QEMU's mirror" },
  { "keep-source", optional_argument, "[=DURATION]", MOVE,
    "keep the source images; with a DURATION (10m, 1h, 2d) set them aside "
    "and delete them that long after the move (vmferry undo moves back)" },
  { "no-resume", no_argument, NULL, MOVE,
    "never resume an earlier failed copy, keep nothing for a later one" },
  { "disk-path", required_argument, "SRC=DST", MOVE,
    "put the source image SRC at DST on the destination (repeatable)" },
  { "dry-run", no_argument, NULL, MOVE,
    "rehearse: connect everything, move nothing" },
  { "json", no_argument, NULL,
    MOVE | CMD_CHECK | CMD_STATUS | CMD_RECOVER | CMD_LIST,
    "one JSON object per line (vmferry(1), OUTPUT)" },
  { "offline", no_argument, NULL, CMD_MIGRATE,
    "move a VM that is shut down: its disks and command line" },
  { "argv-file", required_argument, "FILE", CMD_MIGRATE,
    "with --offline: the VM's QEMU command line, one argument per line" },
  { "disk", required_argument, "ID", MOVE | CMD_CHECK,
    "copy only this disk (a device or node name, or its path; "
    "repeatable); with --offline: a disk image PATH of the VM" },
  { "skip-disk", required_argument, "ID", MOVE | CMD_CHECK,
    "do not copy this disk (repeatable): the destination must reach it "
    "as it is" },
  { "ssh-option", required_argument, "OPT", MOVE | CMD_CHECK,
    "with --to ssh://: an ssh -o option (repeatable)" },
  { "ssh-vmferryd", required_argument, "PATH", MOVE | CMD_CHECK,
    "with --to ssh://: vmferryd on the destination (default: from PATH)" },
  { "ssh-storage-root", required_argument, "DIR", MOVE | CMD_CHECK,
    "with --to ssh://: the destination's storage root (default "
    "/var/lib/vmferry)" },
  { "ssh-run-root", required_argument, "DIR", MOVE | CMD_CHECK,
    "with --to ssh://: the destination's run root (default /run/vmferry)" },
  { "downtime", required_argument, "MS", MOVE,
    "the downtime limit pre-copy starts with (default 300)" },
  { "max-downtime", required_argument, "MS", MOVE,
    "raise the downtime limit up to this when pre-copy stalls" },
  { "timeout", required_argument, "S", MOVE | CMD_STOP,
    "cancel pre-copy after S seconds (0, the default: never); for stop, "
    "wait S seconds for the guest to shut down, then quit (default 60)" },
  { "no-throttle", no_argument, NULL, MOVE,
    "never throttle the guest's vCPUs when pre-copy stalls" },
  { "allow-postcopy", no_argument, NULL, MOVE,
    "switch to post-copy when pre-copy stalls (a lost host or link then "
    "loses the VM)" },
  { "run-dir", required_argument, "DIR",
    MOVE | CMD_STATUS | CMD_CANCEL | CMD_RECOVER | CMD_UNDO | CMD_REAP |
    CMD_LIST,
    "migrations' state and control sockets (default "
    MIG_DEFAULT_RUN_DIR ")" },
  { "keep-state", required_argument, "DURATION", MOVE | CMD_STATUS,
    "remove the state of migrations that ended longer ago than this "
    "(default 7d)" },
  { "parallel", required_argument, "N", MOVE,
    "migrate N VMs at once (default 1)" },
  { "continue", no_argument, NULL, MOVE,
    "after a failure, start the other VMs still" },
  { "shared-storage", optional_argument, "[=yes|no|auto]", MOVE,
    "the disks are on storage both hosts see: do not copy them" },
  { "migration-network", required_argument, "CIDR", MOVE | CMD_CHECK,
    "disk and memory data take this network" },
  { "transport", required_argument, "auto|tcp|compress|direct", MOVE,
    "how disk and memory data travel (default auto)" },
  { "bandwidth", required_argument, "RATE", MOVE,
    "at most RATE per second for disk and memory data together: MiB "
    "(0.5, 100) or with a unit (500K, 20M, 1G)" },
  { "no-link-pacing", no_argument, NULL, MOVE,
    "do not pace the data a little below the link's measured rate" },
  { "channels", required_argument, "N", MOVE,
    "QEMU's memory migration over N connections (multifd)" },
  { "qemu-compression", required_argument, "none|zlib|zstd", MOVE,
    "with --transport direct: QEMU's multifd compression" },
  { "libvirt-uri", required_argument, "URI", CMD_MIGRATE | CMD_CHECK,
    "with VM libvirt:DOMAIN: the local libvirt (default: libvirt's "
    "default, qemu:///system for root)" },
  { "libvirt-peer-uri", required_argument, "URI", CMD_MIGRATE | CMD_CHECK,
    "with VM libvirt:DOMAIN: the destination's libvirt as the local "
    "libvirtd reaches it (default qemu+tls://HOST/system)" },
  { "libvirt-transient", no_argument, NULL, CMD_MIGRATE,
    "with VM libvirt:DOMAIN: do not define the domain on the destination "
    "(only run it there)" },
  { "libvirt-keep-definition", no_argument, NULL, CMD_MIGRATE,
    "with VM libvirt:DOMAIN: keep the domain defined on the source (and "
    "its images)" },
  { "name", required_argument, "NAME", CMD_PKI_ISSUE,
    "the host's name (its certificates' CN and a DNS name)" },
  { "ip", required_argument, "ADDR", CMD_PKI_ISSUE,
    "an IP address of the host (repeatable)" },
  { "dns", required_argument, "NAME", CMD_PKI_ISSUE,
    "another DNS name of the host (repeatable)" },
  { "out", required_argument, "DIR", CMD_PKI_ISSUE,
    "where the certificates go (default CADIR/NAME)" },
  { "days", required_argument, "N", CMD_PKI_ISSUE,
    "validity in days, 1 to 36500 (default 3650)" },
  { "verbose", no_argument, NULL, ANY, "debug messages" },
  { "help", no_argument, NULL, ANY, "this help" },
  { "version", no_argument, NULL, 0, "vmferry's version" },
  { "long-options", no_argument, NULL, 0, NULL },  /* hidden */
};

#define N_OPTS (sizeof opts / sizeof opts[0])
#define PKI_INIT 7              /* cmds[] index of "pki init" */
#define PKI_ISSUE 8
#define N_CMDS (sizeof cmds / sizeof cmds[0])

static int
opt_index (const char *name)
{
  size_t i;

  for (i = 0; i < N_OPTS; i++)
    if (strcmp (opts[i].name, name) == 0)
      return i;
  return -1;
}

int
vmf_usage_error (const struct args *a, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  fprintf (stderr, "vmferry%s%s: %s\nTry 'vmferry%s%s --help'.\n",
           a->cmd_name ? " " : "", a->cmd_name ? a->cmd_name : "", msg,
           a->cmd_name ? " " : "", a->cmd_name ? a->cmd_name : "");
  return MIG_USAGE;
}

/* "--name ARG" as --help shows it, into buf. */
static const char *
opt_synopsis (const struct vmf_opt *o, char *buf, size_t n)
{
  if (o->arg == NULL)
    snprintf (buf, n, "--%s", o->name);
  else if (o->has_arg == optional_argument)
    snprintf (buf, n, "--%s%s", o->name, o->arg);
  else
    snprintf (buf, n, "--%s %s", o->name, o->arg);
  return buf;
}

/* Print text indented by indent, wrapped at 78 columns. */
static void
wrap (FILE *fp, const char *text, int indent, int col)
{
  const char *p = text;

  while (*p) {
    size_t w = strcspn (p, " ");
    if (col > indent && col + 1 + (int) w > 78) {
      fprintf (fp, "\n%*s", indent, "");
      col = indent;
    }
    else if (col > indent) {
      fputc (' ', fp);
      col++;
    }
    fprintf (fp, "%.*s", (int) w, p);
    col += w;
    p += w;
    p += strspn (p, " ");
  }
  fputc ('\n', fp);
}

/* vmferry CMD --help: synopsis and each option the command takes. */
static void
cmd_usage (const struct vmf_cmd_info *c)
{
  char buf[128];
  size_t i;

  printf ("Usage: vmferry %s %s [OPTION]...\n", c->name, c->args);
  wrap (stdout, c->summary, 2, 0);
  printf ("\nOptions:\n");
  for (i = 0; i < N_OPTS; i++)
    if ((opts[i].cmds & c->cmd) && opts[i].help) {
      int col = printf ("  %s", opt_synopsis (&opts[i], buf, sizeof buf));
      if (col > 28) {
        printf ("\n");
        col = 0;
      }
      printf ("%*s", 30 - col, "");
      wrap (stdout, opts[i].help, 30, 30);
    }
  if (c->cmd & (MOVE | CMD_CHECK | CMD_RECOVER))
    printf ("\nExit codes: 0 %s; 1 usage error; 2 refused, nothing was "
            "done;\n3 failed, the VM still runs on the source, the "
            "destination was\ncleaned; 4 failed, leftovers remain (listed); "
            "5 state uncertain.\n", c->cmd == CMD_CHECK ? "the VM can move"
            : "done");
  printf ("See vmferry(1).\n");
}

/* vmferry --help: the commands. */
static void
overview (void)
{
  size_t i;

  printf ("Usage: vmferry COMMAND [ARGUMENT]... [OPTION]...\n"
          "Live-migrates running QEMU VMs, with their disks, to another "
          "host.\n\nCommands:\n");
  for (i = 0; i < N_CMDS; i++)
    if (cmds[i].summary) {
      int col = printf ("  %s %s", cmds[i].name, cmds[i].args);
      if (col > 36) {
        printf ("\n");
        col = 0;
      }
      printf ("%*s", 38 - col, "");
      wrap (stdout, cmds[i].summary, 38, 38);
    }
  printf ("\n  vmferry COMMAND --help    that command's options\n"
          "  vmferry --version\n\nSee vmferry(1).\n");
}

/* --long-options: every option of the command (all without one). */
static void
long_options (const struct vmf_cmd_info *c)
{
  size_t i;

  for (i = 0; i < N_OPTS; i++)
    if (opts[i].help && (c == NULL || (opts[i].cmds & c->cmd)))
      printf ("--%s\n", opts[i].name);
}

/* Which command do the arguments name?  *used: how many words. */
static const struct vmf_cmd_info *
name_cmd (struct args *a, char **words, int n, int *used)
{
  char name[64];
  size_t i;

  *used = 1;
  if (strcmp (words[0], "pki") == 0) {
    a->cmd_name = "pki";
    if (n < 2 || (strcmp (words[1], "init") && strcmp (words[1], "issue"))) {
      vmf_usage_error (a, n < 2 ? "init or issue?" : "'%s': say init or "
                       "issue", n < 2 ? "" : words[1]);
      return NULL;
    }
    *used = 2;
  }
  snprintf (name, sizeof name, "%s%s%s", words[0], *used == 2 ? " " : "",
            *used == 2 ? words[1] : "");
  for (i = 0; i < N_CMDS; i++)
    if (strcmp (cmds[i].name, name) == 0)
      return &cmds[i];
  vmf_usage_error (a, "unknown command '%s' (the commands: migrate, check, "
                   "evacuate, status, cancel, recover, undo, pki)", words[0]);
  return NULL;
}

/* One option the command line gave, before its command was known. */
struct given {
  int opt;                      /* index in opts, or -1: a parse error */
  char *arg;                    /* its argument (borrowed), or NULL */
  char err[160];                /* with opt -1: what was wrong */
};

/* getopt's view of the table. */
static void
getopt_table (struct option *lo)
{
  size_t i;

  for (i = 0; i < N_OPTS; i++)
    lo[i] = (struct option) { opts[i].name, opts[i].has_arg, NULL,
                              256 + (int) i };
  lo[N_OPTS] = (struct option) { NULL };
}

/* Run getopt over argv into g[] (at most argc); returns how many. */
static int
collect (int argc, char **argv, struct given *g)
{
  struct option lo[N_OPTS + 1];
  int c, n = 0;

  getopt_table (lo);
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":vhV", lo, NULL)) != -1) {
    struct given *x = &g[n++];
    x->arg = optarg;
    x->opt = c == 'v' ? opt_index ("verbose") : c == 'h' ? opt_index ("help")
      : c == 'V' ? opt_index ("version") : c >= 256 ? c - 256 : -1;
    if (c == ':')
      snprintf (x->err, sizeof x->err, "%s needs a value", argv[optind - 1]);
    else if (c == '?' && optopt)
      snprintf (x->err, sizeof x->err, "unknown option '-%c'", optopt);
    else if (c == '?')
      snprintf (x->err, sizeof x->err, "unknown option '%s'",
                argv[optind - 1]);
  }
  return n;
}

/* The commands an option belongs to, as text ("migrate, evacuate"). */
static const char *
owners (const struct vmf_opt *o, char *buf, size_t n)
{
  size_t i, len = 0;

  buf[0] = '\0';
  for (i = 0; i < N_CMDS; i++)
    if ((o->cmds & cmds[i].cmd) && cmds[i].summary && len < n)
      len += snprintf (buf + len, n - len, "%s%s", len ? ", " : "",
                       cmds[i].name);
  return buf;
}

/* --help, --version, --long-options: print, and say so. */
static bool
informational (const struct vmf_cmd_info *c, struct given *g, int n)
{
  int i;

  for (i = 0; i < n; i++) {
    const char *name = g[i].opt >= 0 ? opts[g[i].opt].name : "";
    if (strcmp (name, "help") == 0) {
      if (c)
        cmd_usage (c);
      else
        overview ();
      return true;
    }
    if (strcmp (name, "version") == 0) {
      printf ("vmferry %s\n", PACKAGE_VERSION);
      return true;
    }
    if (strcmp (name, "long-options") == 0) {
      long_options (c);
      return true;
    }
  }
  return false;
}

/* Every given option must be one of the command's. */
static int
check_owners (struct args *a, const struct vmf_cmd_info *c, struct given *g,
              int n)
{
  char buf[256];
  int i;

  for (i = 0; i < n; i++) {
    const struct vmf_opt *o = &opts[g[i].opt];
    if (!(o->cmds & c->cmd))
      return vmf_usage_error (a, "--%s is not an option of %s (it is one of "
                              "%s)", o->name, c->name,
                              o->cmds ? owners (o, buf, sizeof buf)
                              : "vmferry without a command");
  }
  return VMF_GO_ON;
}

/* The positional arguments: as many as the command takes. */
static int
check_positional (struct args *a, const struct vmf_cmd_info *c)
{
  if (a->n_pos < c->min)
    return vmf_usage_error (a, "%s: vmferry %s %s", c->missing, c->name,
                            c->args);
  if (c->max >= 0 && a->n_pos > c->max)
    return vmf_usage_error (a, "unexpected argument '%s' (%s takes %s)",
                            a->pos[c->max], c->name,
                            c->max == 0 ? "none" : c->args);
  return VMF_GO_ON;
}

int
vmf_parse (int argc, char **argv, struct args *a)
{
  CLEANUP_FREE struct given *g = calloc (argc + 1, sizeof *g);
  const struct vmf_cmd_info *c = NULL;
  int n, i, used = 0, r;

  if (g == NULL)
    return vmf_usage_error (a, "out of memory");
  n = collect (argc, argv, g);
  a->pos = argv + optind;
  a->n_pos = argc - optind;
  if (a->n_pos == 1 && strcmp (a->pos[0], "pki") == 0 &&
      informational (&cmds[PKI_INIT], g, n)) {
    printf ("\n");
    informational (&cmds[PKI_ISSUE], g, n);
    return 0;
  }
  if (a->n_pos > 0 && (c = name_cmd (a, a->pos, a->n_pos, &used)) == NULL)
    return MIG_USAGE;
  if (c) {
    a->cmd = c->cmd;
    a->cmd_name = c->name;
    a->pos += used;
    a->n_pos -= used;
  }
  if (informational (c, g, n))
    return 0;
  for (i = 0; i < n; i++)
    if (g[i].opt < 0)
      return vmf_usage_error (a, "%s", g[i].err);
  if (c == NULL)
    return vmf_usage_error (a, "which command? (migrate, check, evacuate, "
                            "status, cancel, recover, undo, pki)");
  if ((r = check_owners (a, c, g, n)) != VMF_GO_ON ||
      (r = check_positional (a, c)) != VMF_GO_ON)
    return r;
  for (i = 0; i < n; i++)
    if ((r = vmf_apply (a, opts[g[i].opt].name, g[i].arg)) != VMF_GO_ON)
      return r;
  return VMF_GO_ON;
}
