/* vmferry-values.c: the value of each of vmferry's options, checked
 * completely (a number is all digits and in range, a choice one of its
 * words, a path of the right form) and stored in struct args.  A bad
 * value is a usage error naming the option and what it takes.
 */
#include <config.h>

#include <arpa/inet.h>

#include "utils.h"
#include "net.h"
#include "vm.h"
#include "common.h"
#include "vmferry.h"

/* One of words (NULL-terminated) or -1. */
static int
choice (const char *arg, const char *const *words)
{
  int i;

  for (i = 0; words[i]; i++)
    if (strcmp (arg, words[i]) == 0)
      return i;
  return -1;
}

static int
bad_choice (struct args *a, const char *opt, const char *arg,
            const char *words)
{
  return vmf_usage_error (a, "--%s '%s': say %s", opt, arg, words);
}

/* A number option in [min, max] into *out. */
static int
number (struct args *a, const char *opt, const char *arg, uint64_t min,
        uint64_t max, uint64_t *out)
{
  char name[64];

  snprintf (name, sizeof name, "--%s", opt);
  if (cmd_parse_uint (arg, name, min, max, out) == -1)
    return vmf_usage_error (a, "%s", get_error ());
  return VMF_GO_ON;
}

static int
push (struct args *a, char ***v, const char *arg)
{
  if (strv_push (v, arg) == -1)
    return vmf_usage_error (a, "%s", get_error ());
  return VMF_GO_ON;
}

/* --disk-path SRC=DST: two absolute paths. */
static int
disk_path (struct args *a, const char *arg)
{
  const char *eq = strchr (arg, '=');

  if (eq == NULL || arg[0] != '/' || eq[1] != '/')
    return vmf_usage_error (a, "--disk-path '%s': say SRC=DST, the source "
                            "image's path and where it goes on the "
                            "destination (both absolute)", arg);
  return push (a, &a->disk_map, arg);
}

/* --ip: an IPv4 or IPv6 address. */
static int
ip (struct args *a, const char *arg)
{
  unsigned char buf[16];

  if (inet_pton (AF_INET, arg, buf) != 1 &&
      inet_pton (AF_INET6, arg, buf) != 1)
    return vmf_usage_error (a, "--ip '%s' is not an IP address (a host "
                            "name goes with --dns)", arg);
  return push (a, &a->ips, arg);
}

/* --dns: a DNS name (letters, digits, '-', '.'). */
static int
dns (struct args *a, const char *arg)
{
  unsigned char buf[16];

  if (inet_pton (AF_INET, arg, buf) == 1 ||
      inet_pton (AF_INET6, arg, buf) == 1)
    return vmf_usage_error (a, "--dns '%s' is an IP address: give it with "
                            "--ip", arg);
  if (arg[0] == '\0' || arg[0] == '-' || arg[0] == '.' || strlen (arg) > 253 ||
      strspn (arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
              "0123456789.-") != strlen (arg))
    return vmf_usage_error (a, "--dns '%s' is not a DNS name (letters, "
                            "digits, '-' and '.')", arg);
  return push (a, &a->dns, arg);
}

/* --keep-source[=DURATION] */
static int
keep_source (struct args *a, const char *arg)
{
  if (arg == NULL) {
    a->mp.keep_source = true;
    return VMF_GO_ON;
  }
  if (cmd_parse_duration (arg, "--keep-source", &a->mp.quarantine_s) == -1)
    return vmf_usage_error (a, "%s", get_error ());
  return VMF_GO_ON;
}

/* --shared-storage[=yes|no|auto] */
static int
shared (struct args *a, const char *arg)
{
  static const char *const words[] = { "no", "yes", "auto", NULL };
  static const enum mig_shared v[] = {
    MIG_SHARED_NO, MIG_SHARED_YES, MIG_SHARED_AUTO,
  };
  int i = arg ? choice (arg, words) : 1;

  if (i < 0)
    return bad_choice (a, "shared-storage", arg, "yes, no or auto");
  a->mp.shared_storage = v[i];
  return VMF_GO_ON;
}

/* Options that take a word from a list. */
static int
words (struct args *a, const char *name, const char *arg)
{
  static const char *const transports[] = {
    [MIG_TRANSPORT_AUTO] = "auto", [MIG_TRANSPORT_TCP] = "tcp",
    [MIG_TRANSPORT_COMPRESS] = "compress", [MIG_TRANSPORT_DIRECT] = "direct",
    NULL,
  };
  static const char *const engines[] = { "vmferry", "qemu", NULL };
  int i;

  if (strcmp (name, "transport") == 0) {
    if ((i = choice (arg, transports)) < 0)
      return bad_choice (a, name, arg, "auto, tcp, compress or direct");
    a->mp.transport = i;
  }
  else if (strcmp (name, "storage-engine") == 0) {
    if (choice (arg, engines) < 0)
      return bad_choice (a, name, arg, "vmferry or qemu");
    a->engine = arg;
  }
  else {                        /* qemu-compression */
    if (!mig_qemu_compression_valid (arg))
      return bad_choice (a, name, arg, "none, zlib or zstd");
    a->mp.qemu_compression = arg;
  }
  return VMF_GO_ON;
}

