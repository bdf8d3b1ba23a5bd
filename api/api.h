/* api.h: the HTTP control plane between vmferry and vmferryd, and the
 * certificates it runs on.  Knows HTTP, TLS and JSON; knows nothing of
 * migration: migrate/ passes a route table of handler callbacks.
 *
 * TLS directory layout (QEMU's own, so QEMU's tls-creds-x509 can use the
 * same directory): ca-cert.pem, server-cert.pem, server-key.pem,
 * client-cert.pem, client-key.pem.
 *
 * Mutual TLS is enforced by the server: a client without a certificate, or
 * with one not signed by ca-cert.pem (or expired, or whose keyPurpose
 * excludes clientAuth), gets 403 {"error": "client certificate
 * required/rejected: ..."} before any handler runs.
 * The client trusts only ca-cert.pem (not the system CAs) and checks that
 * the server certificate names the host it connects to (DNS or IP
 * subjectAltName).
 *
 * Errors: NULL / -1 after set_error() (utils.h).
 */
#ifndef VMFERRY_API_H
#define VMFERRY_API_H

#include <errno.h>
#include <stdbool.h>
#include <jansson.h>

/* ---- server (libmicrohttpd) ---- */

/* One request as a handler sees it. */
struct api_request {
  const char *method;    /* "GET", "POST", ... */
  const char *path;      /* "/v1/prepare" (no query string) */
  json_t *body;          /* parsed JSON body (borrowed), NULL if empty */
  const char *peer_name; /* CN of the client's certificate */
  const char *peer_addr; /* the client's IP address, numeric ("192.0.2.1",
                          * "2001:db8::1"): where the request came from */
};

/* A handler returns an HTTP status and sets *reply to a JSON object (new
 * reference; NULL means {}).  Convention for errors: status 4xx/5xx and
 * reply {"error": "message"}.  A handler may also return -1 after
 * set_error(): the client then gets 500 {"error": that message}.  A status
 * outside 100-599 or a reply that is not an object also gives 500.
 * Handlers run on the server's threads, one thread per connection, so a
 * slow handler does not block others; they must be thread-safe.
 */
typedef int (*api_handler_fn) (void *opaque, const struct api_request *req,
                               json_t **reply);

struct api_route {
  const char *method; /* exact match */
  const char *path;   /* exact match */
  api_handler_fn handler;
};

/* An observer sees every request once it is answered: the request (a
 * client refused for its certificate has peer_name NULL and no body),
 * the status sent and the reply (borrowed; NULL means {}).  It runs on
 * the request's thread (an audit log, metrics): it must be thread-safe
 * and quick.
 */
typedef void (*api_observer_fn) (void *opaque, const struct api_request *req,
                                 int status, json_t *reply);

struct api_server_params {
  const char *address; /* listen address (IPv4 or IPv6 literal) */
  int port;            /* 0: pick a free port */
  const char *tls_dir; /* server-cert.pem, server-key.pem, ca-cert.pem */
  const struct api_route *routes; /* the table is copied; its strings are
                                   * borrowed until api_server_stop */
  size_t n_routes;
  void *opaque;    /* passed to every handler */
  size_t max_body; /* largest accepted body; 0: 1 MiB */
  api_observer_fn observe; /* may be NULL; gets opaque */
};

struct api_server;

/* Start listening (one thread per connection, at most 64 connections).
 * Until it makes a request with an accepted client certificate, a
 * connection is closed 10 s after it was accepted (TLS handshake and
 * headers included, however slowly they come), and one address may hold
 * at most 8 such connections (more are closed at once); afterwards it
 * is closed after 120 s without a byte of its request (never while its
 * handler runs).  Requests are checked in this order: client
 * certificate (403), path (404), method (405), body size (413: a
 * Content-Length over max_body is refused before reading the body; a
 * chunked body is discarded from the point it passes max_body), body must
 * be empty or a JSON object (400, {"error": "malformed JSON at line 1
 * column 5: ..."}).  Every reply is a JSON object with Content-Type
 * application/json.  Errors name the file, address or port at fault
 * (missing/unreadable key or certificate, address in use).
 */
struct api_server *api_server_start (const struct api_server_params *p);

/* The port actually bound (useful with port 0). */
int api_server_port (struct api_server *s);

