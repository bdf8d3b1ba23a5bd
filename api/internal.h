/* internal.h: private to api/.  Nothing outside api/ includes this. */
#ifndef VMFERRY_API_INTERNAL_H
#define VMFERRY_API_INTERNAL_H

#include <pthread.h>
#include <microhttpd.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/crypto.h>
#include <curl/curl.h>

#include "api.h"
#include "utils.h"

/* Names of the files in a TLS directory (QEMU's layout). */
#define API_CA_CERT "ca-cert.pem"
#define API_CA_KEY "ca-key.pem"
#define API_SERVER_CERT "server-cert.pem"
#define API_SERVER_KEY "server-key.pem"
#define API_CLIENT_CERT "client-cert.pem"
#define API_CLIENT_KEY "client-key.pem"

#define API_DEFAULT_MAX_BODY (1024 * 1024)

/* Longest peer CN we keep (longer names are refused, not truncated). */
#define API_PEER_NAME_MAX 256
/* Room for a numeric IP address (an IPv6 one with its %scope). */
#define API_PEER_ADDR_MAX 64

/* Connection limits (server.c, server-guard.c).  Every connection is a
 * thread and carries one request (server-reply.c).  At most
 * API_MAX_CONNECTIONS at once.  A connection must make its request with
 * an accepted client certificate within API_PENDING_TIMEOUT_S of being
 * accepted (TCP, TLS handshake, request headers: a source does this in
 * milliseconds, and nobody else has anything to do here), and one
 * address may hold at most API_PENDING_PER_ADDR connections that have
 * not done so yet: what one host without a certificate can take is 8 of
 * the 64 slots, each for 10 s.  Once trusted, a connection is closed
 * after API_IDLE_TIMEOUT_S without a byte of its request body; its
 * handler may run as long as it needs (finish waits minutes for the
 * migration, a queued prepare 40 s): libmicrohttpd does not time out a
 * connection whose thread runs the handler, and queuing the reply counts
 * as activity.
 */
#define API_MAX_CONNECTIONS 64
#define API_PENDING_TIMEOUT_S 10
#define API_PENDING_PER_ADDR 8
#define API_IDLE_TIMEOUT_S 120

/* ---- server ---- */

struct api_server {
  struct MHD_Daemon *daemon;
  struct api_route *routes; /* copy of the caller's table */
  size_t n_routes;
  void *opaque;    /* passed to every handler */
  size_t max_body; /* never 0 */
  int port;        /* bound port */
  api_observer_fn observe; /* or NULL */

  /* PEM text handed to libmicrohttpd, kept until the daemon stops. */
  char *key_pem, *cert_pem, *ca_pem;

  /* The first message libmicrohttpd logged while starting, used to say
   * why MHD_start_daemon failed ("Failed to bind to port ...").
   * Protected by log_lock (connection threads log too).
   */
  pthread_mutex_t log_lock;
  char start_msg[256];
  bool starting;

  /* server-guard.c: connections without an accepted client certificate
   * yet, and the watchdog that ends them at their deadline.  The list is
   * protected by guard_lock; guard_cond wakes the watchdog.
   */
  pthread_mutex_t guard_lock;
  pthread_cond_t guard_cond; /* CLOCK_MONOTONIC */
  struct api_pending *pending;
  pthread_t guard_thread;
  bool guard_started; /* guard_thread runs */
  bool guard_stop;    /* tells it to end */
};

/* Per-request state (the con_cls of libmicrohttpd), freed when the request
 * completes.  Only the connection's own thread touches it.
 */
struct api_conn_req {
  const struct api_route *route;     /* matched route */
  char peer_name[API_PEER_NAME_MAX]; /* CN of the client certificate */
  char peer_addr[API_PEER_ADDR_MAX]; /* its IP address, numeric */
  char *body;                        /* accumulated body (not NUL-terminated) */
  size_t len, cap;
  /* 413 (over max_body) or 500 (out of memory): the rest of the body is
   * discarded, not stored, and this status is the reply.
   */
  unsigned error_status;
};

/* server-peer.c: check the client's certificate on this connection (mutual
 * TLS) and copy its CN into name[API_PEER_NAME_MAX].  Returns 0, or -1 after
 * set_error() with the reason the client is refused.
 */
extern int api_internal_check_peer (struct MHD_Connection *c, char *name);

/* server-guard.c.  notify_connection is the daemon's
 * MHD_NotifyConnectionCallback (cls is the api_server): it lists a new
 * connection with its deadline, or shuts it down if its address holds
 * API_PENDING_PER_ADDR such already.  trusted: c's request had an
 * accepted client certificate: unlist it, give it the idle timeout.
 * guard_start/stop: the watchdog thread (stop joins it; idempotent).
 * guard_close_all: shut down every connection not trusted yet.
 * addr_text: a numeric IP address, "?" if it cannot be written.
 */
