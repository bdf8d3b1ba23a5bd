/* vmferry: the command run on the source host.  Parses arguments
 * (vmferry-options.c, vmferry-values.c), calls source/, migrate/ or
 * api/, prints the error and maps the result to an exit code (see
 * vmferry(1)).
 */
#include <config.h>

#include "utils.h"
#include "api.h"
#include "net.h"
#include "vm.h"
#include "migrate.h"
#include "common.h"
#include "vmferry.h"
#include "vmferry-home.h"

/* --offline takes --argv-file or --disk PATH (not both), and --argv-file
 * needs it; without it --disk and --skip-disk choose the disks to copy.
 */
static int
check_offline (struct args *a)
{
  const char *why = NULL;

  /* Without --offline, --disk chooses the running VM's disks to copy. */
  a->mp.disks = a->mp.offline ? a->disks : NULL;
  a->mp.only_disks = a->mp.offline ? NULL : a->disks;
  a->mp.skip_disks = a->skip_disks;
  if (!a->mp.offline && a->mp.argv_file)
    why = "--argv-file goes with --offline";
  else if (a->mp.offline && a->skip_disks)
    why = "--offline copies every disk it is given (no --skip-disk)";
  else if (a->mp.offline && (a->mp.argv_file == NULL) == (a->disks == NULL))
    why = "--offline needs --argv-file FILE or --disk PATH (one of them)";
  else if (a->mp.offline && ((a->engine && strcmp (a->engine, "vmferry")) ||
                             a->mp.dry_run ||
                             a->mp.transport == MIG_TRANSPORT_DIRECT))
    why = "--offline always uses the vmferry engine through the data "
      "channel (no --storage-engine qemu, --dry-run or --transport direct)";
  return why ? vmf_usage_error (a, "%s", why) : VMF_GO_ON;
}

/* --channels and --qemu-compression: multifd, relayed or QEMU's own
 * (--transport direct); --qemu-compression needs the latter and sets 2
 * channels unless --channels says more.  QEMU 7.2 accepts multifd
 * with postcopy-ram, but upstream supports the pair only from 10.1:
 * refused.
 */
static int
check_channels (struct args *a)
{
  struct mig_source_params *mp = &a->mp;
  const char *c = mp->qemu_compression;
  const char *why = NULL;

  if (c && mp->transport != MIG_TRANSPORT_DIRECT)
    why = "--qemu-compression is QEMU's multifd compression: it needs "
      "--transport direct (the relay compresses with lz4 itself)";
  else if (c && mp->channels == 1)
    why = "--qemu-compression needs QEMU's multifd: --channels 2 or more";
  else if (c && mp->channels == 0)
    mp->channels = 2;
  if (why == NULL && mp->channels > 1 && mp->allow_postcopy)
    why = "--channels and --qemu-compression (multifd) do not go with "
      "--allow-postcopy";
  return why ? vmf_usage_error (a, "%s", why) : VMF_GO_ON;
}

/* Refused before anything was done: the message, and with --json the
 * result object every run of vmferry migrate ends with.
 */
static int
refuse (struct args *a, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  set_error (0, "%s", msg);
  if (a->mp.json && a->cmd != CMD_CHECK) {
    a->mp.dest_name = a->to;
    mig_source_early_result (&a->mp, MIG_REFUSED);
    a->mp.dest_name = NULL;
  }
  fprintf (stderr, "vmferry %s: %s\n", a->cmd_name, msg);
  return MIG_REFUSED;
}

/* This host's certificates must be there before anything starts. */
static int
check_tls (struct args *a)
{
  static const char *const files[] = {
    "ca-cert.pem", "client-cert.pem", "client-key.pem", NULL,
  };
  char host[256] = "HOST";

  if (cmd_check_tls_files (a->mp.tls_dir, files) == 0)
    return VMF_GO_ON;
  gethostname (host, sizeof host);
  return refuse (a, "--tls-dir %s: %s; make this host's certificates with "
                 "'vmferry pki issue CADIR --name %s --out %s' (vmferry(1), "
                 "Certificates), or name their directory with --tls-dir",
                 a->mp.tls_dir, get_error (), host, a->mp.tls_dir);
}

/* --to: ADDR[:PORT] (a name or an address) or ssh://...; *host gets
 * the host of an agent (NULL for ssh://).
 */
static int
check_to (struct args *a, char **host)
{
  if (a->to == NULL)
    return vmf_usage_error (a, "--to is required: the destination's "
                            "vmferryd (ADDR[:PORT]) or ssh://[USER@]HOST");
  a->mp.port = VMFERRY_DEFAULT_PORT;
  if (strncmp (a->to, "ssh://", 6) == 0)
    return VMF_GO_ON;
  if (cmd_parse_hostport (a->to, host, &a->mp.port) == -1)
    return vmf_usage_error (a, "--to %s", get_error ());
  if (a->mp.port == 0)
    return vmf_usage_error (a, "--to '%s': port 0 is not a port vmferryd "
                            "listens on (1 to 65535; default %d)", a->to,
                            VMFERRY_DEFAULT_PORT);
  return VMF_GO_ON;
}

