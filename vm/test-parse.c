/* test-parse.c: the canonical description: what it accepts (the shapes
 * people write), what it refuses (every class of the security review),
 * with the option and key named, and the wire form's round trip.
 */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include "internal.h"

/* Parse the arguments after "qemu" (NULL-terminated). */
static struct vm_desc *
parse_v (char **args)
{
  char *argv[64] = { "qemu-system-x86_64" };
  size_t i;

  for (i = 0; args[i]; i++)
    argv[i + 1] = args[i];
  argv[i + 1] = NULL;
  return vm_parse (argv, "/cwd");
}
#define PARSE(...) parse_v ((char *[]) { __VA_ARGS__, NULL })

/* d has exactly one problem, and it contains every fragment. */
static void
assert_refused (struct vm_desc *d, const char *a, const char *b)
{
  assert_non_null (d);
  if (strv_len (d->problems) != 1) {
    size_t i;
    for (i = 0; d->problems && d->problems[i]; i++)
      print_error ("problem: %s\n", d->problems[i]);
    fail_msg ("expected one problem, got %zu", strv_len (d->problems));
  }
  if (strstr (d->problems[0], a) == NULL ||
      (b && strstr (d->problems[0], b) == NULL))
    fail_msg ("'%s' lacks '%s' / '%s'", d->problems[0], a, b ? b : "");
  vm_desc_free (d);
}

static void
assert_clean (struct vm_desc *d)
{
  assert_non_null (d);
  if (d->problems)
    fail_msg ("unexpected problem: %s", d->problems[0]);
}

/* The test guest's own command line. */
static void
test_guest (void **state)
{
  struct vm_desc *d = PARSE (
    "-name", "vm1", "-accel", "tcg", "-cpu", "qemu64", "-machine",
    "pc-q35-7.2", "-m", "524296K", "-nodefaults", "-display", "none",
    "-no-user-config", "-daemonize", "-pidfile", "/v/qemu.pid",
    "-blockdev", "driver=file,filename=/v/disk0.qcow2,node-name=f0",
    "-blockdev", "driver=qcow2,file=f0,node-name=disk0",
    "-device", "virtio-blk-pci,drive=disk0,id=vda",
    "-chardev", "socket,id=c,path=/v/con.sock,server=on,wait=off,"
    "logfile=/v/con.log", "-serial", "chardev:c",
    "-qmp", "unix:/v/qmp.sock,server=on,wait=off",
    "-kernel", "/k", "-initrd", "/i", "-append", "console=ttyS0 a=/b");

  assert_clean (d);
  assert_int_equal (d->n_disks, 1);
  assert_string_equal (d->disks[0].path, "/v/disk0.qcow2");
  assert_string_equal (d->disks[0].format, "qcow2");
  assert_string_equal (d->disks[0].node, "disk0");
  assert_false (d->disks[0].read_only);
  assert_string_equal (d->name, "vm1");
  assert_string_equal (d->machine, "pc-q35-7.2");
  assert_int_equal (d->memory, 524296 * 1024);
  assert_false (d->kvm);
  vm_desc_free (d);
}

/* -drive and its shorthands: formats, node names, read-only, CD-ROMs. */
static void
test_drive_shapes (void **state)
{
  struct vm_desc *d = PARSE (
    "-enable-kvm", "-M", "q35", "-m", "2G",
    "-drive", "file=/v/a.qcow2,if=virtio,format=qcow2,cache=none,"
    "aio=native,discard=unmap,detect-zeroes=unmap",
    "-drive", "file=/v/b.raw,if=none,id=d1,format=raw,cache=writeback",
    "-device", "virtio-scsi-pci,id=scsi0",
    "-device", "scsi-hd,drive=d1,bus=scsi0.0",
    "-hdb", "rel.qcow2", "-cdrom", "/iso/x.iso",
    "-drive", "if=ide,media=cdrom,index=3",
    "-drive", "file=/v/ro.img,if=virtio,readonly=on,format=raw");

  assert_clean (d);
  assert_int_equal (d->n_disks, 5);
  assert_string_equal (d->disks[0].node, "vmf-d0");
  assert_null (d->disks[2].format);               /* -hdb: probed */
  assert_string_equal (d->disks[2].path, "/cwd/rel.qcow2");
  assert_true (d->disks[3].cdrom && d->disks[3].read_only);
  assert_true (d->disks[4].read_only && !d->disks[4].cdrom);
  assert_true (d->kvm);
  assert_string_equal (d->machine, "q35");
  assert_int_equal (d->memory, 2ull << 30);
  vm_desc_free (d);
}

