/* connect.c: opening a QMP connection (greeting, capabilities), closing
 * it, and what the greeting and the socket tell about the peer.
 */
#include <config.h>

#include <errno.h>

#include "utils.h"
#include "internal.h"

static struct qmp *
qmp_new (const char *path)
{
  struct qmp *q = calloc (1, sizeof *q);

  if (q == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  q->fd = -1;
  q->peer_pid = -1;
  q->next_id = 1;
  q->path = strdup (path);
  q->events = json_array ();
  if (q->path == NULL || q->events == NULL) {
    set_error (ENOMEM, "QMP socket %s", path);
    qmp_close (q);
    return NULL;
  }
  return q;
}

/* The first message must be the greeting {"QMP": {...}}.  No message at
 * all means that another client holds the socket (or QEMU hangs).
 */
static int
read_greeting (struct qmp *q, int64_t deadline)
{
  json_auto_t *msg = NULL;
  json_t *g;
  int r;

  r = qmp_internal_read_message (q, deadline, &msg);
  if (r == 0)
    qmp_internal_busy_error (q->path, q->fd);
  if (r <= 0)
    return -1;
  g = json_object_get (msg, "QMP");
  if (!json_is_object (g)) {
    set_error (EPROTO, "the first message is not a QMP greeting");
    return -1;
  }
  q->greeting = json_incref (g);
  return 0;
}

struct qmp *
qmp_connect (const char *path, int timeout_ms)
{
  int64_t deadline = qmp_internal_deadline (timeout_ms);
  struct qmp *q;
  json_t *ret;

  q = qmp_new (path);
  if (q == NULL)
    return NULL;
  q->fd = qmp_internal_open_socket (path, deadline, &q->peer_pid);
  if (q->fd == -1)
    goto err_close;
  if (read_greeting (q, deadline) == -1)
    goto err_prefix;
  ret = qmp_internal_execute (q, "qmp_capabilities", NULL, -1, deadline);
  if (ret == NULL)
    goto err_prefix;
  json_decref (ret);
  debug ("QMP %s: connected, QEMU pid %d", path, (int) q->peer_pid);
  return q;

 err_prefix:
  if (strncmp (get_error (), "QMP socket ", 11) != 0)
    prefix_error ("QMP socket %s", path);
 err_close:
  qmp_close (q);
  return NULL;
}

void
qmp_close (struct qmp *q)
{
  if (q == NULL)
    return;
  if (q->fd >= 0)
    close (q->fd);
  free (q->path);
  json_decref (q->greeting);
  qmp_internal_inbuf_free (&q->in);
  json_decref (q->events);
  free (q->err_class);
  free (q->err_desc);
  free (q->broken_msg);
  free (q);
}

json_t *
qmp_greeting (struct qmp *q)
{
  return q->greeting;
}

int
qmp_qemu_version (struct qmp *q)
{
  json_int_t major, minor, micro;

  if (json_unpack (q->greeting, "{s:{s:{s:I,s:I,s:I}}}", "version", "qemu",
                   "major", &major, "minor", &minor,
                   "micro", &micro) == -1) {
    set_error (EPROTO, "QMP socket %s: the greeting has no QEMU version",
               q->path);
    return -1;
  }
  /* From the socket's peer: the encoding below must not overflow. */
  if (major < 0 || major > 9999 || minor < 0 || minor > 99 ||
      micro < 0 || micro > 99) {
    set_error (EPROTO, "QMP socket %s: the greeting has an impossible QEMU "
               "version %" JSON_INTEGER_FORMAT ".%" JSON_INTEGER_FORMAT ".%"
               JSON_INTEGER_FORMAT, q->path, major, minor, micro);
    return -1;
  }
  return (int) (major * 10000 + minor * 100 + micro);
}

pid_t
qmp_peer_pid (struct qmp *q)
{
  return q->peer_pid;
}

int
qmp_fd (struct qmp *q)
{
  return q->fd;
}
