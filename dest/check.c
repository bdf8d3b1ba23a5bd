/* dest-check.c: the destination's side of the compatibility report.
 *
 * POST /v1/check {"vm": description} answers {"facts", "findings",
 * "can_move"} and creates nothing; prepare runs the same rules before
 * it creates anything.  The facts about this host's QEMU (machine
 * types, CPU models and features) come from running that QEMU briefly
 * with "-machine none" and asking it over QMP; the answer is cached per
 * accelerator (the binary is fixed for the agent's lifetime).
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>

#include "internal.h"

/* [{name, deprecated}] from query-machines. */
static json_t *
probe_machines (struct qmp *q)
{
  json_auto_t *r = qmp_command (q, "query-machines", NULL, QMP_TIMEOUT_MS);
  json_t *list = json_array (), *m;
  size_t i;

  json_array_foreach (r, i, m)
    json_array_append_new (list, json_pack
                           ("{s:O, s:b}", "name", json_object_get (m, "name"),
                            "deprecated", json_is_true
                            (json_object_get (m, "deprecated"))));
  return r ? list : (json_decref (list), NULL);
}

/* [{name, unavailable}] from query-cpu-definitions. */
static json_t *
probe_cpu_models (struct qmp *q)
{
  json_auto_t *r = qmp_command (q, "query-cpu-definitions", NULL,
                                QMP_TIMEOUT_MS);
  json_t *list = json_array (), *m, *un;
  size_t i;

  json_array_foreach (r, i, m) {
    un = json_object_get (m, "unavailable-features");
    json_array_append_new (list, json_pack
                           ("{s:O, s:O}", "name", json_object_get (m, "name"),
                            "unavailable", un ? un : json_array ()));
  }
  return r ? list : (json_decref (list), NULL);
}

/* The features of the "max" model here: everything a guest can have. */
static json_t *
probe_cpu_features (struct qmp *q)
{
  json_auto_t *r = qmp_command (q, "query-cpu-model-expansion",
                                json_pack ("{s:s, s:{s:s}}", "type", "static",
                                           "model", "name", "max"),
                                QMP_TIMEOUT_MS);
  json_t *props = json_object_get (json_object_get (r, "model"), "props");
  json_t *list = json_array (), *v;
  const char *k;

  json_object_foreach (props, k, v)
    if (json_is_true (v))
      json_array_append_new (list, json_string (k));
  return r ? list : (json_decref (list), NULL);
}

/* Ask a briefly started QEMU (confined, in a private dir under the run
 * root).
 */
static json_t *
probe_run (struct mig_dest *d, const char *dir, bool kvm)
{
  CLEANUP_FREE char *pidfile = xasprintf ("%s/qemu.pid", dir);
  CLEANUP_FREE char *sock = xasprintf ("%s/qmp.sock", dir);
  CLEANUP_FREE char *log = xasprintf ("%s/qemu.log", dir);
  CLEANUP_FREE char *qmpopt = xasprintf ("unix:%s,server=on,wait=off", sock);
  char *argv[] = { (char *) d->p.qemu, "-machine", "none", "-accel",
                   kvm ? "kvm" : "tcg", "-nodefaults", "-display", "none",
                   "-no-user-config", "-pidfile", pidfile,
                   "-qmp", qmpopt, "-sandbox", VM_QEMU_SANDBOX, NULL };
  char *rw[] = { (char *) dir, NULL };
  struct vm_confine c = { .user = d->p.qemu_user, .rw_dirs = rw, .log = log };
  struct qmp *q = NULL;
  json_t *facts = NULL;
  uid_t uid;
  gid_t gid;
  pid_t pid = 0;

  if (pidfile == NULL || qmpopt == NULL || log == NULL ||
      vm_user_ids (d->p.qemu_user, &uid, &gid) == -1 ||
      chown (dir, uid, gid) == -1)
    return NULL;
  q = mig_qemu_start (argv, &c, sock, &pid);
  if (q)
    facts = json_pack ("{s:o*, s:o*, s:o*}", "machines", probe_machines (q),
                       "cpu_models", probe_cpu_models (q),
                       "cpu_features", probe_cpu_features (q));
  if (q)
    json_decref (qmp_command (q, "quit", NULL, QMP_TIMEOUT_MS));
  qmp_close (q);
  mig_qemu_kill (pid);
  return facts;
}

/* The facts of this host's QEMU for accelerator kvm/tcg (cached). */
static json_t *
probe (struct mig_dest *d, bool kvm)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->probe_lock);
  int attempt;

  /* Two attempts: under load in the tests a probe QEMU sometimes never
   * listened (no message); the second one, in a fresh directory, did.
   */
  for (attempt = 0; attempt < 2 && d->probe[kvm] == NULL; attempt++) {
    CLEANUP_FREE char *dir = xasprintf ("%s/.vmferry-probe-XXXXXX",
                                        d->p.run_root);
    if (attempt)
      log_fields (LOG_LEVEL_WARNING, NULL, "probing QEMU: %s; trying again",
                  get_error ());
    if (dir == NULL || mkdtemp (dir) == NULL) {
      set_error (errno, "mkdtemp in %s", d->p.run_root);
      return NULL;
    }
    d->probe[kvm] = probe_run (d, dir, kvm);
    remove_tree (dir);
  }
  return json_incref (d->probe[kvm]);
}