/* Networks, character devices and the rest people add. */
static void
test_other_shapes (void **state)
{
  struct vm_desc *d = PARSE (
    "-name", "web,process=web1", "-smp", "4,sockets=1,cores=2,threads=2",
    "-cpu", "Haswell,+avx2,-hle,pcid=on", "-nic",
    "user,model=virtio-net-pci,hostfwd=tcp::2222-:22,hostfwd=tcp::80-:80",
    "-netdev", "tap,id=n1,ifname=tap0,script=no,downscript=no,vhost=on",
    "-device", "e1000,netdev=n1,mac=52:54:00:12:34:56",
    "-netdev", "bridge,id=n2,br=br1", "-device", "virtio-net-pci,netdev=n2",
    "-monitor", "unix:/v/mon.sock,server,nowait", "-serial",
    "mon:file:/v/s.log", "-vga", "std", "-vnc", ":1", "-rtc",
    "base=utc,clock=host", "-boot", "order=c,menu=on", "-usb",
    "-device", "usb-tablet", "-object", "rng-random,id=r,filename=/dev/urandom",
    "-device", "virtio-rng-pci,rng=r", "-device", "virtio-balloon",
    "-global", "kvm-pit.lost_tick_policy=delay", "-sandbox", "on",
    "-runas", "nobody", "-chroot", "/x");

  assert_clean (d);
  assert_int_equal (d->n_nets, 3);
  assert_int_equal (d->nets[0].type, VM_NET_USER);
  assert_int_equal (d->nets[1].type, VM_NET_TAP);
  assert_string_equal (d->nets[1].ifname, "tap0");
  assert_true (d->nets[1].vhost);
  assert_null (d->nets[1].bridge);
  assert_string_equal (d->nets[2].bridge, "br1");
  assert_string_equal (d->cpu_model, "Haswell");
  assert_int_equal (strv_len (d->cpu_features), 3);
  assert_string_equal (d->cpu_features[0], "avx2=on");
  assert_string_equal (d->cpu_features[1], "hle=off");
  vm_desc_free (d);
}

/* JSON forms, walked like keyval. */
static void
test_json (void **state)
{
  struct vm_desc *d = PARSE (
    "-blockdev", "{\"driver\":\"qcow2\",\"node-name\":\"d\",\"file\":"
    "{\"driver\":\"file\",\"filename\":\"/v/x.qcow2\",\"aio\":\"native\"}}",
    "-device", "{\"driver\":\"virtio-blk-pci\",\"drive\":\"d\","
    "\"bootindex\":1}",
    "-netdev", "{\"type\":\"user\",\"id\":\"u\"}");

  assert_clean (d);
  assert_int_equal (d->n_disks, 1);
  assert_string_equal (d->disks[0].node, "d");
  assert_string_equal (d->disks[0].format, "qcow2");
  vm_desc_free (d);
}

