/* vmferryd: the agent on every host that can receive VMs.  Parses
 * arguments and the configuration file, starts migrate/'s destination
 * side and waits for a signal (or, with --once, for one migration).
 */
#include <config.h>

#include <sys/resource.h>

#include <getopt.h>

#include "utils.h"
#include "net.h"
#include "vm.h"
#include "migrate.h"
#include "common.h"

static void
usage (FILE *fp)
{
  fprintf (fp,
"Usage: vmferryd --listen ADDR[:PORT] --storage-root DIR --run-root DIR\n"
"                [--tls-dir DIR] [--config FILE] [--once] [--qemu PATH]\n"
"                [--data-addr ADDR] [--data-tls x509|psk]\n"
"                [--max-incoming N] [--queue | --refuse]\n"
"                [--migration-address ADDR]... [--read-dir DIR]...\n"
"                [--qemu-user USER] [--bridge BRIDGE]... [--verbose]\n"
"\n"
"Receives live migrations from vmferry over HTTPS with mutual TLS.\n"
"Disk images are created only under --storage-root; sockets and logs go\n"
"to --run-root.  ADDR is an IP address.  Default port %d, default TLS\n"
"directory %s.  Port 0 picks a free port (printed).\n"
"At most --max-incoming migrations (default %d) are received at once;\n"
"others are refused with a message (--refuse, the default) or wait in\n"
"a queue (--queue).\n"
"Disk and memory data listen on the first --migration-address that is\n"
"configured here (and in the network the source asked for), else on the\n"
"address the source used.  --data-addr ADDR is the same as\n"
"--migration-address ADDR.  --data-tls psk: the QEMUs use TLS-PSK from\n"
"--tls-dir/keys.psk (set by vmferry for ssh:// destinations).\n"
"A VM may read -kernel, -initrd, -bios, -dtb, -L and read-only images\n"
"only from under a --read-dir (default: QEMU's firmware directories).\n"
"Every QEMU runs confined as --qemu-user (default %s), and a\n"
"VM's taps may join only the bridges named by --bridge.\n",
           VMFERRY_DEFAULT_PORT, VMFERRY_DEFAULT_TLS_DIR,
           MIG_DEFAULT_MAX_INCOMING, MIG_DEFAULT_QEMU_USER);
}

enum { OPT_LISTEN = 256, OPT_STORAGE, OPT_RUN, OPT_TLS, OPT_CONFIG,
       OPT_ONCE, OPT_QEMU, OPT_DATA_ADDR, OPT_DATA_TLS, OPT_MAX_INCOMING,
       OPT_QUEUE, OPT_REFUSE, OPT_MIGRATION_ADDRESS, OPT_READ_DIR,
       OPT_QEMU_USER, OPT_BRIDGE };

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
  { "verbose", no_argument, NULL, 'v' },
  { "help", no_argument, NULL, 'h' },
  { "version", no_argument, NULL, 'V' },
  { NULL },
};

struct args {
  struct mig_dest_params dp;
  char *listen;                 /* ADDR[:PORT] (owned) */
  char **strings;               /* every value set (owned) */
  char **maddrs;                /* --migration-address list (owned) */
  char **rdirs;                 /* --read-dir list (owned) */
  char **bridges;               /* --bridge list (owned) */
};

/* Append "ADDR[,ADDR]..." to the migration addresses. */
static int
add_addresses (struct args *a, const char *v)
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

/* Set one option by its long name (from argv or the config file). */
static int
set_option (void *opaque, const char *key, const char *value)
{
  struct args *a = opaque;
  char *v;

  if (strv_push (&a->strings, value) == -1)
    return -1;
  v = a->strings[strv_len (a->strings) - 1];
  if (strcmp (key, "listen") == 0) a->listen = v;
  else if (strcmp (key, "storage-root") == 0) a->dp.storage_root = v;
  else if (strcmp (key, "run-root") == 0) a->dp.run_root = v;
  else if (strcmp (key, "tls-dir") == 0) a->dp.tls_dir = v;
  else if (strcmp (key, "qemu") == 0) a->dp.qemu = v;
  else if (strcmp (key, "once") == 0) a->dp.once = strcmp (v, "true") == 0;
  else if (strcmp (key, "data-addr") == 0 ||
           strcmp (key, "migration-address") == 0)
    return add_addresses (a, v);
  else if (strcmp (key, "data-tls") == 0 &&
           (strcmp (v, "psk") == 0 || strcmp (v, "x509") == 0))
    a->dp.psk = strcmp (v, "psk") == 0;
  else if (strcmp (key, "data-tls") == 0) {
    set_error (0, "data-tls: '%s' is neither x509 nor psk", v);
    return -1;
  }
  else if (strcmp (key, "read-dir") == 0) {
    if (v[0] != '/') {
      set_error (0, "read-dir: '%s' is not an absolute path", v);
      return -1;
    }
    if (strv_push (&a->rdirs, v) == -1)
      return -1;
    a->dp.read_dirs = a->rdirs;
  }
  else if (strcmp (key, "qemu-user") == 0) a->dp.qemu_user = v;
  else if (strcmp (key, "bridge") == 0) {
    if (v[0] == '\0' || strlen (v) >= 16 || strchr (v, '/')) {
      set_error (0, "bridge: '%s' is not an interface name", v);
      return -1;
    }
    if (strv_push (&a->bridges, v) == -1)
      return -1;
    a->dp.bridges = a->bridges;
  }
  else if (strcmp (key, "queue") == 0) a->dp.queue = strcmp (v, "true") == 0;
  else if (strcmp (key, "max-incoming") == 0) {
    uint64_t n;
    if (cmd_parse_uint (v, "max-incoming", 1, 1000, &n) == -1)
      return -1;
    a->dp.max_incoming = n;
  }
  else {
    set_error (0, "unknown setting '%s'", key);
    return -1;
  }
  return 0;
}

