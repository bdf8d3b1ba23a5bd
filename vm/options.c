/* options.c: the QEMU options vmferry knows, and how each is read.
 *
 * An option not in this table is refused, naming it.  Options the
 * destination sets itself (daemonizing, pidfile of its own, incoming
 * migration, the sandbox and the user QEMU runs as) are dropped; options
 * that cannot move are refused with what to do instead.
 */
#include <config.h>

#include "internal.h"

#define FLAG(n) { n, VF_FLAG, false }
#define DROP(n, a, w) { n, VF_DROP, a, .why = w }
#define REFUSE(n, a, w) { n, VF_REFUSE, a, .why = w }
#define VALUE(n, t) { n, VF_VALUE, true, t }
#define KEYVAL(n, imp, d) { n, VF_KEYVAL, true, .implied = imp, .drivers = d }
#define KEYVALJ(n, imp, d) { n, VF_KEYVAL, true, .implied = imp, \
                             .drivers = d, .json = true }

static const struct vm_optdef options[] = {
  /* kept as they are */
  FLAG ("nodefaults"), FLAG ("no-user-config"), FLAG ("enable-kvm"),
  FLAG ("no-reboot"), FLAG ("no-shutdown"), FLAG ("nographic"),
  FLAG ("no-hpet"), FLAG ("no-acpi"), FLAG ("only-migratable"),
  FLAG ("usb"), FLAG ("no-fd-bootchk"), FLAG ("mem-prealloc"),
  /* the destination decides these */
  DROP ("daemonize", false, "vmferryd starts QEMU"),
  DROP ("S", false, "the skeleton starts paused"),
  DROP ("incoming", true, "vmferryd sets the incoming migration"),
  DROP ("sandbox", true, "vmferryd sets its own sandbox"),
  DROP ("runas", true, "vmferryd runs QEMU as its own user"),
  DROP ("chroot", true, "vmferryd confines QEMU itself"),
  DROP ("d", true, "debug logging of this host"),
  DROP ("D", true, "debug logging of this host"),
  /* values */
  VALUE ("kernel", VT_READFILE), VALUE ("initrd", VT_READFILE),
  VALUE ("dtb", VT_READFILE), VALUE ("bios", VT_READFILE),
  VALUE ("L", VT_READDIR), VALUE ("append", VT_STR),
  VALUE ("uuid", VT_UUID), VALUE ("k", VT_TOKEN),
  VALUE ("pidfile", VT_RUNFILE),
  { "vga", VF_VALUE, true, VT_ENUM, vm_enum_vga },
  { "watchdog-action", VF_VALUE, true, VT_ENUM, vm_enum_watchdog_action },
  /* keyval options */
  KEYVAL ("machine", "type", vm_machine_schema),
  KEYVAL ("M", "type", vm_machine_schema),
  KEYVAL ("accel", "accel", vm_accel_drivers),
  KEYVAL ("m", "size", vm_memory_schema),
  KEYVAL ("smp", "cpus", vm_smp_schema),
  KEYVAL ("name", "guest", vm_name_schema),
  KEYVAL ("boot", "order", vm_boot_schema),
  KEYVAL ("rtc", NULL, vm_rtc_schema),
  KEYVAL ("display", "type", vm_display_drivers),
  KEYVAL ("vnc", "display", vm_vnc_schema),
  KEYVAL ("mon", NULL, vm_mon_schema),
  KEYVAL ("msg", NULL, vm_msg_schema),
  KEYVAL ("overcommit", NULL, vm_overcommit_schema),
  KEYVAL ("action", NULL, vm_action_schema),
  KEYVAL ("smbios", NULL, vm_smbios_schema),
  KEYVAL ("numa", "type", vm_numa_drivers),
  KEYVAL ("icount", "shift", vm_icount_schema),
  KEYVALJ ("device", "driver", vm_device_drivers),
  KEYVALJ ("netdev", "type", vm_netdev_drivers),
  KEYVAL ("nic", "type", vm_nic_drivers),
  KEYVAL ("chardev", "backend", vm_chardev_drivers),
  KEYVALJ ("object", "qom-type", vm_object_drivers),
  /* disks */
  { "blockdev", VF_BLOCKDEV, true, .json = true },
  { "drive", VF_DRIVE, true },
  { "hda", VF_DISK, true, .index = 0 },
  { "hdb", VF_DISK, true, .index = 1 },
  { "hdc", VF_DISK, true, .index = 2 },
  { "hdd", VF_DISK, true, .index = 3 },
  { "cdrom", VF_DISK, true, .index = -1 },
  /* character device shorthands */
  { "serial", VF_CHARSPEC, true },
  { "monitor", VF_CHARSPEC, true },
  { "qmp", VF_CHARSPEC, true },
  { "qmp-pretty", VF_CHARSPEC, true },
  { "parallel", VF_CHARSPEC, true },
  { "cpu", VF_CPU, true },
  { "global", VF_GLOBAL, true },
  /* refused, with what to do instead */
  REFUSE ("snapshot", false, "its writes live in a temporary file on the "
          "source: stop using -snapshot (or commit the writes) first"),
  REFUSE ("fda", true, "floppy disks cannot be migrated by vmferry"),
  REFUSE ("fdb", true, "floppy disks cannot be migrated by vmferry"),
  REFUSE ("net", true, "use -netdev with -device, or -nic"),
  REFUSE ("usbdevice", true, "use -device usb-tablet and the like"),
  REFUSE ("pflash", true, "firmware variable files are not supported yet"),
  REFUSE ("mem-path", true, "use -object memory-backend-memfd,hugetlb=on"),
  REFUSE ("add-fd", true, "descriptors of the source host cannot move"),
  REFUSE ("readconfig", true, "put the options on the command line"),
  REFUSE ("set", true, "put the options on the command line"),
  REFUSE ("virtfs", true, "host directories shared with the guest cannot "
          "be migrated"),
  REFUSE ("fsdev", true, "host directories shared with the guest cannot "
          "be migrated"),
  REFUSE ("spice", true, "use -vnc on a TCP port, or -display none"),
  REFUSE ("loadvm", true, "internal snapshots are not supported"),
  { NULL }
};

const struct vm_optdef *
vm_option_lookup (const char *arg)
{
  size_t i;

  if (arg[0] != '-')
    return NULL;
  arg++;
  if (arg[0] == '-')            /* QEMU accepts --opt as well as -opt */
    arg++;
  for (i = 0; options[i].name; i++)
    if (strcmp (options[i].name, arg) == 0)
      return &options[i];
  return NULL;
}