/* Class 1: commands run as root. */
static void
test_refuse_commands (void **state)
{
  assert_refused (PARSE ("-netdev", "tap,id=n,helper=/bin/sh"), "-netdev",
                  "'helper'");
  assert_refused (PARSE ("-netdev", "tap,id=n,script=no,script=/x"),
                  "'script'", "twice");
  assert_refused (PARSE ("-netdev", "{\"type\":\"tap\",\"id\":\"j\","
                         "\"script\":\"/x\"}"), "script", "no");
  assert_refused (PARSE ("-netdev", "{\"type\":\"tap\",\"id\":\"j\","
                         "\"id\":\"k\"}"), "-netdev", "duplicate");
  assert_refused (PARSE ("-netdev", "user,id=u,guestfwd=tcp:1.2.3.4:4-cmd:sh"),
                  "'guestfwd'", NULL);
  assert_refused (PARSE ("-netdev", "user,id=u,tftp=/"), "'tftp'", NULL);
  assert_refused (PARSE ("-netdev", "user,id=u,smb=/"), "'smb'", NULL);
  assert_refused (PARSE ("-nic", "tap,script=/x"), "-nic", "script");
  assert_refused (PARSE ("-netdev", "tap,id=n,fd=3"), "'fd'", NULL);
  assert_refused (PARSE ("-netdev", "vhost-user,id=n,chardev=c"),
                  "vhost-user", NULL);
}

/* Class 2: host files through the block layer. */
static void
test_refuse_block (void **state)
{
  assert_refused (PARSE ("-blockdev", "{\"driver\":\"quorum\",\"node-name\":"
                         "\"q\",\"children\":[{\"driver\":\"file\","
                         "\"filename\":\"/etc/shadow\"}]}"), "-blockdev",
                  "array");
  assert_refused (PARSE ("-blockdev", "driver=quorum,node-name=q,"
                         "children.0.driver=file,children.0.filename=/e"),
                  "quorum", NULL);
  assert_refused (PARSE ("-drive", "file=//dev/sda,if=virtio"), "//dev/sda",
                  NULL);
  assert_refused (PARSE ("-drive", "file=/dev/sda,if=virtio"), "host device",
                  NULL);
  assert_refused (PARSE ("-blockdev", "driver=vvfat,dir=/,node-name=v"),
                  "vvfat", NULL);
  assert_refused (PARSE ("-blockdev", "driver=nbd,server.path=/x,"
                         "node-name=n"), "nbd", NULL);
  assert_refused (PARSE ("-blockdev", "driver=host_device,filename=/dev/sda,"
                         "node-name=h"), "host_device", NULL);
  assert_refused (PARSE ("-blockdev", "driver=qcow2,node-name=a,"
                         "file.driver=qcow2,file.file.driver=file,"
                         "file.file.filename=/x"), "qcow2 node cannot sit",
                  NULL);
  assert_refused (PARSE ("-blockdev", "driver=file,filename=/x,node-name=f",
                         "-blockdev", "driver=qcow2,node-name=b,file=f,"
                         "backing=f"), "backing node named", NULL);
  assert_refused (PARSE ("-blockdev", "driver=qcow2,node-name=b,file=f,"
                         "data-file=g"), "'data-file'", NULL);
  assert_refused (PARSE ("-drive", "file=/v/a,snapshot=on"), "snapshot",
                  "temporary file");
  assert_refused (PARSE ("-snapshot"), "-snapshot", "temporary file");
  assert_refused (PARSE ("-blockdev", "driver=file,filename=/v/a,"
                         "filename=/etc/shadow,node-name=f"), "twice", NULL);
  assert_refused (PARSE ("-drive", "file=json:{\"driver\":\"file\"}"),
                  "protocol", NULL);
  assert_refused (PARSE ("-drive", "file=nbd:localhost:10809"), "protocol",
                  NULL);
}

