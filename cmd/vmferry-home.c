/* vmferry-home.c: vmferry list, start and stop: the VMs of this host.
 * Printing and exit codes only; the work is in source/ (inventory.c,
 * stop.c) and dest/ (start.c).
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "utils.h"
#include "vm.h"
#include "source.h"
#include "dest.h"
#include "vmferry-home.h"

#define STOP_DEFAULT_S 60

/* "512M", "1.5G": a size for the table. */
static void
human (json_t *n, char *buf, size_t len)
{
  double v = json_number_value (n);
  const char *u = "KMGT";
  int i = -1;

  if (!json_is_number (n)) {
    snprintf (buf, len, "-");
    return;
  }
  while (v >= 1024 && i < 3)
    v /= 1024, i++;
  if (i < 0)
    snprintf (buf, len, "%.0fB", v);
  else
    snprintf (buf, len, v < 10 ? "%.1f%c" : "%.0f%c", v, u[i]);
}

static void
print_row (FILE *out, json_t *vm)
{
  json_t *disks = json_object_get (vm, "disks"), *d, *rx;
  json_int_t total = 0;
  char mem[16], size[16], when[32] = "";
  size_t i;
  time_t t;

  json_array_foreach (disks, i, d)
    total += json_integer_value (json_object_get (d, "virtual_size"));
  human (json_object_get (vm, "memory"), mem, sizeof mem);
  human (json_array_size (disks) ? json_integer (total) : NULL, size,
         sizeof size);
  rx = json_object_get (vm, "received");
  t = json_integer_value (json_object_get (rx, "arrived"));
  if (t > 0)
    strftime (when, sizeof when, " %Y-%m-%d %H:%M", localtime (&t));
  fprintf (out, "%-16s %-13s %6s %2zu %7s  %-8s %-14s %s%s\n",
           json_string_value (json_object_get (vm, "name")),
           json_string_value (json_object_get (vm, "state")), mem,
           json_array_size (disks), size,
           json_is_string (json_object_get (vm, "qemu_version"))
           ? json_string_value (json_object_get (vm, "qemu_version")) : "-",
           json_is_string (json_object_get (vm, "machine"))
           ? json_string_value (json_object_get (vm, "machine")) : "-",
           json_is_string (json_object_get (rx, "from"))
           ? json_string_value (json_object_get (rx, "from")) : "", when);
}

int
cmd_list (const char *vm_dir, const char *run_dir, bool json)
{
  json_auto_t *vms = mig_inventory (vm_dir, run_dir);
  json_t *vm;
  size_t i;

  if (vms == NULL) {
    fprintf (stderr, "vmferry: list: %s\n", get_error ());
    return 1;
  }
  if (json) {
    json_auto_t *o = json_pack ("{s:O}", "vms", vms);
    json_dumpf (o, stdout, JSON_COMPACT);
    putchar ('\n');
    return 0;
  }
  printf ("%-16s %-13s %6s %2s %7s  %-8s %-14s %s\n", "NAME", "STATE",
          "MEMORY", "DK", "DISKS", "QEMU", "MACHINE", "RECEIVED FROM");
  json_array_foreach (vms, i, vm)
    print_row (stdout, vm);
  return 0;
}

int
cmd_start (const char *vm_dir, const char *name)
{
  CLEANUP_FREE char *def = NULL;
  pid_t pid;

  if (!mig_safe_name (name)) {
    fprintf (stderr, "vmferry: start: '%s' is not a VM name\n", name);
    return 1;
  }
  def = xasprintf ("%s/%s/definition.json", vm_dir, name);
  if (def && access (def, R_OK) == -1) {
    fprintf (stderr, "vmferry: start: %s has no saved definition (%s): "
             "vmferry starts only the VMs vmferryd received or stored "
             "here; start the others as you did before\n", name, def);
    return 1;
  }
  if (def == NULL || mig_dest_start_saved (def, vm_dir, &pid) == -1) {
    fprintf (stderr, "vmferry: %s\n", get_error ());
    return 1;
  }
  printf ("started %s (QEMU PID %d)\n", name, (int) pid);
  return 0;
}

int
cmd_stop (const char *vm_dir, const char *name, unsigned timeout_s)
{
  CLEANUP_FREE char *dot = xasprintf ("%s/%s.qmp", vm_dir, name);
  CLEANUP_FREE char *sub = xasprintf ("%s/%s/qmp.sock", vm_dir, name);
  const char *sock = dot && access (dot, F_OK) == 0 ? dot : sub;

  if (!mig_safe_name (name) || sock == NULL) {
    fprintf (stderr, "vmferry: stop: '%s' is not a VM name\n", name);
    return 1;
  }
  printf ("stopping %s: ", name);
  fflush (stdout);
  if (mig_vm_stop (sock, timeout_s ? (int) timeout_s : STOP_DEFAULT_S,
                   stdout) == -1) {
    printf ("failed\n");
    fprintf (stderr, "vmferry: stop %s: %s\n", name, get_error ());
    return 1;
  }
  return 0;
}
