/* vmferry: the command run on the source host.  Parses arguments, calls
 * migrate/ or api/, prints the error and maps the result to an exit code
 * (see vmferry(1)).
 */
#include <config.h>

#include <getopt.h>

#include "utils.h"
#include "api.h"
#include "net.h"
#include "vm.h"
#include "migrate.h"
#include "common.h"

static void
usage (FILE *fp)
{
  fprintf (fp,
"Usage:\n"
"  vmferry migrate VM --to ADDR[:PORT] [--tls-dir DIR] [--vm-dir DIR]\n"
"                  [--storage-engine qemu|vmferry]\n"
"                  [--keep-source[=DURATION]] [--no-resume]\n"
"                  [--disk-path SRC=DST]... [--dry-run] [--json] [--verbose]\n"
"                  [--downtime MS] [--max-downtime MS] [--timeout S]\n"
"                  [--no-throttle] [--allow-postcopy] [--run-dir DIR]\n"
"                  [--shared-storage[=yes|no|auto]]\n"
"                  [--migration-network CIDR]\n"
"                  [--transport auto|tcp|compress|direct] [--bandwidth MIB]\n"
"                  [--no-link-pacing] [--channels N]\n"
"                  [--qemu-compression none|zlib|zstd]\n"
"  vmferry migrate NAME --offline (--argv-file FILE | --disk PATH...)\n"
"                  --to ADDR[:PORT] [--tls-dir DIR] [--keep-source]\n"
"                  [--disk-path SRC=DST]... [--transport auto|tcp|compress]\n"
"                  [--bandwidth MIB] [--no-link-pacing] [--json] [--verbose]\n"
"  vmferry migrate VM VM... --to ADDR[:PORT] [--parallel N] [--continue]\n"
"                  [other options of migrate]\n"
"  vmferry evacuate --to ADDR[:PORT] [--parallel N] [--continue]\n"
"                  [other options of migrate]\n"
"  vmferry status [ID] [--json] [--run-dir DIR]\n"
"  vmferry cancel ID [--run-dir DIR]\n"
"  vmferry recover [ID] [--run-dir DIR] [--tls-dir DIR] [--json]\n"
"  vmferry undo ID [--run-dir DIR]\n"
"  vmferry check VM --to ADDR[:PORT] [--tls-dir DIR] [--vm-dir DIR] [--json]\n"
"  vmferry migrate VM --to ssh://[USER@]HOST[:PORT] [--ssh-option OPT]...\n"
"                  [--ssh-vmferryd PATH] [--ssh-storage-root DIR]\n"
"                  [--ssh-run-root DIR] [other migrate options]\n"
"  vmferry pki init DIR\n"
"  vmferry pki issue DIR --name NAME [--ip ADDR]... [--out DIR] [--days N]\n"
"  vmferry --help | --version\n"
"\n"
"VM is a QMP socket path (it contains a '/'), or a name looked up in\n"
"--vm-dir (default /run/vmferry/vms) as NAME.qmp or NAME/qmp.sock.  The\n"
"default port is %d and the default TLS directory %s.  pki issue\n"
"writes to DIR/NAME unless --out is given; --days defaults to 3650.\n"
"With ssh://, vmferry starts a one-shot vmferryd on HOST over ssh (-o\n"
"OPT options), with fresh keys: no PKI needed.  Destination roots default to\n"
"/var/lib/vmferry and /run/vmferry, vmferryd is found in PATH there.\n"
"Several VMs migrate N at a time (--parallel, default 1); after a\n"
"failure no new one starts unless --continue.  evacuate migrates every\n"
"VM of --vm-dir, smallest RAM first.\n"
"--keep-source=DURATION (e.g. 10m, 1h) renames the source images aside\n"
"and deletes them once the VM has run on the destination that long;\n"
"vmferry cancel ID keeps them; vmferry undo ID moves the VM back here,\n"
"sending only what changed there.\n"
"--offline moves a VM that is not running (refused while a QEMU has one\n"
"of its disks open): its disks, found in its QEMU command line (FILE: one\n"
"argument per line, or NUL-separated like /proc/PID/cmdline) or given\n"
"with --disk, are copied into the destination's storage root as\n"
"NAME/..., and the rewritten command line is saved there as\n"
"NAME/NAME.argv; the VM is not started.\n"
"Each migration has an ID (printed at its start); its state and control\n"
"socket are in --run-dir (default %s)/ID, where\n"
"vmferry status and vmferry cancel find it.  Cancel works until the\n"
"switchover begins and leaves the VM running on the source.\n"
"vmferry recover finishes or rolls back every migration in --run-dir\n"
"whose vmferry died (journal still open), so that the VM runs on exactly\n"
"one host; --tls-dir defaults to the one the migration used.  It exits\n"
"0 when each is rolled back or moved, 4 when leftovers remain (run it\n"
"again), 5 when the outcome is uncertain (nothing changed for it).\n"
"\n"
"Exit codes: 0 migrated; 1 usage error; 2 refused, nothing was done;\n"
"3 failed, source VM still running, destination cleaned; 4 failed,\n"
"source VM still running, leftovers remain (listed); 5 state uncertain.\n"
"vmferry check exits 0 when the VM can move, 2 when it cannot (or the\n"
"destination cannot be asked), 1 on a usage error.\n"
"\n"
"When pre-copy stalls, vmferry throttles the guest (unless\n"
"--no-throttle), then raises the downtime limit (default 300 ms) step\n"
"by step up to --max-downtime, then switches to post-copy if\n"
"--allow-postcopy, and cancels after --timeout seconds (0, the\n"
"default: never) with the VM running on the source.  WARNING: during\n"
"post-copy the VM's memory is split between the hosts: losing the\n"
"network or either host then loses the VM.\n"
"vmferry pki exits 0 on success and 1 on any failure.\n",
           VMFERRY_DEFAULT_PORT, VMFERRY_DEFAULT_TLS_DIR,
           MIG_DEFAULT_RUN_DIR);
}

