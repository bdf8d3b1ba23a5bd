/* vmferry-home.h: vmferry list, start, stop (vmferry-home.c).  Each
 * returns vmferry's exit code (0, or 1 with the error printed).
 */
#ifndef VMFERRY_CMD_HOME_H
#define VMFERRY_CMD_HOME_H

#include <stdbool.h>

int cmd_list (const char *vm_dir, const char *run_dir, bool json);
int cmd_start (const char *vm_dir, const char *name);
int cmd_stop (const char *vm_dir, const char *name, unsigned timeout_s);

#endif
