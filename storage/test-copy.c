/* test-copy.c: the NBD copier against real qemu-nbd servers: contents
 * equal afterwards (qemu-img compare), zero extents skipped so the
 * destination stays sparse, a bitmap limits what is copied, a bad
 * destination is a clear error, not a hang, and I/O errors (nbdkit's
 * error filter) fail the copy with the error named.
 */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <signal.h>
#include <cmocka.h>

#include "utils.h"
#include "storage.h"

#define MiB (1024 * 1024)
#define BS (64 * 1024)

struct fixture {
  char dir[64];
};

/* Run a shell command in the fixture's directory; its exit status. */
static int
sh (struct fixture *f, const char *fmt, ...)
{
  char cmd[1024], full[1200];
  va_list ap;
  int r;

  va_start (ap, fmt);
  vsnprintf (cmd, sizeof cmd, fmt, ap);
  va_end (ap);
  snprintf (full, sizeof full, "cd '%s' && (%s) >>log 2>&1", f->dir, cmd);
  r = system (full);
  return WIFEXITED (r) ? WEXITSTATUS (r) : 128;
}

/* Serve image NAME.qcow2 on NAME.sock with qemu-nbd (pid in NAME.pid). */
static void
serve (struct fixture *f, const char *name, bool ro)
{
  assert_int_equal (sh (f, "qemu-nbd %s -t -f qcow2 -e 8 -k %s/%s.sock "
                        "--fork --pid-file %s/%s.pid %s.qcow2",
                        ro ? "-r" : "", f->dir, name, f->dir, name, name), 0);
}

/* Stop NAME's qemu-nbd (it flushes) and wait until it is gone. */
static void
unserve (struct fixture *f, const char *name)
{
  sh (f, "p=$(cat %s.pid) && kill $p && while kill -0 $p 2>/dev/null && "
      "! grep -q '^State:.*Z' /proc/$p/status; do sleep 0.05; done; "
      "rm -f %s.pid", name, name);
}

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof *f);

  if (system ("qemu-nbd --version >/dev/null 2>&1") != 0 ||
      system ("qemu-img --version >/dev/null 2>&1") != 0)
    return -1;
  snprintf (f->dir, sizeof f->dir, "/tmp/vmferry-copy-XXXXXX");
  if (mkdtemp (f->dir) == NULL)
    return -1;
  /* 1 MiB, 3 MiB and 1 MiB of data; an explicit zero MiB in between. */
  if (sh (f, "qemu-img create -q -f qcow2 src.qcow2 64M && "
          "qemu-io -f qcow2 -c 'write -P 0x11 0 1M' -c 'write -P 0x22 10M 3M'"
          " -c 'write -z 20M 1M' -c 'write -P 0x33 63M 1M' src.qcow2") != 0)
    return -1;
  serve (f, "src", true);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;

  unserve (f, "src");
  unserve (f, "dst");
  remove_tree (f->dir);
  free (f);
  return 0;
}

static void
test_copy_all_sparse (void **state)
{
  struct fixture *f = *state;
  char src[128], dst[128];
  struct storage_copy_params p = { .src_uri = src, .dst_uri = dst,
                                   .block_size = BS, .dst_is_zero = true };
  struct storage_copy_stats st;

  snprintf (src, sizeof src, "nbd+unix:///?socket=%s/src.sock", f->dir);
  snprintf (dst, sizeof dst, "nbd+unix:///?socket=%s/dst.sock", f->dir);
  assert_int_equal (sh (f, "qemu-img create -q -f qcow2 dst.qcow2 64M"), 0);
  serve (f, "dst", false);
  if (storage_copy (&p, &st) == -1)
    fail_msg ("%s", get_error ());
  unserve (f, "dst");
  assert_int_equal (st.data_bytes, 5 * MiB);
  assert_true (st.skipped_bytes >= 58 * MiB);
  assert_int_equal (sh (f, "qemu-img compare -q src.qcow2 dst.qcow2"), 0);
  /* Sparse: well under the 64 MiB virtual size. */
  assert_int_equal (sh (f, "test $(du -k dst.qcow2 | cut -f1) -lt 12000"), 0);
}

