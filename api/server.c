/* server.c: start and stop the HTTPS server (libmicrohttpd with GnuTLS).
 *
 * One thread per connection, so that a slow handler (starting QEMU takes
 * seconds) does not hold up other requests.  Mutual TLS is requested by
 * MHD_OPTION_HTTPS_MEM_TRUST and enforced per request in server-peer.c.
 * The connection limits are in internal.h: the daemon's timeout is the
 * short one of connections not trusted yet (server-guard.c raises it
 * for those that are).
 */
#include <config.h>

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"

/* libmicrohttpd's messages go to debug(); while the daemon is starting,
 * the first one is also kept to explain a failure.
 */
static void __attribute__ ((format (printf, 2, 0)))
mhd_logger (void *cls, const char *fmt, va_list ap)
{
  struct api_server *s = cls;
  char msg[sizeof s->start_msg];
  size_t n;

  vsnprintf (msg, sizeof msg, fmt, ap);
  n = strlen (msg);
  while (n > 0 && msg[n - 1] == '\n')
    msg[--n] = '\0';
  debug ("api: libmicrohttpd: %s", msg);

  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&s->log_lock);
  if (s->starting && s->start_msg[0] == '\0')
    memcpy (s->start_msg, msg, n + 1);
}

/* Parse an IPv4 or IPv6 literal and port into *ss. */
static int
parse_address (const char *address, int port, struct sockaddr_storage *ss,
               bool *ipv6)
{
  struct sockaddr_in *sin = (struct sockaddr_in *) ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;

  memset (ss, 0, sizeof *ss);
  if (port < 0 || port > 65535) {
    set_error (0, "api server: invalid port %d", port);
    return -1;
  }
  *ipv6 = false;
  if (address && inet_pton (AF_INET, address, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons (port);
    return 0;
  }
  if (address && inet_pton (AF_INET6, address, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons (port);
    *ipv6 = true;
    return 0;
  }
  set_error (0,
             "api server: invalid listen address \"%s\" "
             "(expected an IPv4 or IPv6 literal)",
             address ? address : "(null)");
  return -1;
}

/* Read dir/file into *pem. */
static int
load_pem (const char *dir, const char *file, char **pem)
{
  CLEANUP_FREE char *path = xasprintf ("%s/%s", dir, file);

  if (path == NULL)
    return -1;
  *pem = read_file (path, NULL);
  if (*pem == NULL) {
    prefix_error ("api server: TLS file");
    return -1;
  }
  return 0;
}

/* Parse the key and certificates first: libmicrohttpd's messages do not
 * name the file, and it accepts a ca-cert.pem without any certificate.
 */
static int
check_tls_files (const char *dir)
{
  CLEANUP_CRT gnutls_x509_crt_t cert = NULL, ca = NULL;
  CLEANUP_KEY gnutls_x509_privkey_t key = NULL;

  if ((key = api_internal_load_key (dir, API_SERVER_KEY)) == NULL ||
      (cert = api_internal_load_cert (dir, API_SERVER_CERT)) == NULL ||
      (ca = api_internal_load_cert (dir, API_CA_CERT)) == NULL) {
    prefix_error ("api server: TLS file");
    return -1;
  }
  return 0;
}

static int
copy_params (struct api_server *s, const struct api_server_params *p)
{
  if (p->tls_dir == NULL) {
    set_error (0, "api server: no TLS directory given");
    return -1;
  }
  if (p->n_routes > 0) {
    s->routes = calloc (p->n_routes, sizeof *s->routes);
    if (s->routes == NULL) {
      set_error (errno, "calloc");
      return -1;
    }
    memcpy (s->routes, p->routes, p->n_routes * sizeof *s->routes);
  }
  s->n_routes = p->n_routes;
  s->opaque = p->opaque;
  s->observe = p->observe;
  s->max_body = p->max_body ? p->max_body : API_DEFAULT_MAX_BODY;
  if (check_tls_files (p->tls_dir) == -1 ||
      load_pem (p->tls_dir, API_SERVER_KEY, &s->key_pem) == -1 ||
      load_pem (p->tls_dir, API_SERVER_CERT, &s->cert_pem) == -1 ||
      load_pem (p->tls_dir, API_CA_CERT, &s->ca_pem) == -1)
    return -1;
  return 0;
}

static int
start_daemon (struct api_server *s, const struct sockaddr_storage *ss,
              bool ipv6, const struct api_server_params *p)
{
  unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD |
                   MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                   MHD_USE_ERROR_LOG | MHD_USE_ITC;
  const union MHD_DaemonInfo *info;

  if (ipv6)
    flags |= MHD_USE_IPv6;
  if (api_internal_guard_start (s) == -1)
    return -1;
  s->starting = true;
  /* The port argument only appears in libmicrohttpd's messages. */
  /* One option and its values a line. */
  /* clang-format off */
  s->daemon = MHD_start_daemon (flags, p->port, NULL, NULL,
                                api_internal_access, s,
                                MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *) ss,
                                MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
                                MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem,
                                MHD_OPTION_HTTPS_MEM_TRUST, s->ca_pem,
                                MHD_OPTION_NOTIFY_COMPLETED,
                                api_internal_completed, s,
                                MHD_OPTION_NOTIFY_CONNECTION,
                                api_internal_notify_connection, s,
                                MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned) API_PENDING_TIMEOUT_S,
                                MHD_OPTION_CONNECTION_LIMIT,
                                (unsigned) API_MAX_CONNECTIONS,
                                MHD_OPTION_END);
  /* clang-format on */
  pthread_mutex_lock (&s->log_lock);
  s->starting = false;
  pthread_mutex_unlock (&s->log_lock);
  if (s->daemon == NULL) {
    set_error (0, "api server on %s port %d (TLS files in %s): %s", p->address,
               p->port, p->tls_dir,
               s->start_msg[0] ? s->start_msg : "libmicrohttpd failed");
    return -1;
  }
  info = MHD_get_daemon_info (s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : p->port;
  debug ("api: serving https on %s port %d", p->address, s->port);
  return 0;
}

/* The watchdog's lock, and its condition on the monotonic clock (its
 * deadlines are).
 */
static void
init_guard_locks (struct api_server *s)
{
  pthread_condattr_t attr;

  pthread_mutex_init (&s->guard_lock, NULL);
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&s->guard_cond, &attr);
  pthread_condattr_destroy (&attr);
}

