/* test-compat.c: every rule of the compatibility report, driven by
 * recorded facts (the JSON a source VM and a destination agent report;
 * the CPU lists are from QEMU 7.2's query-cpu-definitions and
 * query-cpu-model-expansion, shortened).
 */
#include <config.h>

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include "internal.h"

static const char src_text[] =
  "{\"name\": \"vm1\", \"qemu_version\": 70222, \"machine\": \"pc-q35-7.2\","
  " \"memory\": 536879104, \"cpu_vendor\": \"GenuineIntel\","
  " \"kvm\": true, \"cpu_model\": \"qemu64\","
  " \"cpu_features\": [\"sse2\", \"lm\", \"syscall\"],"
  " \"cpu_model_name\": \"Intel(R) Xeon(R) CPU @ 2.20GHz\","
  " \"blocked_reasons\": [], \"passthrough\": [], \"bridges\": [\"br0\"],"
  " \"disks\": [{\"allocated\": 314572800, \"read_only\": false},"
  "             {\"allocated\": 999999999999, \"read_only\": true}]}";

static const char dst_text[] =
  "{\"qemu\": \"/usr/bin/qemu-system-x86_64\", \"qemu_version\": 100002,"
  " \"kvm\": true, \"cpu_vendor\": \"GenuineIntel\","
  " \"cpu_model_name\": \"Intel(R) Xeon(R) CPU @ 2.20GHz\","
  " \"machines\": [{\"name\": \"pc-q35-7.2\", \"deprecated\": false},"
  "                {\"name\": \"pc-i440fx-2.4\", \"deprecated\": true}],"
  " \"cpu_models\": [{\"name\": \"qemu64\", \"unavailable\": []},"
  "                  {\"name\": \"Skylake-Server\","
  "                   \"unavailable\": [\"avx512f\", \"pku\"]}],"
  " \"cpu_features\": [\"sse2\", \"lm\", \"syscall\", \"sse4.2\"],"
  " \"mem_available\": 4294967296, \"storage_free\": 10737418240,"
  " \"bridges\": [\"br0\", \"virbr0\"]}";

struct facts {
  json_t *src, *dst;
};

static int
setup (void **state)
{
  struct facts *f = calloc (1, sizeof *f);

  f->src = json_loads (src_text, 0, NULL);
  f->dst = json_loads (dst_text, 0, NULL);
  assert_non_null (f->src);
  assert_non_null (f->dst);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct facts *f = *state;

  json_decref (f->src);
  json_decref (f->dst);
  free (f);
  return 0;
}

/* The finding with id, or NULL. */
static json_t *
finding (json_t *list, const char *id, const char *severity)
{
  size_t i;
  json_t *e;

  json_array_foreach (list, i, e)
    if (strcmp (json_string_value (json_object_get (e, "id")), id) == 0 &&
        strcmp (json_string_value (json_object_get (e, "severity")),
                severity) == 0)
      return e;
  return NULL;
}

/* Run the check; the finding id must have severity (and, for errors,
 * a fix), and its message must contain text.
 */
static json_t *
expect (struct facts *f, const char *id, const char *severity,
        const char *text)
{
  json_t *list = mig_compat_check (f->src, f->dst);
  json_t *e = finding (list, id, severity);
  const char *msg;

  if (e == NULL)
    fail_msg ("no %s finding '%s' in %s", severity, id,
              json_dumps (list, JSON_INDENT (1)));
  msg = json_string_value (json_object_get (e, "message"));
  if (strstr (msg, text) == NULL)
    fail_msg ("'%s' does not say '%s'", msg, text);
  if (strcmp (severity, "error") == 0) {
    assert_true (mig_compat_has_error (list));
    assert_non_null (json_string_value (json_object_get (e, "fix")));
  }
  return list;
}

static void
test_compatible (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = mig_compat_check (f->src, f->dst);
  CLEANUP_FREE char *text = mig_compat_errors_text (list);

  assert_false (mig_compat_has_error (list));
  assert_string_equal (text, "");
  assert_non_null (finding (list, "qemu-version", "info"));
  assert_non_null (finding (list, "machine-type", "info"));
  assert_non_null (finding (list, "cpu-model", "info"));
  assert_non_null (finding (list, "network", "info"));
}

static void
test_older_destination (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;
  CLEANUP_FREE char *text = NULL;

  json_object_set_new (f->dst, "qemu_version", json_integer (70222));
  json_object_set_new (f->src, "qemu_version", json_integer (100002));
  list = expect (f, "qemu-version", "error", "older than the source's 10.0.2");
  text = mig_compat_errors_text (list);
  assert_non_null (strstr (text, "destination QEMU 7.2.22 is older"));
}

static void
test_same_version_is_info (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;

  json_object_set_new (f->dst, "qemu_version", json_integer (70222));
  list = expect (f, "qemu-version", "info", "same version");
  assert_false (mig_compat_has_error (list));
}

static void
test_kvm_guest_no_kvm (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;

  json_object_set_new (f->dst, "kvm", json_false ());
  list = expect (f, "accelerator", "error", "KVM is not usable");
}

static void
test_tcg_guest_no_kvm (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;

  json_object_set_new (f->dst, "kvm", json_false ());
  json_object_set_new (f->src, "kvm", json_false ());
  list = expect (f, "accelerator", "info", "under TCG");
  assert_false (mig_compat_has_error (list));
}