/* Class 3: host files created, truncated, unlinked or loaded. */
static void
test_refuse_files (void **state)
{
  assert_refused (PARSE ("-chardev", "file,id=f,path=/a,path=/b"), "'path'",
                  "twice");
  assert_refused (PARSE ("-chardev", "socket,id=c,path=/x"), "client socket",
                  NULL);
  assert_refused (PARSE ("-chardev", "socket,id=c,path=/x/..,server=on"),
                  "plain file name", NULL);
  assert_refused (PARSE ("-vnc", "unix:/x"), "-vnc", NULL);
  assert_refused (PARSE ("-icount", "shift=1,rrfile=/x"), "'rrfile'", NULL);
  assert_refused (PARSE ("-machine", "q35,kernel=/x"), "'kernel'", NULL);
  assert_refused (PARSE ("-machine", "q35,firmware=/x"), "'firmware'", NULL);
  assert_refused (PARSE ("-smbios", "type=1,file=/x"), "'file'", NULL);
  assert_refused (PARSE ("-global", "isa-fdc.romfile=/x"), "isa-fdc.romfile",
                  NULL);
  assert_refused (PARSE ("-object", "memory-backend-ram,id=m,size=1G,"
                         "qom-type=memory-backend-file,mem-path=/x"),
                  "qom-type", "twice");
  assert_refused (PARSE ("-object", "memory-backend-file,id=m,mem-path=/x"),
                  "memory-backend-file", NULL);
  assert_refused (PARSE ("-device", "loader,file=/x"), "loader", NULL);
  assert_refused (PARSE ("-device", "virtio-net-pci,romfile=/x"),
                  "'romfile'", NULL);
  assert_refused (PARSE ("-device", "usb-mtp,rootdir=/"), "usb-mtp", NULL);
  assert_refused (PARSE ("-device", "vfio-pci-nohotplug,host=00:01.0"),
                  "vfio-pci-nohotplug", NULL);
  assert_refused (PARSE ("-device", "vhost-scsi-pci"), "vhost-scsi-pci",
                  NULL);
  assert_refused (PARSE ("-serial", "/dev/ttyS0"), "-serial", NULL);
  assert_refused (PARSE ("-serial", "stdio"), "ties the VM", NULL);
  assert_refused (PARSE ("-serial", "pipe:/x"), "ties the VM", NULL);
  assert_refused (PARSE ("-object", "rng-random,id=r,filename=/etc/shadow"),
                  "filename", NULL);
  assert_refused (PARSE ("-readconfig", "/x"), "-readconfig", NULL);
  assert_refused (PARSE ("-add-fd", "fd=3,set=1"), "-add-fd", NULL);
  assert_refused (PARSE ("-plugin", "/x.so"), "'-plugin'", "not supported");
  assert_refused (PARSE ("-device", "virtio-blk-pci,id=vmferry-x"),
                  "reserved", NULL);
}

/* A VM vmferryd started carries vmferryd's own monitor and pidfile:
 * dropped when it leaves again; other vmferry-* run files are refused.
 */
static void
test_vmferry_own (void **state)
{
  struct vm_desc *d = PARSE (
    "-qmp", "unix:/r/vm/vmferry-qmp.sock,server=on,wait=off",
    "-pidfile", "/r/vm/vmferry-qemu.pid", "-S", "-incoming", "defer",
    "-sandbox", "on,spawn=deny");

  assert_clean (d);
  assert_int_equal (d->n_opts, 0);
  vm_desc_free (d);
  assert_refused (PARSE ("-qmp", "unix:/r/vm/vmferry-x.sock,server=on"),
                  "reserved", NULL);
  assert_refused (PARSE ("-chardev", "file,id=f,path=/r/vmferry-qemu.log"),
                  "reserved", NULL);
}

/* A command line with several problems lists them all. */
static void
test_all_problems (void **state)
{
  struct vm_desc *d = PARSE ("-netdev", "tap,id=n,helper=/x", "-foo",
                             "-drive", "file=/v/a,snapshot=on", "-m", "1G");

  assert_non_null (d);
  assert_int_equal (strv_len (d->problems), 3);
  assert_int_equal (d->memory, 1ull << 30);
  assert_int_equal (vm_ok (d), -1);
  assert_non_null (strstr (get_error (), "and 2 more"));
  vm_desc_free (d);
}

