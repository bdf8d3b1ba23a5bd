/* common.h: helpers shared by the two mains (argument parsing only). */
#ifndef VMFERRY_CMD_COMMON_H
#define VMFERRY_CMD_COMMON_H

#include <stdint.h>

#define VMFERRY_DEFAULT_PORT 7480
#define VMFERRY_DEFAULT_TLS_DIR "/etc/pki/vmferry"

/* Split "ADDR[:PORT]" / "[V6]:PORT" into a malloc'd *addr and *port
 * (unchanged when absent; 0 is accepted: vmferryd then picks a port).  -1 + set_error if malformed.
 */
int cmd_parse_hostport (const char *s, char **addr, int *port);

/* Block SIGINT, SIGTERM and SIGHUP and return a signalfd that becomes
 * readable when one arrives (used as the cancel / stop descriptor).
 */
int cmd_signal_fd (void);

/* Parse a decimal number in [min, max] for option opt into *out.
 * -1 + set_error.
 */
int cmd_parse_uint (const char *s, const char *opt, uint64_t min,
                    uint64_t max, uint64_t *out);

/* Parse a duration ("90", "90s", "10m", "1h", "2d"; > 0, at most a
 * year) for option opt into *out seconds.  -1 + set_error.
 */
int cmd_parse_duration (const char *s, const char *opt, uint64_t *out);

#endif
