/* common.h: helpers shared by the two mains (argument parsing only). */
#ifndef VMFERRY_CMD_COMMON_H
#define VMFERRY_CMD_COMMON_H

#include <stdint.h>

#define VMFERRY_DEFAULT_PORT 7480
#define VMFERRY_DEFAULT_TLS_DIR "/etc/pki/vmferry"
/* Where vmferry finds this host's VMs and vmferryd registers the VMs it
 * receives (vmferry --vm-dir, vmferryd --vm-dir).
 */
#define VMFERRY_DEFAULT_VM_DIR "/run/vmferry/vms"

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

/* Parse a rate for option opt into *out bytes per second: a decimal
 * number of MiB ("0.5", "100"), or with a unit K, M, G (also KiB, MiB,
 * GiB; powers of 1024; any case).  From 1 KiB/s to 1 TiB/s.  -1 +
 * set_error.
 */
int cmd_parse_bandwidth (const char *s, const char *opt, uint64_t *out);

/* Are the files (NULL-terminated names) in dir readable?  -1 +
 * set_error naming the first that is not.
 */
int cmd_check_tls_files (const char *dir, const char *const *files);

#endif
