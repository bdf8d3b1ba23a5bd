/* test-argv.c: the destination's rewrite of a VM command line. */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <unistd.h>

#include "internal.h"

static struct mig_disk disks[] = {
  { .id = "disk0", .path = "/src/vm/disk0.qcow2", .format = "qcow2",
    .dest_path = "/dst/vm/disk0.qcow2" },
};
static char *etc_dirs[] = { "/etc", NULL };
static const struct mig_layout layout = {
  .qemu = "/usr/bin/qemu-new", .run_dir = "/run/vmf/vm",
  .disks = disks, .n_disks = 1, .read_dirs = etc_dirs,
};

/* Find the argument following opt in v (NULL if absent). */
static const char *
arg_of (char **v, const char *opt)
{
  return mig_argv_option (v, opt);
}

static void
test_rewrite_typical_vm (void **state)
{
  char *argv[] = {
    "qemu-system-x86_64", "-name", "vm", "-machine", "pc-q35-7.2",
    "-kernel", "/etc/passwd", "-daemonize", "-pidfile", "/src/vm/pid",
    "-blockdev", "driver=file,filename=/src/vm/disk0.qcow2,node-name=f0",
    "-blockdev", "driver=qcow2,file=f0,node-name=disk0",
    "-device", "virtio-blk-pci,drive=disk0",
    "-chardev", "socket,id=c,path=/src/vm/con.sock,server=on,wait=off,"
    "logfile=/src/vm/con.log",
    "-qmp", "unix:/src/vm/qmp.sock,server=on,wait=off", NULL
  };
  struct mig_rewritten r;

  assert_int_equal (mig_argv_rewrite (argv, &layout, &r), 0);
  assert_string_equal (r.argv[0], "/usr/bin/qemu-new");
  assert_string_equal (arg_of (r.argv, "-pidfile"), "/run/vmf/vm/pid");
  assert_string_equal (r.pidfile, "/run/vmf/vm/pid");
  assert_null (arg_of (r.argv, "-daemonize"));
  assert_string_equal (arg_of (r.argv, "-blockdev"),
                       "driver=file,filename=/dst/vm/disk0.qcow2,"
                       "node-name=f0");
  assert_string_equal (arg_of (r.argv, "-chardev"),
                       "socket,id=c,path=/run/vmf/vm/con.sock,server=on,"
                       "wait=off,logfile=/run/vmf/vm/con.log");
  assert_string_equal (arg_of (r.argv, "-qmp"),
                       "unix:/run/vmf/vm/qmp.sock,server=on,wait=off");
  assert_string_equal (r.qmp, "/run/vmf/vm/qmp.sock");
  assert_int_equal (strv_len (r.files), 4);
  mig_rewritten_clear (&r);
}

static void
test_rewrite_drive_and_json (void **state)
{
  char *argv[] = {
    "qemu", "-drive", "file=/src/vm/disk0.qcow2,,x,if=virtio", NULL
  };
  char *argv2[] = {
    "qemu", "-blockdev",
    "{\"driver\":\"qcow2\",\"node-name\":\"disk0\",\"file\":"
    "{\"driver\":\"file\",\"filename\":\"/src/vm/disk0.qcow2\"}}", NULL
  };
  struct mig_rewritten r;

  /* ",," is an escaped comma: a different file, which is refused. */
  assert_int_equal (mig_argv_rewrite (argv, &layout, &r), -1);
  assert_non_null (strstr (get_error (), "/src/vm/disk0.qcow2,x"));
  argv[2] = "file=/src/vm/disk0.qcow2,if=virtio";
  assert_int_equal (mig_argv_rewrite (argv, &layout, &r), 0);
  assert_string_equal (r.argv[2], "file=/dst/vm/disk0.qcow2,if=virtio");
  mig_rewritten_clear (&r);
  assert_int_equal (mig_argv_rewrite (argv2, &layout, &r), 0);
  assert_non_null (strstr (r.argv[2], "\"/dst/vm/disk0.qcow2\""));
  mig_rewritten_clear (&r);
}

