/* schema-misc.c: the allow-lists of the smaller options: -machine,
 * -accel, -m, -smp, -name, -boot, -rtc, -display, -vnc, -mon, -msg,
 * -overcommit, -action, -smbios, -numa, -icount and -global.
 *
 * Keys that load host files (-machine kernel=, firmware=, dtb=; -boot
 * splash=; -smbios file=; -icount rrfile=; -vnc unix sockets, TLS and
 * SASL) are not listed.
 */
#include <config.h>

#include "internal.h"

static const char *const on_off_auto[] = { "on", "off", "auto", NULL };
static const char *const machine_accel[] = { "kvm", "tcg", "kvm:tcg",
                                             "tcg:kvm", NULL };
static const char *const irqchip[] = { "on", "off", "split", NULL };
static const char *const tcg_thread[] = { "single", "multi", NULL };
static const char *const rtc_clock[] = { "host", "rt", "vm", NULL };
static const char *const driftfix[] = { "none", "slew", NULL };
static const char *const vnc_share[] = { "allow-exclusive", "force-shared",
                                         "ignore", NULL };
static const char *const mon_mode[] = { "readline", "control", NULL };
static const char *const act_reboot[] = { "reset", "shutdown", NULL };
static const char *const act_shutdown[] = { "poweroff", "pause", NULL };
static const char *const act_panic[] = { "pause", "shutdown",
                                         "exit-failure", "none", NULL };
const char *const vm_enum_watchdog_action[] = {
  "reset", "shutdown", "poweroff", "pause", "debug", "none", "inject-nmi",
  NULL
};
const char *const vm_enum_vga[] = { "std", "cirrus", "vmware", "qxl",
                                    "virtio", "none", NULL };
static const char *const lost_tick[] = { "delay", "discard", "merge",
                                         "slew", NULL };

static const struct vm_key machine_keys[] = {
  { "type", VT_TOKEN },
  { "accel", VT_ENUM, machine_accel },
  { "kernel-irqchip", VT_ENUM, irqchip },
  { "usb", VT_BOOL },
  { "dump-guest-core", VT_BOOL },
  { "mem-merge", VT_BOOL },
  { "vmport", VT_ENUM, on_off_auto },
  { "smm", VT_ENUM, on_off_auto },
  { "graphics", VT_BOOL },
  { "sata", VT_BOOL },
  { "smbus", VT_BOOL },
  { "pit", VT_ENUM, on_off_auto },
  { "hpet", VT_BOOL },
  { "i8042", VT_BOOL },
  { "max-ram-below-4g", VT_SIZE },
  { "memory-backend", VT_REF },
  { "acpi", VT_ENUM, on_off_auto },
  { "suppress-vmdesc", VT_BOOL },
  { "nvdimm", VT_BOOL },
  { "hmat", VT_BOOL },
  { "default-bus-bypass-iommu", VT_BOOL },
  { NULL }
};
const struct vm_driver vm_machine_schema[] = {
  { NULL, { machine_keys } }
};

static const struct vm_key kvm_keys[] = {
  { "kernel-irqchip", VT_ENUM, irqchip },
  { "kvm-shadow-mem", VT_SIZE },
  { "dirty-ring-size", VT_UINT },
  { NULL }
};
static const struct vm_key tcg_keys[] = {
  { "thread", VT_ENUM, tcg_thread },
  { "tb-size", VT_UINT },
  { "split-wx", VT_BOOL },
  { NULL }
};
const struct vm_driver vm_accel_drivers[] = {
  { "kvm", { kvm_keys } },
  { "tcg", { tcg_keys } },
  { NULL }
};

/* -m: size is in MiB without a suffix (parse-keyval.c handles it). */
static const struct vm_key memory_keys[] = {
  { "size", VT_SIZE },
  { "slots", VT_UINT },
  { "maxmem", VT_SIZE },
  { NULL }
};
const struct vm_driver vm_memory_schema[] = {
  { NULL, { memory_keys } }
};

static const struct vm_key smp_keys[] = {
  { "cpus", VT_UINT },
  { "maxcpus", VT_UINT },
  { "sockets", VT_UINT },
  { "dies", VT_UINT },
  { "clusters", VT_UINT },
  { "cores", VT_UINT },
  { "threads", VT_UINT },
  { "books", VT_UINT },
  { "drawers", VT_UINT },
  { NULL }
};
const struct vm_driver vm_smp_schema[] = {
  { NULL, { smp_keys } }
};

static const struct vm_key name_keys[] = {
  { "guest", VT_STR },
  { "process", VT_TOKEN },
  { "debug-threads", VT_BOOL },
  { NULL }
};
const struct vm_driver vm_name_schema[] = {
  { NULL, { name_keys } }
};

static const struct vm_key boot_keys[] = {
  { "order", VT_TOKEN },
  { "once", VT_TOKEN },
  { "menu", VT_BOOL },
  { "splash-time", VT_UINT },
  { "reboot-timeout", VT_INT },
  { "strict", VT_BOOL },
  { NULL }
};
const struct vm_driver vm_boot_schema[] = {
  { NULL, { boot_keys } }
};