struct api_server *
api_server_start (const struct api_server_params *p)
{
  struct api_server *s;
  struct sockaddr_storage ss;
  bool ipv6;

  if (parse_address (p->address, p->port, &ss, &ipv6) == -1)
    return NULL;
  s = calloc (1, sizeof *s);
  if (s == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  pthread_mutex_init (&s->log_lock, NULL);
  init_guard_locks (s);
  if (copy_params (s, p) == -1 || start_daemon (s, &ss, ipv6, p) == -1) {
    api_server_stop (s);
    return NULL;
  }
  return s;
}

int
api_server_port (struct api_server *s)
{
  return s->port;
}

/* Wipe and free the private key text. */
static void
free_secret (char *text)
{
  if (text) {
    explicit_bzero (text, strlen (text));
    free (text);
  }
}

void
api_server_stop (struct api_server *s)
{
  if (s == NULL)
    return;
  /* Stop accepting, let connections finish sending their replies (each
   * reply closes its connection; bounded wait), then stop: that waits
   * for the connection threads, so no handler runs after this.
   */
  if (s->daemon) {
    int i;
    MHD_quiesce_daemon (s->daemon);
    /* Only trusted requests deserve the wait. */
    api_internal_guard_close_all (s);
    for (i = 0; i < 500; i++) {
      const union MHD_DaemonInfo *info =
        MHD_get_daemon_info (s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
      if (info == NULL || info->num_connections == 0)
        break;
      usleep (10000);
    }
    MHD_stop_daemon (s->daemon);
  }
  /* After the daemon: its connections are all closed now. */
  api_internal_guard_stop (s);
  pthread_cond_destroy (&s->guard_cond);
  pthread_mutex_destroy (&s->guard_lock);
  free (s->routes);
  free_secret (s->key_pem);
  free (s->cert_pem);
  free (s->ca_pem);
  pthread_mutex_destroy (&s->log_lock);
  free (s);
}