enum { OPT_TO = 256, OPT_TLS_DIR, OPT_VM_DIR, OPT_ENGINE, OPT_KEEP,
       OPT_DISK_PATH, OPT_JSON, OPT_NAME, OPT_IP, OPT_OUT, OPT_DAYS,
       OPT_DRY_RUN, OPT_SSH_OPTION, OPT_SSH_VMFERRYD, OPT_SSH_STORAGE,
       OPT_SSH_RUN, OPT_DOWNTIME, OPT_MAX_DOWNTIME, OPT_TIMEOUT,
       OPT_NO_THROTTLE, OPT_ALLOW_POSTCOPY, OPT_RUN_DIR, OPT_PARALLEL,
       OPT_CONTINUE, OPT_SHARED, OPT_MIGRATION_NETWORK, OPT_TRANSPORT,
       OPT_BANDWIDTH, OPT_OFFLINE, OPT_ARGV_FILE, OPT_DISK, OPT_CHANNELS,
       OPT_NO_RESUME, OPT_QEMU_COMPRESSION, OPT_NO_LINK_PACING };

static const struct option long_options[] = {
  { "to", required_argument, NULL, OPT_TO },
  { "tls-dir", required_argument, NULL, OPT_TLS_DIR },
  { "vm-dir", required_argument, NULL, OPT_VM_DIR },
  { "storage-engine", required_argument, NULL, OPT_ENGINE },
  { "keep-source", optional_argument, NULL, OPT_KEEP },
  { "no-resume", no_argument, NULL, OPT_NO_RESUME },
  { "disk-path", required_argument, NULL, OPT_DISK_PATH },
  { "json", no_argument, NULL, OPT_JSON },
  { "dry-run", no_argument, NULL, OPT_DRY_RUN },
  { "name", required_argument, NULL, OPT_NAME },
  { "ip", required_argument, NULL, OPT_IP },
  { "out", required_argument, NULL, OPT_OUT },
  { "days", required_argument, NULL, OPT_DAYS },
  { "ssh-option", required_argument, NULL, OPT_SSH_OPTION },
  { "ssh-vmferryd", required_argument, NULL, OPT_SSH_VMFERRYD },
  { "ssh-storage-root", required_argument, NULL, OPT_SSH_STORAGE },
  { "ssh-run-root", required_argument, NULL, OPT_SSH_RUN },
  { "downtime", required_argument, NULL, OPT_DOWNTIME },
  { "max-downtime", required_argument, NULL, OPT_MAX_DOWNTIME },
  { "timeout", required_argument, NULL, OPT_TIMEOUT },
  { "no-throttle", no_argument, NULL, OPT_NO_THROTTLE },
  { "allow-postcopy", no_argument, NULL, OPT_ALLOW_POSTCOPY },
  { "run-dir", required_argument, NULL, OPT_RUN_DIR },
  { "parallel", required_argument, NULL, OPT_PARALLEL },
  { "continue", no_argument, NULL, OPT_CONTINUE },
  { "shared-storage", optional_argument, NULL, OPT_SHARED },
  { "migration-network", required_argument, NULL, OPT_MIGRATION_NETWORK },
  { "transport", required_argument, NULL, OPT_TRANSPORT },
  { "bandwidth", required_argument, NULL, OPT_BANDWIDTH },
  { "no-link-pacing", no_argument, NULL, OPT_NO_LINK_PACING },
  { "offline", no_argument, NULL, OPT_OFFLINE },
  { "argv-file", required_argument, NULL, OPT_ARGV_FILE },
  { "disk", required_argument, NULL, OPT_DISK },
  { "channels", required_argument, NULL, OPT_CHANNELS },
  { "qemu-compression", required_argument, NULL, OPT_QEMU_COMPRESSION },
  { "verbose", no_argument, NULL, 'v' },
  { "help", no_argument, NULL, 'h' },
  { "version", no_argument, NULL, 'V' },
  { NULL },
};

