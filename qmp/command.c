/* command.c: running a command and matching its reply by id.  Events
 * that arrive before the reply are queued for qmp_wait_event.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>

#include "utils.h"
#include "internal.h"

/* {"execute": cmd, "arguments": args, "id": id} as one line of text.
 * args is stolen.  NULL + set_error.
 */
static char *
format_command (const char *cmd, json_t *args, int64_t id)
{
  json_auto_t *c = NULL;
  CLEANUP_FREE char *text = NULL;

  if (args != NULL && !json_is_object (args)) {
    json_decref (args);
    set_error (EINVAL, "%s: arguments must be a JSON object", cmd);
    return NULL;
  }
  c = json_pack ("{s:s, s:I}", "execute", cmd, "id", (json_int_t) id);
  if (c == NULL ||
      (args != NULL && json_object_set_new (c, "arguments", args) == -1)) {
    if (c == NULL)
      json_decref (args);
    set_error (ENOMEM, "%s: building the command", cmd);
    return NULL;
  }
  text = json_dumps (c, JSON_COMPACT);
  if (text == NULL) {
    set_error (ENOMEM, "%s: json_dumps", cmd);
    return NULL;
  }
  return xasprintf ("%s\n", text);
}

static void
record_error_reply (struct qmp *q, json_t *error)
{
  const char *class = json_string_value (json_object_get (error, "class"));
  const char *desc = json_string_value (json_object_get (error, "desc"));

  q->err_class = strdup (class ? class : "GenericError");
  q->err_desc = strdup (desc ? desc : "(no description)");
}

/* Make sense of a reply to command id: its "return" value (new
 * reference), or NULL + set_error for an error reply (recorded in q) or
 * a protocol error (the handle breaks).
 */
static json_t *
take_reply (struct qmp *q, const char *cmd, int64_t id, json_t *msg)
{
  json_t *msg_id = json_object_get (msg, "id");
  json_t *ret = json_object_get (msg, "return");
  json_t *error = json_object_get (msg, "error");

  if (!json_is_integer (msg_id) || json_integer_value (msg_id) != id) {
    set_error (EPROTO, "%s: QMP message with %s id instead of the reply "
               "with id %" PRId64, cmd, msg_id ? "another" : "no", id);
    qmp_internal_break (q);
    return NULL;
  }
  if (ret != NULL)
    return json_incref (ret);
  if (json_is_object (error)) {
    record_error_reply (q, error);
    set_error (0, "%s: %s: %s", cmd, qmp_error_class (q), qmp_error_desc (q));
    return NULL;
  }
  set_error (EPROTO, "%s: QMP reply has neither \"return\" nor \"error\"",
             cmd);
  qmp_internal_break (q);
  return NULL;
}

/* Read until the reply to command id, queueing events.  The reply (new
 * reference) or NULL + set_error.
 */
static json_t *
wait_reply (struct qmp *q, const char *cmd, int64_t id, int64_t deadline)
{
  json_t *msg;
  int r;

  for (;;) {
    r = qmp_internal_read_message (q, deadline, &msg);
    if (r == 0) {
      set_error (ETIMEDOUT, "%s: no reply from QEMU in time", cmd);
      qmp_internal_break (q);
    }
    else if (r == -1)
      prefix_error ("%s", cmd);
    if (r <= 0)
      return NULL;
    if (json_object_get (msg, "event") == NULL)
      return msg;
    if (qmp_internal_queue_event (q, msg) == -1) {
      qmp_internal_break (q);   /* the reply is still on its way */
      return NULL;
    }
  }
}

json_t *
qmp_internal_execute (struct qmp *q, const char *cmd, json_t *args, int fd,
                      int64_t deadline)
{
  int64_t id = q->next_id++;
  CLEANUP_FREE char *text = NULL;
  json_auto_t *msg = NULL;

  free (q->err_class);
  free (q->err_desc);
  q->err_class = q->err_desc = NULL;
  if (qmp_internal_check_usable (q) == -1) {
    json_decref (args);
    prefix_error ("%s", cmd);
    return NULL;
  }
  text = format_command (cmd, args, id);
  if (text == NULL)
    return NULL;
  debug ("QMP %s: -> %.*s", q->path, (int) strlen (text) - 1, text);
  if (qmp_internal_send (q, text, strlen (text), fd, deadline) == -1) {
    prefix_error ("%s", cmd);
    return NULL;
  }
  msg = wait_reply (q, cmd, id, deadline);
  if (msg == NULL)
    return NULL;
  return take_reply (q, cmd, id, msg);
}

json_t *
qmp_command (struct qmp *q, const char *cmd, json_t *args, int timeout_ms)
{
  return qmp_internal_execute (q, cmd, args, -1,
                               qmp_internal_deadline (timeout_ms));
}

json_t *
qmp_commandf (struct qmp *q, int timeout_ms, const char *cmd,
              const char *fmt, ...)
{
  json_error_t jerr;
  json_t *args = NULL;
  va_list ap;

  if (fmt != NULL) {
    va_start (ap, fmt);
    args = json_vpack_ex (&jerr, 0, fmt, ap);
    va_end (ap);
    if (args == NULL) {
      set_error (EINVAL, "%s: json_pack: %s", cmd, jerr.text);
      return NULL;
    }
  }
  return qmp_command (q, cmd, args, timeout_ms);
}

const char *
qmp_error_class (struct qmp *q)
{
  return q->err_class ? q->err_class : "";
}

const char *
qmp_error_desc (struct qmp *q)
{
  return q->err_desc ? q->err_desc : "";
}
