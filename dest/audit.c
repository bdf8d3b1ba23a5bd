/* audit.c: what vmferryd logs of every request it answers (its audit
 * trail), and the metrics the answers feed (metrics.c).
 *
 * prepare, finish, abort, check and send-back are logged at info level
 * when they succeed and at warning level when they are refused or fail,
 * with the migration id, the VM, the client's certificate name (CN) and
 * address, and the outcome (HTTP status and the reply's state or
 * error); a client refused for its certificate at warning level; the
 * other requests (host, status, probe) at debug level.  In the journal
 * the line carries the fields VMFERRY_ID, VM, PEER, PEER_ADDR,
 * VMFERRY_REQUEST and VMFERRY_STATUS (log.c, cmd/).
 */
#include <config.h>

#include "internal.h"

/* The request's name: the last part of its path ("prepare"). */
static const char *
request_name (const struct api_request *req)
{
  const char *slash = req->path ? strrchr (req->path, '/') : NULL;

  return slash ? slash + 1 : "?";
}

/* Is this one of the requests of the audit trail? */
static bool
audited (const char *name)
{
  static const char *const names[] = {
    "prepare", "finish", "abort", "check", "send-back",
  };
  size_t i;

  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp (name, names[i]) == 0)
      return true;
  return false;
}

/* The outcome in words: the reply's error, or its state, or "ok". */
static const char *
outcome (int status, json_t *reply)
{
  const char *e = json_string_value (json_object_get (reply, "error"));
  const char *st = json_string_value (json_object_get (reply, "state"));

  if (e)
    return e;
  if (json_is_array (json_object_get (reply, "findings")))
    return mig_compat_has_error (json_object_get (reply, "findings"))
      ? "the VM cannot move here" : "the VM can move here";
  if (json_is_string (json_object_get (reply, "result")))
    return json_string_value (json_object_get (reply, "result"));
  return st ? st : status == 200 ? "prepared" : "?";
}

/* A migration that ended here: counted once (j->counted), with its
 * times (downtime from the source's pause, finish's "stop_time", to
 * the resume here).
 */
static void
count_ended (struct mig_dest *d, struct dest_job *j, const char *result,
             double stop_time, double resumed)
{
  bool first;

  pthread_mutex_lock (&j->lock);
  first = !j->counted;
  j->counted = true;
  pthread_mutex_unlock (&j->lock);
  if (!first)
    return;
  mig_dest_metrics_result (d->metrics, false, result);
  if (strcmp (result, "aborted") != 0)
    mig_dest_metrics_times (d->metrics, (now_ms () - j->started_ms) / 1000.0,
                            stop_time > 0 && resumed >= stop_time
                            ? resumed - stop_time : -1);
}

/* A send-back's summary: a migration out. */
static void
count_out (struct mig_dest *d, json_t *sum)
{
  json_t *dt = json_object_get (sum, "downtime_ms");

  mig_dest_metrics_result (d->metrics, true, json_string_value
                           (json_object_get (sum, "result")));
  mig_dest_metrics_bytes (d->metrics, true, false, json_integer_value
                          (json_object_get (sum, "storage_bytes")));
  mig_dest_metrics_bytes (d->metrics, true, true, json_integer_value
                          (json_object_get (sum, "memory_bytes")));
  mig_dest_metrics_times (d->metrics, -1, dt ? json_integer_value (dt)
                          / 1000.0 : -1);
}

/* The metrics of one answer. */
static void
count (struct mig_dest *d, const char *name, const struct api_request *req,
       int status, json_t *reply, struct dest_job *j)
{
  const char *st = json_string_value (json_object_get (reply, "state"));

  if (strcmp (name, "prepare") == 0 && status != 200)
    mig_dest_metrics_result (d->metrics, false, "refused");
  else if (j && strcmp (name, "finish") == 0 && status == 200)
    count_ended (d, j, st && strcmp (st, "stored") == 0 ? "stored"
                 : "migrated", json_real_value (json_object_get
                                                (req->body, "stop_time")),
                 json_real_value (json_object_get (reply, "resumed")));
  else if (j && strcmp (name, "abort") == 0 && status == 200)
    count_ended (d, j, "aborted", 0, 0);
  else if (strcmp (name, "send-back") == 0 && status == 200)
    count_out (d, json_object_get (reply, "summary"));
}

void
mig_dest_observe (void *opaque, const struct api_request *req, int status,
                  json_t *reply)
{
  struct mig_dest *d = opaque;
  const char *name = request_name (req);
  const char *id = json_string_value (json_object_get (req->body, "id"));
  const char *vm = json_string_value
    (json_object_get (json_object_get (req->body, "vm"), "name"));
  struct dest_job *j = id ? mig_dest_find_job (d, id) : NULL;
  size_t n = 0;
  enum log_level level = !audited (name) ? LOG_LEVEL_DEBUG
    : status < 400 ? LOG_LEVEL_INFO : LOG_LEVEL_WARNING;
  const char *fields[8];

  if (req->peer_name == NULL) {
    log_fields (LOG_LEVEL_WARNING, NULL, "%s %s from %s refused: %s",
                req->method, req->path, req->peer_addr,
                outcome (status, reply));
    return;
  }
  if (vm == NULL && j && j->vm)
    vm = j->vm->name;
  count (d, name, req, status, reply, j);
  /* The journal's fields: those known (a failed allocation ends the
   * list early, which loses fields, never the line).
   */
  fields[n++] = xasprintf ("VMFERRY_REQUEST=%s", name);
  fields[n++] = xasprintf ("PEER=%s", req->peer_name);
  fields[n++] = xasprintf ("PEER_ADDR=%s", req->peer_addr);
  fields[n++] = xasprintf ("VMFERRY_STATUS=%d", status);
  if (id)
    fields[n++] = xasprintf ("VMFERRY_ID=%s", id);
  if (vm)
    fields[n++] = xasprintf ("VM=%s", vm);
  fields[n] = NULL;
  log_fields (level, fields, "%s id=%s vm=%s peer=%s addr=%s: %d %s", name,
              id ? id : "-", vm ? vm : "-", req->peer_name, req->peer_addr,
              status, outcome (status, reply));
  while (n > 0)
    free ((char *) fields[--n]);
}
