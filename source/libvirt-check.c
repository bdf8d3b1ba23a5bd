/* libvirt-check.c: vmferry check libvirt:NAME --to HOST.  Changes
 * nothing.  From the domain's XML and both hosts' libvirt (the
 * destination's through the peer URI, as libvirt's own migration will
 * reach it): the destination's libvirt and vmferryd reachable, a
 * storage pool there for each copied disk's directory (libvirt creates
 * the destination's image in it) with room for the disk, no image at
 * that path yet, the networks and bridges, the CPU model
 * (virConnectCompareHypervisorCPU) and free memory.  Findings are those
 * of vmferry check ({"id", "severity", "message", "fix"}).
 */
#include <config.h>

#include <errno.h>
#include <libgen.h>

#include "internal.h"
#include "libvirt.h"

#define API_TIMEOUT 30000

struct lv_check {
  const struct mig_source_params *p;
  struct lv_domain d;
  virConnectPtr dc;             /* the destination's libvirt, or NULL */
  char *peer_uri;
  json_t *findings;
};

static void
finding (struct lv_check *c, const char *sev, const char *id,
         const char *fix, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  json_array_append_new (c->findings,
                         json_pack ("{s:s, s:s, s:s, s:s?}", "id", id,
                                    "severity", sev, "message", msg,
                                    "fix", fix));
}

/* One copied disk: the destination's pool for its directory, room, and
 * no image there yet.
 */
static void
check_disk (struct lv_check *c, const struct lv_disk *k)
{
  CLEANUP_FREE char *copy = strdup (k->path);
  virStoragePoolPtr pool = copy ? virStoragePoolLookupByTargetPath
    (c->dc, dirname (copy)) : NULL;
  virStorageVolPtr vol = virStorageVolLookupByPath (c->dc, k->path);
  virStoragePoolInfo pi;
  virDomainBlockInfo bi;

  if (vol) {
    finding (c, "error", "disk-exists", "remove it there, or move the "
             "domain elsewhere", "disk %s: %s already exists on the "
             "destination", k->target, k->path);
    virStorageVolFree (vol);
  }
  if (pool == NULL) {
    finding (c, "error", "disk-pool", "define and start a storage pool "
             "(dir) whose target path is that directory, on the "
             "destination", "disk %s: no storage pool on the destination "
             "holds %s (libvirt creates the image in one)", k->target,
             k->path);
    return;
  }
  if (virStoragePoolGetInfo (pool, &pi) == 0 &&
      virDomainGetBlockInfo (c->d.dom, k->target, &bi, 0) == 0) {
    if (pi.state != VIR_STORAGE_POOL_RUNNING)
      finding (c, "error", "disk-pool", "virsh pool-start", "disk %s: the "
               "destination's pool for %s is not active", k->target, k->path);
    else if (pi.available < bi.allocation)
      finding (c, "error", "disk-space", NULL, "disk %s: %llu bytes "
               "allocated, %llu available in the destination's pool",
               k->target, bi.allocation, pi.available);
    else
      finding (c, "info", "disk", NULL, "disk %s: %s, %llu bytes allocated "
               "(%llu available there)", k->target, k->path, bi.allocation,
               pi.available);
  }
  virStoragePoolFree (pool);
}

static void
check_disks (struct lv_check *c)
{
  size_t i;

  for (i = 0; i < c->d.n_disks; i++) {
    const struct lv_disk *k = &c->d.disks[i];
    if (k->copy)
      check_disk (c, k);
    else if (strcmp (k->device, "disk") == 0 && !k->read_only &&
             !k->shareable && c->p->shared_storage != MIG_SHARED_YES)
      finding (c, "error", "disk-type", "--shared-storage if both hosts "
               "see it", "disk %s is of type %s: vmferry copies file and "
               "block disks", k->target, k->type);
    else if (k->path[0])
      finding (c, "warning", "disk-not-copied", NULL, "disk %s (%s) is "
               "not copied: %s must exist at that path on the destination",
               k->target, k->device, k->path);
  }
}

static void
check_networks (struct lv_check *c)
{
  size_t i;

  for (i = 0; c->d.networks[i]; i++) {
    virNetworkPtr n = virNetworkLookupByName (c->dc, c->d.networks[i]);
    if (n == NULL || virNetworkIsActive (n) != 1)
      finding (c, "error", "network", "define and start it there",
               "network %s is %s on the destination", c->d.networks[i],
               n ? "not active" : "missing");
    if (n)
      virNetworkFree (n);
  }
  for (i = 0; c->d.bridges[i]; i++) {
    virInterfacePtr f = virInterfaceLookupByName (c->dc, c->d.bridges[i]);
    if (f == NULL)
      finding (c, "error", "bridge", NULL, "bridge %s: the destination's "
               "libvirt does not know it: %s", c->d.bridges[i], lv_error ());
    else
      virInterfaceFree (f);
  }
}

