/* vmferryd-config.c: vmferryd's settings from its configuration file
 * (vmferry.conf(5)) and command line, and the checks before it starts.
 *
 * Every setting is a long option and a key of the file (the same
 * name), so one function sets both.  Errors in the file say FILE:LINE
 * and never print the usage; errors on the command line are one line
 * and "Try 'vmferryd --help'.".  What must exist before the agent can
 * work (its directories, its certificates) is checked here, and the
 * messages name the option and the fix.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>

#include "utils.h"
#include "net.h"
#include "vm.h"
#include "migrate.h"
#include "common.h"
#include "vmferryd.h"

static void
usage (void)
{
  printf (
"Usage: vmferryd --listen ADDR[:PORT] --storage-root DIR --run-root DIR\n"
"                [--tls-dir DIR] [--config FILE] [--once] [--qemu PATH]\n"
"                [--data-addr ADDR] [--data-tls x509|psk]\n"
"                [--max-incoming N] [--queue | --refuse]\n"
"                [--migration-address ADDR]... [--read-dir DIR]...\n"
"                [--qemu-user USER] [--bridge BRIDGE]...\n"
"                [--port-range LOW-HIGH] [--metrics ADDR:PORT]\n"
"                [--log-level error|warning|info|debug] [--verbose]\n"
"\n"
"Receives live migrations from vmferry over HTTPS with mutual TLS.\n"
"Disk images are created only under --storage-root; sockets and logs go\n"
"to --run-root.  ADDR is an address or a host name.  Default port %d,\n"
"default TLS directory %s.  Port 0 picks a free port (printed).\n"
"At most --max-incoming migrations (default %d) are received at once;\n"
"others are refused with a message (--refuse, the default) or wait in\n"
"a queue (--queue).\n"
"Disk and memory data listen on the first --migration-address that is\n"
"configured here (and in the network the source asked for), else on the\n"
"address the source used.  --data-addr ADDR is the same as\n"
"--migration-address ADDR.  --data-tls psk: the QEMUs use TLS-PSK from\n"
"--tls-dir/keys.psk (set by vmferry for ssh:// destinations).\n"
"Every port a migration opens (QEMU's NBD server and incoming migration,\n"
"the data channel) is taken from --port-range (default: any free port).\n"
"--metrics serves Prometheus metrics over plain HTTP at /metrics.\n"
"Requests are logged (the audit trail) at --log-level (default info), to\n"
"the journal when systemd runs vmferryd, else to stderr.\n"
"A VM may read -kernel, -initrd, -bios, -dtb, -L and read-only images\n"
"only from under a --read-dir (default: QEMU's firmware directories).\n"
"Every QEMU runs confined as --qemu-user (default %s), and a\n"
"VM's taps may join only the bridges named by --bridge.\n"
"Each VM received is registered in --vm-dir (default %s), where vmferry\n"
"finds VMs, and its definition is saved under --storage-root.\n"
"SIGHUP reloads the configuration file: --log-level, --max-incoming,\n"
"--queue and --port-range apply at once, the rest at the next start.\n"
"See vmferryd(8) and vmferry.conf(5).\n",
           VMFERRY_DEFAULT_PORT, VMFERRY_DEFAULT_TLS_DIR,
           MIG_DEFAULT_MAX_INCOMING, MIG_DEFAULT_QEMU_USER,
           VMFERRY_DEFAULT_VM_DIR);
}

enum { OPT_LISTEN = 256, OPT_STORAGE, OPT_RUN, OPT_TLS, OPT_CONFIG,
       OPT_ONCE, OPT_QEMU, OPT_DATA_ADDR, OPT_DATA_TLS, OPT_MAX_INCOMING,
       OPT_QUEUE, OPT_REFUSE, OPT_MIGRATION_ADDRESS, OPT_READ_DIR,
       OPT_QEMU_USER, OPT_BRIDGE, OPT_PORT_RANGE, OPT_METRICS,
       OPT_LOG_LEVEL, OPT_VM_DIR };

static const struct option long_options[] = {
  { "listen", required_argument, NULL, OPT_LISTEN },
  { "storage-root", required_argument, NULL, OPT_STORAGE },
  { "run-root", required_argument, NULL, OPT_RUN },
  { "tls-dir", required_argument, NULL, OPT_TLS },
  { "config", required_argument, NULL, OPT_CONFIG },
  { "once", no_argument, NULL, OPT_ONCE },
  { "qemu", required_argument, NULL, OPT_QEMU },
  { "data-addr", required_argument, NULL, OPT_DATA_ADDR },
  { "data-tls", required_argument, NULL, OPT_DATA_TLS },
  { "max-incoming", required_argument, NULL, OPT_MAX_INCOMING },
  { "queue", no_argument, NULL, OPT_QUEUE },
  { "refuse", no_argument, NULL, OPT_REFUSE },
  { "migration-address", required_argument, NULL, OPT_MIGRATION_ADDRESS },
  { "read-dir", required_argument, NULL, OPT_READ_DIR },
  { "qemu-user", required_argument, NULL, OPT_QEMU_USER },
  { "bridge", required_argument, NULL, OPT_BRIDGE },
  { "port-range", required_argument, NULL, OPT_PORT_RANGE },
  { "metrics", required_argument, NULL, OPT_METRICS },
  { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
  { "vm-dir", required_argument, NULL, OPT_VM_DIR },
  { "verbose", no_argument, NULL, 'v' },
  { "help", no_argument, NULL, 'h' },
  { "version", no_argument, NULL, 'V' },
  { NULL },
};

void
vmfd_init (struct dargs *a)
{
  memset (a, 0, sizeof *a);
  a->dp.tls_dir = VMFERRY_DEFAULT_TLS_DIR;
  a->dp.qemu = "qemu-system-x86_64";
  a->dp.qemu_user = MIG_DEFAULT_QEMU_USER;
  a->dp.vm_dir = VMFERRY_DEFAULT_VM_DIR;
  a->dp.send_back = mig_send_back_run;
  a->log_level = LOG_LEVEL_INFO;
}

void
vmfd_free (struct dargs *a)
{
  strv_free (a->strings);
  strv_free (a->maddrs);
  strv_free (a->rdirs);
  strv_free (a->bridges);
  strv_free (a->settings);
}

/* Append "ADDR[,ADDR]..." to the migration addresses. */
static int
add_addresses (struct dargs *a, const char *v)
{
  CLEANUP_FREE char *copy = strdup (v);
  char *p = copy, *next;

  for (; p; p = next) {
    next = strchr (p, ',');
    if (next)
      *next++ = '\0';
    if (strchr (p, '/') || !net_cidr_valid (p)) {
      set_error (0, "migration-address: '%s' is not an IP address", p);
      return -1;
    }
    if (strv_push (&a->maddrs, p) == -1)
      return -1;
  }
  a->dp.migration_addrs = a->maddrs;
  return 0;
}

