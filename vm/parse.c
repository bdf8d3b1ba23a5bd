/* parse.c: a QEMU command line into the canonical description.
 *
 * Each option is looked up in the table (options.c) and read by the
 * parser of its class.  A problem with one option is recorded in
 * desc->problems and parsing goes on, so that one run lists everything
 * that stands in the way.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

/* Read one value option (-kernel PATH, -vga std, -append TEXT). */
static int
parse_value (struct vm_opt *o, const char *arg, const char *cwd)
{
  struct vm_key k = { o->def->name, o->def->vtype, o->def->choices };

  o->value = vm_value_canon (&k, arg, cwd);
  return o->value ? 0 : -1;
}

/* Dispatch one option with its argument (NULL for a flag). */
static int
parse_one (struct vm_desc *d, struct vm_opt *o, const char *arg,
           const char *cwd)
{
  switch (o->def->form) {
  case VF_FLAG:
    if (strcmp (o->def->name, "enable-kvm") == 0)
      d->kvm = true;
    return 0;
  case VF_VALUE: return parse_value (o, arg, cwd);
  case VF_KEYVAL: return vm_parse_keyval (d, o, arg, cwd);
  case VF_BLOCKDEV: return vm_parse_blockdev (d, o, arg, cwd);
  case VF_DRIVE: return vm_parse_drive (d, o, arg, cwd);
  case VF_DISK: return vm_parse_disk_short (d, o, arg, cwd);
  case VF_CHARSPEC: return vm_parse_charspec (d, o, arg, cwd);
  case VF_CPU: return vm_parse_cpu (d, o, arg);
  case VF_GLOBAL: return vm_parse_global (d, o, arg);
  case VF_REFUSE:
    set_error (0, "not supported: %s", o->def->why);
    return -1;
  case VF_DROP:
    return 0;
  }
  return 0;
}

/* Is this the monitor or pidfile vmferryd gives a QEMU it starts (a VM
 * received here, leaving again)?  Dropped: the next vmferryd adds its
 * own.
 */
static bool
vmferry_own (const struct vm_optdef *def, const char *arg)
{
  static const char qmp[] = "/vmferry-qmp.sock,server=on,wait=off";
  static const char pid[] = "/vmferry-qemu.pid";
  size_t n = arg ? strlen (arg) : 0;

  if (strcmp (def->name, "qmp") == 0)
    return strncmp (arg, "unix:/", 6) == 0 && n > sizeof qmp &&
      strcmp (arg + n - (sizeof qmp - 1), qmp) == 0;
  if (strcmp (def->name, "pidfile") == 0)
    return n > sizeof pid && strcmp (arg + n - (sizeof pid - 1), pid) == 0;
  return false;
}

/* Parse option argv[*i] (and its argument); advance *i past them.
 * -1 only when out of memory; problems are recorded.
 */
static int
parse_option (struct vm_desc *d, char *const *argv, size_t *i,
              const char *cwd)
{
  const char *opt = argv[*i];
  const struct vm_optdef *def = vm_option_lookup (opt);
  const char *arg = NULL;
  struct vm_opt *o;

  (*i)++;
  if (def == NULL) {
    set_error (0, "QEMU option '%.80s' is not supported by vmferry%s", opt,
               opt[0] == '-' ? "" : " (not an option)");
    /* Its argument, if it has one, is not another option. */
    if (opt[0] == '-' && argv[*i] && argv[*i][0] != '-')
      (*i)++;
    return vm_problem (d, "command line", NULL);
  }
  if (def->arg) {
    if (argv[*i] == NULL) {
      set_error (0, "lacks its argument");
      return vm_problem (d, opt, NULL);
    }
    arg = argv[(*i)++];
  }
  if (def->form == VF_DROP || vmferry_own (def, arg))
    return 0;
  o = vm_desc_new_opt (d);
  if (o == NULL)
    return -1;
  o->def = def;
  clear_error ();
  if (parse_one (d, o, arg, cwd) == -1) {
    if (get_errno () == ENOMEM)
      return -1;
    if (vm_problem (d, opt, arg) == -1)
      return -1;
    /* Keep only options that parsed: the rest never reach QEMU. */
    vm_opt_clear (o);
    d->n_opts--;
  }
  return 0;
}

struct vm_desc *
vm_parse (char *const *argv, const char *cwd)
{
  struct vm_desc *d = calloc (1, sizeof *d);
  size_t i = 1;

  if (d == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  if (argv == NULL || argv[0] == NULL) {
    if (vm_add_problem (d, "empty command line") == -1)
      goto oom;
    return d;
  }
  if ((d->argv0 = strdup (argv[0])) == NULL)
    goto oom;
  while (argv[i])
    if (parse_option (d, argv, &i, cwd) == -1)
      goto oom;
  if (vm_parse_finish_blocks (d) == -1)
    goto oom;
  return d;
 oom:
  vm_desc_free (d);
  return NULL;
}