/* Everything the command line can say. */
struct args {
  struct mig_source_params mp;
  struct mig_ssh_params sp;     /* --to ssh://... */
  char **ssh_options;
  const char *to, *engine, *name, *out;
  char **disk_map, **ips;
  char **disks;                 /* --offline --disk PATH... */
  int days;
  bool cancel;                  /* vmferry cancel */
  bool tls_given;               /* --tls-dir was on the command line */
  unsigned parallel;            /* migrations at once (several VMs) */
  bool keep_going;              /* --continue after a failure */
};

/* --transport: the data path of disks (vmferry engine) and memory. */
static int
parse_transport (const char *arg, enum mig_transport *t)
{
  static const char *const names[] = {
    [MIG_TRANSPORT_AUTO] = "auto", [MIG_TRANSPORT_TCP] = "tcp",
    [MIG_TRANSPORT_COMPRESS] = "compress", [MIG_TRANSPORT_DIRECT] = "direct",
  };
  size_t i;

  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp (arg, names[i]) == 0) {
      *t = i;
      return 0;
    }
  fprintf (stderr, "vmferry: --transport %s: say auto, tcp, compress or "
           "direct\n", arg);
  return -1;
}

static int
parse (int argc, char **argv, struct args *a)
{
  uint64_t u;
  int c;

  while ((c = getopt_long (argc, argv, "vhV", long_options, NULL)) != -1) {
    switch (c) {
    case OPT_TO: a->to = optarg; break;
    case OPT_TLS_DIR: a->mp.tls_dir = optarg, a->tls_given = true; break;
    case OPT_VM_DIR: a->mp.vm_dir = optarg; break;
    case OPT_ENGINE: a->engine = optarg; break;
    case OPT_KEEP:
      if (optarg == NULL)
        a->mp.keep_source = true;
      else if (cmd_parse_duration (optarg, "--keep-source",
                                   &a->mp.quarantine_s) == -1) {
        fprintf (stderr, "vmferry: %s\n", get_error ());
        return -1;
      }
      break;
    case OPT_NO_RESUME: a->mp.no_resume = true; break;
    case OPT_DISK_PATH:
      if (strv_push (&a->disk_map, optarg) == -1)
        return -1;
      break;
    case OPT_JSON: a->mp.json = true; break;
    case OPT_DRY_RUN: a->mp.dry_run = true; break;
    case OPT_NAME: a->name = optarg; break;
    case OPT_IP:
      if (strv_push (&a->ips, optarg) == -1)
        return -1;
      break;
    case OPT_OUT: a->out = optarg; break;
    case OPT_SSH_OPTION:
      if (strv_push (&a->ssh_options, optarg) == -1)
        return -1;
      break;
    case OPT_SSH_VMFERRYD: a->sp.vmferryd = optarg; break;
    case OPT_SSH_STORAGE: a->sp.storage_root = optarg; break;
    case OPT_SSH_RUN: a->sp.run_root = optarg; break;
    case OPT_DAYS:
      if (sscanf (optarg, "%d", &a->days) != 1) {
        fprintf (stderr, "vmferry: --days: not a number: %s\n", optarg);
        return -1;
      }
      break;
    case OPT_DOWNTIME:
      if (cmd_parse_uint (optarg, "--downtime", 1, MIG_DOWNTIME_MAX_MS,
                          &a->mp.downtime_ms) == -1)
        goto bad_number;
      break;
    case OPT_MAX_DOWNTIME:
      if (cmd_parse_uint (optarg, "--max-downtime", 1, MIG_DOWNTIME_MAX_MS,
                          &a->mp.max_downtime_ms) == -1)
        goto bad_number;
      break;
    case OPT_TIMEOUT:
      if (cmd_parse_uint (optarg, "--timeout", 0, 100000000, &u) == -1)
        goto bad_number;
      a->mp.timeout_s = u;
      break;
    case OPT_NO_THROTTLE: a->mp.no_throttle = true; break;
    case OPT_ALLOW_POSTCOPY: a->mp.allow_postcopy = true; break;
    case OPT_RUN_DIR: a->mp.run_dir = optarg; break;
    case OPT_PARALLEL:
      if (cmd_parse_uint (optarg, "--parallel", 1, 64, &u) == -1)
        goto bad_number;
      a->parallel = u;
      break;
    case OPT_CONTINUE: a->keep_going = true; break;
    case OPT_SHARED:
      if (optarg && strcmp (optarg, "auto") == 0)
        a->mp.shared_storage = MIG_SHARED_AUTO;
      else if (optarg == NULL || strcmp (optarg, "yes") == 0)
        a->mp.shared_storage = MIG_SHARED_YES;
      else if (strcmp (optarg, "no") == 0)
        a->mp.shared_storage = MIG_SHARED_NO;
      else {
        fprintf (stderr, "vmferry: --shared-storage=%s: say yes, no or "
                 "auto\n", optarg);
        return -1;
      }
      break;
    case OPT_MIGRATION_NETWORK:
      if (!net_cidr_valid (optarg)) {
        fprintf (stderr, "vmferry: --migration-network: '%s' is not "
                 "ADDR/BITS\n", optarg);
        return -1;
      }
      a->mp.migration_network = optarg;
      break;
    case OPT_TRANSPORT:
      if (parse_transport (optarg, &a->mp.transport) == -1)
        return -1;
      break;
    case OPT_BANDWIDTH:
      if (cmd_parse_uint (optarg, "--bandwidth", 1, 1u << 20, &u) == -1)
        goto bad_number;
      a->mp.bandwidth = u << 20;
      break;
    case OPT_NO_LINK_PACING: a->mp.no_link_pacing = true; break;
    case OPT_OFFLINE: a->mp.offline = true; break;
    case OPT_ARGV_FILE: a->mp.argv_file = optarg; break;
    case OPT_DISK:
      if (strv_push (&a->disks, optarg) == -1)
        return -1;
      break;
    case OPT_CHANNELS:
      if (cmd_parse_uint (optarg, "--channels", 1, MIG_MAX_CHANNELS, &u) == -1)
        goto bad_number;
      a->mp.channels = u;
      break;
    case OPT_QEMU_COMPRESSION: a->mp.qemu_compression = optarg; break;
    case 'v': vmferry_debug_enable ("vmferry"); break;
    case 'h': usage (stdout); exit (0);
    case 'V': printf ("vmferry %s\n", PACKAGE_VERSION); exit (0);
    default: return -1;
    }
  }
  return 0;
 bad_number:
  fprintf (stderr, "vmferry: %s\n", get_error ());
  return -1;
}

