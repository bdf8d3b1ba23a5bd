/* fuzz-control.c: libFuzzer target for the control API's validation of a
 * prepare request, as vmferryd applies it to a body from the network:
 * the body is parsed as the server parses it (server-request.c), the VM
 * description validated (mig_vm_from_json), its command line parsed
 * and generated for a layout under a temporary directory (vm.h), the
 * result checked for the property of property.h, and the
 * compatibility rules applied (mig_compat_check) against the body's
 * "facts" (fuzzed too) or a recorded destination.
 *
 * Input: a JSON object {"vm": description, "facts": destination facts}.
 */
#include <config.h>

#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utils.h"
#include "vm.h"
#include "property.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A recorded destination (QEMU 7.2 on x86_64, shortened). */
static const char dst_text[] =
  "{\"qemu\": \"/usr/bin/qemu-system-x86_64\", \"qemu_version\": 70222,"
  " \"kvm\": false, \"cpu_vendor\": \"GenuineIntel\","
  " \"cpu_model_name\": \"Intel(R) Xeon(R) CPU @ 2.20GHz\","
  " \"machines\": [{\"name\": \"pc-q35-7.2\", \"deprecated\": false}],"
  " \"cpu_models\": [{\"name\": \"qemu64\", \"unavailable\": []}],"
  " \"cpu_features\": [\"sse2\", \"lm\", \"syscall\"],"
  " \"mem_available\": 4294967296, \"storage_free\": 10737418240,"
  " \"bridges\": [\"br0\"]}";

/* The storage and run roots of this process (made once, left empty:
 * nothing below writes to them).
 */
static const char *
root (void)
{
  static char dir[] = "/tmp/vmferry-fuzz-control.XXXXXX";
  static int made;

  if (!made) {
    if (mkdtemp (dir) == NULL) {
      perror ("mkdtemp");
      abort ();
    }
    made = 1;
  }
  return dir;
}

/* Parse the VM's command line and generate the destination's, with
 * every writable disk placed in the root, as dest-vm.c does; whatever
 * is generated must have the property of property.h.
 */
static void
generate (struct mig_vm *vm)
{
  struct vm_desc *d = vm_parse (vm->argv, NULL);
  struct vm_layout l = { .qemu = "/usr/bin/qemu-system-x86_64",
                         .run_dir = root () };
  struct vm_cmdline c = { 0 };
  char **paths;
  int *taps;
  size_t i;

  if (d == NULL || d->problems) {
    vm_desc_free (d);
    return;
  }
  paths = calloc (d->n_disks + 1, sizeof *paths);
  taps = calloc (d->n_nets + 1, sizeof *taps);
  if (paths == NULL || taps == NULL)
    abort ();
  for (i = 0; i < d->n_disks; i++)
    if (!d->disks[i].read_only)
      paths[i] = xasprintf ("%s/disk%zu", root (), i);
  for (i = 0; i < d->n_nets; i++)
    taps[i] = 100 + i;
  l.disk_paths = paths;
  l.tap_fds = taps;
  if (vm_generate (d, &l, &c) == 0 &&
      vm_check_generated (c.argv, &l, d->n_disks) == -1) {
    fprintf (stderr, "fuzz-control: %s\n", get_error ());
    abort ();
  }
  vm_cmdline_clear (&c);
  for (i = 0; i < d->n_disks; i++)
    free (paths[i]);
  free (paths);
  free (taps);
  vm_desc_free (d);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  json_t *body, *facts, *dst, *findings;
  struct mig_vm *vm;
  char *text;

  body = json_loadb ((const char *) data, size, JSON_REJECT_DUPLICATES,
                     NULL);
  if (!json_is_object (body)) {
    json_decref (body);
    return 0;
  }
  vm = mig_vm_from_json (json_object_get (body, "vm"));
  if (vm) {
    generate (vm);
    mig_vm_free (vm);
  }
  /* The rules run on any description: mig_compat_check must not trust it. */
  facts = json_object_get (body, "facts");
  dst = facts ? json_incref (facts) : json_loads (dst_text, 0, NULL);
  findings = mig_compat_check (json_object_get (body, "vm"), dst);
  if (findings) {
    mig_compat_has_error (findings);
    text = mig_compat_errors_text (findings);
    free (text);
    json_decref (findings);
  }
  json_decref (dst);
  json_decref (body);
  return 0;
}
