/* control.c: a running migration's face to other vmferry commands.
 *
 *   RUN_DIR/ID/state.json    the migration's latest events, one object
 *                            per event kind plus pid, id, vm,
 *                            destination, started_ms (wall clock), phase;
 *                            rewritten atomically (rename) as it goes;
 *                            its "journal" object (source-journal.c) is
 *                            what vmferry recover needs after a crash
 *   RUN_DIR/ID/control.sock  one request line per connection:
 *                            "cancel" -> "ok cancelling" | "error ..."
 *                            "status" -> state.json's object
 *
 * A thread serves the socket so that a request is answered at any
 * moment.  A cancel it accepts makes cancel_pipe readable; the source
 * polls that with its other cancel source.  Once the switchover begins
 * cancels are refused (src_control_last_cancel() closes the gate and
 * collects a cancel that arrived just before).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "internal.h"
#include "control.h"

#define STATE_WRITE_MS 500      /* at most this often for progress events */

struct src_control {
  char *dir, *sock_path, *state_path;
  int listen_fd;
  int cancel_pipe[2];           /* a byte = cancel requested */
  int stop_pipe[2];             /* a byte = thread must end */
  pthread_t thread;
  bool thread_started;
  pthread_mutex_t lock;         /* protects the fields below */
  json_t *state;
  bool gate_closed;             /* switchover began: no more cancels */
  int64_t last_write;           /* ms */
};

/* Write the state file (lock held), durably: it is the journal that
 * vmferry recover reads after a crash.
 */
static int
write_state_locked (struct src_control *c)
{
  c->last_write = now_ms ();
  return json_state_save (c->state_path, c->state);
}

/* progress.h sink: keep the latest event of each kind. */
static void
sink (void *opaque, json_t *ev)
{
  struct src_control *c = opaque;
  const char *kind = json_string_value (json_object_get (ev, "event"));
  bool now;

  if (kind == NULL)
    return;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  json_object_set (c->state, kind, ev);
  if (strcmp (kind, "phase") == 0)
    json_object_set (c->state, "phase", json_object_get (ev, "phase"));
  now = strcmp (kind, "memory") != 0 && strcmp (kind, "storage") != 0;
  if (now || now_ms () - c->last_write >= STATE_WRITE_MS)
    write_state_locked (c);
}

