/* schema-device.c: the -device models a migrated VM may have, and their
 * keys.  Emulated and paravirtual devices only: no pass-through (vfio,
 * usb-host, scsi-generic/block, vhost-user, vhost-scsi), nothing that
 * loads or exposes host files (loader, romfile=, usb-mtp, virtio-9p).
 */
#include <config.h>

#include "internal.h"

static const char *const on_off_auto[] = { "on", "off", "auto", NULL };
static const char *const rerror[] = { "ignore", "report", "stop", NULL };
static const char *const werror[] = { "enospc", "ignore", "report", "stop",
                                      NULL };
static const char *const duplex[] = { "full", "half", NULL };
static const char *const chs_trans[] = { "none", "lba", "large", "rechs",
                                         "auto", NULL };
static const char *const on_off_auto_msi[] = { "on", "off", "auto", NULL };

/* Every device. */
static const struct vm_key dev_keys[] = {
  { "id", VT_ID },
  { "bus", VT_TOKEN },
  { NULL }
};

/* Every PCI device. */
static const struct vm_key pci_keys[] = {
  { "addr", VT_TOKEN },
  { "multifunction", VT_BOOL },
  { "rombar", VT_UINT },
  { "x-pcie-lnksta-dllla", VT_BOOL },
  { "failover_pair_id", VT_REF },
  { "disable-legacy", VT_ENUM, on_off_auto },
  { "disable-modern", VT_BOOL },
  { "vectors", VT_UINT },
  { "ioeventfd", VT_BOOL },
  { "event_idx", VT_BOOL },
  { "indirect_desc", VT_BOOL },
  { "iommu_platform", VT_BOOL },
  { "ats", VT_BOOL },
  { "packed", VT_BOOL },
  { "page-per-vq", VT_BOOL },
  { "any_layout", VT_BOOL },
  { NULL }
};

static const struct vm_key blk_common[] = {
  { "drive", VT_REF },
  { "bootindex", VT_INT },
  { "serial", VT_STR },
  { "share-rw", VT_BOOL },
  { "logical_block_size", VT_SIZE },
  { "physical_block_size", VT_SIZE },
  { "min_io_size", VT_SIZE },
  { "opt_io_size", VT_SIZE },
  { "discard_granularity", VT_SIZE },
  { "write-cache", VT_ENUM, on_off_auto },
  { "rerror", VT_ENUM, rerror },
  { "werror", VT_ENUM, werror },
  { "cyls", VT_UINT },
  { "heads", VT_UINT },
  { "secs", VT_UINT },
  { NULL }
};

static const struct vm_key virtio_blk_keys[] = {
  { "num-queues", VT_UINT },
  { "queue-size", VT_UINT },
  { "discard", VT_BOOL },
  { "write-zeroes", VT_BOOL },
  { "iothread", VT_REF },
  { "config-wce", VT_BOOL },
  { "seg-max-adjust", VT_BOOL },
  { "max-discard-sectors", VT_UINT },
  { "max-write-zeroes-sectors", VT_UINT },
  { NULL }
};

static const struct vm_key scsi_disk_keys[] = {
  { "scsi-id", VT_UINT },
  { "lun", VT_UINT },
  { "channel", VT_UINT },
  { "vendor", VT_STR },
  { "product", VT_STR },
  { "ver", VT_STR },
  { "wwn", VT_UINT },
  { "removable", VT_BOOL },
  { "rotation_rate", VT_UINT },
  { "device_id", VT_STR },
  { "dpofua", VT_BOOL },
  { NULL }
};

static const struct vm_key ide_disk_keys[] = {
  { "unit", VT_UINT },
  { "model", VT_STR },
  { "ver", VT_STR },
  { "wwn", VT_UINT },
  { "rotation_rate", VT_UINT },
  { "bios-chs-trans", VT_ENUM, chs_trans },
  { NULL }
};

static const struct vm_key virtio_scsi_keys[] = {
  { "num_queues", VT_UINT },
  { "virtqueue_size", VT_UINT },
  { "iothread", VT_REF },
  { "cmd_per_lun", VT_UINT },
  { "max_sectors", VT_UINT },
  { "hotplug", VT_BOOL },
  { "param_change", VT_BOOL },
  { NULL }
};

