/* libvirt-domain.c: a libvirt domain as vmferry sees it: its disks,
 * networks, pass-through devices, machine and CPU, read from the XML
 * the local libvirt gives (libxml2, no network access, no entities).
 */
#include <config.h>

#include <errno.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "internal.h"
#include "libvirt.h"

static void
ignore_error (void *opaque, virErrorPtr e)
{
}

void
lv_quiet (void)
{
  virSetErrorFunc (NULL, ignore_error);
}

const char *
lv_error (void)
{
  const char *m = virGetLastErrorMessage ();

  return m ? m : "unknown libvirt error";
}

/* The string value of XPath expr at node (or the document), "" if
 * none; NULL only when out of memory.
 */
static char *
xstr (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  xmlXPathObjectPtr o;
  char *s;

  ctx->node = node;
  o = xmlXPathEvalExpression ((const xmlChar *) expr, ctx);
  s = strdup (o && o->type == XPATH_STRING && o->stringval
              ? (const char *) o->stringval : "");
  xmlXPathFreeObject (o);
  return s;
}

/* Does expr select anything at node? */
static bool
xhas (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  xmlXPathObjectPtr o;
  bool yes;

  ctx->node = node;
  o = xmlXPathEvalExpression ((const xmlChar *) expr, ctx);
  yes = o && o->nodesetval && o->nodesetval->nodeNr > 0;
  xmlXPathFreeObject (o);
  return yes;
}

static int
read_disk (xmlXPathContextPtr ctx, xmlNodePtr n, struct lv_disk *k)
{
  k->target = xstr (ctx, n, "string(target/@dev)");
  k->path = xstr (ctx, n, "string(source/@file | source/@dev)");
  k->format = xstr (ctx, n, "string(driver/@type)");
  k->device = xstr (ctx, n, "string(@device)");
  k->type = xstr (ctx, n, "string(@type)");
  k->read_only = xhas (ctx, n, "readonly");
  k->shareable = xhas (ctx, n, "shareable");
  if (!k->target || !k->path || !k->format || !k->device || !k->type) {
    set_error (errno, "reading the domain's disks");
    return -1;
  }
  return 0;
}

static int
read_disks (struct lv_domain *d, xmlXPathContextPtr ctx)
{
  xmlXPathObjectPtr o;
  int i, n, r = 0;

  ctx->node = NULL;
  o = xmlXPathEvalExpression ((const xmlChar *) "/domain/devices/disk", ctx);
  n = o && o->nodesetval ? o->nodesetval->nodeNr : 0;
  d->disks = calloc (n + 1, sizeof *d->disks);
  if (d->disks == NULL) {
    set_error (errno, "calloc");
    r = -1;
  }
  for (i = 0; r == 0 && i < n; i++, d->n_disks++)
    r = read_disk (ctx, o->nodesetval->nodeTab[i], &d->disks[i]);
  xmlXPathFreeObject (o);
  return r;
}

/* Every value of expr (attribute values) into *v. */
static int
read_list (xmlXPathContextPtr ctx, const char *expr, char ***v)
{
  xmlXPathObjectPtr o;
  int i, r = 0;

  ctx->node = NULL;
  o = xmlXPathEvalExpression ((const xmlChar *) expr, ctx);
  if (*v == NULL && (*v = calloc (1, sizeof **v)) == NULL) {
    set_error (errno, "calloc");      /* an empty list, not NULL */
    r = -1;
  }
  for (i = 0; r == 0 && o && o->nodesetval && i < o->nodesetval->nodeNr;
       i++) {
    xmlChar *s = xmlNodeGetContent (o->nodesetval->nodeTab[i]);
    r = strv_push (v, s ? (const char *) s : "");
    xmlFree (s);
  }
  xmlXPathFreeObject (o);
  return r;
}

/* The <cpu> element as XML text ("" if the domain has none). */
static char *
cpu_xml (xmlDocPtr doc, xmlXPathContextPtr ctx)
{
  xmlXPathObjectPtr o;
  xmlBufferPtr b = xmlBufferCreate ();
  char *s = NULL;

  ctx->node = NULL;
  o = xmlXPathEvalExpression ((const xmlChar *) "/domain/cpu", ctx);
  if (b && o && o->nodesetval && o->nodesetval->nodeNr > 0 &&
      xmlNodeDump (b, doc, o->nodesetval->nodeTab[0], 0, 0) >= 0)
    s = strdup ((const char *) xmlBufferContent (b));
  else if (b)
    s = strdup ("");
  xmlXPathFreeObject (o);
  xmlBufferFree (b);
  return s;
}

static int
parse_xml (struct lv_domain *d)
{
  xmlDocPtr doc = xmlReadMemory (d->xml, strlen (d->xml), "domain.xml", NULL,
                                 XML_PARSE_NONET);
  xmlXPathContextPtr ctx = doc ? xmlXPathNewContext (doc) : NULL;
  CLEANUP_FREE char *mem = NULL;
  int r = -1;

  if (ctx == NULL) {
    set_error (0, "libvirt gave XML that does not parse");
    goto out;
  }
  if (read_disks (d, ctx) == -1 ||
      read_list (ctx, "/domain/devices/interface[@type='bridge']"
                 "/source/@bridge", &d->bridges) == -1 ||
      read_list (ctx, "/domain/devices/interface[@type='network']"
                 "/source/@network", &d->networks) == -1 ||
      (d->machine = xstr (ctx, NULL, "string(/domain/os/type/@machine)"))
      == NULL || (mem = xstr (ctx, NULL, "string(/domain/memory)")) == NULL ||
      (d->cpu_xml = cpu_xml (doc, ctx)) == NULL)
    goto out;
  d->memory_kib = strtoull (mem, NULL, 10);
  d->hostdevs = 0;
  while (d->hostdevs < 64) {
    char expr[64];
    snprintf (expr, sizeof expr, "/domain/devices/hostdev[%u]",
              d->hostdevs + 1);
    if (!xhas (ctx, NULL, expr))
      break;
    d->hostdevs++;
  }
  r = 0;
 out:
  xmlXPathFreeContext (ctx);
  xmlFreeDoc (doc);
  return r;
}