/* Bridges on this host: /sys/class/net/NAME/bridge exists. */
static json_t *
host_bridges (void)
{
  json_t *list = json_array ();
  DIR *dir = opendir ("/sys/class/net");
  struct dirent *e;

  while (dir && (e = readdir (dir)) != NULL) {
    CLEANUP_FREE char *p = xasprintf ("/sys/class/net/%s/bridge", e->d_name);
    if (e->d_name[0] != '.' && p && access (p, F_OK) == 0)
      json_array_append_new (list, json_string (e->d_name));
  }
  if (dir)
    closedir (dir);
  return list;
}

/* Can this host reach disk k, which is not copied?  NULL, or why not
 * (the current error).
 */
static const char *
unreachable (struct mig_dest *d, const struct mig_disk *k)
{
  CLEANUP_FREE char *real = NULL, *sum = NULL;

  if (k->shared) {
    if (access (k->path, R_OK | W_OK) == 0)
      return NULL;
    set_error (errno, "%s is not on this host (no shared storage?)",
               k->path);
    return get_error ();
  }
  if ((real = vm_read_path (d->p.read_dirs, k->path, false)) == NULL ||
      (k->sha256 && (sum = mig_file_sha256 (real)) == NULL))
    return get_error ();
  if (sum && strcmp (sum, k->sha256) != 0) {
    set_error (0, "%s here differs from the source's (SHA-256)", k->path);
    return get_error ();
  }
  return NULL;
}

/* [{"reachable": BOOL, "why": TEXT}] per disk of the VM: whether a disk
 * that is not copied can be opened here as it is (always true for a
 * copied one).
 */
static json_t *
disks_reach (struct mig_dest *d, json_t *vmj)
{
  struct mig_vm *vm = mig_vm_from_json (vmj);
  json_t *a = json_array ();
  size_t i;

  for (i = 0; vm && a && i < vm->n_disks; i++) {
    const char *why = mig_disk_copied (&vm->disks[i]) ? NULL
      : unreachable (d, &vm->disks[i]);
    json_array_append_new (a, json_pack ("{s:b, s:s?}", "reachable",
                                         why == NULL, "why", why));
  }
  mig_vm_free (vm);
  return a;
}

json_t *
mig_dest_facts (struct mig_dest *d, json_t *vm, const char *host)
{
  bool kvm_wanted = json_is_true (json_object_get (vm, "kvm"));
  bool kvm = access ("/dev/kvm", R_OK | W_OK) == 0;
  CLEANUP_FREE char *model = mig_host_cpu_model_name ();
  json_auto_t *q = probe (d, kvm && kvm_wanted);
  json_t *f = json_pack ("{s:s, s:i, s:s, s:s, s:I, s:I, s:o}",
                         "qemu", d->p.qemu, "qemu_version", d->qemu_version,
                         "cpu_vendor", d->cpu_vendor,
                         "cpu_model_name", model ? model : "",
                         "mem_available",
                         (json_int_t) mig_host_mem_available (),
                         "storage_free",
                         (json_int_t) mig_host_free_bytes (d->p.storage_root),
                         "bridges", host_bridges ());

  if (f == NULL)
    return NULL;
  /* KVM counts only if its QEMU starts with it, when the VM needs it. */
  json_object_set_new (f, "kvm", json_boolean (kvm && (!kvm_wanted || q)));
  if (q)
    json_object_update (f, q);
  else
    json_object_set_new (f, "probe_error", json_string (get_error ()));
  json_object_set_new (f, "disks", disks_reach (d, vm));
  if (host)
    json_object_set_new (f, "data_address", json_string (host));
  if (host == NULL || net_ports_pick (d->ports, host, 0) == -1)
    json_object_set_new (f, "ports_error", json_string
                         (host ? get_error () : "no data address"));
  return f;
}

int
mig_dest_check (void *opaque, const struct api_request *req, json_t **reply)
{
  struct mig_dest *d = opaque;
  json_t *vmj = json_object_get (req->body, "vm");
  struct mig_vm *vm = mig_vm_from_json (vmj);
  json_t *facts, *findings;

  if (vm == NULL)
    return mig_dest_error (reply, 400, get_error ());
  mig_vm_free (vm);
  facts = mig_dest_facts (d, vmj, mig_dest_data_host
                          (d, json_string_value (json_object_get (req->body,
                                                                  "host")),
                           json_string_value (json_object_get
                                              (req->body,
                                               "migration_network"))));
  findings = facts ? mig_compat_check (vmj, facts) : NULL;
  if (findings == NULL) {
    json_decref (facts);
    return mig_dest_error (reply, 500, "cannot gather the facts");
  }
  *reply = json_pack ("{s:b, s:o, s:o}", "can_move",
                      !mig_compat_has_error (findings), "findings", findings,
                      "facts", facts);
  return 200;
}