/* Each of these must be refused, with a message naming the problem. */
static void
refusals (const struct mig_layout *l)
{
  static const struct {
    const char *opt, *arg, *msg;
  } bad[] = {
    { "-device", "vfio-pci,host=01:00.0", "pass-through device" },
    { "-blockdev", "driver=host_device,filename=/dev/sdb,node-name=x",
      "pass-through disk" },
    { "-drive", "file=/dev/sdb,if=virtio", "pass-through disk" },
    { "-blockdev", "driver=file,filename=/etc/shadow,node-name=x",
      "not one of its migrated disks" },
    { "-kernel", "/nonexistent/vmlinuz", "not on the destination" },
    { "-serial", "stdio", "terminal" },
    { "-netdev", "tap,id=n,script=/tmp/evil", "script" },
    { "-object", "memory-backend-file,id=m,mem-path=/etc,size=1G",
      "host files" },
    { "-readconfig", "/etc/x", "not supported" },
    { "-chardev", "tty,id=t,path=/dev/ttyS0", "pass-through" },
    /* Host files and devices (issue 8): device nodes are never read. */
    { "-kernel", "/dev/zero", "device or special file" },
    { "-initrd", "/dev/null", "device or special file" },
    { "-bios", "/dev/zero", "device or special file" },
    { "-drive", "file=/etc/shadow,if=virtio", "not one of its migrated" },
    { "-chardev", "serial,id=s,path=/dev/ttyS0", "pass-through" },
    { "-netdev", "tap,id=n,downscript=/tmp/evil", "script" },
    { "-add-fd", "fd=3,set=1", "not supported" },
    { "-readconfig", "/etc/qemu.conf", "not supported" },
    /* QEMU takes the last of a repeated key, vmferry read the first. */
    { "-drive", "file=/src/vm/disk0.qcow2,format=raw,format=qcow2",
      "given twice" },
    { "-blockdev", "{\"driver\":\"qcow2\",\"driver\":\"raw\","
      "\"file\":\"f\"}", "duplicate" },
  };
  size_t i;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *argv[] = {
      "qemu", "-drive", "file=/src/vm/disk0.qcow2",
      (char *) bad[i].opt, (char *) bad[i].arg, NULL
    };
    struct mig_rewritten r;

    assert_int_equal (mig_argv_rewrite (argv, l, &r), -1);
    if (strstr (get_error (), bad[i].msg) == NULL)
      fail_msg ("%s %s: got '%s'", bad[i].opt, bad[i].arg, get_error ());
    assert_null (r.argv);
  }
}

static void
test_rewrite_refusals (void **state)
{
  (void) state;
  refusals (&layout);
}

/* -kernel & co. only from under the read directories: by default not
 * /etc, never through a symbolic link that leaves them.
 */
static void
test_read_dirs (void **state)
{
  char dir[] = "/tmp/test-argv-XXXXXX", link[64], real[64];
  char *dirs[] = { dir, NULL };
  struct mig_layout l = layout;
  char *argv[] = { "qemu", "-drive", "file=/src/vm/disk0.qcow2", "-kernel",
                   link, NULL };
  struct mig_rewritten r;

  (void) state;
  l.read_dirs = NULL;           /* the defaults */
  argv[4] = "/etc/passwd";
  assert_int_equal (mig_argv_rewrite (argv, &l, &r), -1);
  assert_non_null (strstr (get_error (), "outside the directories"));

  assert_non_null (mkdtemp (dir));
  snprintf (link, sizeof link, "%s/vmlinuz", dir);
  snprintf (real, sizeof real, "%s/initrd", dir);
  assert_int_equal (symlink ("/etc/passwd", link), 0);
  l.read_dirs = dirs;
  argv[4] = link;               /* leads out of dir */
  assert_int_equal (mig_argv_rewrite (argv, &l, &r), -1);
  assert_non_null (strstr (get_error (), "outside the directories"));
  assert_int_equal (close (open (real, O_CREAT | O_WRONLY, 0600)), 0);
  argv[4] = real;               /* a file inside: fine */
  assert_int_equal (mig_argv_rewrite (argv, &l, &r), 0);
  mig_rewritten_clear (&r);
  unlink (link);
  unlink (real);
  rmdir (dir);
}