/* --offline takes --argv-file or --disk (not both), and those need it. */
static int
check_offline (struct args *a, bool check)
{
  const char *why = NULL;

  a->mp.disks = a->disks;
  if (!a->mp.offline && (a->mp.argv_file || a->disks))
    why = "--argv-file and --disk go with --offline";
  else if (a->mp.offline && check)
    why = "check does not take --offline";
  else if (a->mp.offline && (a->mp.argv_file == NULL) == (a->disks == NULL))
    why = "--offline needs --argv-file FILE or --disk PATH (one of them)";
  else if (a->mp.offline && ((a->engine && strcmp (a->engine, "vmferry")) ||
                             a->mp.dry_run ||
                             a->mp.transport == MIG_TRANSPORT_DIRECT))
    why = "--offline always uses the vmferry engine through the data "
      "channel (no --storage-engine qemu, --dry-run or --transport direct)";
  if (why)
    fprintf (stderr, "vmferry: migrate: %s\n", why);
  return why ? -1 : 0;
}

/* --channels and --qemu-compression: multifd, relayed or QEMU's own
 * (--transport direct); --qemu-compression needs the latter and sets 2
 * channels unless --channels says more.  QEMU 7.2 accepts multifd
 * with postcopy-ram, but upstream supports the pair only from 10.1:
 * refused.
 */
