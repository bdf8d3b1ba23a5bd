/* compat.c: the rules of the compatibility report (see compat.h).
 *
 * Pure: no I/O, no QMP.  Each rule reads the source's and destination's
 * facts and appends findings; "error" means the VM cannot move, a
 * "warning" is something to fix but not blocking, "info" records what
 * was checked.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

#include "internal.h"

struct ctx {
  json_t *src, *dst;
  json_t *out;                  /* the findings */
};

static void __attribute__ ((format (printf, 5, 6)))
add (struct ctx *c, const char *sev, const char *id, const char *fix,
     const char *fmt, ...)
{
  char msg[1024];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  json_array_append_new (c->out, json_pack ("{s:s, s:s, s:s, s:s?}",
                                            "id", id, "severity", sev,
                                            "message", msg, "fix", fix));
}

static json_t *
get (json_t *o, const char *key)
{
  return json_object_get (o, key);
}

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* Is name in the array of strings a? */
static bool
in_list (json_t *a, const char *name)
{
  size_t i;
  json_t *v;

  json_array_foreach (a, i, v)
    if (json_is_string (v) && strcmp (json_string_value (v), name) == 0)
      return true;
  return false;
}

static void
version_text (char *buf, size_t n, json_int_t v)
{
  snprintf (buf, n, "%d.%d.%d", (int) (v / 10000), (int) (v / 100 % 100),
            (int) (v % 100));
}

/* An older destination QEMU cannot load a newer one's state. */
static void
check_version (struct ctx *c)
{
  json_t *sv = get (c->src, "qemu_version"), *dv = get (c->dst,
                                                        "qemu_version");
  char s[32], d[32];

  if (!json_is_integer (sv) || !json_is_integer (dv)) {
    add (c, "error", "qemu-version", "upgrade vmferry on both hosts",
         "cannot tell the QEMU versions of both hosts");
    return;
  }
  version_text (s, sizeof s, json_integer_value (sv));
  version_text (d, sizeof d, json_integer_value (dv));
  if (json_integer_value (sv) > json_integer_value (dv))
    add (c, "error", "qemu-version",
         "upgrade QEMU on the destination (or give vmferryd a newer "
         "--qemu), or choose a destination with the same or a newer QEMU",
         "destination QEMU %s is older than the source's %s: migrating "
         "to an older QEMU is refused", d, s);
  else
    add (c, "info", "qemu-version", NULL, "QEMU %s -> %s (%s)", s, d,
         json_integer_value (sv) == json_integer_value (dv) ? "same version"
         : "upgrade");
}

/* A KVM guest needs a working KVM on the destination. */
static void
check_accel (struct ctx *c)
{
  bool skvm = json_is_true (get (c->src, "kvm"));
  bool dkvm = json_is_true (get (c->dst, "kvm"));

  if (skvm && !dkvm)
    add (c, "error", "accelerator",
         "load the kvm module on the destination and give vmferryd access "
         "to /dev/kvm, or choose a host with KVM",
         "the VM runs under KVM, but KVM is not usable on the destination");
  else
    add (c, "info", "accelerator", NULL, "the VM runs under %s; the "
         "destination %s KVM", skvm ? "KVM" : "TCG",
         dkvm ? "has" : "has no");
}

/* The machine type must exist there; a deprecated one works but will
 * be removed.
 */
static void
check_machine (struct ctx *c)
{
  const char *m = str (c->src, "machine");
  json_t *list = get (c->dst, "machines"), *e;
  size_t i;

  if (m == NULL || !json_is_array (list)) {
    add (c, "error", "machine-type", "check that vmferryd's --qemu runs",
         "cannot tell the machine types of both hosts%s%s",
         str (c->dst, "probe_error") ? ": " : "",
         str (c->dst, "probe_error") ? str (c->dst, "probe_error") : "");
    return;
  }
  json_array_foreach (list, i, e) {
    if (str (e, "name") == NULL || strcmp (str (e, "name"), m) != 0)
      continue;
    if (json_is_true (get (e, "deprecated")))
      add (c, "warning", "machine-deprecated",
           "move the VM to a current machine type at its next cold boot",
           "machine type %s is deprecated in the destination's QEMU "
           "and will be removed", m);
    else
      add (c, "info", "machine-type", NULL,
           "machine type %s is available on the destination", m);
    return;
  }
  add (c, "error", "machine-type",
       "choose a destination whose QEMU still has this machine type, or "
       "change the VM's machine type at a cold boot",
       "machine type %s is not available in the destination's QEMU (%s)",
       m, str (c->dst, "qemu") ? str (c->dst, "qemu") : "?");
}