int
lv_domain_open (struct lv_domain *d, const char *uri, const char *name)
{
  lv_quiet ();
  if ((d->name = strdup (name)) == NULL) {
    set_error (errno, "strdup");
    return -1;
  }
  if ((d->conn = virConnectOpen (uri)) == NULL) {
    set_error (0, "cannot connect to libvirt (%s): %s",
               uri ? uri : "default URI", lv_error ());
    return -1;
  }
  if ((d->dom = virDomainLookupByName (d->conn, name)) == NULL) {
    set_error (0, "libvirt domain %s: %s", name, lv_error ());
    return -1;
  }
  if ((d->xml = virDomainGetXMLDesc (d->dom, 0)) == NULL) {
    set_error (0, "libvirt domain %s: its XML: %s", name, lv_error ());
    return -1;
  }
  return parse_xml (d);
}

void
lv_domain_close (struct lv_domain *d)
{
  size_t i;

  for (i = 0; i < d->n_disks; i++) {
    free (d->disks[i].target);
    free (d->disks[i].path);
    free (d->disks[i].format);
    free (d->disks[i].device);
    free (d->disks[i].type);
  }
  free (d->disks);
  strv_free (d->bridges);
  strv_free (d->networks);
  free (d->machine);
  free (d->cpu_xml);
  free (d->xml);
  free (d->name);
  if (d->dom)
    virDomainFree (d->dom);
  if (d->conn)
    virConnectClose (d->conn);
  memset (d, 0, sizeof *d);
}

size_t
lv_choose_disks (struct lv_domain *d, bool shared_storage)
{
  size_t i, n = 0;

  for (i = 0; i < d->n_disks; i++) {
    struct lv_disk *k = &d->disks[i];
    k->copy = !shared_storage && strcmp (k->device, "disk") == 0 &&
      (strcmp (k->type, "file") == 0 || strcmp (k->type, "block") == 0) &&
      k->path[0] && !k->read_only && !k->shareable;
    n += k->copy;
  }
  return n;
}

/* Does domain x (not d's) name path as a disk source or as a backing
 * file (its live XML lists its images' backing chains)?
 */
static int
domain_uses (virDomainPtr x, const char *path)
{
  CLEANUP_FREE char *xml = virDomainGetXMLDesc (x, 0);
  xmlDocPtr doc = xml ? xmlReadMemory (xml, strlen (xml), "domain.xml",
                                       NULL, XML_PARSE_NONET) : NULL;
  xmlXPathContextPtr ctx = doc ? xmlXPathNewContext (doc) : NULL;
  CLEANUP_STRV char **paths = NULL;
  int r = -1;
  size_t i;

  if (ctx == NULL)
    set_error (0, "reading another domain's XML: %s", lv_error ());
  else if (read_list (ctx, "/domain/devices/disk//source/@file | "
                      "/domain/devices/disk//source/@dev", &paths) == 0)
    for (r = 0, i = 0; r == 0 && paths[i]; i++)
      r = strcmp (paths[i], path) == 0;
  xmlXPathFreeContext (ctx);
  xmlFreeDoc (doc);
  return r;
}

int
lv_path_used_elsewhere (struct lv_domain *d, const char *path)
{
  virDomainPtr *doms = NULL;
  int i, n = virConnectListAllDomains (d->conn, &doms, 0), r = 0;

  if (n < 0) {
    set_error (0, "listing libvirt's domains: %s", lv_error ());
    return -1;
  }
  for (i = 0; i < n; i++) {
    if (r == 0 && strcmp (virDomainGetName (doms[i]), d->name) != 0)
      r = domain_uses (doms[i], path);
    virDomainFree (doms[i]);
  }
  free (doms);
  return r;
}

int
lv_domain_runs_at (const char *uri, const char *name)
{
  virConnectPtr c;
  virDomainPtr d;
  int state = 0, reason, r;

  lv_quiet ();
  if (uri == NULL || name == NULL) {
    set_error (0, "no libvirt URI or domain to ask");
    return -1;
  }
  if ((c = virConnectOpen (uri)) == NULL) {
    set_error (0, "%s: %s", uri, lv_error ());
    return -1;
  }
  d = virDomainLookupByName (c, name);
  if (d == NULL) {
    r = virGetLastErrorCode () == VIR_ERR_NO_DOMAIN ? 0 : -1;
    set_error (0, "%s on %s: %s", name, uri, lv_error ());
  }
  else if (virDomainGetState (d, &state, &reason, 0) < 0) {
    r = -1;
    set_error (0, "the state of %s on %s: %s", name, uri, lv_error ());
  }
  else {
    r = state == VIR_DOMAIN_RUNNING;
    if (r == 0)
      set_error (0, "%s does not run on %s (state %d)", name, uri, state);
  }
  if (d)
    virDomainFree (d);
  virConnectClose (c);
  return r;
}
