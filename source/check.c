/* check.c: the compatibility report on the source side.
 *
 * The source discovers the VM (vm.c, vm-facts.c) and sends its
 * description to the destination's POST /v1/check, which applies the
 * rules of compat.c to it and to its own facts and answers the
 * findings.  vmferry check prints them; vmferry migrate runs the same
 * request first and refuses on any error.  Nothing is created anywhere.
 */
#include <config.h>

#include "internal.h"

#define CHECK_TIMEOUT 60000

/* POST /v1/check; the reply or NULL (set_error). */
static json_t *
ask_destination (struct source *s)
{
  json_auto_t *body = json_pack ("{s:s, s:o, s:s?}", "host", s->p->host,
                                 "vm", mig_vm_to_json (s->vm),
                                 "migration_network",
                                 s->p->migration_network);
  json_t *reply;

  if (s->agent == NULL)
    s->agent = mig_agent_new (s->p->host, s->p->port, s->p->tls_dir, NULL);
  if (s->agent == NULL || body == NULL)
    return NULL;
  reply = mig_agent_post (s->agent, "/v1/check", body, CHECK_TIMEOUT, NULL);
  if (reply && !json_is_array (json_object_get (reply, "findings"))) {
    set_error (0, "destination %s:%d sent no report for the VM",
               s->p->host, s->p->port);
    json_decref (reply);
    return NULL;
  }
  return reply;
}

int
src_check (struct source *s)
{
  json_auto_t *reply = ask_destination (s);
  json_t *findings = json_object_get (reply, "findings"), *f;
  CLEANUP_FREE char *text = NULL;
  size_t i, n_info = 0;

  if (reply == NULL)
    return -1;
  json_array_foreach (findings, i, f) {
    const char *sev = json_string_value (json_object_get (f, "severity"));
    if (sev && strcmp (sev, "info") == 0) {
      n_info++;
      continue;
    }
    progress_note (&s->pr, "check: %s: %s", sev ? sev : "?",
                   json_string_value (json_object_get (f, "message")));
  }
  progress_note (&s->pr, "check: %zu check(s) passed", n_info);
  if (!mig_compat_has_error (findings))
    return 0;
  text = mig_compat_errors_text (findings);
  set_error (0, "%s (vmferry check VM --to HOST shows how to fix it)",
             text ? text : "the VM cannot move there");
  return -1;
}

/* The report for a person: one finding per line, its fix below. */
/* Which networks the migration would use: the control API's, and the
 * address the destination would take the disk and memory data on (from
 * this host's address in --migration-network, if given).
 */
static json_t *
networks (struct source *s, json_t *facts)
{
  char local[64] = "";
  const char *data = json_string_value (json_object_get (facts,
                                                         "data_address"));

  if (s->p->migration_network)
    net_local_addr_in (s->p->migration_network, local, sizeof local);
  return json_pack ("{s:s, s:i, s:s?, s:s?, s:s?}", "control", s->p->host,
                    "control_port", s->p->port, "data", data,
                    "migration_network", s->p->migration_network,
                    "source_address", local[0] ? local : NULL);
}

static void
print_text (FILE *out, struct source *s, json_t *findings, bool ok,
            json_t *nets)
{
  size_t i, n_err = 0, n_warn = 0;
  json_t *f;
  const char *data = json_string_value (json_object_get (nets, "data"));
  const char *local = json_string_value (json_object_get (nets,
                                                          "source_address"));

  fprintf (out, "VM %s -> %s:%d\n", s->vm->name, s->p->host, s->p->port);
  fprintf (out, "  networks: control %s:%d, disk and memory data to %s%s%s\n",
           s->p->host, s->p->port, data ? data : "(unknown)",
           local ? " from " : "", local ? local : "");
  json_array_foreach (findings, i, f) {
    const char *sev = json_string_value (json_object_get (f, "severity"));
    const char *fix = json_string_value (json_object_get (f, "fix"));
    sev = sev ? sev : "?";
    n_err += strcmp (sev, "error") == 0;
    n_warn += strcmp (sev, "warning") == 0;
    fprintf (out, "  %-8s %-20s %s\n", sev,
             json_string_value (json_object_get (f, "id")),
             json_string_value (json_object_get (f, "message")));
    if (fix && strcmp (sev, "info") != 0)
      fprintf (out, "  %-8s %-20s fix: %s\n", "", "", fix);
  }
  fprintf (out, "%s (%zu error(s), %zu warning(s))\n",
           ok ? "the VM can move" : "the VM cannot move", n_err, n_warn);
}

/* Discover, ask, print.  Returns the result code. */
static enum mig_result
check (struct source *s)
{
  json_auto_t *reply = NULL, *o = NULL, *nets = NULL;
  json_t *findings;
  bool ok;

  if (src_preflight (s) == -1)
    return MIG_REFUSED;
  if ((reply = ask_destination (s)) == NULL) {
    prefix_error ("cannot ask the destination");
    return MIG_REFUSED;
  }
  findings = json_object_get (reply, "findings");
  ok = !mig_compat_has_error (findings);
  nets = networks (s, json_object_get (reply, "facts"));
  if (s->p->json) {
    o = json_pack ("{s:s, s:s, s:i, s:b, s:O, s:o, s:O, s:O}", "vm",
                   s->vm->name, "destination", s->p->host, "port", s->p->port,
                   "can_move", ok, "findings", findings,
                   "source", mig_vm_to_json (s->vm),
                   "destination_facts", json_object_get (reply, "facts"),
                   "networks", nets);
    if (o)
      json_dumpf (o, s->p->out, JSON_COMPACT);
    fputc ('\n', s->p->out);
  }
  else
    print_text (s->p->out, s, findings, ok, nets);
  if (!ok) {
    CLEANUP_FREE char *text = mig_compat_errors_text (findings);
    set_error (0, "%s", text ? text : "the VM cannot move there");
    return MIG_REFUSED;
  }
  return MIG_OK;
}

enum mig_result
mig_check_run (const struct mig_source_params *p)
{
  struct source s = { .p = p, .t_start = now_ms () };
  enum mig_result r;

  /* Progress notes (preflight's) go to stderr: stdout is the report. */
  progress_init (&s.pr, stderr, false, false);
  clear_error ();
  r = check (&s);
  qmp_close (s.q);
  mig_agent_free (s.agent);
  mig_vm_free (s.vm);
  return r;
}