static int
check_channels (struct mig_source_params *mp)
{
  const char *c = mp->qemu_compression;
  const char *why = NULL;

  if (c && !mig_qemu_compression_valid (c))
    why = "--qemu-compression: say none, zlib or zstd";
  else if (c && mp->transport != MIG_TRANSPORT_DIRECT)
    why = "--qemu-compression is QEMU's multifd compression: it needs "
      "--transport direct (the relay compresses with lz4 itself)";
  else if (c && mp->channels == 1)
    why = "--qemu-compression needs QEMU's multifd: --channels 2 or more";
  else if (c && mp->channels == 0)
    mp->channels = 2;
  if (why == NULL && mp->channels > 1 && mp->allow_postcopy)
    why = "--channels and --qemu-compression (multifd) do not go with "
      "--allow-postcopy";
  if (why)
    fprintf (stderr, "vmferry: migrate: %s\n", why);
  return why ? -1 : 0;
}

/* --to ssh://[user@]host[:port] is the one-shot over ssh (vmferry(1));
 * anything else names a running agent, ADDR[:PORT].
 */
static int
do_migrate (struct args *a, char **vms, bool check)
{
  CLEANUP_FREE char *host = NULL;
  enum mig_result r;

  if (a->to == NULL) {
    fprintf (stderr, "vmferry: %s: --to ADDR[:PORT] is required\n",
             check ? "check" : "migrate");
    return MIG_USAGE;
  }
  if (a->engine && strcmp (a->engine, "qemu") != 0 &&
      strcmp (a->engine, "vmferry") != 0) {
    fprintf (stderr, "vmferry: --storage-engine %s: use 'vmferry' or "
             "'qemu'\n", a->engine);
    return MIG_USAGE;
  }
  if (check_offline (a, check) == -1)
    return MIG_USAGE;
  if (check_channels (&a->mp) == -1)
    return MIG_USAGE;
  a->mp.qemu_storage = a->engine && strcmp (a->engine, "qemu") == 0;
  a->mp.port = VMFERRY_DEFAULT_PORT;
  if (strncmp (a->to, "ssh://", 6) != 0 &&
      (cmd_parse_hostport (a->to, &host, &a->mp.port) == -1 ||
       (a->mp.port == 0 && (set_error (0, "%s: port 0 is not allowed",
                                       a->to), 1)))) {
    fprintf (stderr, "vmferry: --to: %s\n", get_error ());
    return MIG_USAGE;
  }
  a->mp.vm = vms[0];
  a->mp.host = host;
  a->mp.disk_map = a->disk_map;
  a->mp.out = stdout;
  a->mp.tty = isatty (STDOUT_FILENO);
  if (check) {
    r = mig_check_run (&a->mp);
    if (r != MIG_OK)
      fprintf (stderr, "vmferry: check: the VM cannot move: %s\n",
               get_error ());
    return r;
  }
  a->mp.cancel_fd = cmd_signal_fd ();
  a->sp.target = a->to;
  a->sp.ssh_options = a->ssh_options;
  a->sp.ssh = getenv ("VMFERRY_SSH") ? getenv ("VMFERRY_SSH") : "ssh";
  if (host == NULL && vms[1]) {
    fprintf (stderr, "vmferry: migrate: one VM at a time over ssh://\n");
    return MIG_USAGE;
  }
  if (a->mp.offline && (host == NULL || vms[1])) {
    fprintf (stderr, "vmferry: migrate --offline: one VM at a time, to a "
             "running vmferryd (not ssh://)\n");
    return MIG_USAGE;
  }
  if (a->mp.offline)
    r = mig_offline_run (&a->mp);
  else if (host == NULL)
    r = mig_ssh_run (&a->sp, &a->mp);
  else if (vms[1])
    r = mig_source_run_many (&a->mp, vms, a->parallel, a->keep_going);
  else
    r = mig_source_run (&a->mp);
  if (r != MIG_OK)
    fprintf (stderr, "vmferry: %s: %s\n", a->mp.offline ?
             mig_offline_result_text (r) : mig_result_text (r),
             get_error ());
  return r;
}