/* Two -pidfile options: QEMU writes the last one; the rewrite keeps that
 * one and does not leak the first (found by fuzz/fuzz-control).
 */
static void
test_two_pidfiles (void **state)
{
  char *argv[] = {
    "qemu", "-drive", "file=/src/vm/disk0.qcow2", "-pidfile", "/src/a.pid",
    "-pidfile", "/src/b.pid", NULL
  };
  struct mig_rewritten r;

  assert_int_equal (mig_argv_rewrite (argv, &layout, &r), 0);
  assert_string_equal (r.pidfile, "/run/vmf/vm/b.pid");
  mig_rewritten_clear (&r);
}

static void
test_disk_missing_from_argv (void **state)
{
  char *argv[] = { "qemu", "-m", "512", NULL };
  struct mig_rewritten r;

  assert_int_equal (mig_argv_rewrite (argv, &layout, &r), -1);
  assert_non_null (strstr (get_error (), "not on the VM's command line"));
}

static void
test_socket_name_collision (void **state)
{
  char *argv[] = {
    "qemu", "-drive", "file=/src/vm/disk0.qcow2",
    "-qmp", "unix:/a/qmp.sock,server=on", "-qmp", "unix:/b/qmp.sock", NULL
  };
  struct mig_rewritten r;

  assert_int_equal (mig_argv_rewrite (argv, &layout, &r), -1);
  assert_non_null (strstr (get_error (), "two sockets or files"));
}

static void
test_passthrough_and_machine (void **state)
{
  char *argv1[] = { "qemu", "-device", "usb-host,hostbus=1", NULL };
  char *argv2[] = { "qemu", "-m", "1G", NULL };
  char *m0 = strdup ("q35,accel=tcg");
  char *argv3[] = { strdup ("qemu"), strdup ("-machine"), m0, NULL };
  CLEANUP_FREE char *p = mig_argv_find_passthrough (argv1);
  CLEANUP_FREE char *buf = NULL;

  assert_non_null (p);
  assert_non_null (strstr (p, "usb-host"));
  assert_null (mig_argv_find_passthrough (argv2));
  assert_int_equal (mig_argv_set_machine (argv3, "pc-q35-7.2"), 0);
  assert_string_equal (argv3[2], "pc-q35-7.2,accel=tcg");
  assert_string_equal (mig_argv_machine (argv3, &buf), "pc-q35-7.2");
  free (argv3[0]);
  free (argv3[1]);
  free (argv3[2]);
}

/* mig_argv_disks: the writable disk files, once each, with the format
 * named beside them; read-only ones and cdroms are left out.
 */