/* A KVM guest sees the host's CPU: the vendor must match.  Under TCG
 * the CPU is emulated and the host's vendor does not matter much.
 */
static void
check_vendor (struct ctx *c)
{
  const char *s = str (c->src, "cpu_vendor"), *d = str (c->dst,
                                                        "cpu_vendor");
  bool kvm = json_is_true (get (c->src, "kvm"));

  if (s == NULL || d == NULL || s[0] == '\0')
    add (c, "warning", "cpu-vendor", NULL, "cannot tell the CPU vendors");
  else if (strcmp (s, d) != 0)
    add (c, kvm ? "error" : "warning", "cpu-vendor",
         kvm ? "choose a destination with a CPU of the same vendor" : NULL,
         "CPU vendor differs: source %s, destination %s", s, d);
  else
    add (c, "info", "cpu-vendor", NULL, "same CPU vendor (%s)", s);
}

/* "-cpu host" passes the host CPU through: only between identical CPUs. */
static bool
check_cpu_host (struct ctx *c, const char *model)
{
  const char *s = str (c->src, "cpu_model_name");
  const char *d = str (c->dst, "cpu_model_name");

  if (strcmp (model, "host") != 0)
    return false;
  if (s == NULL || d == NULL || strcmp (s, d) != 0)
    add (c, "error", "cpu-host",
         "use a named CPU model (e.g. -cpu Skylake-Server) that both "
         "hosts support, or a destination with the same CPU",
         "the VM uses -cpu host, and the CPUs differ (source '%s', "
         "destination '%s')", s ? s : "?", d ? d : "?");
  else
    add (c, "info", "cpu-host", NULL, "-cpu host between identical CPUs "
         "(%s)", s);
  return true;
}

/* The named model must exist and be runnable on the destination. */
static bool
check_cpu_definition (struct ctx *c, const char *model)
{
  json_t *defs = get (c->dst, "cpu_models"), *e;
  size_t i;

  json_array_foreach (defs, i, e) {
    json_t *un = get (e, "unavailable");
    CLEANUP_FREE char *list = NULL;
    if (str (e, "name") == NULL || strcmp (str (e, "name"), model) != 0)
      continue;
    if (json_array_size (un) == 0)
      return true;
    list = json_dumps (un, JSON_COMPACT);
    add (c, "error", "cpu-model",
         "choose a CPU model the destination supports, or a destination "
         "with a newer CPU",
         "CPU model %s lacks features on the destination: %s", model,
         list ? list : "?");
    return false;
  }
  add (c, "error", "cpu-model", "choose a CPU model both QEMUs know",
       "CPU model %s is not known to the destination's QEMU", model);
  return false;
}

/* Every feature the guest's CPU has must be offered there. */
static void
check_cpu_features (struct ctx *c, const char *model)
{
  json_t *have = get (c->dst, "cpu_features"), *f;
  char missing[512] = "";
  size_t i, n = 0, len = 0;

  json_array_foreach (get (c->src, "cpu_features"), i, f) {
    if (!json_is_string (f) || in_list (have, json_string_value (f)))
      continue;
    if (len < sizeof missing)
      len += snprintf (missing + len, sizeof missing - len, "%s%s",
                       n ? " " : "", json_string_value (f));
    n++;
  }
  if (n)
    add (c, "error", "cpu-features",
         "remove these features from the VM's -cpu option at a cold "
         "boot, or choose a destination whose CPU has them",
         "the guest's CPU (%s) has %zu feature(s) the destination cannot "
         "offer: %s", model, n, missing);
  else
    add (c, "info", "cpu-model", NULL, "CPU model %s and its %zu "
         "feature(s) are available on the destination", model,
         json_array_size (get (c->src, "cpu_features")));
}