/* vmferry evacuate: every VM of --vm-dir, smallest first. */
static int
do_evacuate (struct args *a)
{
  CLEANUP_STRV char **vms = mig_list_vms (a->mp.vm_dir);

  if (vms == NULL) {
    fprintf (stderr, "vmferry: evacuate: %s\n", get_error ());
    return MIG_REFUSED;
  }
  if (vms[0] == NULL) {
    printf ("no VMs in %s: nothing to do\n", a->mp.vm_dir);
    return MIG_OK;
  }
  if (vms[1] == NULL)           /* one VM: still say which */
    a->mp.label = vms[0];
  return do_migrate (a, vms, false);
}

/* vmferry status [ID] (id NULL) / vmferry cancel ID: exit 0 or 1. */
static int
do_status (struct args *a, const char *id)
{
  int r = a->cancel ? mig_cancel (a->mp.run_dir, id, stdout)
    : mig_status (a->mp.run_dir, id, a->mp.json, stdout);

  if (r == -1)
    fprintf (stderr, "vmferry: %s: %s\n", a->cancel ? "cancel" : "status",
             get_error ());
  return r == -1 ? 1 : 0;
}

/* vmferry recover [ID]: exit code as mig_recover(). */
static int
do_recover (struct args *a, const char *id)
{
  struct mig_recover_params rp = {
    .run_dir = a->mp.run_dir, .id = id, .json = a->mp.json, .out = stdout,
    .tls_dir = a->tls_given ? a->mp.tls_dir : NULL,
  };
  enum mig_result r = mig_recover (&rp);

  if (r != MIG_OK)
    fprintf (stderr, "vmferry: recover: %s: %s\n", mig_result_text (r),
             get_error ());
  /* Quarantines whose reaper is gone (a reboot) and whose time is up. */
  if (mig_quarantine_sweep (a->mp.run_dir) == -1) {
    fprintf (stderr, "vmferry: recover: quarantined files: %s\n",
             get_error ());
    if (r == MIG_OK)
      r = MIG_FAILED_LEFTOVERS;
  }
  return r;
}