/* What the source pins, and the wire form parsing back to itself. */
static void
test_wire_round_trip (void **state)
{
  struct vm_desc *d = PARSE (
    "-M", "q35", "-hda", "/v/a.qcow2", "-netdev",
    "tap,id=n1,ifname=tap0,script=no,vhost=on,vnet_hdr=off",
    "-device", "virtio-net-pci,netdev=n1", "-m", "512",
    "-chardev", "socket,id=c,host=0.0.0.0,port=4444,server=on,wait=on");
  struct vm_desc *d2;
  char **w, **w2;
  size_t i;

  assert_clean (d);
  assert_int_equal (vm_set_machine (d, "pc-q35-7.2"), 0);
  assert_int_equal (vm_set_disk_format (d, 0, "qcow2"), 0);
  assert_int_equal (vm_set_disk_format (d, 0, "vvfat"), -1);
  assert_int_equal (vm_set_net_bridge (d, 0, "br0"), 0);
  w = vm_wire_argv (d);
  assert_non_null (w);
  d2 = vm_parse (w, NULL);
  assert_clean (d2);
  assert_string_equal (d2->machine, "pc-q35-7.2");
  assert_string_equal (d2->disks[0].format, "qcow2");
  assert_int_equal (d2->nets[0].type, VM_NET_BRIDGE);
  assert_string_equal (d2->nets[0].bridge, "br0");
  assert_true (d2->nets[0].vhost);
  assert_false (d2->nets[0].vnet_hdr);
  assert_int_equal (d2->memory, 512 << 20);
  w2 = vm_wire_argv (d2);
  for (i = 0; w[i]; i++)
    assert_string_equal (w[i], w2[i]);
  assert_null (w2[i]);
  strv_free (w);
  strv_free (w2);
  vm_desc_free (d);
  vm_desc_free (d2);
}

/* Values are re-formatted from their types. */
static void
test_values (void **state)
{
  static const char *const yesno[] = { "a", "b", NULL };
  struct vm_key k = { "k", VT_SIZE };
  CLEANUP_FREE char *s1 = vm_value_canon (&k, "1.5G", NULL);
  CLEANUP_FREE char *s2 = NULL, *s3 = NULL, *s4 = NULL, *s5 = NULL;
  uint64_t v;

  assert_string_equal (s1, "1610612736");
  assert_int_equal (vm_parse_size ("16P", 1, &v), 0);
  assert_int_equal (vm_parse_size ("99999999999999999999", 1, &v), -1);
  assert_int_equal (vm_parse_size ("1.0000001K", 1, &v), -1);
  k.type = VT_BOOL;
  s2 = vm_value_canon (&k, "yes", NULL);
  assert_string_equal (s2, "on");
  k.type = VT_UINT;
  s3 = vm_value_canon (&k, "0x10", NULL);
  assert_string_equal (s3, "16");
  assert_null (vm_value_canon (&k, "010", NULL));
  assert_null (vm_value_canon (&k, "1;rm", NULL));
  k.type = VT_ENUM;
  k.choices = yesno;
  s4 = vm_value_canon (&k, "b", NULL);
  assert_ptr_equal (strcmp (s4, "b"), 0);
  assert_null (vm_value_canon (&k, "c", NULL));
  k.type = VT_RUNFILE;
  s5 = vm_value_canon (&k, "/a/b.sock", NULL);
  assert_string_equal (s5, "/a/b.sock");
  assert_null (vm_value_canon (&k, "/a/.hidden", NULL));
  assert_null (vm_value_canon (&k, "/a/b c", NULL));
  k.type = VT_STR;
  assert_null (vm_value_canon (&k, "a\nb", NULL));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_guest),
    cmocka_unit_test (test_drive_shapes),
    cmocka_unit_test (test_other_shapes),
    cmocka_unit_test (test_json),
    cmocka_unit_test (test_refuse_commands),
    cmocka_unit_test (test_refuse_block),
    cmocka_unit_test (test_refuse_files),
    cmocka_unit_test (test_vmferry_own),
    cmocka_unit_test (test_all_problems),
    cmocka_unit_test (test_wire_round_trip),
    cmocka_unit_test (test_values),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
