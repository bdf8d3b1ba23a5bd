/* agent.c: the one client of vmferryd's API (vmferry-api(7)).
 *
 * Every caller on the source's side (the run, check, offline moves,
 * recover, the quarantine's reaper, undo) talks to an agent through
 * this: a call that the agent answered with an error becomes one line,
 * "destination NAME refused PATH (HTTP N): MESSAGE"; a transport
 * failure keeps api/'s message and its class (get_errno():
 * API_NOT_SENT when the request never left, API_NO_REPLY when the agent
 * may have acted on it).
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

struct mig_agent {
  struct api_client *api;
  char *name;                   /* for messages: the host, or HOST:PORT */
  bool queued;                  /* the last refusal said "queued" */
};

struct mig_agent *
mig_agent_new (const char *host, int port, const char *tls_dir,
               const char *name)
{
  struct mig_agent *a = calloc (1, sizeof *a);

  if (a == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  a->name = name ? strdup (name) : xasprintf ("%s:%d", host, port);
  a->api = api_client_new (host, port, tls_dir);
  if (a->name == NULL || a->api == NULL) {
    mig_agent_free (a);
    return NULL;
  }
  return a;
}

void
mig_agent_free (struct mig_agent *a)
{
  if (a == NULL)
    return;
  api_client_free (a->api);
  free (a->name);
  free (a);
}

bool
mig_agent_queued (const struct mig_agent *a)
{
  return a->queued;
}

json_t *
mig_agent_call (struct mig_agent *a, const char *method, const char *path,
                json_t *body, int timeout_ms, int *status)
{
  json_t *reply = NULL;
  const char *e;
  int st;

  st = api_client_call (a->api, method, path, body, &reply, timeout_ms);
  if (status)
    *status = st;
  if (st == 200)
    return reply;
  if (st != -1) {
    a->queued = json_is_true (json_object_get (reply, "queued"));
    e = json_string_value (json_object_get (reply, "error"));
    set_error (0, "destination %s refused %s (HTTP %d): %s", a->name, path,
               st, e ? e : "no message");
  }
  json_decref (reply);
  return NULL;
}

json_t *
mig_agent_post (struct mig_agent *a, const char *path, json_t *body,
                int timeout_ms, int *status)
{
  return mig_agent_call (a, "POST", path, body, timeout_ms, status);
}

/* POST path {"id": id, ...}: the requests that name a migration. */
static json_t *
post_id (struct mig_agent *a, const char *path, const char *id,
         json_t *extra, int timeout_ms, int *status)
{
  json_auto_t *body = extra ? json_incref (extra) : json_object ();

  if (body == NULL || json_object_set_new (body, "id", json_string (id))) {
    set_error (ENOMEM, "%s", path);
    if (status)
      *status = -1;
    return NULL;
  }
  return mig_agent_post (a, path, body, timeout_ms, status);
}

json_t *
mig_agent_abort (struct mig_agent *a, const char *id, json_t *extra,
                 int timeout_ms, int *status)
{
  return post_id (a, "/v1/abort", id, extra, timeout_ms, status);
}

json_t *
mig_agent_finish (struct mig_agent *a, const char *id, json_t *extra,
                  int timeout_ms, int *status)
{
  return post_id (a, "/v1/finish", id, extra, timeout_ms, status);
}

json_t *
mig_agent_send_back (struct mig_agent *a, const char *id, json_t *extra,
                     int timeout_ms, int *status)
{
  return post_id (a, "/v1/send-back", id, extra, timeout_ms, status);
}

json_t *
mig_agent_status (struct mig_agent *a, int timeout_ms, int *status)
{
  return mig_agent_call (a, "GET", "/v1/status", NULL, timeout_ms, status);
}
