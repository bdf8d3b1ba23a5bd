/* vmferryd: the agent on every host that can receive VMs.  Reads its
 * settings (vmferryd-config.c), starts dest/'s agent and the metrics
 * server, tells systemd it is ready, and waits: SIGHUP reloads the
 * configuration, SIGINT and SIGTERM stop it (or, with --once, the end
 * of one migration).
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#include "utils.h"
#include "api.h"
#include "net.h"
#include "vm.h"
#include "migrate.h"
#include "common.h"
#include "vmferryd.h"

/* The settings a reload applies at once; the others wait for a start. */
static const char *const live_keys[] = {
  "log-level", "max-incoming", "queue", "port-range", NULL,
};

/* The CPU time vmferryd used (its own threads: API, data channel), for
 * the log and the benchmark.
 */
static void
print_cpu (void)
{
  struct rusage ru;

  if (getrusage (RUSAGE_SELF, &ru) == 0)
    printf ("vmferryd: stopped (cpu: %.2f s user, %.2f s system)\n",
            ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
            ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

/* "ADDR[:PORT]" with ADDR a host name or an address: *addr gets an
 * address (malloc'd), *port the port (unchanged when absent).
 */
static int
resolve (const char *what, const char *s, char **addr, int *port)
{
  CLEANUP_FREE char *host = NULL;
  char buf[64];

  if (cmd_parse_hostport (s, &host, port) == -1 ||
      net_resolve (host, buf, sizeof buf) == -1) {
    prefix_error ("--%s", what);
    return -1;
  }
  *addr = strdup (buf);
  return *addr ? 0 : -1;
}

static char *
metrics_text (void *opaque)
{
  return mig_dest_metrics (opaque);
}

/* --metrics ADDR:PORT: Prometheus' endpoint, or NULL without one. */
static int
start_metrics (struct dargs *a, struct mig_dest *d,
               struct api_text_server **m)
{
  CLEANUP_FREE char *addr = NULL;
  int port = -1;

  *m = NULL;
  if (a->metrics == NULL)
    return 0;
  if (resolve ("metrics", a->metrics, &addr, &port) == -1)
    return -1;
  if (port == -1) {
    set_error (0, "--metrics %s: say ADDR:PORT (e.g. 127.0.0.1:9480)",
               a->metrics);
    return -1;
  }
  if ((*m = api_text_server_start (addr, port, metrics_text, d)) == NULL)
    return -1;
  printf ("vmferryd: metrics on http://%s%s%s:%d/metrics\n",
          strchr (addr, ':') ? "[" : "", addr, strchr (addr, ':') ? "]" : "",
          api_text_server_port (*m));
  return 0;
}

/* Do settings x and y ("key=value" strings) give key the same values,
 * in the same order (a list key may have several)?
 */
static bool
same_values (char *const *x, char *const *y, const char *key)
{
  size_t n = strlen (key), i, j;

  for (i = j = 0;; i++, j++) {
    while (x && x[i] && (strncmp (x[i], key, n) || x[i][n] != '='))
      i++;
    while (y && y[j] && (strncmp (y[j], key, n) || y[j][n] != '='))
      j++;
    if (!(x && x[i]) || !(y && y[j]))
      return !(x && x[i]) && !(y && y[j]);
    if (strcmp (x[i], y[j]) != 0)
      return false;
  }
}

/* The names of the settings that changed but apply only at a start. */
static void
changed_later (const struct dargs *old, const struct dargs *now, char *buf,
               size_t n)
{
  char *const *lists[2] = { old->settings, now->settings };
  size_t len = 0, k, i;

  buf[0] = '\0';
  for (k = 0; k < 2; k++)
    for (i = 0; lists[k] && lists[k][i]; i++) {
      CLEANUP_FREE char *key = strndup (lists[k][i],
                                        strcspn (lists[k][i], "="));
      bool live = false;
      for (size_t l = 0; key && live_keys[l]; l++)
        live |= strcmp (key, live_keys[l]) == 0;
      if (key && !live && !strstr (buf, key) &&
          !same_values (old->settings, now->settings, key) && len < n)
        len += snprintf (buf + len, n - len, "%s%s", len ? ", " : "", key);
    }
}

/* The settings a reload can change, as they are now. */
static void
log_live (const char *what, const struct dargs *a)
{
  log_fields (LOG_LEVEL_INFO, NULL, "%s%s%s: log-level %s, max-incoming %u, "
              "%s, port-range %d-%d", what, a->config ? " " : "",
              a->config ? a->config : "", log_level_name (a->log_level),
              a->dp.max_incoming ? a->dp.max_incoming
              : MIG_DEFAULT_MAX_INCOMING, a->dp.queue ? "queue" : "refuse",
              a->dp.port_low, a->dp.port_high);
}

/* SIGHUP: read the configuration again; apply what can change live. */
static void
reload (struct dargs *a, int argc, char **argv, struct mig_dest *d)
{
  struct dargs b;
  char later[512];
  int r;

  cmd_notify ("RELOADING=1");
  vmfd_init (&b);
  optind = 0;
  r = vmfd_parse (argc, argv, &b);
  if (r != 0)
    log_fields (LOG_LEVEL_ERROR, NULL, "reload: the configuration has "
                "errors (above); nothing changed");
  else {
    log_set_level (getenv ("VMFERRY_DEBUG") ? LOG_LEVEL_DEBUG
                   : b.log_level);
    mig_dest_reconfigure (d, &b.dp);
    changed_later (a, &b, later, sizeof later);
    b.config = a->config;
    log_live ("reloaded", &b);
    if (later[0])
      log_fields (LOG_LEVEL_WARNING, NULL, "reload: %s changed: takes effect "
                  "when vmferryd restarts (received VMs keep running)",
                  later);
  }
  vmfd_free (&b);
  cmd_notify ("READY=1");
}

/* Which signal made sfd readable (0 if none could be read). */
static int
which_signal (int sfd)
{
  struct signalfd_siginfo si;

  if (read (sfd, &si, sizeof si) != sizeof si)
    return 0;
  return si.ssi_signo;
}

/* Serve until a stop signal (or, with --once, one migration ended). */
static void
serve (struct dargs *a, int argc, char **argv, struct mig_dest *d, int sfd)
{
  int r;

  for (;;) {
    r = mig_dest_wait (d, sfd);
    if (r == 1 && a->dp.once)
      return;
    if (r == 1)
      continue;
    if (which_signal (sfd) != SIGHUP)
      return;
    reload (a, argc, argv, d);
  }
}

static int
run (struct dargs *a, int argc, char **argv)
{
  struct mig_dest *d;
  struct api_text_server *m = NULL;
  char *const *notes;
  CLEANUP_FREE char *addr = NULL;
  char status[256];
  int sfd = cmd_signal_fd ();

  a->dp.port = VMFERRY_DEFAULT_PORT;
  if (sfd == -1 || resolve ("listen", a->listen, &addr, &a->dp.port) == -1)
    return -1;
  a->dp.listen_addr = addr;
  if ((d = mig_dest_start (&a->dp)) == NULL)
    return -1;
  if (start_metrics (a, d, &m) == -1) {
    mig_dest_stop (d);
    return -1;
  }
  for (notes = mig_dest_recovered (d); notes && *notes; notes++)
    printf ("vmferryd: recovery: %s\n", *notes);
  printf ("vmferryd: listening on %s port %d (storage %s, run %s)\n",
          addr, mig_dest_port (d), a->dp.storage_root, a->dp.run_root);
  fflush (stdout);
  log_live ("started", a);
  snprintf (status, sizeof status, "STATUS=listening on %s port %d", addr,
            mig_dest_port (d));
  cmd_notify (status);
  cmd_notify ("READY=1");
  serve (a, argc, argv, d, sfd);
  cmd_notify ("STOPPING=1");
  api_text_server_stop (m);
  mig_dest_stop (d);
  print_cpu ();
  return 0;
}

int
main (int argc, char **argv)
{
  struct dargs a;
  int r;

  vmfd_init (&a);
  r = vmfd_parse (argc, argv, &a);
  if (r != 0) {
    vmfd_free (&a);
    exit (r == 2 ? 0 : 1);
  }
  if (getenv ("VMFERRY_DEBUG"))
    a.log_level = LOG_LEVEL_DEBUG;
  log_setup ("vmferryd", a.log_level, cmd_journal_sink ());
  r = run (&a, argc, argv);
  if (r == -1) {
    fprintf (stderr, "vmferryd: %s\n", get_error ());
    cmd_notify ("STATUS=failed to start");
  }
  vmfd_free (&a);
  exit (r == -1 ? 1 : 0);
}