static int
parse (int argc, char **argv, struct args *a)
{
  int c, i;

  /* The configuration file first, so the command line overrides it. */
  for (i = 1; i < argc; i++) {
    const char *f = NULL;
    if (strcmp (argv[i], "--config") == 0 && i + 1 < argc)
      f = argv[i + 1];
    else if (strncmp (argv[i], "--config=", 9) == 0)
      f = argv[i] + 9;
    if (f && conf_read (f, set_option, a) == -1)
      return -1;
  }
  while ((c = getopt_long (argc, argv, "vhV", long_options, NULL)) != -1) {
    const char *key = NULL;
    switch (c) {
    case OPT_LISTEN: key = "listen"; break;
    case OPT_STORAGE: key = "storage-root"; break;
    case OPT_RUN: key = "run-root"; break;
    case OPT_TLS: key = "tls-dir"; break;
    case OPT_QEMU: key = "qemu"; break;
    case OPT_DATA_ADDR: key = "data-addr"; break;
    case OPT_DATA_TLS: key = "data-tls"; break;
    case OPT_CONFIG: break;
    case OPT_ONCE: a->dp.once = true; break;
    case OPT_MAX_INCOMING: key = "max-incoming"; break;
    case OPT_QUEUE: a->dp.queue = true; break;
    case OPT_REFUSE: a->dp.queue = false; break;
    case OPT_MIGRATION_ADDRESS: key = "migration-address"; break;
    case OPT_READ_DIR: key = "read-dir"; break;
    case OPT_QEMU_USER: key = "qemu-user"; break;
    case OPT_BRIDGE: key = "bridge"; break;
    case 'v': vmferry_debug_enable ("vmferryd"); break;
    case 'h': usage (stdout); exit (0);
    case 'V': printf ("vmferryd %s\n", PACKAGE_VERSION); exit (0);
    default: set_error (0, "bad arguments"); return -1;
    }
    if (key && set_option (a, key, optarg) == -1)
      return -1;
  }
  if (optind != argc) {
    set_error (0, "unexpected argument '%s'", argv[optind]);
    return -1;
  }
  return 0;
}

/* The CPU time vmferryd used (its own threads: API, data channel), for
 * the log and the benchmark.
 */
static void
print_cpu (void)
{
  struct rusage ru;

  if (getrusage (RUSAGE_SELF, &ru) == 0)
    printf ("vmferryd: stopped (cpu: %.2f s user, %.2f s system)\n",
            ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
            ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

static int
run (struct args *a)
{
  struct mig_dest *d;
  char *const *notes;
  CLEANUP_FREE char *addr = NULL;
  int sfd = cmd_signal_fd ();

  a->dp.port = VMFERRY_DEFAULT_PORT;
  if (sfd == -1 || cmd_parse_hostport (a->listen, &addr, &a->dp.port) == -1)
    return -1;
  a->dp.listen_addr = addr;
  d = mig_dest_start (&a->dp);
  if (d == NULL)
    return -1;
  for (notes = mig_dest_recovered (d); notes && *notes; notes++)
    printf ("vmferryd: recovery: %s\n", *notes);
  printf ("vmferryd: listening on %s port %d (storage %s, run %s)\n",
          addr, mig_dest_port (d), a->dp.storage_root, a->dp.run_root);
  fflush (stdout);
  while (mig_dest_wait (d, sfd) == 1 && !a->dp.once)
    ;
  mig_dest_stop (d);
  print_cpu ();
  return 0;
}

int
main (int argc, char **argv)
{
  struct args a = { .dp = { .tls_dir = VMFERRY_DEFAULT_TLS_DIR,
                            .qemu = "qemu-system-x86_64",
                            .qemu_user = MIG_DEFAULT_QEMU_USER,
                            .send_back = mig_send_back_run } };
  int r;

  if (getenv ("VMFERRY_DEBUG"))
    vmferry_debug_enable ("vmferryd");
  if (parse (argc, argv, &a) == -1) {
    fprintf (stderr, "vmferryd: %s\n", get_error ());
    usage (stderr);
    exit (1);
  }
  if (a.listen == NULL || a.dp.storage_root == NULL || a.dp.run_root == NULL) {
    fprintf (stderr, "vmferryd: --listen, --storage-root and --run-root "
             "are required\n");
    exit (1);
  }
  r = run (&a);
  if (r == -1)
    fprintf (stderr, "vmferryd: %s\n", get_error ());
  strv_free (a.strings);
  strv_free (a.maddrs);
  strv_free (a.rdirs);
  strv_free (a.bridges);
  exit (r == -1 ? 1 : 0);
}
