/* test-generate.c: the destination's command line, generated from the
 * description: images mapped, files QEMU makes moved into the run
 * directory, read-only files only from under the read dirs (and only
 * regular files), taps as descriptors; and the property every generated
 * command line has (property.h), which also has to catch a bad one.
 */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "internal.h"
#include "property.h"

static char dir[] = "/tmp/test-generate-XXXXXX";   /* the read dir */
static char kernel[64], image[64];

static int
setup (void **state)
{
  int fd;

  if (mkdtemp (dir) == NULL)
    return -1;
  snprintf (kernel, sizeof kernel, "%s/vmlinuz", dir);
  snprintf (image, sizeof image, "%s/ro.img", dir);
  fd = open (kernel, O_WRONLY | O_CREAT, 0600);
  if (fd == -1)
    return -1;
  close (fd);
  fd = open (image, O_WRONLY | O_CREAT, 0600);
  if (fd == -1)
    return -1;
  close (fd);
  return 0;
}

static int
teardown (void **state)
{
  return remove_tree (dir);
}

static struct vm_desc *
parse_v (char **args)
{
  char *argv[64] = { "qemu-system-x86_64" };
  struct vm_desc *d;
  size_t i;

  for (i = 0; args[i]; i++)
    argv[i + 1] = args[i];
  argv[i + 1] = NULL;
  d = vm_parse (argv, NULL);
  assert_non_null (d);
  if (d->problems)
    fail_msg ("problem: %s", d->problems[0]);
  return d;
}
#define PARSE(...) parse_v ((char *[]) { __VA_ARGS__, NULL })

/* The argument following opt in v (NULL if absent), from index *from. */
static const char *
arg_of (char **v, const char *opt)
{
  size_t i;

  for (i = 1; v[i]; i++)
    if (strcmp (v[i], opt) == 0)
      return v[i + 1];
  return NULL;
}

static char *read_dirs[2] = { dir, NULL };

/* Generate d for the destination layout of these tests. */
static int
gen (struct vm_desc *d, char **paths, const int *taps, struct vm_cmdline *c)
{
  struct vm_layout l = { .qemu = "/usr/bin/qemu-new", .run_dir = "/run/v",
                         .read_dirs = read_dirs, .disk_paths = paths,
                         .tap_fds = taps };
  int r = vm_generate (d, &l, c);

  if (r == 0 && vm_check_generated (c->argv, &l, d->n_disks) == -1)
    fail_msg ("property: %s", get_error ());
  return r;
}

static void
test_typical (void **state)
{
  struct vm_desc *d = PARSE (
    "-name", "vm", "-m", "524296K", "-daemonize", "-pidfile", "/src/vm/pid",
    "-blockdev", "driver=file,filename=/src/vm/disk0.qcow2,node-name=f0",
    "-blockdev", "driver=qcow2,file=f0,node-name=disk0",
    "-device", "virtio-blk-pci,drive=disk0",
    "-chardev", "socket,id=c,path=/src/vm/con.sock,server=on,wait=on,"
    "logfile=/src/vm/con.log", "-serial", "chardev:c",
    "-qmp", "unix:/src/vm/qmp.sock,server,nowait", "-kernel", kernel,
    "-sandbox", "on,spawn=allow");
  char *paths[] = { "/dst/vm/disk0.qcow2", NULL };
  struct vm_cmdline c;

  assert_int_equal (gen (d, paths, NULL, &c), 0);
  assert_string_equal (c.argv[0], "/usr/bin/qemu-new");
  assert_string_equal (arg_of (c.argv, "-pidfile"), "/run/v/pid");
  assert_string_equal (c.pidfile, "/run/v/pid");
  assert_null (arg_of (c.argv, "-daemonize"));
  assert_null (arg_of (c.argv, "-sandbox"));
  assert_string_equal (arg_of (c.argv, "-m"), "size=524296K");
  assert_string_equal (arg_of (c.argv, "-blockdev"),
                       "driver=file,filename=/dst/vm/disk0.qcow2,"
                       "node-name=f0");
  assert_string_equal (arg_of (c.argv, "-chardev"),
                       "socket,id=c,path=/run/v/con.sock,server=on,"
                       "wait=off,logfile=/run/v/con.log");
  assert_string_equal (arg_of (c.argv, "-qmp"),
                       "unix:/run/v/qmp.sock,server=on,wait=off");
  assert_string_equal (c.qmp, "/run/v/qmp.sock");
  assert_int_equal (strv_len (c.files), 4);
  vm_cmdline_clear (&c);
  vm_desc_free (d);
}

/* -drive gets its pinned format and the node name the exports use. */
static void
test_drive (void **state)
{
  struct vm_desc *d = PARSE ("-drive", "file=/src/a,,b.img,if=virtio",
                             "-cdrom", image, "-m", "1G");
  char *paths[] = { "/dst/a.img", NULL, NULL };
  struct vm_cmdline c;

  assert_int_equal (vm_set_disk_format (d, 0, "raw"), 0);
  assert_int_equal (gen (d, paths, NULL, &c), 0);
  assert_string_equal (c.argv[2], "file=/dst/a.img,if=virtio,format=raw,"
                       "node-name=vmf-d0");
  assert_non_null (strstr (c.argv[4], image));  /* in place, read-only */
  assert_string_equal (arg_of (c.argv, "-m"), "size=1048576K");
  vm_cmdline_clear (&c);
  vm_desc_free (d);
}

/* Only regular files under the read dirs; writable images need a
 * destination.
 */