static void
test_copy_bitmap_only (void **state)
{
  struct fixture *f = *state;
  char src[128], dst[128];
  struct storage_bitmap b;
  struct storage_copy_params p = { .src_uri = src, .dst_uri = dst,
                                   .blocks = &b, .block_size = BS,
                                   .workers = 2 };
  struct storage_copy_stats st;

  snprintf (src, sizeof src, "nbd+unix:///?socket=%s/src.sock", f->dir);
  snprintf (dst, sizeof dst, "nbd+unix:///?socket=%s/dst.sock", f->dir);
  assert_int_equal (sh (f, "rm -f dst.qcow2 && "
                        "qemu-img create -q -f qcow2 dst.qcow2 64M"), 0);
  serve (f, "dst", false);
  assert_int_equal (storage_bitmap_init (&b, 64 * MiB / BS), 0);
  storage_bitmap_set_range (&b, 0, MiB / BS);           /* first MiB */
  storage_bitmap_set (&b, 11 * MiB / BS);               /* one block */
  if (storage_copy (&p, &st) == -1)
    fail_msg ("%s", get_error ());
  unserve (f, "dst");
  assert_int_equal (st.data_bytes, MiB + BS);
  /* Only those blocks: the images differ, and where they must. */
  assert_int_equal (sh (f, "qemu-img compare -q src.qcow2 dst.qcow2"), 1);
  /* qemu-io exits non-zero on a pattern mismatch and on an open or
   * read error alike: its status, not its output, decides.
   */
  assert_int_equal (sh (f, "qemu-io -f qcow2 -r -c 'read -P 0x11 0 1M' "
                        "-c 'read -P 0x22 11M 64k' -c 'read -P 0 10M 1M' "
                        "dst.qcow2"), 0);
  storage_bitmap_free (&b);
}

static void
test_bad_destinations (void **state)
{
  struct fixture *f = *state;
  char src[128], dst[128];
  struct storage_copy_params p = { .src_uri = src, .dst_uri = dst,
                                   .block_size = BS };

  snprintf (src, sizeof src, "nbd+unix:///?socket=%s/src.sock", f->dir);
  snprintf (dst, sizeof dst, "nbd+unix:///?socket=%s/none.sock", f->dir);
  assert_int_equal (storage_copy (&p, NULL), -1);
  assert_non_null (strstr (get_error (), "destination"));
  assert_int_equal (sh (f, "rm -f dst.qcow2 && "
                        "qemu-img create -q -f qcow2 dst.qcow2 32M"), 0);
  serve (f, "dst", false);
  snprintf (dst, sizeof dst, "nbd+unix:///?socket=%s/dst.sock", f->dir);
  assert_int_equal (storage_copy (&p, NULL), -1);
  assert_non_null (strstr (get_error (), "smaller"));
  p.block_size = 1000;
  assert_int_equal (storage_copy (&p, NULL), -1);
  assert_non_null (strstr (get_error (), "block size"));
  unserve (f, "dst");
}

/* nbdkit NAME on NAME.sock (pid in NAME.pid) with the error filter and
 * ARGS (libnbd's copy-nbd-error.sh does the same).
 */
static void
nbdkit (struct fixture *f, const char *name, const char *args)
{
  assert_int_equal (sh (f, "rm -f %s.sock && nbdkit -U %s/%s.sock "
                        "-P %s/%s.pid --filter=error %s", name, f->dir, name,
                        f->dir, name, args), 0);
}

/* I/O errors under the copier: a clear error that names the side and
 * the failure, and no success reported for a partial copy.
 */
