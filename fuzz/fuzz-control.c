/* fuzz-control.c: libFuzzer target for the control API's validation of a
 * prepare request, as vmferryd applies it to a body from the network:
 * the body is parsed as the server parses it (server-request.c), the VM
 * description validated (mig_vm_from_json), its command line rewritten
 * for a layout under a temporary directory (mig_argv_rewrite), the
 * format each disk is opened with read off both command lines
 * (mig_argv_disk_format, as an offline move's prepare and a resumed
 * copy do), and the compatibility rules applied (mig_compat_check)
 * against the body's "facts" (fuzzed too) or a recorded destination.
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
#include "internal.h"
#include "compat.h"

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

/* The format argv opens path with: a format only with 1. */
static void
disk_format (char *const *argv, const char *path)
{
  char *f = NULL;
  int r;

  if (argv == NULL || argv[0] == NULL || path == NULL)
    return;
  r = mig_argv_disk_format (argv, path, &f);
  if ((r == 1) != (f != NULL) || r < -1 || r > 1)
    abort ();
  free (f);
}

/* Rewrite the VM's argv with every writable disk placed in the root, as
 * dest-prepare.c plans it, and check the result is well formed.
 */
static void
rewrite (struct mig_vm *vm)
{
  struct mig_layout l = {
    .qemu = "/usr/bin/qemu-system-x86_64", .run_dir = root (),
    .disks = vm->disks, .n_disks = vm->n_disks,
  };
  struct mig_rewritten rw = { 0 };
  size_t i;

  for (i = 0; i < vm->n_disks; i++) {
    struct mig_disk *k = &vm->disks[i];
    char *copy;

    if (k->read_only || k->shared || k->dest_path || k->path == NULL)
      continue;
    copy = strdup (k->path);
    if (copy == NULL)
      abort ();
    k->dest_path = xasprintf ("%s/%s", root (), basename (copy));
    free (copy);
  }
  if (mig_argv_rewrite (vm->argv, &l, &rw) == 0) {
    /* Every option the rewrite lets through is a string. */
    for (i = 0; rw.argv[i]; i++)
      if (strlen (rw.argv[i]) > 1 << 20)
        abort ();
  }
  for (i = 0; i < vm->n_disks; i++) {
    disk_format (vm->argv, vm->disks[i].path);
    disk_format (rw.argv, vm->disks[i].dest_path);
  }
  mig_rewritten_clear (&rw);
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
    rewrite (vm);
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