static void
check_cpu (struct ctx *c)
{
  const char *model = str (c->src, "cpu_model");

  if (model == NULL) {
    add (c, "warning", "cpu-model", NULL, "the source did not say which "
         "CPU model the guest has; not checked");
    return;
  }
  if (check_cpu_host (c, model))
    return;
  if (!json_is_array (get (c->dst, "cpu_models")) ||
      !json_is_array (get (c->dst, "cpu_features"))) {
    add (c, "warning", "cpu-model", NULL, "the destination could not "
         "report its CPU models; CPU model %s not checked", model);
    return;
  }
  if (check_cpu_definition (c, model))
    check_cpu_features (c, model);
}

/* One error per item of the source's array key. */
static void
each_item (struct ctx *c, const char *key, const char *id,
           const char *fix, const char *what)
{
  json_t *v;
  size_t i;

  json_array_foreach (get (c->src, key), i, v)
    if (json_is_string (v))
      add (c, "error", id, fix, "%s: %s", what, json_string_value (v));
}

static void
check_blockers (struct ctx *c)
{
  each_item (c, "blocked_reasons", "migration-blocker",
             "remove the device or option that blocks migration "
             "(at a cold boot)",
             "QEMU reports that this VM cannot be migrated");
  each_item (c, "command_line", "command-line",
             "change the option at the VM's next cold boot (vmferry(1) "
             "lists the shapes that move)",
             "the VM's command line has what vmferry cannot move");
  each_item (c, "passthrough", "passthrough",
             "detach the device (device_del) or replace the host device "
             "by an image file",
             "the VM uses a pass-through device or disk, which cannot be "
             "migrated");
}

static void
check_memory (struct ctx *c)
{
  json_int_t need = json_integer_value (get (c->src, "memory"));
  json_t *have = get (c->dst, "mem_available");

  if (!json_is_integer (have))
    add (c, "warning", "memory", NULL, "the destination did not report "
         "its available memory");
  else if (json_integer_value (have) < need)
    add (c, "error", "memory", "free memory on the destination or choose "
         "another host", "not enough memory: the VM needs %" PRId64
         " MiB, the destination has %" PRId64 " MiB available",
         (int64_t) need >> 20, (int64_t) json_integer_value (have) >> 20);
  else
    add (c, "info", "memory", NULL, "memory: %" PRId64 " MiB needed, %"
         PRId64 " MiB available", (int64_t) need >> 20,
         (int64_t) json_integer_value (have) >> 20);
}

/* Space for the allocated bytes of every disk that is copied. */
static void
check_storage (struct ctx *c)
{
  json_t *have = get (c->dst, "storage_free"), *d;
  json_int_t need = 0;
  size_t i;

  json_array_foreach (get (c->src, "disks"), i, d)
    if (!json_is_true (get (d, "shared")) && !json_is_true (get (d, "in_place"))
        && !(json_is_true (get (d, "read_only")) && get (d, "in_place") == NULL))
      need += json_integer_value (get (d, "allocated"));
  if (!json_is_integer (have))
    add (c, "warning", "storage", NULL, "the destination did not report "
         "its free space");
  else if (json_integer_value (have) < need)
    add (c, "error", "storage", "free space in the destination's storage "
         "root, or choose another host",
         "not enough space: the disks need %" PRId64 " MiB, the "
         "destination's storage root has %" PRId64 " MiB free",
         (int64_t) need >> 20, (int64_t) json_integer_value (have) >> 20);
  else
    add (c, "info", "storage", NULL, "storage: %" PRId64 " MiB allocated, "
         "%" PRId64 " MiB free", (int64_t) need >> 20,
         (int64_t) json_integer_value (have) >> 20);
}

/* The backing chain of disk d as "A (qcow2) <- B (raw)" into buf. */
static void
chain_text (json_t *d, char *buf, size_t n)
{
  size_t i, len = 0;
  json_t *b;

  buf[0] = '\0';
  json_array_foreach (get (d, "backing"), i, b)
    if (len < n)
      len += snprintf (buf + len, n - len, "%s%s (%s)", i ? " <- " : "",
                       str (b, "path") ? str (b, "path") : "?",
                       str (b, "format") ? str (b, "format") : "?");
}