extern void
api_internal_notify_connection (void *cls, struct MHD_Connection *c,
                                void **socket_context,
                                enum MHD_ConnectionNotificationCode toe);
extern void api_internal_trusted (struct api_server *s,
                                  struct MHD_Connection *c);
extern int api_internal_guard_start (struct api_server *s);
extern void api_internal_guard_stop (struct api_server *s);
extern void api_internal_guard_close_all (struct api_server *s);
extern void api_internal_addr_text (const struct sockaddr *sa, char *buf,
                                    size_t n);

/* server-request.c: the MHD_AccessHandlerCallback and the
 * MHD_RequestCompletedCallback of the daemon (cls is the api_server).
 */
extern enum MHD_Result api_internal_access (void *cls, struct MHD_Connection *c,
                                            const char *url, const char *method,
                                            const char *version,
                                            const char *upload_data,
                                            size_t *upload_data_size,
                                            void **con_cls);
extern void api_internal_completed (void *cls, struct MHD_Connection *c,
                                    void **con_cls,
                                    enum MHD_RequestTerminationCode toe);

/* server-reply.c: queue a JSON reply (reply may be NULL: {}; borrowed).
 * Returns MHD_YES/MHD_NO for the access handler to return.
 */
extern enum MHD_Result api_internal_reply (struct MHD_Connection *c,
                                           unsigned status,
                                           const json_t *reply);
/* Queue text (malloc'd, freed here, also on failure; NULL: MHD_NO) with
 * status and Content-Type type, on a connection that closes after it.
 */
extern enum MHD_Result api_internal_reply_text (struct MHD_Connection *c,
                                                unsigned status, char *text,
                                                const char *type);
/* Queue {"error": "formatted message"} with status. */
extern enum MHD_Result api_internal_reply_error (struct MHD_Connection *c,
                                                 unsigned status,
                                                 const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

/* ---- client ---- */

/* client-error.c: set_error() for a failed curl_easy_perform, naming the
 * class of failure (connect, TLS, timeout, ...) and hostport.
 */
extern void api_internal_curl_error (const char *hostport, const char *errbuf,
                                     const char *method, const char *path,
                                     CURLcode r, bool reply_too_big,
                                     bool sent);

/* ---- PKI ---- */

/* Scope cleanup for GnuTLS x509 objects (accept NULL). */
static inline void
api_cleanup_crt (gnutls_x509_crt_t *crt)
{
  if (*crt)
    gnutls_x509_crt_deinit (*crt);
}
static inline void
api_cleanup_key (gnutls_x509_privkey_t *key)
{
  if (*key)
    gnutls_x509_privkey_deinit (*key);
}
#define CLEANUP_CRT __attribute__ ((cleanup (api_cleanup_crt)))
#define CLEANUP_KEY __attribute__ ((cleanup (api_cleanup_key)))

/* set_error for a failed GnuTLS call r; returns -1. */
static inline int
api_gnutls_error (int r, const char *what)
{
  set_error (0, "%s: %s", what, gnutls_strerror (r));
  return -1;
}

/* pki-x509.c: building blocks of api_pki_init and api_pki_issue. */

/* A new RSA key (API_PKI_RSA_BITS).  NULL + set_error. */
#define API_PKI_RSA_BITS 3072
extern gnutls_x509_privkey_t api_internal_new_key (void);

/* What kind of certificate api_internal_new_cert makes. */
enum api_cert_kind { API_CERT_CA, API_CERT_SERVER, API_CERT_CLIENT };

/* A certificate for key with subject CN=name, the extensions for kind
 * (basicConstraints, keyUsage, keyPurpose; SAN DNS:name + ips + dns for
 * server and client), random serial, valid from a day ago for days days
 * (days < 0: expired since -days days).  Signed by issuer/issuer_key, or
 * self-signed when issuer is NULL.  NULL + set_error.
 */
extern gnutls_x509_crt_t
api_internal_new_cert (enum api_cert_kind kind, const char *name,
                       char *const *ips, char *const *dns, int days,
                       gnutls_x509_privkey_t key,
                       gnutls_x509_crt_t issuer,
                       gnutls_x509_privkey_t issuer_key);

/* pki-files.c: PEM files. */

/* Write the PEM export of crt (or key, exactly one non-NULL) to dir/file
 * with mode, atomically (temporary file + rename; with overwrite false,
 * link, so that an existing file is never replaced).  -1 + set_error.
 */
extern int api_internal_save_pem (const char *dir, const char *file,
                                  gnutls_x509_crt_t crt,
                                  gnutls_x509_privkey_t key, mode_t mode,
                                  bool overwrite);
/* Load dir/file.  NULL + set_error. */
extern gnutls_x509_crt_t api_internal_load_cert (const char *dir,
                                                 const char *file);
extern gnutls_x509_privkey_t api_internal_load_key (const char *dir,
                                                    const char *file);

#endif /* VMFERRY_API_INTERNAL_H */
