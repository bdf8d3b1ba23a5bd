/* control-client.c: vmferry status and vmferry cancel, the other side
 * of control.c: they read RUN_DIR/ID/state.json and talk to
 * RUN_DIR/ID/control.sock.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "internal.h"
#include "progress.h"

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

/* The text of a state's result: its prose (an older state has only
 * "result").
 */
static const char *
result_text (json_t *res)
{
  json_t *t = json_object_get (res, "result_text");

  return json_string_value (t ? t : json_object_get (res, "result"));
}

/* When the migration started, ms since the epoch: its "started_ms", or
 * for a state written before that field, the state file's time.
 */
static int64_t
started_ms (const char *run_dir, json_t *st)
{
  json_t *v = json_object_get (st, "started_ms");
  CLEANUP_FREE char *path = NULL;
  struct stat sb;

  if (json_is_integer (v))
    return json_integer_value (v);
  path = xasprintf ("%s/%s/state.json", run_dir,
                    json_string_value (json_object_get (st, "id")));
  return path && stat (path, &sb) == 0 ? sb.st_mtime * (int64_t) 1000 : 0;
}

/* What the RESULT column says: the outcome, or how it goes on. */
static void
print_state (FILE *out, json_t *st)
{
  json_t *mem = json_object_get (st, "memory");
  json_t *res = json_object_get (st, "result");
  pid_t pid = json_integer_value (json_object_get (st, "pid"));

  if (res)
    fprintf (out, "%s", result_text (res));
  else if (!pid_alive (pid))
    fprintf (out, "vmferry process %d is gone", (int) pid);
  else if (mem)
    fprintf (out, "running: memory %.1f MiB left, round %d",
             json_integer_value (json_object_get (mem, "remaining"))
             / 1048576.0,
             (int) json_integer_value (json_object_get (mem, "round")));
  else
    fprintf (out, "running");
  if (!pid_alive (pid) && json_is_true (json_object_get
                                        (json_object_get (st, "journal"),
                                         "open")))
    fprintf (out, "; needs vmferry recover");
}

#define LINE_FORMAT "%-16s  %-19s  %-12s  %-15s  %-10s  "

static void
print_header (FILE *out)
{
  fprintf (out, LINE_FORMAT "%s\n", "ID", "STARTED", "VM", "DESTINATION",
           "PHASE", "RESULT");
}

/* One line about a migration: id, start (local time), VM (its name
 * once known), destination, phase, result.
 */
static void
print_line (FILE *out, const char *run_dir, json_t *st)
{
  json_t *res = json_object_get (st, "result");
  const char *vm = json_string_value (json_object_get (res, "vm"));
  const char *dest = json_string_value (json_object_get (st,
                                                         "destination"));
  time_t t = started_ms (run_dir, st) / 1000;
  struct tm tm;
  char when[32] = "?";

  if (t && localtime_r (&t, &tm))
    strftime (when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
  if (vm == NULL)
    vm = json_string_value (json_object_get (st, "vm"));
  if (dest == NULL)
    dest = json_string_value (json_object_get (res, "destination"));
  fprintf (out, LINE_FORMAT, json_string_value (json_object_get (st, "id")),
           when, vm ? vm : "?", dest ? dest : "?",
           json_string_value (json_object_get (st, "phase")));
  print_state (out, st);
  fputc ('\n', out);
}

/* Newest first. */
static int
newest_first (const void *a, const void *b)
{
  int64_t x = ((const int64_t *) a)[0], y = ((const int64_t *) b)[0];

  return x < y ? 1 : x > y ? -1 : 0;
}

/* The states of run_dir, newest first, as a JSON array (empty if the
 * directory does not exist).  NULL + set_error.
 */
static json_t *
load_all (const char *run_dir)
{
  json_t *all = json_array ();
  DIR *d = opendir (run_dir);
  struct dirent *e;
  int64_t (*keys)[2] = NULL;
  size_t n = 0, i;

  if (d == NULL) {
    if (errno == ENOENT)
      return all;               /* no migration ever ran */
    set_error (errno, "%s", run_dir);
    json_decref (all);
    return NULL;
  }
  while ((e = readdir (d)) != NULL) {
    json_t *one = mig_safe_name (e->d_name) && e->d_name[0] != '.' ?
      load_state (run_dir, e->d_name) : NULL;
    if (one)
      json_array_append_new (all, one);
  }
  closedir (d);
  n = json_array_size (all);
  keys = calloc (n + 1, sizeof *keys);
  if (keys == NULL) {
    set_error (errno, "calloc");
    json_decref (all);
    return NULL;
  }
  for (i = 0; i < n; i++) {
    keys[i][0] = started_ms (run_dir, json_array_get (all, i));
    keys[i][1] = i;
  }
  qsort (keys, n, sizeof *keys, newest_first);
  for (i = 0; i < n; i++)
    json_array_append (all, json_array_get (all, keys[i][1]));
  free (keys);
  for (i = 0; i < n; i++)
    json_array_remove (all, 0);
  return all;
}

int
mig_status (const char *run_dir, const char *id, bool json, FILE *out)
{
  json_auto_t *all = NULL;
  json_t *st;
  size_t i;

  if (id) {
    if ((st = load_state (run_dir, id)) == NULL)
      return -1;
    all = json_pack ("[o]", st);
  }
  else if ((all = load_all (run_dir)) == NULL)
    return -1;
  if (!json && json_array_size (all) > 0)
    print_header (out);
  json_array_foreach (all, i, st) {
    if (json) {
      json_dumpf (st, out, PROGRESS_JSON_FLAGS);
      fputc ('\n', out);
    }
    else
      print_line (out, run_dir, st);
  }
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
      fprintf (out, "migration %s: %s\n", id, result_text (res));
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
    set_error (0, "migration %s already ended: %s", id, result_text (res));
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