/* A list setting (read-dir, bridge): v checked, then appended. */
static int
add_to_list (struct dargs *a, const char *key, char *v)
{
  if (strcmp (key, "read-dir") == 0) {
    if (v[0] != '/') {
      set_error (0, "read-dir: '%s' is not an absolute path", v);
      return -1;
    }
    if (strv_push (&a->rdirs, v) == -1)
      return -1;
    a->dp.read_dirs = a->rdirs;
    return 0;
  }
  if (v[0] == '\0' || strlen (v) >= 16 || strchr (v, '/')) {
    set_error (0, "bridge: '%s' is not an interface name", v);
    return -1;
  }
  if (strv_push (&a->bridges, v) == -1)
    return -1;
  a->dp.bridges = a->bridges;
  return 0;
}

/* The settings that take a value of a kind (not a path). */
static int
set_value (struct dargs *a, const char *key, char *v)
{
  uint64_t n;

  if (strcmp (key, "once") == 0)
    return conf_bool (key, v, &a->dp.once);
  if (strcmp (key, "queue") == 0)
    return conf_bool (key, v, &a->dp.queue);
  if (strcmp (key, "data-tls") == 0) {
    if (strcmp (v, "psk") != 0 && strcmp (v, "x509") != 0) {
      set_error (0, "data-tls: '%s' is neither x509 nor psk", v);
      return -1;
    }
    a->dp.psk = strcmp (v, "psk") == 0;
    return 0;
  }
  if (strcmp (key, "max-incoming") == 0) {
    if (cmd_parse_uint (v, "max-incoming", 1, 1000, &n) == -1)
      return -1;
    a->dp.max_incoming = n;
    return 0;
  }
  if (strcmp (key, "port-range") == 0)
    return net_ports_parse (v, &a->dp.port_low, &a->dp.port_high);
  if (strcmp (key, "log-level") == 0)
    return log_level_parse (v, &a->log_level);
  set_error (0, "unknown setting '%s'", key);
  return -1;
}