static void
test_offline_disks (void **state)
{
  char *argv[] = {
    "qemu-system-x86_64", "-name", "vm",
    "-blockdev", "driver=file,filename=/src/vm/disk0.qcow2,node-name=f0",
    "-blockdev", "driver=qcow2,file=f0,node-name=disk0",
    "-drive", "file=/src/vm/data.raw,format=raw,if=virtio",
    "-blockdev", "driver=qcow2,file.driver=file,"
    "file.filename=/src/vm/x.qcow2,node-name=x",
    "-drive", "file=/src/vm/data.raw,format=raw,if=none,id=again",
    "-drive", "file=/etc/hostname,media=cdrom",
    "-blockdev", "{\"driver\":\"file\",\"filename\":\"/src/vm/j.img\","
    "\"node-name\":\"j\"}", NULL
  };
  char *bad[] = { "qemu", "-no-such-option", NULL };
  CLEANUP_STRV char **paths = NULL, **formats = NULL;

  assert_int_equal (mig_argv_disks (argv, &paths, &formats), 0);
  assert_int_equal (strv_len (paths), 4);
  assert_string_equal (paths[0], "/src/vm/disk0.qcow2");
  assert_string_equal (formats[0], "");
  assert_string_equal (paths[1], "/src/vm/data.raw");
  assert_string_equal (formats[1], "raw");
  assert_string_equal (paths[2], "/src/vm/x.qcow2");
  assert_string_equal (formats[2], "qcow2");
  assert_string_equal (paths[3], "/src/vm/j.img");
  assert_string_equal (formats[3], "");
  assert_int_equal (mig_argv_disks (bad, &paths, &formats), -1);
}

/* format_of ARG...: mig_argv_disk_format of /d/x.img on "qemu ARG...":
 * the format, "probe" (0) or "?" (-1).
 */
static char fmt_buf[32];
static const char *
format_of (char **args)
{
  char *argv[16] = { "qemu" };
  CLEANUP_FREE char *f = NULL;
  size_t i;
  int r;

  for (i = 0; args[i]; i++)
    argv[i + 1] = args[i];
  r = mig_argv_disk_format (argv, "/d/x.img", &f);
  snprintf (fmt_buf, sizeof fmt_buf, "%s", r == 1 ? f : r == 0 ? "probe"
            : "?");
  return fmt_buf;
}
#define FORMAT_OF(...) format_of ((char *[]) { __VA_ARGS__, NULL })

/* mig_argv_disk_format: the format QEMU opens a file with. */
static void
test_disk_format (void **state)
{
  (void) state;
  /* Named. */
  assert_string_equal (FORMAT_OF ("-drive", "file=/d/x.img,format=qcow2"),
                       "qcow2");
  assert_string_equal (FORMAT_OF ("-drive", "if=virtio,driver=raw,"
                                  "file.filename=/d/x.img"), "raw");
  assert_string_equal (FORMAT_OF ("-blockdev", "driver=file,"
                                  "filename=/d/x.img,node-name=f0",
                                  "-blockdev", "driver=qcow2,file=f0,"
                                  "node-name=disk0",
                                  "-device", "virtio-blk-pci,drive=disk0"),
                       "qcow2");
  assert_string_equal (FORMAT_OF ("-blockdev", "driver=raw,file.driver=file,"
                                  "file.filename=/d/x.img"), "raw");
  assert_string_equal (FORMAT_OF ("-blockdev", "{\"driver\":\"qcow2\","
                                  "\"file\":{\"driver\":\"file\","
                                  "\"filename\":\"/d/x.img\"}}"), "qcow2");
  assert_string_equal (FORMAT_OF ("-blockdev", "{\"driver\":\"file\","
                                  "\"filename\":\"/d/x.img\","
                                  "\"node-name\":\"f\"}", "-blockdev",
                                  "{\"driver\":\"raw\",\"file\":\"f\"}"),
                       "raw");
  /* A file node used as it is: the guest sees its bytes. */
  assert_string_equal (FORMAT_OF ("-blockdev", "driver=file,"
                                  "filename=/d/x.img,node-name=f0",
                                  "-device", "virtio-blk-pci,drive=f0"),
                       "raw");
  /* Left to QEMU's probe. */
  assert_string_equal (FORMAT_OF ("-drive", "file=/d/x.img,if=virtio"),
                       "probe");
  /* Not followed: a format over a format (named or nested), the file
   * opened twice, a key given twice, format and driver, not there.
   */
  assert_string_equal (FORMAT_OF ("-drive", "file=/d/x.img,format=raw,"
                                  "id=d0", "-blockdev",
                                  "driver=qcow2,file=d0"), "?");
  assert_string_equal (FORMAT_OF ("-blockdev", "driver=file,"
                                  "filename=/d/x.img,node-name=f0",
                                  "-blockdev", "driver=raw,file=f0,"
                                  "node-name=r", "-blockdev",
                                  "driver=qcow2,file=r"), "?");
  assert_string_equal (FORMAT_OF ("-blockdev", "driver=qcow2,"
                                  "file.driver=raw,file.file.driver=file,"
                                  "file.file.filename=/d/x.img"), "?");
  assert_string_equal (FORMAT_OF ("-blockdev", "driver=file,"
                                  "filename=/d/x.img,node-name=f0",
                                  "-blockdev", "driver=raw,file=f0",
                                  "-blockdev", "driver=qcow2,file=f0"), "?");
  assert_string_equal (FORMAT_OF ("-blockdev", "driver=file,"
                                  "filename=/d/x.img,node-name=f0",
                                  "-blockdev", "driver=blkdebug,image=f0"),
                       "?");
  assert_string_equal (FORMAT_OF ("-drive", "file=/d/x.img,format=raw",
                                  "-drive", "file=/d/x.img,format=qcow2"),
                       "?");
  assert_string_equal (FORMAT_OF ("-drive", "file=/d/x.img,format=raw,"
                                  "format=qcow2"), "?");
  assert_string_equal (FORMAT_OF ("-drive", "file=/d/x.img,format=raw,"
                                  "driver=qcow2"), "?");
  assert_string_equal (FORMAT_OF ("-drive", "file=/d/y.img,format=raw"),
                       "?");
  assert_string_equal (FORMAT_OF ("-blockdev", "driver=nbd,"
                                  "filename=/d/x.img"), "?");
  /* Bounded: nesting deeper than real command lines go. */
  assert_string_equal (FORMAT_OF ("-blockdev", "driver=raw,"
                                  "a.b.c.d.e.f.g.h.i.driver=file,"
                                  "a.b.c.d.e.f.g.h.i.filename=/d/x.img"),
                       "?");
}