/* What happens to each disk; a disk that is not copied must be
 * reachable on the destination as it is (dst "disks": per disk
 * "reachable", "why").
 */
static void
check_disks (struct ctx *c)
{
  json_t *d;
  size_t i;

  json_array_foreach (get (c->src, "disks"), i, d) {
    json_t *reach = json_array_get (get (c->dst, "disks"), i);
    bool ro = json_is_true (get (d, "read_only"));
    bool shared = json_is_true (get (d, "shared"));
    bool in_place = json_is_true (get (d, "in_place")) ||
      (ro && get (d, "in_place") == NULL);
    const char *id = str (d, "id") ? str (d, "id") : "?";
    char chain[768];

    chain_text (d, chain, sizeof chain);
    if ((shared || in_place) && reach &&
        !json_is_true (get (reach, "reachable")))
      add (c, "error", "disks", "copy the disk (vmferry migrate --disk "
           "with it, or without --skip-disk), or make it reachable there",
           "disk %s is not copied, but the destination cannot open it: %s",
           id, str (reach, "why") ? str (reach, "why") : "?");
    else
      add (c, "info", "disks", NULL, "disk %s (%s, %s%s%s): %s%s%s%s", id,
           str (d, "path") ? str (d, "path") : "?",
           str (d, "format") ? str (d, "format") : "?",
           ro ? ", read-only" : "",
           json_is_true (get (d, "cdrom")) ? ", CD-ROM" : "",
           shared ? "not copied: on storage both hosts see"
           : in_place ? "not copied: the destination's identical image "
           "under its read dir is used" : "copied",
           chain[0] && !shared && !in_place ? ", flattened into one "
           "standalone image (backing chain " : "",
           chain[0] && !shared && !in_place ? chain : "",
           chain[0] && !shared && !in_place ? "; the backing files stay "
           "on the source)" : "");
  }
}

/* Bridges the VM's netdevs attach to must exist there. */
static void
check_bridges (struct ctx *c)
{
  json_t *b;
  size_t i;

  json_array_foreach (get (c->src, "bridges"), i, b) {
    if (!json_is_string (b))
      continue;
    if (in_list (get (c->dst, "bridges"), json_string_value (b)))
      add (c, "info", "network", NULL, "bridge %s exists on the "
           "destination", json_string_value (b));
    else
      add (c, "error", "network", "create the bridge on the destination "
           "(ip link add NAME type bridge) and connect it to the same "
           "network", "bridge %s, used by the VM, does not exist on the "
           "destination", json_string_value (b));
  }
}

static void
check_ports (struct ctx *c)
{
  const char *e = str (c->dst, "ports_error");

  if (e)
    add (c, "error", "ports", "check vmferryd's --listen address and the "
         "firewall", "the destination cannot open ports for the disks "
         "and memory: %s", e);
}

json_t *
mig_compat_check (json_t *src, json_t *dst)
{
  struct ctx c = { .src = src, .dst = dst, .out = json_array () };

  if (c.out == NULL)
    return NULL;
  check_version (&c);
  check_accel (&c);
  check_machine (&c);
  check_vendor (&c);
  check_cpu (&c);
  check_blockers (&c);
  check_memory (&c);
  check_storage (&c);
  check_disks (&c);
  check_bridges (&c);
  check_ports (&c);
  return c.out;
}

bool
mig_compat_has_error (json_t *findings)
{
  size_t i;
  json_t *f;

  json_array_foreach (findings, i, f)
    if (str (f, "severity") && strcmp (str (f, "severity"), "error") == 0)
      return true;
  return false;
}

char *
mig_compat_errors_text (json_t *findings)
{
  char *text = strdup (""), *next;
  size_t i;
  json_t *f;

  json_array_foreach (findings, i, f) {
    if (text == NULL)
      return NULL;
    if (str (f, "severity") == NULL ||
        strcmp (str (f, "severity"), "error") != 0)
      continue;
    next = xasprintf ("%s%s%s", text, text[0] ? "; " : "",
                      str (f, "message") ? str (f, "message") : "?");
    free (text);
    text = next;
  }
  return text;
}