/* Set one setting by its long name (from argv or the file). */
static int
set_option (void *opaque, const char *key, const char *value)
{
  struct dargs *a = opaque;
  CLEANUP_FREE char *kv = xasprintf ("%s=%s", key, value);
  char *v;

  if (kv == NULL || strv_push (&a->settings, kv) == -1 ||
      strv_push (&a->strings, value) == -1)
    return -1;
  v = a->strings[strv_len (a->strings) - 1];
  if (strcmp (key, "listen") == 0) a->listen = v;
  else if (strcmp (key, "storage-root") == 0) a->dp.storage_root = v;
  else if (strcmp (key, "run-root") == 0) a->dp.run_root = v;
  else if (strcmp (key, "tls-dir") == 0) a->dp.tls_dir = v;
  else if (strcmp (key, "qemu") == 0) a->dp.qemu = v;
  else if (strcmp (key, "qemu-user") == 0) a->dp.qemu_user = v;
  else if (strcmp (key, "metrics") == 0) a->metrics = v;
  else if (strcmp (key, "vm-dir") == 0) {
    if (v[0] != '/') {
      set_error (0, "vm-dir: '%s' is not an absolute path; give the "
                 "directory where vmferry finds this host's VMs", v);
      return -1;
    }
    a->dp.vm_dir = v;
  }
  else if (strcmp (key, "data-addr") == 0 ||
           strcmp (key, "migration-address") == 0)
    return add_addresses (a, v);
  else if (strcmp (key, "read-dir") == 0 || strcmp (key, "bridge") == 0)
    return add_to_list (a, key, v);
  else
    return set_value (a, key, v);
  return 0;
}

/* The configuration file named by --config, if any: errors FILE:LINE. */
static int
read_config (int argc, char **argv, struct dargs *a)
{
  int i;

  for (i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--config") == 0 && i + 1 < argc)
      a->config = argv[i + 1];
    else if (strncmp (argv[i], "--config=", 9) == 0)
      a->config = argv[i] + 9;
  }
  if (a->config == NULL)
    return 0;
  if (access (a->config, R_OK) == -1) {
    fprintf (stderr, "vmferryd: --config %s: %s; copy vmferryd.conf.example "
             "(installed beside it) there and edit it (vmferry.conf(5))\n",
             a->config, strerror (errno));
    return 1;
  }
  if (conf_read (a->config, set_option, a) == -1) {
    fprintf (stderr, "vmferryd: %s\n", get_error ());
    return 1;
  }
  return 0;
}

/* The key of an option of the command line (NULL: not a setting). */
static const char *
option_key (int c)
{
  size_t i;

  for (i = 0; long_options[i].name; i++)
    if (long_options[i].val == c && long_options[i].has_arg)
      return long_options[i].name;
  return NULL;
}