static const struct vm_key rtc_keys[] = {
  { "base", VT_TOKEN },
  { "clock", VT_ENUM, rtc_clock },
  { "driftfix", VT_ENUM, driftfix },
  { NULL }
};
const struct vm_driver vm_rtc_schema[] = {
  { NULL, { rtc_keys } }
};

const struct vm_driver vm_display_drivers[] = {
  { "none", { NULL } },
  { NULL }
};

static const struct vm_key vnc_keys[] = {
  { "display", VT_TOKEN },
  { "to", VT_UINT },
  { "ipv4", VT_BOOL },
  { "ipv6", VT_BOOL },
  { "share", VT_ENUM, vnc_share },
  { "lossy", VT_BOOL },
  { "non-adaptive", VT_BOOL },
  { "key-delay-ms", VT_UINT },
  { "password", VT_BOOL },
  { "power-control", VT_BOOL },
  { NULL }
};
const struct vm_driver vm_vnc_schema[] = {
  { NULL, { vnc_keys } }
};

static const struct vm_key mon_keys[] = {
  { "chardev", VT_REF },
  { "mode", VT_ENUM, mon_mode },
  { "pretty", VT_BOOL },
  { NULL }
};
const struct vm_driver vm_mon_schema[] = {
  { NULL, { mon_keys } }
};

static const struct vm_key msg_keys[] = {
  { "timestamp", VT_BOOL },
  { "guest-name", VT_BOOL },
  { NULL }
};
const struct vm_driver vm_msg_schema[] = {
  { NULL, { msg_keys } }
};

static const struct vm_key overcommit_keys[] = {
  { "mem-lock", VT_BOOL },
  { "cpu-pm", VT_BOOL },
  { NULL }
};
const struct vm_driver vm_overcommit_schema[] = {
  { NULL, { overcommit_keys } }
};

static const struct vm_key action_keys[] = {
  { "reboot", VT_ENUM, act_reboot },
  { "shutdown", VT_ENUM, act_shutdown },
  { "panic", VT_ENUM, act_panic },
  { "watchdog", VT_ENUM, vm_enum_watchdog_action },
  { NULL }
};
const struct vm_driver vm_action_schema[] = {
  { NULL, { action_keys } }
};

static const struct vm_key smbios_keys[] = {
  { "type", VT_UINT },
  { "vendor", VT_STR },
  { "version", VT_STR },
  { "date", VT_STR },
  { "release", VT_STR },
  { "uefi", VT_BOOL },
  { "manufacturer", VT_STR },
  { "product", VT_STR },
  { "serial", VT_STR },
  { "uuid", VT_UUID },
  { "sku", VT_STR },
  { "family", VT_STR },
  { "asset", VT_STR },
  { "location", VT_STR },
  { "part", VT_STR },
  { "speed", VT_UINT },
  { "max-speed", VT_UINT },
  { "current-speed", VT_UINT },
  { "value", VT_STR },
  { NULL }
};
const struct vm_driver vm_smbios_schema[] = {
  { NULL, { smbios_keys } }
};

static const struct vm_key numa_node_keys[] = {
  { "nodeid", VT_UINT },
  { "cpus", VT_TOKEN, NULL, VK_LIST },
  { "memdev", VT_REF },
  { "initiator", VT_UINT },
  { NULL }
};
static const struct vm_key numa_dist_keys[] = {
  { "src", VT_UINT },
  { "dst", VT_UINT },
  { "val", VT_UINT },
  { NULL }
};
static const struct vm_key numa_cpu_keys[] = {
  { "node-id", VT_UINT },
  { "socket-id", VT_UINT },
  { "die-id", VT_UINT },
  { "core-id", VT_UINT },
  { "thread-id", VT_UINT },
  { NULL }
};
const struct vm_driver vm_numa_drivers[] = {
  { "node", { numa_node_keys } },
  { "dist", { numa_dist_keys } },
  { "cpu", { numa_cpu_keys } },
  { NULL }
};

static const struct vm_key icount_keys[] = {
  { "shift", VT_TOKEN },
  { "align", VT_BOOL },
  { "sleep", VT_BOOL },
  { NULL }
};
const struct vm_driver vm_icount_schema[] = {
  { NULL, { icount_keys } }
};

/* -global DRIVER.PROPERTY=VALUE: properties known to be safe. */
const struct vm_key vm_global_keys[] = {
  { "kvm-pit.lost_tick_policy", VT_ENUM, lost_tick },
  { "ICH9-LPC.disable_s3", VT_UINT },
  { "ICH9-LPC.disable_s4", VT_UINT },
  { "PIIX4_PM.disable_s3", VT_UINT },
  { "PIIX4_PM.disable_s4", VT_UINT },
  { "mch.extended-tseg-mbytes", VT_UINT },
  { "virtio-pci.disable-legacy", VT_ENUM, on_off_auto },
  { NULL }
};