/* Stop listening, wait for running handlers, free (accepts NULL). */
void api_server_stop (struct api_server *s);

/* ---- plain HTTP text (metrics.c) ---- */

/* A server of plain HTTP (no TLS) for GET /metrics: each request gets
 * text (malloc'd, freed by the server) from fn, as Prometheus' text
 * format (Content-Type text/plain; version=0.0.4); other paths get 404,
 * other methods 405.  address is an IPv4 or IPv6 literal, port 0 picks
 * one.  One thread; fn runs on it.  NULL + set_error.
 */
typedef char *(*api_text_fn) (void *opaque);
struct api_text_server;
struct api_text_server *api_text_server_start (const char *address, int port,
                                               api_text_fn fn, void *opaque);
int api_text_server_port (struct api_text_server *s);
void api_text_server_stop (struct api_text_server *s);

/* ---- client (libcurl) ---- */

struct api_client;

/* Connecting gives up after this long (or timeout_ms if shorter). */
#define API_CONNECT_TIMEOUT_MS 10000

/* A client for https://host:port using client-cert.pem, client-key.pem
 * and ca-cert.pem from tls_dir (the files must be readable now).  host may
 * be a name or an IP literal (IPv6 without brackets).  Thread safety: use
 * one api_client per thread (it keeps the connection open between calls);
 * different clients may be used in parallel.
 */
struct api_client *api_client_new (const char *host, int port,
                                   const char *tls_dir);
void api_client_free (struct api_client *c);

/* The two classes of transport failure, as get_errno() after
 * api_client_call: the request never reached the server (it cannot have
 * acted on it), or it was sent and no whole reply came (it may have).
 */
#define API_NOT_SENT ENOTCONN
#define API_NO_REPLY EIO

/* Send method path (starting with "/") with body (borrowed; NULL: no
 * body) and wait up to timeout_ms (<= 0: no limit but the connect
 * timeout).  Returns the HTTP status and sets *reply to the parsed JSON
 * reply (new reference, {} when empty).  On a transport failure returns
 * -1 with *reply NULL, get_errno() API_NOT_SENT or API_NO_REPLY, and a
 * message that says which: "could not connect to HOST:PORT", "TLS
 * handshake/certificate problem with HOST:PORT: <curl's text>", "timed
 * out", "connection to HOST:PORT failed", "reply ... is not a JSON
 * object".
 */
int api_client_call (struct api_client *c, const char *method, const char *path,
                     json_t *body, json_t **reply, int timeout_ms);

/* ---- PKI (GnuTLS) ---- */

/* Keys are RSA 3072, signatures SHA-256, keys written as unencrypted
 * PKCS#8 PEM with mode 0600, certificates 0644, each file atomically.
 */

/* Create a CA in dir (ca-cert.pem, ca-key.pem), mode 0700 / 0600: CN
 * "vmferry CA <hostname>", basicConstraints CA:TRUE, keyUsage keyCertSign
 * and cRLSign, valid 10 years.  Refuses (EEXIST) to overwrite an existing
 * CA.
 */
int api_pki_init (const char *dir);

/* Issue server-cert.pem/server-key.pem and client-cert.pem/client-key.pem
 * in out_dir (created 0700 if missing; existing files are replaced) for
 * host name, signed by the CA in ca_dir: subject CN=name, subjectAltName
 * DNS:name (IP:name if name is an IP literal) and one IP entry per element
 * of ips (NULL-terminated, may be NULL), basicConstraints CA:FALSE,
 * keyUsage digitalSignature and keyEncipherment, keyPurpose serverAuth
 * (server) / clientAuth (client), random serial.  QEMU's tls-creds-x509
 * accepts the directory as is.  Copies ca-cert.pem to out_dir when out_dir
 * != ca_dir.  days is the validity (0: 3650), starting a day in the past to
 * tolerate clock skew; a negative value makes certificates that expired
 * -days days ago (for tests).
 */
int api_pki_issue (const char *ca_dir, const char *out_dir, const char *name,
                   char *const *ips, int days);
/* The same with one subjectAltName DNS entry per element of dns
 * (NULL-terminated, may be NULL): other names the host is reached by.
 */
int api_pki_issue_names (const char *ca_dir, const char *out_dir,
                         const char *name, char *const *ips,
                         char *const *dns, int days);

#endif /* VMFERRY_API_H */