static int
cmdline_error (const char *msg)
{
  fprintf (stderr, "vmferryd: %s\nTry 'vmferryd --help'.\n", msg);
  return 1;
}

/* The command line, over the file's settings. */
static int
read_cmdline (int argc, char **argv, struct dargs *a)
{
  int c;

  opterr = 0;
  while ((c = getopt_long (argc, argv, ":vhV", long_options, NULL)) != -1) {
    const char *key = option_key (c);
    char msg[256];
    switch (c) {
    case OPT_CONFIG: continue;
    case OPT_ONCE: a->dp.once = true; continue;
    case OPT_QUEUE: a->dp.queue = true; continue;
    case OPT_REFUSE: a->dp.queue = false; continue;
    case 'v': a->log_level = LOG_LEVEL_DEBUG; continue;
    case 'h': usage (); return 2;
    case 'V': printf ("vmferryd %s\n", PACKAGE_VERSION); return 2;
    case ':':
      snprintf (msg, sizeof msg, "%s needs a value", argv[optind - 1]);
      return cmdline_error (msg);
    case '?':
      snprintf (msg, sizeof msg, "unknown option '%s'", argv[optind - 1]);
      return cmdline_error (msg);
    }
    if (key && set_option (a, key, optarg) == -1) {
      snprintf (msg, sizeof msg, "--%s", get_error ());
      return cmdline_error (msg);
    }
  }
  if (optind != argc) {
    char msg[256];
    snprintf (msg, sizeof msg, "unexpected argument '%s' (vmferryd takes "
              "options only)", argv[optind]);
    return cmdline_error (msg);
  }
  return 0;
}

/* A root directory that must exist. */
static int
check_root (const char *opt, const char *dir)
{
  struct stat st;

  if (dir[0] != '/') {
    fprintf (stderr, "vmferryd: --%s %s: must be an absolute path\n", opt,
             dir);
    return 1;
  }
  if (stat (dir, &st) == 0 && S_ISDIR (st.st_mode))
    return 0;
  fprintf (stderr, "vmferryd: --%s %s: %s; create it (mkdir -p %s) or "
           "name another with --%s (%s = in the configuration file)\n", opt,
           dir, stat (dir, &st) == 0 ? "not a directory" : strerror (errno),
           dir, opt, opt);
  return 1;
}

/* The settings vmferryd cannot start without. */
static int
check_required (struct dargs *a)
{
  static const char *const certs[] = {
    "ca-cert.pem", "server-cert.pem", "server-key.pem", NULL,
  };
  const char *missing = a->listen == NULL ? "listen"
    : a->dp.storage_root == NULL ? "storage-root"
    : a->dp.run_root == NULL ? "run-root" : NULL;
  char host[256] = "HOST";

  if (missing) {
    fprintf (stderr, "vmferryd: %s is not set: give --%s on the command "
             "line or '%s = ...' in the configuration file (--config)\n",
             missing, missing, missing);
    return 1;
  }
  if (check_root ("storage-root", a->dp.storage_root) ||
      check_root ("run-root", a->dp.run_root))
    return 1;
  if (cmd_check_tls_files (a->dp.tls_dir, certs) == -1) {
    gethostname (host, sizeof host);
    fprintf (stderr, "vmferryd: --tls-dir %s: %s; make this host's "
             "certificates with 'vmferry pki issue CADIR --name %s --out "
             "%s' (vmferry(1), Certificates), or name their directory with "
             "--tls-dir\n", a->dp.tls_dir, get_error (), host, a->dp.tls_dir);
    return 1;
  }
  return 0;
}

int
vmfd_parse (int argc, char **argv, struct dargs *a)
{
  int r;

  if ((r = read_config (argc, argv, a)) != 0 ||
      (r = read_cmdline (argc, argv, a)) != 0)
    return r;
  return check_required (a);
}
