/* metrics.c: a plain HTTP server for GET /metrics (vmferryd --metrics):
 * Prometheus scrapes it.  No TLS and no client certificate: it tells
 * counts and times, never a VM's data; bind it to an address only the
 * monitoring reaches (vmferryd(8), METRICS).
 */
#include <config.h>

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"

struct api_text_server {
  struct MHD_Daemon *daemon;
  api_text_fn fn;
  void *opaque;
  int port;
};

static enum MHD_Result
access_cb (void *cls, struct MHD_Connection *c, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **con_cls)
{
  struct api_text_server *s = cls;

  if (*upload_data_size) {      /* a body: ignored */
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (strcmp (url, "/metrics") != 0)
    return api_internal_reply_text (c, MHD_HTTP_NOT_FOUND,
                                    strdup ("not found: try /metrics\n"),
                                    "text/plain");
  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
    return api_internal_reply_text (c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                    strdup ("GET /metrics\n"), "text/plain");
  return api_internal_reply_text (c, MHD_HTTP_OK, s->fn (s->opaque),
                                  "text/plain; version=0.0.4; "
                                  "charset=utf-8");
}

/* The address and port into *ss (family, port set). */
static int
sock_addr (const char *address, int port, struct sockaddr_storage *ss)
{
  struct sockaddr_in *v4 = (struct sockaddr_in *) ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) ss;

  memset (ss, 0, sizeof *ss);
  if (inet_pton (AF_INET, address, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons (port);
    return 0;
  }
  if (inet_pton (AF_INET6, address, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons (port);
    return 0;
  }
  set_error (0, "metrics: '%s' is not an IP address", address);
  return -1;
}

struct api_text_server *
api_text_server_start (const char *address, int port, api_text_fn fn,
                       void *opaque)
{
  struct api_text_server *s = calloc (1, sizeof *s);
  struct sockaddr_storage ss;
  const union MHD_DaemonInfo *info;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;

  if (s == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  s->fn = fn;
  s->opaque = opaque;
  if (sock_addr (address, port, &ss) == -1)
    goto err;
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  s->daemon = MHD_start_daemon (flags, port, NULL, NULL, access_cb, s,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
                                MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                                MHD_OPTION_CONNECTION_LIMIT, 16u,
                                MHD_OPTION_END);
  if (s->daemon == NULL) {
    set_error (0, "metrics: cannot listen on %s port %d (in use, or not "
               "an address of this host?)", address, port);
    goto err;
  }
  info = MHD_get_daemon_info (s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : port;
  return s;
 err:
  free (s);
  return NULL;
}

int
api_text_server_port (struct api_text_server *s)
{
  return s->port;
}

void
api_text_server_stop (struct api_text_server *s)
{
  if (s == NULL)
    return;
  MHD_stop_daemon (s->daemon);
  free (s);
}