/* Options that take a number. */
static int
numbers (struct args *a, const char *name, const char *arg)
{
  uint64_t u = 0;
  int r = VMF_GO_ON;

  if (strcmp (name, "downtime") == 0)
    r = number (a, name, arg, 1, MIG_DOWNTIME_MAX_MS, &a->mp.downtime_ms);
  else if (strcmp (name, "max-downtime") == 0)
    r = number (a, name, arg, 1, MIG_DOWNTIME_MAX_MS,
                &a->mp.max_downtime_ms);
  else if (strcmp (name, "timeout") == 0) {
    r = number (a, name, arg, 0, 100000000, &u);
    a->mp.timeout_s = u;
  }
  else if (strcmp (name, "parallel") == 0) {
    r = number (a, name, arg, 1, 64, &u);
    a->parallel = u;
  }
  else if (strcmp (name, "channels") == 0) {
    r = number (a, name, arg, 1, MIG_MAX_CHANNELS, &u);
    a->mp.channels = u;
  }
  else {                        /* days */
    r = number (a, name, arg, 1, 36500, &u);
    a->days = u;
  }
  return r;
}

/* Options stored as they are: a path or text, or true for a flag. */
static bool
field (struct args *a, const char *name, char *arg)
{
  static const struct { const char *name; size_t off; bool flag; } v[] = {
#define S(n, f) { n, offsetof (struct args, f), false }
#define B(n, f) { n, offsetof (struct args, f), true }
    S ("to", to), S ("vm-dir", mp.vm_dir), S ("run-dir", mp.run_dir),
    S ("argv-file", mp.argv_file), S ("ssh-vmferryd", sp.vmferryd),
    S ("ssh-storage-root", sp.storage_root), S ("ssh-run-root", sp.run_root),
    S ("name", name), S ("out", out),
    S ("libvirt-uri", lp.uri), S ("libvirt-peer-uri", lp.peer_uri),
    B ("libvirt-transient", lp.transient),
    B ("libvirt-keep-definition", lp.keep_definition),
    B ("no-resume", mp.no_resume), B ("json", mp.json),
    B ("dry-run", mp.dry_run), B ("offline", mp.offline),
    B ("no-throttle", mp.no_throttle),
    B ("allow-postcopy", mp.allow_postcopy), B ("continue", keep_going),
    B ("no-link-pacing", mp.no_link_pacing),
#undef S
#undef B
  };
  size_t i;

  for (i = 0; i < sizeof v / sizeof v[0]; i++) {
    char *p = (char *) a + v[i].off;
    if (strcmp (name, v[i].name) != 0)
      continue;
    if (v[i].flag)
      *(bool *) p = true;
    else
      *(const char **) p = arg;
    return true;
  }
  return false;
}

/* The options whose value needs more than one check. */
static int
special (struct args *a, const char *name, char *arg)
{
  if (strcmp (name, "tls-dir") == 0) {
    a->mp.tls_dir = arg;
    a->tls_given = true;
  }
  else if (strcmp (name, "keep-source") == 0)
    return keep_source (a, arg);
  else if (strcmp (name, "keep-state") == 0) {
    if (cmd_parse_duration (arg, "--keep-state", &a->keep_state_s) == -1)
      return vmf_usage_error (a, "%s", get_error ());
  }
  else if (strcmp (name, "shared-storage") == 0)
    return shared (a, arg);
  else if (strcmp (name, "migration-network") == 0) {
    if (!net_cidr_valid (arg))
      return vmf_usage_error (a, "--migration-network '%s' is not ADDR/BITS "
                              "(e.g. 198.51.100.0/24)", arg);
    a->mp.migration_network = arg;
  }
  else if (strcmp (name, "bandwidth") == 0) {
    if (cmd_parse_bandwidth (arg, "--bandwidth", &a->mp.bandwidth) == -1)
      return vmf_usage_error (a, "%s", get_error ());
  }
  else if (strcmp (name, "verbose") == 0)
    vmferry_debug_enable ("vmferry");
  return VMF_GO_ON;
}

int
vmf_apply (struct args *a, const char *name, char *arg)
{
  if (field (a, name, arg))
    return VMF_GO_ON;
  if (strcmp (name, "disk-path") == 0)
    return disk_path (a, arg);
  if (strcmp (name, "disk") == 0)
    return push (a, &a->disks, arg);
  if (strcmp (name, "skip-disk") == 0)
    return push (a, &a->skip_disks, arg);
  if (strcmp (name, "ssh-option") == 0)
    return push (a, &a->ssh_options, arg);
  if (strcmp (name, "ip") == 0)
    return ip (a, arg);
  if (strcmp (name, "dns") == 0)
    return dns (a, arg);
  if (strcmp (name, "transport") == 0 ||
      strcmp (name, "storage-engine") == 0 ||
      strcmp (name, "qemu-compression") == 0)
    return words (a, name, arg);
  if (strcmp (name, "downtime") == 0 || strcmp (name, "max-downtime") == 0 ||
      strcmp (name, "timeout") == 0 || strcmp (name, "parallel") == 0 ||
      strcmp (name, "channels") == 0 || strcmp (name, "days") == 0)
    return numbers (a, name, arg);
  return special (a, name, arg);
}

void
vmf_args_free (struct args *a)
{
  strv_free (a->disk_map);
  strv_free (a->ips);
  strv_free (a->dns);
  strv_free (a->disks);
  strv_free (a->skip_disks);
  strv_free (a->ssh_options);
}