static const struct vm_key nic_keys[] = {
  { "netdev", VT_REF },
  { "mac", VT_MAC },
  { "bootindex", VT_INT },
  { NULL }
};

static const struct vm_key virtio_net_keys[] = {
  { "mq", VT_BOOL },
  { "rx_queue_size", VT_UINT },
  { "tx_queue_size", VT_UINT },
  { "host_mtu", VT_UINT },
  { "speed", VT_INT },
  { "duplex", VT_ENUM, duplex },
  { "failover", VT_BOOL },
  { "csum", VT_BOOL },
  { "guest_csum", VT_BOOL },
  { "gso", VT_BOOL },
  { "guest_tso4", VT_BOOL },
  { "guest_tso6", VT_BOOL },
  { "guest_ecn", VT_BOOL },
  { "guest_ufo", VT_BOOL },
  { "host_tso4", VT_BOOL },
  { "host_tso6", VT_BOOL },
  { "host_ecn", VT_BOOL },
  { "host_ufo", VT_BOOL },
  { "mrg_rxbuf", VT_BOOL },
  { "status", VT_BOOL },
  { "ctrl_vq", VT_BOOL },
  { "ctrl_rx", VT_BOOL },
  { "ctrl_vlan", VT_BOOL },
  { "ctrl_mac_addr", VT_BOOL },
  { "rss", VT_BOOL },
  { "hash", VT_BOOL },
  { NULL }
};

static const struct vm_key e1000_keys[] = {
  { "autonegotiation", VT_BOOL },
  { "mitigation", VT_BOOL },
  { NULL }
};

static const struct vm_key rng_keys[] = {
  { "rng", VT_REF },
  { "max-bytes", VT_UINT },
  { "period", VT_UINT },
  { NULL }
};

static const struct vm_key balloon_keys[] = {
  { "deflate-on-oom", VT_BOOL },
  { "free-page-reporting", VT_BOOL },
  { "free-page-hint", VT_BOOL },
  { NULL }
};

static const struct vm_key serial_pci_keys[] = {
  { "max_ports", VT_UINT },
  { NULL }
};

static const struct vm_key virtport_keys[] = {
  { "chardev", VT_REF },
  { "name", VT_TOKEN },
  { "nr", VT_UINT },
  { NULL }
};

static const struct vm_key usb_dev_keys[] = {
  { "port", VT_TOKEN },
  { "usb_version", VT_UINT },
  { "msos-desc", VT_BOOL },
  { NULL }
};

static const struct vm_key xhci_keys[] = {
  { "p2", VT_UINT },
  { "p3", VT_UINT },
  { "streams", VT_BOOL },
  { NULL }
};

static const struct vm_key uhci_keys[] = {
  { "masterbus", VT_TOKEN },
  { "firstport", VT_UINT },
  { NULL }
};

static const struct vm_key root_port_keys[] = {
  { "chassis", VT_UINT },
  { "slot", VT_UINT },
  { "port", VT_UINT },
  { NULL }
};

static const struct vm_key pci_bridge_keys[] = {
  { "chassis_nr", VT_UINT },
  { "msi", VT_ENUM, on_off_auto_msi },
  { "shpc", VT_BOOL },
  { NULL }
};

static const struct vm_key isa_serial_keys[] = {
  { "chardev", VT_REF },
  { "index", VT_UINT },
  { "iobase", VT_UINT },
  { "irq", VT_UINT },
  { NULL }
};

static const struct vm_key vga_keys[] = {
  { "vgamem_mb", VT_UINT },
  { "xres", VT_UINT },
  { "yres", VT_UINT },
  { "edid", VT_BOOL },
  { NULL }
};

static const struct vm_key pvpanic_keys[] = {
  { "ioport", VT_UINT },
  { NULL }
};

static const struct vm_key none[] = { { NULL } };

