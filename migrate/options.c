/* options.c: what vmferry knows about QEMU's command line options.
 *
 * The destination agent must never start a QEMU that opens host files or
 * devices nobody accounted for, so options are allow-listed: each known
 * option has a class saying how it is carried to the destination.  An
 * option not in the table is refused with a clear message.
 */
#include <config.h>

#include "internal.h"
#include "options.h"

static const struct mig_option options[] = {
  /* Dropped: the destination agent sets its own. */
  { "daemonize", OPT_FLAG, OPT_DROP },
  { "S", OPT_FLAG, OPT_DROP },
  { "pidfile", OPT_ARG, OPT_PIDFILE },
  { "incoming", OPT_ARG, OPT_DROP },
  /* Flags kept as they are. */
  { "nodefaults", OPT_FLAG, OPT_KEEP },
  { "no-user-config", OPT_FLAG, OPT_KEEP },
  { "enable-kvm", OPT_FLAG, OPT_KEEP },
  { "no-reboot", OPT_FLAG, OPT_KEEP },
  { "no-shutdown", OPT_FLAG, OPT_KEEP },
  { "nographic", OPT_FLAG, OPT_KEEP },
  { "no-hpet", OPT_FLAG, OPT_KEEP },
  { "no-acpi", OPT_FLAG, OPT_KEEP },
  { "only-migratable", OPT_FLAG, OPT_KEEP },
  { "usb", OPT_FLAG, OPT_KEEP },
  { "no-fd-bootchk", OPT_FLAG, OPT_KEEP },
  /* Options whose argument carries no host path. */
  { "name", OPT_ARG, OPT_KEEP },
  { "machine", OPT_ARG, OPT_KEEP },
  { "M", OPT_ARG, OPT_KEEP },
  { "accel", OPT_ARG, OPT_KEEP },
  { "cpu", OPT_ARG, OPT_KEEP },
  { "m", OPT_ARG, OPT_KEEP },
  { "smp", OPT_ARG, OPT_KEEP },
  { "append", OPT_ARG, OPT_KEEP },
  { "display", OPT_ARG, OPT_KEEP },
  { "vga", OPT_ARG, OPT_KEEP },
  { "vnc", OPT_ARG, OPT_KEEP },
  { "rtc", OPT_ARG, OPT_KEEP },
  { "boot", OPT_ARG, OPT_KEEP },
  { "global", OPT_ARG, OPT_KEEP },
  { "k", OPT_ARG, OPT_KEEP },
  { "uuid", OPT_ARG, OPT_KEEP },
  { "sandbox", OPT_ARG, OPT_KEEP },
  { "msg", OPT_ARG, OPT_KEEP },
  { "overcommit", OPT_ARG, OPT_KEEP },
  { "numa", OPT_ARG, OPT_KEEP },
  { "icount", OPT_ARG, OPT_KEEP },
  { "action", OPT_ARG, OPT_KEEP },
  { "d", OPT_ARG, OPT_KEEP },
  { "mon", OPT_ARG, OPT_KEEP },
  { "watchdog-action", OPT_ARG, OPT_KEEP },
  { "smbios", OPT_ARG, OPT_KEEP },
  /* Files the VM only reads: they must exist on the destination. */
  { "kernel", OPT_ARG, OPT_READ_FILE },
  { "initrd", OPT_ARG, OPT_READ_FILE },
  { "dtb", OPT_ARG, OPT_READ_FILE },
  { "bios", OPT_ARG, OPT_READ_FILE },
  { "L", OPT_ARG, OPT_READ_FILE },
  /* Files the VM writes: they move into the run directory. */
  { "D", OPT_ARG, OPT_RUN_FILE },
  /* Options that need a closer look. */
  { "chardev", OPT_ARG, OPT_CHARDEV },
  { "serial", OPT_ARG, OPT_CHARSPEC },
  { "monitor", OPT_ARG, OPT_CHARSPEC },
  { "qmp", OPT_ARG, OPT_CHARSPEC },
  { "qmp-pretty", OPT_ARG, OPT_CHARSPEC },
  { "parallel", OPT_ARG, OPT_CHARSPEC },
  { "blockdev", OPT_ARG, OPT_BLOCKDEV },
  { "drive", OPT_ARG, OPT_DRIVE },
  { "device", OPT_ARG, OPT_DEVICE },
  { "netdev", OPT_ARG, OPT_NETDEV },
  { "nic", OPT_ARG, OPT_NETDEV },
  { "object", OPT_ARG, OPT_OBJECT },
};

const struct mig_option *
mig_option_lookup (const char *arg)
{
  size_t i;

  if (arg[0] != '-')
    return NULL;
  arg++;
  if (arg[0] == '-')            /* QEMU accepts --opt as well as -opt */
    arg++;
  for (i = 0; i < sizeof options / sizeof options[0]; i++)
    if (strcmp (options[i].name, arg) == 0)
      return &options[i];
  return NULL;
}

/* Device drivers that hand a host device to the guest. */
static const char *const passthrough_devices[] = {
  "vfio-pci", "vfio-ccw", "vfio-ap", "vfio-platform", "vfio-user-pci",
  "usb-host", "scsi-generic", "scsi-block", "pci-assign", "vhost-scsi",
  "vhost-user-blk", "vhost-user-blk-pci", "vhost-user-fs-pci",
  "vhost-vsock-pci", "u2f-passthru", "ccid-card-passthru", "nvme-subsys",
};

bool
mig_device_is_passthrough (const char *driver)
{
  size_t i;

  for (i = 0; i < sizeof passthrough_devices / sizeof *passthrough_devices;
       i++)
    if (strcmp (driver, passthrough_devices[i]) == 0)
      return true;
  return false;
}

/* Block drivers that open a host device rather than an image file. */
bool
mig_blockdrv_is_host (const char *driver)
{
  return strcmp (driver, "host_device") == 0 ||
    strcmp (driver, "host_cdrom") == 0;
}