/* mig_argv_read_file: one argument per line, or NUL-separated. */
static void
test_argv_file (void **state)
{
  char path[] = "/tmp/test-argv-XXXXXX";
  static const char lines[] = "qemu\n# a comment\n\n-name\nmy vm\n";
  static const char nuls[] = "qemu\0-name\0my vm\0";
  int fd = mkstemp (path);
  char **v;

  assert_true (fd >= 0);
  assert_int_equal (write (fd, lines, sizeof lines - 1), sizeof lines - 1);
  v = mig_argv_read_file (path);
  assert_non_null (v);
  assert_int_equal (strv_len (v), 3);
  assert_string_equal (v[2], "my vm");
  strv_free (v);
  assert_int_equal (ftruncate (fd, 0), 0);
  assert_int_equal (pwrite (fd, nuls, sizeof nuls - 1, 0), sizeof nuls - 1);
  v = mig_argv_read_file (path);
  assert_non_null (v);
  assert_int_equal (strv_len (v), 3);
  assert_string_equal (v[1], "-name");
  assert_string_equal (v[2], "my vm");
  strv_free (v);
  assert_int_equal (ftruncate (fd, 0), 0);
  assert_null (mig_argv_read_file (path));      /* empty */
  close (fd);
  unlink (path);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_rewrite_typical_vm),
    cmocka_unit_test (test_rewrite_drive_and_json),
    cmocka_unit_test (test_rewrite_refusals),
    cmocka_unit_test (test_read_dirs),
    cmocka_unit_test (test_two_pidfiles),
    cmocka_unit_test (test_disk_missing_from_argv),
    cmocka_unit_test (test_socket_name_collision),
    cmocka_unit_test (test_passthrough_and_machine),
    cmocka_unit_test (test_offline_disks),
    cmocka_unit_test (test_disk_format),
    cmocka_unit_test (test_argv_file),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