/* vmferry undo ID: exit 0 (the VM is back) or 1. */
static int
do_undo (struct args *a, const char *id)
{
  if (mig_undo (a->mp.run_dir, id, stdout) == -1) {
    fprintf (stderr, "vmferry: undo: %s\n", get_error ());
    return 1;
  }
  return 0;
}

static int
do_pki (struct args *a, int argc, char **argv)
{
  CLEANUP_FREE char *out = NULL;

  if (argc == 2 && strcmp (argv[0], "init") == 0) {
    if (api_pki_init (argv[1]) == -1)
      goto err;
    printf ("CA created in %s\n", argv[1]);
    return 0;
  }
  if (argc == 2 && strcmp (argv[0], "issue") == 0 && a->name) {
    out = a->out ? strdup (a->out) : xasprintf ("%s/%s", argv[1], a->name);
    if (out == NULL || api_pki_issue (argv[1], out, a->name, a->ips,
                                      a->days) == -1)
      goto err;
    printf ("certificates for %s written to %s\n", a->name, out);
    return 0;
  }
  usage (stderr);
  return 1;
 err:
  fprintf (stderr, "vmferry: pki: %s\n", get_error ());
  return 1;
}

int
main (int argc, char **argv)
{
  struct args a = {
    .mp = { .tls_dir = VMFERRY_DEFAULT_TLS_DIR,
            .vm_dir = "/run/vmferry/vms", .cancel_fd = -1,
            .downtime_ms = 300, .run_dir = MIG_DEFAULT_RUN_DIR },
    .sp = { .vmferryd = "vmferryd", .storage_root = "/var/lib/vmferry",
            .run_root = "/run/vmferry" },
  };
  int r;

  if (getenv ("VMFERRY_DEBUG"))
    vmferry_debug_enable ("vmferry");
  if (parse (argc, argv, &a) == -1 || optind >= argc) {
    usage (stderr);
    exit (MIG_USAGE);
  }
  if (strcmp (argv[optind], "migrate") == 0 && argc - optind >= 2)
    r = do_migrate (&a, argv + optind + 1, false);
  else if (strcmp (argv[optind], "check") == 0 && argc - optind == 2)
    r = do_migrate (&a, argv + optind + 1, true);
  else if (strcmp (argv[optind], "evacuate") == 0 && argc - optind == 1)
    r = do_evacuate (&a);
  else if (strcmp (argv[optind], "status") == 0 && argc - optind <= 2)
    r = do_status (&a, argc - optind == 2 ? argv[optind + 1] : NULL);
  else if (strcmp (argv[optind], "cancel") == 0 && argc - optind == 2)
    a.cancel = true, r = do_status (&a, argv[optind + 1]);
  else if (strcmp (argv[optind], "recover") == 0 && argc - optind <= 2)
    r = do_recover (&a, argc - optind == 2 ? argv[optind + 1] : NULL);
  else if (strcmp (argv[optind], "undo") == 0 && argc - optind == 2)
    r = do_undo (&a, argv[optind + 1]);
  else if (strcmp (argv[optind], "quarantine-reap") == 0 &&
           argc - optind == 2)  /* internal: the reaper --keep-source= starts */
    r = mig_quarantine_reap (a.mp.run_dir, argv[optind + 1], true) ? 1 : 0;
  else if (strcmp (argv[optind], "pki") == 0)
    r = do_pki (&a, argc - optind - 1, argv + optind + 1);
  else {
    usage (stderr);
    r = MIG_USAGE;
  }
  strv_free (a.disk_map);
  strv_free (a.ips);
  strv_free (a.disks);
  strv_free (a.ssh_options);
  exit (r);
}