/* Everything vmferry migrate and check verify before they start. */
static int
check_migrate (struct args *a, char **host)
{
  int r;

  if ((r = check_to (a, host)) != VMF_GO_ON ||
      (r = check_offline (a)) != VMF_GO_ON ||
      (a->cmd != CMD_CHECK && (r = check_channels (a)) != VMF_GO_ON))
    return r;
  if (*host == NULL && a->mp.offline)
    return vmf_usage_error (a, "--offline goes to a running vmferryd, not "
                            "over ssh://");
  if (*host == NULL && a->n_pos > 1)
    return vmf_usage_error (a, "one VM at a time over ssh://");
  if (*host && (r = check_tls (a)) != VMF_GO_ON)
    return r;
  return VMF_GO_ON;
}

/* vmferry check VM: exit 0 (it can move), 2 (it cannot), 1. */
static int
do_check (struct args *a, const char *host)
{
  enum mig_result r;

  if (host == NULL)
    r = mig_ssh_run (&a->sp, &a->mp);
  else
    r = mig_check_run (&a->mp);
  if (r != MIG_OK)
    fprintf (stderr, "vmferry check: the VM cannot move: %s\n",
             get_error ());
  return r == MIG_OK || r == MIG_USAGE ? r : MIG_REFUSED;
}

/* Drop what vmferry status must not list any more (best effort). */
static void
prune (struct args *a)
{
  int n = mig_state_prune (a->mp.run_dir, a->keep_state_s);

  if (n == -1)
    debug ("--keep-state: %s", get_error ());
}

/* VM libvirt:DOMAIN (migrate or check): one at a time, to a running
 * vmferryd.
 */
static int
do_libvirt (struct args *a, char **vms, const char *host)
{
  bool check = a->cmd == CMD_CHECK;
  enum mig_result r;

  if (vms[1] || host == NULL)
    return vmf_usage_error (a, "libvirt domains move one at a time, to a "
                            "running vmferryd (not ssh://)");
  if (vms[0][strlen (MIG_LIBVIRT_PREFIX)] == '\0')
    return vmf_usage_error (a, "'%s': say libvirt:DOMAIN, the domain's "
                            "name in the local libvirt", vms[0]);
  if (!check) {
    a->mp.cancel_fd = cmd_signal_fd ();
    prune (a);
  }
  r = check ? mig_libvirt_check (&a->mp, &a->lp)
    : mig_libvirt_run (&a->mp, &a->lp);
  if (r != MIG_OK)
    fprintf (stderr, "vmferry %s: %s: %s\n", a->cmd_name, check ?
             "the VM cannot move" : mig_result_text (r), get_error ());
  if (check)
    return r == MIG_OK || r == MIG_USAGE ? r : MIG_REFUSED;
  return r;
}

/* vmferry migrate VM..., evacuate, check. */
static int
do_migrate (struct args *a, char **vms)
{
  CLEANUP_FREE char *host = NULL;
  enum mig_result r;

  a->mp.vm = vms[0];
  if ((r = check_migrate (a, &host)) != (enum mig_result) VMF_GO_ON)
    return r;
  a->mp.qemu_storage = a->engine && strcmp (a->engine, "qemu") == 0;
  a->mp.host = host;
  a->mp.disk_map = a->disk_map;
  a->mp.out = stdout;
  a->mp.tty = isatty (STDOUT_FILENO);
  if (strncmp (vms[0], MIG_LIBVIRT_PREFIX, strlen (MIG_LIBVIRT_PREFIX)) == 0)
    return do_libvirt (a, vms, host);
  if (a->lp.uri || a->lp.peer_uri || a->lp.transient || a->lp.keep_definition)
    return vmf_usage_error (a, "--libvirt-* options go with VM "
                            "libvirt:DOMAIN, not %s", vms[0]);
  a->sp.target = a->to;
  a->sp.ssh_options = a->ssh_options;
  a->sp.ssh = getenv ("VMFERRY_SSH") ? getenv ("VMFERRY_SSH") : "ssh";
  a->sp.check = a->cmd == CMD_CHECK;
  if (a->cmd == CMD_CHECK)
    return do_check (a, host);
  a->mp.cancel_fd = cmd_signal_fd ();
  prune (a);
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
    fprintf (stderr, "vmferry evacuate: %s\n", get_error ());
    return MIG_REFUSED;
  }
  if (vms[0] == NULL) {
    printf ("no VMs in %s: nothing to do\n", a->mp.vm_dir);
    return MIG_OK;
  }
  if (vms[1] == NULL)           /* one VM: still say which */
    a->mp.label = vms[0];
  return do_migrate (a, vms);
}

/* vmferry status [ID] / cancel ID: exit 0 or 1. */
static int
do_status (struct args *a)
{
  const char *id = a->n_pos ? a->pos[0] : NULL;
  int r;

  if (a->cmd == CMD_STATUS) {
    prune (a);
    r = mig_status (a->mp.run_dir, id, a->mp.json, stdout);
  }
  else
    r = mig_cancel (a->mp.run_dir, id, stdout);
  if (r == -1)
    fprintf (stderr, "vmferry %s: %s\n", a->cmd_name, get_error ());
  return r == -1 ? 1 : 0;
}

