/* property.h: the property every command line vm_generate() makes has,
 * checked on the text alone.  For the unit tests and the fuzz targets
 * (vm/test-generate.c, fuzz/fuzz-vm.c, fuzz/fuzz-control.c); not part
 * of libvm.
 */
#ifndef VMFERRY_VM_PROPERTY_H
#define VMFERRY_VM_PROPERTY_H

#include "vm.h"

/* 0 if argv, generated for layout l, starts with l->qemu and holds only
 * options of vm/'s table that QEMU may get (none refused or dropped),
 * and every path in it (a value starting with '/', after any "unix:",
 * "file:", "mon:" prefix) is one of l's disk images, lies under
 * l->run_dir, lies under one of l's read dirs (or the defaults), or is
 * /dev/urandom or /dev/random; free text (-append, keys the tables type
 * as text) and -cpu properties are not paths.  Else -1 + set_error
 * saying what.
 */
int vm_check_generated (char *const *argv, const struct vm_layout *l,
                        size_t n_disks);

#endif
