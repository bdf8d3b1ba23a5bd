/* fuzz-vm.c: libFuzzer target for the canonical VM description (vm/):
 * any command line is parsed (vm_parse), and whenever it has no
 * problem, the destination's command line is generated for a layout
 * under a temporary directory and must have the property of property.h:
 * only allowed options, and no path outside the VM's images, its run
 * directory and the read dirs.  The wire form must parse back to the
 * same wire form.
 *
 * Input: the arguments, separated by NUL or newline bytes.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utils.h"
#include "vm.h"
#include "property.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The run directory of this process (made once, left empty). */
static const char *
root (void)
{
  static char dir[] = "/tmp/vmferry-fuzz-vm.XXXXXX";
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

/* data as argv: "qemu" then one argument per NUL- or newline-separated
 * piece.
 */
static char **
split (const uint8_t *data, size_t size)
{
  char *copy = malloc (size + 1), *p, *start;
  char **v = NULL;

  if (copy == NULL || strv_push (&v, "qemu") == -1)
    abort ();
  memcpy (copy, data, size);
  copy[size] = '\0';
  for (p = start = copy; p <= copy + size; p++)
    if (p == copy + size || *p == '\0' || *p == '\n') {
      *p = '\0';
      if (p > start && strv_push (&v, start) == -1)
        abort ();
      start = p + 1;
    }
  free (copy);
  return v;
}

/* The wire form parses back to itself. */
static void
round_trip (const struct vm_desc *d)
{
  char **w = vm_wire_argv (d), **w2;
  struct vm_desc *d2;
  size_t i;

  if (w == NULL)
    return;
  d2 = vm_parse (w, NULL);
  if (d2 == NULL || d2->problems || (w2 = vm_wire_argv (d2)) == NULL) {
    fprintf (stderr, "fuzz-vm: the wire form does not parse: %s\n",
             d2 && d2->problems ? d2->problems[0] : get_error ());
    abort ();
  }
  for (i = 0; w[i] || w2[i]; i++)
    if (w[i] == NULL || w2[i] == NULL || strcmp (w[i], w2[i]) != 0)
      abort ();
  strv_free (w2);
  strv_free (w);
  vm_desc_free (d2);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char **argv = split (data, size), **paths;
  struct vm_desc *d = vm_parse (argv, "/cwd");
  struct vm_layout l = { .qemu = "/usr/bin/qemu-system-x86_64",
                         .run_dir = root () };
  struct vm_cmdline c = { 0 };
  int *taps;
  size_t i;

  if (d == NULL || d->problems) {
    vm_desc_free (d);
    strv_free (argv);
    return 0;
  }
  round_trip (d);
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
    fprintf (stderr, "fuzz-vm: %s\n", get_error ());
    abort ();
  }
  vm_cmdline_clear (&c);
  for (i = 0; i < d->n_disks; i++)
    free (paths[i]);
  free (paths);
  free (taps);
  vm_desc_free (d);
  strv_free (argv);
  return 0;
}
