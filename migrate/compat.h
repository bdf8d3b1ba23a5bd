/* compat.h: the compatibility report (private to migrate/).
 *
 * A pure function of two JSON documents, so that vmferry check, vmferry
 * migrate's preflight and vmferryd's prepare apply the same rules, and
 * unit tests can drive every rule with recorded facts:
 *
 * src: the VM description sent on the wire (mig_vm_to_json): name,
 *   qemu_version, machine, memory, cpu_vendor, disks[] (allocated,
 *   read_only), and the facts vm.c gathers: kvm, cpu_model,
 *   cpu_features[] (enabled features, static expansion), cpu_model_name
 *   (the source host's /proc/cpuinfo "model name"), blocked_reasons[],
 *   passthrough[], bridges[], command_line[] (what the canonical
 *   description of the command line refuses, vm.h).
 * dst: what the destination agent knows about itself (dest-check.c):
 *   qemu, qemu_version, kvm, machines[] {name, deprecated},
 *   cpu_vendor, cpu_model_name, cpu_models[] {name, unavailable[]},
 *   cpu_features[] (what its "max" model offers), mem_available,
 *   storage_free, bridges[], ports_error (a string when it cannot
 *   listen on its data address).
 *
 * Both come from another host: a missing or mistyped field yields a
 * finding ("cannot tell"), never a crash.
 */
#ifndef VMFERRY_MIGRATE_COMPAT_H
#define VMFERRY_MIGRATE_COMPAT_H

#include <stdbool.h>
#include <jansson.h>

/* Every rule applied to src and dst.  Returns a new JSON array of
 * findings {"id", "severity": "error"|"warning"|"info", "message",
 * "fix" (string or null)}, in a stable order; NULL only when out of
 * memory.
 */
json_t *mig_compat_check (json_t *src, json_t *dst);

/* Does the list hold a finding of severity "error"? */
bool mig_compat_has_error (json_t *findings);

/* The error findings' messages joined by "; " (malloc'd), for a one
 * line refusal.
 */
char *mig_compat_errors_text (json_t *findings);

#endif