/* vmferry recover [ID]: exit code as mig_recover(). */
static int
do_recover (struct args *a)
{
  struct mig_recover_params rp = {
    .run_dir = a->mp.run_dir, .id = a->n_pos ? a->pos[0] : NULL,
    .json = a->mp.json, .out = stdout,
    .tls_dir = a->tls_given ? a->mp.tls_dir : NULL,
  };
  enum mig_result r = mig_recover (&rp);

  if (r != MIG_OK)
    fprintf (stderr, "vmferry recover: %s: %s\n", mig_result_text (r),
             get_error ());
  /* Quarantines whose reaper is gone (a reboot) and whose time is up. */
  if (mig_quarantine_sweep (a->mp.run_dir) == -1) {
    fprintf (stderr, "vmferry recover: quarantined files: %s\n",
             get_error ());
    if (r == MIG_OK)
      r = MIG_FAILED_LEFTOVERS;
  }
  return r;
}

/* vmferry undo ID: exit 0 (the VM is back) or 1. */
static int
do_undo (struct args *a)
{
  if (mig_undo (a->mp.run_dir, a->pos[0], stdout) == -1) {
    fprintf (stderr, "vmferry undo: %s\n", get_error ());
    return 1;
  }
  return 0;
}

/* vmferry pki init CADIR / issue CADIR --name NAME: exit 0 or 1.
 * VMFERRY_TEST_PKI_EXPIRED (a testing aid, vmferry(1)) makes
 * certificates that expired --days days ago.
 */
static int
do_pki (struct args *a)
{
  const char *dir = a->pos[0];
  CLEANUP_FREE char *out = NULL;
  int days = a->days;

  if (a->cmd == CMD_PKI_INIT) {
    if (api_pki_init (dir) == -1)
      goto err;
    printf ("CA created in %s\n", dir);
    return 0;
  }
  if (a->name == NULL)
    return vmf_usage_error (a, "--name NAME is required: the host's name, "
                            "written into its certificates");
  if (getenv ("VMFERRY_TEST_PKI_EXPIRED"))
    days = -(days ? days : 1);
  out = a->out ? strdup (a->out) : xasprintf ("%s/%s", dir, a->name);
  if (out == NULL || api_pki_issue_names (dir, out, a->name, a->ips, a->dns,
                                          days) == -1)
    goto err;
  printf ("certificates for %s written to %s\n", a->name, out);
  return 0;
 err:
  fprintf (stderr, "vmferry %s: %s\n", a->cmd_name, get_error ());
  return 1;
}

static int
run (struct args *a)
{
  switch (a->cmd) {
  case CMD_MIGRATE:
  case CMD_CHECK:
    return do_migrate (a, a->pos);
  case CMD_EVACUATE:
    return do_evacuate (a);
  case CMD_STATUS:
  case CMD_CANCEL:
    return do_status (a);
  case CMD_RECOVER:
    return do_recover (a);
  case CMD_UNDO:
    return do_undo (a);
  case CMD_PKI_INIT:
  case CMD_PKI_ISSUE:
    return do_pki (a);
  case CMD_REAP:                /* the reaper --keep-source= starts */
    return mig_quarantine_reap (a->mp.run_dir, a->pos[0], true) ? 1 : 0;
  case CMD_LIST:
    return cmd_list (a->mp.vm_dir, a->mp.run_dir, a->mp.json);
  case CMD_START:
    return cmd_start (a->mp.vm_dir, a->pos[0]);
  case CMD_STOP:
    return cmd_stop (a->mp.vm_dir, a->pos[0],
                     a->mp.timeout_s ? a->mp.timeout_s : 60);
  }
  return MIG_USAGE;
}

int
main (int argc, char **argv)
{
  struct args a = {
    .mp = { .tls_dir = VMFERRY_DEFAULT_TLS_DIR,
            .vm_dir = VMFERRY_DEFAULT_VM_DIR, .cancel_fd = -1,
            .downtime_ms = 300, .run_dir = MIG_DEFAULT_RUN_DIR },
    .sp = { .vmferryd = "vmferryd", .storage_root = "/var/lib/vmferry",
            .run_root = "/run/vmferry" },
    .keep_state_s = MIG_DEFAULT_KEEP_STATE_S,
  };
  int r;

  /* vmferry undo runs an agent in this process: its audit lines go
   * to stderr when a request fails, not for each one that succeeds.
   */
  log_setup ("vmferry", LOG_LEVEL_WARNING, NULL);
  if (getenv ("VMFERRY_DEBUG"))
    vmferry_debug_enable ("vmferry");
  a.mp.out = stdout;
  r = vmf_parse (argc, argv, &a);
  if (r == VMF_GO_ON)
    r = run (&a);
  vmf_args_free (&a);
  exit (r);
}
