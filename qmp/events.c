/* events.c: the queue of events received and not collected yet, waiting
 * for an event and polling for one.
 */
#include <config.h>

#include <errno.h>

#include "utils.h"
#include "internal.h"

int
qmp_internal_queue_event (struct qmp *q, json_t *event)
{
  if (json_array_size (q->events) >= QMP_MAX_QUEUED_EVENTS) {
    debug ("QMP %s: event queue full, dropping the oldest event", q->path);
    json_array_remove (q->events, 0);
  }
  if (json_array_append_new (q->events, event) == -1) {
    set_error (ENOMEM, "queueing a QMP event");
    return -1;
  }
  return 0;
}

static bool
event_matches (json_t *event, const char *name, qmp_event_match_fn match,
               void *opaque)
{
  const char *ev_name = json_string_value (json_object_get (event, "event"));

  if (ev_name == NULL || (name != NULL && strcmp (ev_name, name) != 0))
    return false;
  return match == NULL || match (event, opaque);
}

/* Remove and return (new reference) the first queued event from index
 * from on that matches, or NULL.
 */
static json_t *
take_event (struct qmp *q, size_t from, const char *name,
            qmp_event_match_fn match, void *opaque)
{
  size_t i;
  json_t *event;

  for (i = from; i < json_array_size (q->events); i++) {
    event = json_array_get (q->events, i);
    if (event_matches (event, name, match, opaque)) {
      json_incref (event);
      json_array_remove (q->events, i);
      return event;
    }
  }
  return NULL;
}

/* Read one message before deadline and queue it; outside a command only
 * events may arrive.  1 if an event was queued, 0 on timeout, -1 +
 * set_error.
 */
static int
receive_event (struct qmp *q, int64_t deadline)
{
  json_t *msg;
  int r;

  r = qmp_internal_read_message (q, deadline, &msg);
  if (r <= 0)
    return r;
  if (json_object_get (msg, "event") == NULL) {
    json_decref (msg);
    set_error (EPROTO, "unexpected QMP message from QEMU outside a command");
    qmp_internal_break (q);
    return -1;
  }
  return qmp_internal_queue_event (q, msg) == -1 ? -1 : 1;
}

/* Queued events first, then each new one as it arrives (it is the last
 * in the queue).
 */
json_t *
qmp_wait_event (struct qmp *q, const char *name, qmp_event_match_fn match,
                void *opaque, int timeout_ms)
{
  int64_t deadline = qmp_internal_deadline (timeout_ms);
  json_t *event;
  int r;

  event = take_event (q, 0, name, match, opaque);
  while (event == NULL) {
    r = receive_event (q, deadline);
    if (r == 0)
      set_error (ETIMEDOUT, "waiting for QMP event %s: none within %d ms",
                 name ? name : "(any)", timeout_ms);
    else if (r == -1)
      prefix_error ("waiting for QMP event %s", name ? name : "(any)");
    if (r <= 0)
      return NULL;
    event = take_event (q, json_array_size (q->events) - 1,
                        name, match, opaque);
  }
  return event;
}

json_t *
qmp_poll_event (struct qmp *q, const char *name, qmp_event_match_fn match,
                void *opaque)
{
  json_t *event;
  int r;

  clear_error ();
  event = take_event (q, 0, name, match, opaque);
  while (event == NULL) {
    r = receive_event (q, 0);
    if (r <= 0)
      return NULL;
    event = take_event (q, json_array_size (q->events) - 1,
                        name, match, opaque);
  }
  return event;
}

void
qmp_clear_events (struct qmp *q)
{
  json_array_clear (q->events);
}
