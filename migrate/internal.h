/* internal.h: private to migrate/. */
#ifndef VMFERRY_MIGRATE_INTERNAL_H
#define VMFERRY_MIGRATE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "utils.h"
#include "qmp.h"
#include "api.h"
#include "vm.h"
#include "storage.h"
#include "migrate.h"

/* ---- ssh.c: the one-shot over ssh ---- */

struct mig_ssh_target {
  char *user;                   /* NULL: ssh's default */
  char *host;                   /* name or IP literal (no brackets) */
  char *port;                   /* digits, NULL: ssh's default */
};

/* Split "ssh://[USER@]HOST[:PORT]" ("[V6]" for an IPv6 HOST).  A user
 * or host that starts with '-' (an ssh option) or holds '/', '@',
 * quotes, backslashes or white space is refused.  -1 + set_error.
 */
int mig_ssh_parse_target (const char *target, struct mig_ssh_target *tg);
void mig_ssh_target_clear (struct mig_ssh_target *tg);

/* s as one sh word in single quotes (malloc'd). */
char *mig_sh_quote (const char *s);

#endif /* VMFERRY_MIGRATE_INTERNAL_H */