static void
test_read_dirs (void **state)
{
  char *none[] = { NULL, NULL };
  struct vm_cmdline c;
  struct vm_desc *d;

  d = PARSE ("-kernel", "/etc/passwd");
  assert_int_equal (gen (d, none, NULL, &c), -1);
  assert_non_null (strstr (get_error (), "outside the directories"));
  vm_desc_free (d);
  d = PARSE ("-initrd", "/dev/null");
  read_dirs[0] = "/dev";
  assert_int_equal (gen (d, none, NULL, &c), -1);
  assert_non_null (strstr (get_error (), "not a regular file"));
  read_dirs[0] = dir;
  vm_desc_free (d);
  d = PARSE ("-drive", "file=/etc/shadow,readonly=on,format=raw");
  assert_int_equal (gen (d, none, NULL, &c), -1);
  assert_non_null (strstr (get_error (), "outside the directories"));
  vm_desc_free (d);
  d = PARSE ("-drive", "file=/src/w.img,format=raw");
  assert_int_equal (gen (d, none, NULL, &c), -1);
  assert_non_null (strstr (get_error (), "has no destination"));
  vm_desc_free (d);
  d = PARSE ("-chardev", "file,id=a,path=/x/log", "-chardev",
             "file,id=b,path=/y/log");
  assert_int_equal (gen (d, none, NULL, &c), -1);
  assert_non_null (strstr (get_error (), "two sockets or files"));
  vm_desc_free (d);
}

/* Taps become descriptors; a saved command line names the bridge. */
static void
test_taps (void **state)
{
  struct vm_desc *d = PARSE (
    "-netdev", "bridge,id=n0,br=br0", "-device", "virtio-net-pci,netdev=n0",
    "-nic", "bridge,br=br1,model=e1000,mac=52:54:00:00:00:01",
    "-netdev", "user,id=u,hostfwd=tcp::22-:22");
  int taps[] = { 41, 42, -1 };
  struct vm_cmdline c;
  struct vm_layout l = { .qemu = "q", .run_dir = "/run/v" };

  assert_int_equal (gen (d, NULL, taps, &c), 0);
  assert_string_equal (c.argv[2], "tap,id=n0,fd=41");
  assert_string_equal (c.argv[6], "tap,model=e1000,mac=52:54:00:00:00:01,"
                       "fd=42");
  assert_string_equal (c.argv[8], "user,id=u,hostfwd=tcp::22-:22");
  vm_cmdline_clear (&c);
  taps[1] = -1;
  assert_int_equal (gen (d, NULL, taps, &c), -1);
  assert_non_null (strstr (get_error (), "no tap device"));
  assert_int_equal (vm_generate (d, &l, &c), 0);   /* saved: bridges */
  assert_string_equal (c.argv[2], "bridge,id=n0,br=br0");
  vm_cmdline_clear (&c);
  vm_desc_free (d);
}

/* A JSON -device stays JSON (QEMU creates those after the others: the
 * order makes the guest's PCI addresses), with typed values.
 */
static void
test_json_device (void **state)
{
  struct vm_desc *d = PARSE (
    "-device", "{\"driver\":\"virtio-rng-pci\",\"id\":\"r\","
    "\"max-bytes\":1024,\"ioeventfd\":false}",
    "-device", "virtio-balloon,id=b");
  struct vm_cmdline c;

  assert_int_equal (gen (d, NULL, NULL, &c), 0);
  assert_string_equal (c.argv[2], "{\"driver\":\"virtio-rng-pci\","
                       "\"id\":\"r\",\"max-bytes\":1024,"
                       "\"ioeventfd\":false}");
  assert_string_equal (c.argv[4], "virtio-balloon,id=b");
  vm_cmdline_clear (&c);
  vm_desc_free (d);
}

/* The property check itself catches what must not reach QEMU. */
static void
test_property_catches (void **state)
{
  char *paths[] = { "/dst/a", NULL };
  struct vm_layout l = { .qemu = "q", .run_dir = "/run/v",
                         .read_dirs = read_dirs, .disk_paths = paths };
  char *ok[] = { "q", "-drive", "file=/dst/a", "-serial",
                 "mon:unix:/run/v/s,server=on", NULL };
  char *bad1[] = { "q", "-drive", "file=/etc/shadow", NULL };
  char *bad2[] = { "q", "-chardev", "file,id=x,path=/run/v/../../etc/x",
                   NULL };
  char *bad3[] = { "q", "-readconfig", "/x", NULL };
  char *bad4[] = { "q", "-serial", "mon:file:/root/x", NULL };
  char *bad5[] = { "q", "-name", "a", "-sandbox", "off", NULL };
  char *bad6[] = { "q", "-device", "{\"driver\":\"x\",\"a\":\"/etc/x\"}",
                   NULL };

  assert_int_equal (vm_check_generated (ok, &l, 1), 0);
  assert_int_equal (vm_check_generated (bad1, &l, 1), -1);
  assert_int_equal (vm_check_generated (bad2, &l, 1), -1);
  assert_int_equal (vm_check_generated (bad3, &l, 1), -1);
  assert_int_equal (vm_check_generated (bad4, &l, 1), -1);
  assert_int_equal (vm_check_generated (bad5, &l, 1), -1);
  assert_int_equal (vm_check_generated (bad6, &l, 1), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_typical),
    cmocka_unit_test (test_drive),
    cmocka_unit_test (test_read_dirs),
    cmocka_unit_test (test_taps),
    cmocka_unit_test (test_json_device),
    cmocka_unit_test (test_property_catches),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