const struct vm_driver vm_device_drivers[] = {
  /* disks */
  { "virtio-blk-pci", { dev_keys, pci_keys, blk_common, virtio_blk_keys } },
  { "virtio-blk", { dev_keys, blk_common, virtio_blk_keys } },
  { "scsi-hd", { dev_keys, blk_common, scsi_disk_keys } },
  { "scsi-cd", { dev_keys, blk_common, scsi_disk_keys } },
  { "ide-hd", { dev_keys, blk_common, ide_disk_keys } },
  { "ide-cd", { dev_keys, blk_common, ide_disk_keys } },
  { "virtio-scsi-pci", { dev_keys, pci_keys, virtio_scsi_keys } },
  /* network */
  { "virtio-net-pci", { dev_keys, pci_keys, nic_keys, virtio_net_keys } },
  { "virtio-net", { dev_keys, nic_keys, virtio_net_keys } },
  { "e1000", { dev_keys, pci_keys, nic_keys, e1000_keys } },
  { "e1000e", { dev_keys, pci_keys, nic_keys } },
  { "rtl8139", { dev_keys, pci_keys, nic_keys } },
  /* the rest people add */
  { "virtio-rng-pci", { dev_keys, pci_keys, rng_keys } },
  { "virtio-balloon-pci", { dev_keys, pci_keys, balloon_keys } },
  { "virtio-balloon", { dev_keys, pci_keys, balloon_keys } },
  { "virtio-serial-pci", { dev_keys, pci_keys, serial_pci_keys } },
  { "virtconsole", { dev_keys, virtport_keys } },
  { "virtserialport", { dev_keys, virtport_keys } },
  { "usb-tablet", { dev_keys, usb_dev_keys } },
  { "usb-kbd", { dev_keys, usb_dev_keys } },
  { "usb-mouse", { dev_keys, usb_dev_keys } },
  { "qemu-xhci", { dev_keys, pci_keys, xhci_keys } },
  { "nec-usb-xhci", { dev_keys, pci_keys, xhci_keys } },
  { "usb-ehci", { dev_keys, pci_keys } },
  { "ich9-usb-ehci1", { dev_keys, pci_keys } },
  { "piix3-usb-uhci", { dev_keys, pci_keys, uhci_keys } },
  { "ich9-usb-uhci1", { dev_keys, pci_keys, uhci_keys } },
  { "ich9-usb-uhci2", { dev_keys, pci_keys, uhci_keys } },
  { "ich9-usb-uhci3", { dev_keys, pci_keys, uhci_keys } },
  { "pcie-root-port", { dev_keys, pci_keys, root_port_keys } },
  { "pci-bridge", { dev_keys, pci_keys, pci_bridge_keys } },
  { "pcie-pci-bridge", { dev_keys, pci_keys } },
  { "isa-serial", { dev_keys, isa_serial_keys } },
  { "VGA", { dev_keys, pci_keys, vga_keys } },
  { "virtio-vga", { dev_keys, pci_keys, vga_keys } },
  { "virtio-gpu-pci", { dev_keys, pci_keys, vga_keys } },
  { "cirrus-vga", { dev_keys, pci_keys, vga_keys } },
  { "qxl-vga", { dev_keys, pci_keys, vga_keys } },
  { "bochs-display", { dev_keys, pci_keys, vga_keys } },
  { "virtio-keyboard-pci", { dev_keys, pci_keys } },
  { "virtio-mouse-pci", { dev_keys, pci_keys } },
  { "virtio-tablet-pci", { dev_keys, pci_keys } },
  { "i6300esb", { dev_keys, pci_keys } },
  { "ib700", { dev_keys } },
  { "pvpanic", { dev_keys, pvpanic_keys } },
  { "pvpanic-pci", { dev_keys, pci_keys } },
  { "vmcoreinfo", { none } },
  { NULL }
};

/* Device models that hand the guest a device of the host, for a clearer
 * refusal (they are not in the table above either way).
 */
bool
vm_device_is_passthrough (const char *driver)
{
  static const char *const prefixes[] = { "vfio", "vhost-", "usb-host",
                                          "scsi-generic", "scsi-block",
                                          "pci-assign", "u2f-passthru",
                                          "ccid-card-passthru",
                                          "nvme-subsys", NULL };
  size_t i;

  for (i = 0; prefixes[i]; i++)
    if (strncmp (driver, prefixes[i], strlen (prefixes[i])) == 0)
      return true;
  return false;
}
