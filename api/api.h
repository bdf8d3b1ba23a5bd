/* api.h: the HTTP control plane between vmferry and vmferryd, and the
 * certificates it runs on.  Knows HTTP, TLS and JSON; knows nothing of
 * migration: migrate/ passes a route table of handler callbacks.
 *
 * TLS directory layout (QEMU's own, so QEMU's tls-creds-x509 can use the
 * same directory): ca-cert.pem, server-cert.pem, server-key.pem,
 * client-cert.pem, client-key.pem.
 *
 * Mutual TLS is enforced by the server: a client without a certificate, or
 * with one not signed by ca-cert.pem (or expired), gets 403 before any
 * handler runs.
 *
 * Errors: NULL / -1 after set_error() (utils.h).
 */
#ifndef VMFERRY_API_H
#define VMFERRY_API_H

#include <stdbool.h>
#include <jansson.h>

/* ---- server (libmicrohttpd) ---- */

/* One request as a handler sees it. */
struct api_request {
  const char *method;           /* "GET", "POST", ... */
  const char *path;             /* "/v1/prepare" (no query string) */
  json_t *body;                 /* parsed JSON body (borrowed), NULL if empty */
  const char *peer_name;        /* CN of the client's certificate */
};

/* A handler returns an HTTP status and sets *reply to a JSON object (new
 * reference; NULL means {}).  Convention for errors: status 4xx/5xx and
 * reply {"error": "message"}.  Handlers run on the server's threads, one
 * thread per connection, so a slow handler does not block others; they
 * must be thread-safe.
 */
typedef int (*api_handler_fn) (void *opaque, const struct api_request *req,
                               json_t **reply);

struct api_route {
  const char *method;           /* exact match */
  const char *path;             /* exact match */
  api_handler_fn handler;
};

struct api_server_params {
  const char *address;          /* listen address (IPv4 or IPv6 literal) */
  int port;                     /* 0: pick a free port */
  const char *tls_dir;          /* server-cert.pem, server-key.pem, ca-cert.pem */
  const struct api_route *routes;
  size_t n_routes;
  void *opaque;                 /* passed to every handler */
  size_t max_body;              /* largest accepted body; 0: 1 MiB */
};

struct api_server;

/* Start listening.  Unknown paths get 404, a known path with another
 * method 405, a body that is not a JSON object 400, a body over max_body
 * 413.
 */
struct api_server *api_server_start (const struct api_server_params *p);

/* The port actually bound (useful with port 0). */
int api_server_port (struct api_server *s);

/* Stop listening, wait for running handlers, free (accepts NULL). */
void api_server_stop (struct api_server *s);

/* ---- client (libcurl) ---- */

struct api_client;

/* A client for https://host:port using client-cert.pem, client-key.pem
 * and ca-cert.pem from tls_dir.  host may be a name or an IP literal
 * (IPv6 without brackets).
 */
struct api_client *api_client_new (const char *host, int port,
                                   const char *tls_dir);
void api_client_free (struct api_client *c);

/* Send method path with body (borrowed; NULL: no body) and wait up to
 * timeout_ms.  Returns the HTTP status and sets *reply to the parsed JSON
 * reply (new reference, {} when empty).  On a transport failure
 * (unreachable, TLS refused, timeout, reply not JSON) returns -1 after
 * set_error() with a message that says which.
 */
int api_client_call (struct api_client *c, const char *method,
                     const char *path, json_t *body, json_t **reply,
                     int timeout_ms);

/* ---- PKI (GnuTLS) ---- */

/* Create a CA in dir (ca-cert.pem, ca-key.pem), mode 0700 / 0600.  Refuses
 * to overwrite an existing CA.
 */
int api_pki_init (const char *dir);

/* Issue server-cert.pem/server-key.pem and client-cert.pem/client-key.pem
 * in out_dir for host name, signed by the CA in ca_dir, with subjectAltName
 * DNS:name and one IP entry per element of ips (NULL-terminated, may be
 * NULL).  Copies ca-cert.pem to out_dir when out_dir != ca_dir.  days is
 * the validity (0: 3650); a negative value makes a certificate that is
 * already expired (for tests).
 */
int api_pki_issue (const char *ca_dir, const char *out_dir, const char *name,
                   char *const *ips, int days);

#endif /* VMFERRY_API_H */