/* Answer one request on connection fd. */
static void
serve (struct src_control *c, int fd)
{
  char buf[64] = "";
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  ssize_t n = 0;
  CLEANUP_FREE char *reply = NULL;

  if (poll (&pfd, 1, 2000) == 1)
    n = read (fd, buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = '\0';
  buf[strcspn (buf, "\r\n")] = '\0';
  pthread_mutex_lock (&c->lock);
  if (strcmp (buf, "status") == 0) {
    char *s = json_dumps (c->state, JSON_COMPACT);
    reply = s ? xasprintf ("%s\n", s) : NULL;
    free (s);
  }
  else if (strcmp (buf, "cancel") != 0)
    reply = xasprintf ("error unknown request '%s'\n", buf);
  else if (c->gate_closed)
    reply = strdup ("error too late: the switchover has begun\n");
  else if (write (c->cancel_pipe[1], "c", 1) == 1)
    reply = strdup ("ok cancelling\n");
  pthread_mutex_unlock (&c->lock);
  if (reply && write_all (fd, reply, strlen (reply)) == -1)
    debug ("control: reply: %s", get_error ());
}

static void *
control_thread (void *opaque)
{
  struct src_control *c = opaque;
  struct pollfd pfd[2] = { { .fd = c->listen_fd, .events = POLLIN },
                           { .fd = c->stop_pipe[0], .events = POLLIN } };

  while (poll (pfd, 2, -1) >= 0 || errno == EINTR) {
    int fd;
    if (pfd[1].revents)
      break;
    if (!(pfd[0].revents & POLLIN))
      continue;
    fd = accept4 (c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
      serve (c, fd);
      close (fd);
    }
  }
  return NULL;
}

/* The listening socket (an old one of the same id is replaced). */
static int
listen_unix (const char *path)
{
  unlink (path);
  return net_unix_listen (path);
}

struct src_control *
src_control_start (const char *run_dir, const char *id, const char *vm,
                   const char *dest, struct progress *pr)
{
  struct src_control *c = calloc (1, sizeof *c);

  if (c == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  clear_error ();
  c->listen_fd = c->cancel_pipe[0] = c->cancel_pipe[1] = -1;
  c->stop_pipe[0] = c->stop_pipe[1] = -1;
  pthread_mutex_init (&c->lock, NULL);
  c->dir = xasprintf ("%s/%s", run_dir, id);
  c->sock_path = xasprintf ("%s/%s/control.sock", run_dir, id);
  c->state_path = xasprintf ("%s/%s/state.json", run_dir, id);
  c->state = json_pack ("{s:s, s:i, s:s, s:s?, s:I, s:s}", "id", id,
                        "pid", (int) getpid (), "vm", vm, "destination",
                        dest, "started_ms", (json_int_t) wall_ms (),
                        "phase", "start");
  if (c->dir == NULL || c->sock_path == NULL || c->state_path == NULL ||
      c->state == NULL || mkdir_p (c->dir, 0700) == -1 ||
      pipe2 (c->cancel_pipe, O_CLOEXEC | O_NONBLOCK) == -1 ||
      pipe2 (c->stop_pipe, O_CLOEXEC) == -1 ||
      (c->listen_fd = listen_unix (c->sock_path)) == -1)
    goto err;
  if (write_state_locked (c) == -1)
    goto err;
  if (pthread_create (&c->thread, NULL, control_thread, c) != 0) {
    set_error (0, "cannot start the control thread");
    goto err;
  }
  c->thread_started = true;
  pr->sink = sink;
  pr->sink_opaque = c;
  return c;
 err:
  if (get_error ()[0] == '\0')
    set_error (errno, "%s", c->dir ? c->dir : run_dir);
  src_control_stop (c, false);
  return NULL;
}

int
src_control_journal (struct src_control *c, json_t *journal)
{
  if (c == NULL)
    return 0;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  json_object_set_new (c->state, "journal", json_deep_copy (journal));
  if (write_state_locked (c) == -1) {
    prefix_error ("migration journal");
    return -1;
  }
  return 0;
}

int
src_control_cancel_fd (struct src_control *c)
{
  return c ? c->cancel_pipe[0] : -1;
}

int
src_control_last_cancel (struct src_control *c)
{
  char b;

  if (c == NULL)
    return 0;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  c->gate_closed = true;
  return read (c->cancel_pipe[0], &b, 1) == 1 ? 1 : 0;
}

void
src_control_stop (struct src_control *c, bool discard)
{
  if (c == NULL)
    return;
  if (c->thread_started) {
    if (write (c->stop_pipe[1], "s", 1) != 1)
      debug ("control: cannot stop the thread");
    pthread_join (c->thread, NULL);
  }
  if (c->listen_fd >= 0) {
    close (c->listen_fd);
    unlink (c->sock_path);
  }
  if (discard && c->dir && remove_tree (c->dir) == -1)
    debug ("control: %s", get_error ());
  else if (!discard && c->state && c->state_path && c->dir)
    write_state_locked (c);     /* the final one, with the result */
  for (int i = 0; i < 2; i++) {
    if (c->cancel_pipe[i] >= 0)
      close (c->cancel_pipe[i]);
    if (c->stop_pipe[i] >= 0)
      close (c->stop_pipe[i]);
  }
  json_decref (c->state);
  pthread_mutex_destroy (&c->lock);
  free (c->dir);
  free (c->sock_path);
  free (c->state_path);
  free (c);
}