static void
test_machine_missing (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;

  json_object_set_new (f->src, "machine", json_string ("pc-q35-99.0"));
  list = expect (f, "machine-type", "error", "pc-q35-99.0 is not available");
}

static void
test_machine_deprecated (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;

  json_object_set_new (f->src, "machine", json_string ("pc-i440fx-2.4"));
  list = expect (f, "machine-deprecated", "warning", "deprecated");
  assert_false (mig_compat_has_error (list));
}

static void
test_vendor_mismatch (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL, *tcg = NULL;

  json_object_set_new (f->dst, "cpu_vendor", json_string ("AuthenticAMD"));
  list = expect (f, "cpu-vendor", "error", "source GenuineIntel, "
                 "destination AuthenticAMD");
  /* Under TCG the guest's CPU is emulated: only a warning. */
  json_object_set_new (f->src, "kvm", json_false ());
  tcg = expect (f, "cpu-vendor", "warning", "CPU vendor differs");
  assert_false (mig_compat_has_error (tcg));
}

static void
test_cpu_feature_missing (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;

  json_array_append_new (json_object_get (f->src, "cpu_features"),
                         json_string ("avx2"));
  list = expect (f, "cpu-features", "error", "1 feature(s) the "
                 "destination cannot offer: avx2");
}

static void
test_cpu_model_unavailable (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL, *unknown = NULL;

  json_object_set_new (f->src, "cpu_model", json_string ("Skylake-Server"));
  list = expect (f, "cpu-model", "error", "lacks features on the "
                 "destination: [\"avx512f\",\"pku\"]");
  json_object_set_new (f->src, "cpu_model", json_string ("Zen9"));
  unknown = expect (f, "cpu-model", "error", "Zen9 is not known");
}

static void
test_cpu_host (void **state)
{
  struct facts *f = *state;
  json_auto_t *same = NULL, *other = NULL;

  json_object_set_new (f->src, "cpu_model", json_string ("host"));
  same = expect (f, "cpu-host", "info", "identical CPUs");
  json_object_set_new (f->dst, "cpu_model_name",
                       json_string ("AMD EPYC 7B12"));
  other = expect (f, "cpu-host", "error", "the CPUs differ");
}

static void
test_blocker (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;

  json_array_append_new (json_object_get (f->src, "blocked_reasons"),
                         json_string ("State blocked by non-migratable "
                                      "CPU device (invtsc flag)"));
  list = expect (f, "migration-blocker", "error", "invtsc");
}

static void
test_passthrough (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;

  json_array_append_new (json_object_get (f->src, "passthrough"),
                         json_string ("-device vfio-pci,host=0000:01:00.0"));
  list = expect (f, "passthrough", "error", "vfio-pci,host=0000:01:00.0");
}

static void
test_memory_short (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;

  json_object_set_new (f->dst, "mem_available", json_integer (256 << 20));
  list = expect (f, "memory", "error", "needs 512 MiB, the destination "
                 "has 256 MiB");
}

static void
test_space_short (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;

  /* Only the writable disk's 300 MiB count (the read-only one is not
   * copied).
   */
  json_object_set_new (f->dst, "storage_free", json_integer (200 << 20));
  list = expect (f, "storage", "error", "need 300 MiB");
  json_object_set_new (f->dst, "storage_free", json_integer (301 << 20));
  json_decref (list);
  list = mig_compat_check (f->src, f->dst);
  assert_false (mig_compat_has_error (list));
}

static void
test_bridge_missing (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;

  json_array_append_new (json_object_get (f->src, "bridges"),
                         json_string ("br-storage"));
  list = expect (f, "network", "error", "bridge br-storage");
}

static void
test_ports (void **state)
{
  struct facts *f = *state;
  json_auto_t *list = NULL;

  json_object_set_new (f->dst, "ports_error",
                       json_string ("bind 192.0.2.1: Cannot assign"));
  list = expect (f, "ports", "error", "Cannot assign");
}

/* Facts from a hostile or broken peer: findings, no crash. */
static void
test_garbage (void **state)
{
  json_auto_t *src = json_pack ("{s:s, s:i, s:[i], s:{}}", "qemu_version",
                                "x", "machine", 3, "disks", 1,
                                "cpu_features");
  json_auto_t *dst = json_array ();
  json_auto_t *list = mig_compat_check (src, dst);
  json_auto_t *empty = mig_compat_check (NULL, NULL);

  assert_true (mig_compat_has_error (list));
  assert_true (mig_compat_has_error (empty));
  assert_non_null (finding (list, "qemu-version", "error"));
  assert_non_null (finding (list, "machine-type", "error"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup_teardown (t, setup, teardown)
    T (test_compatible),
    T (test_older_destination),
    T (test_same_version_is_info),
    T (test_kvm_guest_no_kvm),
    T (test_tcg_guest_no_kvm),
    T (test_machine_missing),
    T (test_machine_deprecated),
    T (test_vendor_mismatch),
    T (test_cpu_feature_missing),
    T (test_cpu_model_unavailable),
    T (test_cpu_host),
    T (test_blocker),
    T (test_passthrough),
    T (test_memory_short),
    T (test_space_short),
    T (test_bridge_missing),
    T (test_ports),
    cmocka_unit_test (test_garbage),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