static void
test_copy_errors (void **state)
{
  struct fixture *f = *state;
  char src[128], dst[128];
  struct storage_copy_params p = { .src_uri = src, .dst_uri = dst,
                                   .block_size = BS, .workers = 2 };
  struct storage_copy_stats st = { 0 };

  if (system ("nbdkit --version >/dev/null 2>&1") != 0) {
    print_message ("SKIP: nbdkit is missing\n");
    return;
  }
  snprintf (src, sizeof src, "nbd+unix:///?socket=%s/src.sock", f->dir);
  snprintf (dst, sizeof dst, "nbd+unix:///?socket=%s/bad.sock", f->dir);
  /* Every write fails. */
  nbdkit (f, "bad", "memory 64M error=EIO error-pwrite-rate=100%");
  assert_int_equal (storage_copy (&p, &st), -1);
  print_message ("all writes fail: %s\n", get_error ());
  assert_non_null (strstr (get_error (), "Input/output error"));
  unserve (f, "bad");
  /* Half the writes fail: somewhere in the middle of the copy. */
  nbdkit (f, "bad", "memory 64M error=EIO error-pwrite-rate=50%");
  assert_int_equal (storage_copy (&p, &st), -1);
  print_message ("half the writes fail: %s\n", get_error ());
  assert_non_null (strstr (get_error (), "Input/output error"));
  unserve (f, "bad");
  /* Reads of the source fail (writes would succeed). */
  nbdkit (f, "bad", "pattern 64M error=EIO error-pread-rate=100%");
  assert_int_equal (sh (f, "rm -f dst.qcow2 && "
                        "qemu-img create -q -f qcow2 dst.qcow2 64M"), 0);
  serve (f, "dst", false);
  snprintf (src, sizeof src, "nbd+unix:///?socket=%s/bad.sock", f->dir);
  snprintf (dst, sizeof dst, "nbd+unix:///?socket=%s/dst.sock", f->dir);
  assert_int_equal (storage_copy (&p, &st), -1);
  print_message ("all reads fail: %s\n", get_error ());
  assert_non_null (strstr (get_error (), "Input/output error"));
  unserve (f, "bad");
  unserve (f, "dst");
}

/* A persistent bitmap recorded by qemu-io's writes, read back over NBD. */
static void
test_read_dirty_bitmap (void **state)
{
  struct fixture *f = *state;
  char uri[128];
  struct storage_bitmap b;

  assert_int_equal (sh (f, "rm -f d.qcow2 && "
                        "qemu-img create -q -f qcow2 d.qcow2 64M && "
                        "qemu-img bitmap --add -g 65536 d.qcow2 b0 && "
                        "qemu-io -f qcow2 -c 'write 1M 64k' "
                        "-c 'write 5M 100k' -c 'write 63M 1k' d.qcow2 && "
                        "qemu-nbd -r -t -f qcow2 -B b0 -k %s/d.sock "
                        "--fork --pid-file %s/d.pid d.qcow2",
                        f->dir, f->dir), 0);
  snprintf (uri, sizeof uri, "nbd+unix:///?socket=%s/d.sock", f->dir);
  if (storage_read_dirty_bitmap (uri, "b0", BS, &b) == -1)
    fail_msg ("%s", get_error ());
  unserve (f, "d");
  assert_int_equal (b.nbits, 64 * MiB / BS);
  /* 1 block + 2 blocks (100k from 5M) + 1 block. */
  assert_int_equal (storage_bitmap_count (&b), 4);
  assert_true (storage_bitmap_test (&b, MiB / BS));
  assert_true (storage_bitmap_test (&b, 5 * MiB / BS + 1));
  assert_true (storage_bitmap_test (&b, 63 * MiB / BS));
  storage_bitmap_free (&b);
  /* A bitmap that is not exported is a clear error. */
  assert_int_equal (sh (f, "qemu-nbd -r -t -f qcow2 -k %s/d.sock "
                        "--fork --pid-file %s/d.pid d.qcow2",
                        f->dir, f->dir), 0);
  assert_int_equal (storage_read_dirty_bitmap (uri, "b0", BS, &b), -1);
  assert_non_null (strstr (get_error (), "not exported"));
  unserve (f, "d");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_copy_all_sparse),
    cmocka_unit_test (test_copy_bitmap_only),
    cmocka_unit_test (test_bad_destinations),
    cmocka_unit_test (test_copy_errors),
    cmocka_unit_test (test_read_dirty_bitmap),
  };

  signal (SIGPIPE, SIG_IGN);
  if (system ("qemu-nbd --version >/dev/null 2>&1") != 0) {
    fprintf (stderr, "test-copy: SKIP: qemu-nbd is missing\n");
    return 77;
  }
  return cmocka_run_group_tests (tests, setup, teardown);
}