static void
check_cpu_memory (struct lv_check *c)
{
  unsigned long long free_b = virNodeGetFreeMemory (c->dc);
  int r;

  if (c->d.cpu_xml[0]) {
    r = virConnectCompareHypervisorCPU (c->dc, NULL, "x86_64", c->d.machine,
                                        NULL, c->d.cpu_xml, 0);
    if (r == VIR_CPU_COMPARE_INCOMPATIBLE || r == VIR_CPU_COMPARE_ERROR)
      finding (c, "error", "cpu", NULL, "the domain's CPU %s on the "
               "destination%s%s", r == VIR_CPU_COMPARE_ERROR ?
               "cannot be compared" : "is not available",
               r == VIR_CPU_COMPARE_ERROR ? ": " : "",
               r == VIR_CPU_COMPARE_ERROR ? lv_error () : "");
    else
      finding (c, "info", "cpu", NULL, "the domain's CPU is available on "
               "the destination");
  }
  if (free_b && free_b < c->d.memory_kib * 1024)
    finding (c, "error", "memory", NULL, "the domain has %llu MiB, the "
             "destination %llu MiB free", (unsigned long long)
             c->d.memory_kib >> 10, free_b >> 20);
}

/* vmferryd on the destination answers (it carries the streams). */
static void
check_agent (struct lv_check *c)
{
  struct mig_agent *a = mig_agent_new (c->p->host, c->p->port,
                                       c->p->tls_dir, NULL);
  json_auto_t *r = a ? mig_agent_call (a, "GET", "/v1/host", NULL,
                                       API_TIMEOUT, NULL) : NULL;

  if (r == NULL)
    finding (c, "error", "vmferryd", NULL, "vmferryd on %s: %s",
             c->p->host, get_error ());
  mig_agent_free (a);
}

static int
gather (struct lv_check *c, const struct mig_libvirt_params *lp)
{
  if (lv_domain_open (&c->d, lp->uri, c->p->vm + strlen
                      (MIG_LIBVIRT_PREFIX)) == -1 ||
      (c->peer_uri = lv_peer_uri (c->p, lp)) == NULL)
    return -1;
  if (virDomainIsActive (c->d.dom) != 1)
    finding (c, "error", "not-running", NULL, "the domain is not running");
  if (c->d.hostdevs)
    finding (c, "error", "hostdev", NULL, "%u pass-through device(s)",
             c->d.hostdevs);
  lv_choose_disks (&c->d, c->p->shared_storage == MIG_SHARED_YES);
  check_agent (c);
  if ((c->dc = virConnectOpen (c->peer_uri)) == NULL) {
    finding (c, "error", "libvirt-peer", "--libvirt-peer-uri, and the "
             "destination libvirtd's listen_tls or listen_tcp",
             "the destination's libvirt (%s): %s", c->peer_uri, lv_error ());
    return 0;
  }
  check_disks (c);
  check_networks (c);
  check_cpu_memory (c);
  return 0;
}

static void
print (struct lv_check *c, bool ok)
{
  json_auto_t *o = NULL;
  json_t *f;
  size_t i;

  if (c->p->json) {
    o = json_pack ("{s:s, s:s, s:s, s:b, s:O}", "vm", c->p->vm,
                   "destination", c->p->host, "libvirt_peer", c->peer_uri,
                   "can_move", ok, "findings", c->findings);
    if (o)
      json_dumpf (o, c->p->out, JSON_COMPACT);
    fputc ('\n', c->p->out);
    return;
  }
  fprintf (c->p->out, "vmferry check %s --to %s (libvirt peer %s)\n",
           c->p->vm, c->p->host, c->peer_uri);
  json_array_foreach (c->findings, i, f)
    fprintf (c->p->out, "  %-8s %-20s %s\n",
             json_string_value (json_object_get (f, "severity")),
             json_string_value (json_object_get (f, "id")),
             json_string_value (json_object_get (f, "message")));
  fprintf (c->p->out, "%s\n", ok ? "the VM can move" : "the VM cannot move");
}

enum mig_result
mig_libvirt_check (const struct mig_source_params *p,
                   const struct mig_libvirt_params *lp)
{
  struct lv_check c = { .p = p, .findings = json_array () };
  enum mig_result r = MIG_REFUSED;
  CLEANUP_FREE char *errors = NULL;
  bool ok;

  clear_error ();
  if (c.findings && gather (&c, lp) == 0) {
    ok = !mig_compat_has_error (c.findings);
    print (&c, ok);
    if (!ok && (errors = mig_compat_errors_text (c.findings)))
      set_error (0, "%s", errors);
    r = ok ? MIG_OK : MIG_REFUSED;
  }
  if (c.dc)
    virConnectClose (c.dc);
  free (c.peer_uri);
  json_decref (c.findings);
  lv_domain_close (&c.d);
  return r;
}
