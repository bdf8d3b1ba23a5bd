/* control-client.c: vmferry status and vmferry cancel, the other side
 * of control.c: they read RUN_DIR/ID/state.json and talk to
 * RUN_DIR/ID/control.sock.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "internal.h"

#define CANCEL_REPLY_MS 10000
#define CANCEL_WAIT_MS 120000  /* for the rollback to finish */

static json_t *
load_state (const char *run_dir, const char *id)
{
  CLEANUP_FREE char *path = xasprintf ("%s/%s/state.json", run_dir, id);
  json_error_t e;
  json_t *j;

  if (!mig_safe_name (id)) {
    set_error (0, "'%s' is not a migration id", id);
    return NULL;
  }
  if (path == NULL)
    return NULL;
  j = json_load_file (path, 0, &e);
  if (j == NULL)
    set_error (errno, "no migration %s in %s", id, run_dir);
  return j;
}

/* One line about a migration. */
static void
print_line (FILE *out, json_t *st)
{
  json_t *mem = json_object_get (st, "memory");
  json_t *res = json_object_get (st, "result");
  pid_t pid = json_integer_value (json_object_get (st, "pid"));

  fprintf (out, "%s  vm %s  phase %s", json_string_value
           (json_object_get (st, "id")), json_string_value
           (json_object_get (st, "vm")), json_string_value
           (json_object_get (st, "phase")));
  if (mem && !res)
    fprintf (out, "  memory %.1f MiB left, round %d",
             json_integer_value (json_object_get (mem, "remaining"))
             / 1048576.0,
             (int) json_integer_value (json_object_get (mem, "round")));
  if (res)
    fprintf (out, "  ended: %s", json_string_value
             (json_object_get (res, "result")));
  else if (!pid_alive (pid))
    fprintf (out, "  (vmferry process %d is gone)", (int) pid);
  if (!pid_alive (pid) && json_is_true (json_object_get
                                        (json_object_get (st, "journal"),
                                         "open")))
    fprintf (out, "  needs vmferry recover");
  fputc ('\n', out);
}

int
mig_status (const char *run_dir, const char *id, bool json, FILE *out)
{
  json_auto_t *st = NULL;
  DIR *d;
  struct dirent *e;

  if (id) {
    if ((st = load_state (run_dir, id)) == NULL)
      return -1;
    if (json)
      json_dumpf (st, out, JSON_COMPACT);
    if (json)
      fputc ('\n', out);
    else
      print_line (out, st);
    return 0;
  }
  if ((d = opendir (run_dir)) == NULL) {
    if (errno == ENOENT)
      return 0;                 /* no migration ever ran */
    set_error (errno, "%s", run_dir);
    return -1;
  }
  while ((e = readdir (d)) != NULL) {
    json_t *one = mig_safe_name (e->d_name) && e->d_name[0] != '.' ?
      load_state (run_dir, e->d_name) : NULL;
    if (one && json) {
      json_dumpf (one, out, JSON_COMPACT);
      fputc ('\n', out);
    }
    else if (one)
      print_line (out, one);
    json_decref (one);
  }
  closedir (d);
  return 0;
}

/* Send one request line, read the one-line answer (malloc'd). */
static char *
request (const char *run_dir, const char *id, const char *req)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  CLEANUP_CLOSE int fd = -1;
  struct pollfd pfd = { .events = POLLIN };
  char buf[4096];
  ssize_t n;

  if ((size_t) snprintf (sa.sun_path, sizeof sa.sun_path,
                         "%s/%s/control.sock", run_dir, id)
      >= sizeof sa.sun_path) {
    set_error (0, "%s: path too long for a unix socket", run_dir);
    return NULL;
  }
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1 || connect (fd, (struct sockaddr *) &sa, sizeof sa) == -1) {
    set_error (errno, "migration %s is not running (%s)", id, sa.sun_path);
    return NULL;
  }
  if (write_all (fd, req, strlen (req)) == -1)
    return NULL;
  pfd.fd = fd;
  if (poll (&pfd, 1, CANCEL_REPLY_MS) != 1 ||
      (n = read (fd, buf, sizeof buf - 1)) <= 0) {
    set_error (errno, "migration %s did not answer", id);
    return NULL;
  }
  buf[n] = '\0';
  buf[strcspn (buf, "\n")] = '\0';
  return strdup (buf);
}

/* Wait until the migration wrote its result; print it. */
static int
wait_result (const char *run_dir, const char *id, FILE *out)
{
  int64_t end = now_ms () + CANCEL_WAIT_MS;

  while (now_ms () < end) {
    json_auto_t *st = load_state (run_dir, id);
    json_t *res = json_object_get (st, "result");
    if (res) {
      fprintf (out, "migration %s: %s\n", id,
               json_string_value (json_object_get (res, "result")));
      return 0;
    }
    if (st && !pid_alive (json_integer_value (json_object_get (st, "pid"))))
      break;
    usleep (200000);
  }
  set_error (0, "migration %s: no result after the cancel", id);
  return -1;
}

/* Did migration id end with a quarantine (quarantine.c)? */
static bool
quarantine_waits (const char *run_dir, const char *id)
{
  CLEANUP_FREE char *p = xasprintf ("%s/%s/quarantine.json", run_dir, id);

  return p && access (p, F_OK) == 0;
}

int
mig_cancel (const char *run_dir, const char *id, FILE *out)
{
  json_auto_t *st = load_state (run_dir, id);
  CLEANUP_FREE char *reply = NULL;
  json_t *res = json_object_get (st, "result");

  if (st == NULL)
    return -1;
  if (res && quarantine_waits (run_dir, id))
    return mig_quarantine_cancel (run_dir, id, out);
  if (res) {
    set_error (0, "migration %s already ended: %s", id,
               json_string_value (json_object_get (res, "result")));
    return -1;
  }
  if ((reply = request (run_dir, id, "cancel\n")) == NULL)
    return -1;
  if (strncmp (reply, "ok", 2) != 0) {
    set_error (0, "migration %s: %s", id,
               strncmp (reply, "error ", 6) == 0 ? reply + 6 : reply);
    return -1;
  }
  fprintf (out, "migration %s: cancelling\n", id);
  fflush (out);
  return wait_result (run_dir, id, out);
}
