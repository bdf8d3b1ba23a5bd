/* tls.c: one TLS session (GnuTLS, x509, mutual authentication) over a
 * connected socket, for the data channel's streams.
 *
 * Both sides load their certificate from the trust domain's directory
 * (client-cert.pem on the connecting side, server-cert.pem on the
 * accepting side) and require the peer's certificate to verify against
 * ca-cert.pem: a peer without a certificate of our CA fails the handshake.
 * Host names are not checked (the data address may be any address of the
 * destination); the CA is the trust domain, as for QEMU's
 * tls-creds-x509 with verify-peer.
 */
#include <config.h>

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sys/socket.h>

#include "utils.h"
#include "net.h"

#define HANDSHAKE_TIMEOUT_MS 30000

struct net_tls {
  int fd;                       /* owned: closed by net_tls_close */
  gnutls_session_t session;
  gnutls_certificate_credentials_t cred;
  bool ok;                      /* handshake done, no error since */
};

/* The certificate files of one side in dir. */
static int
load_cred (struct net_tls *t, const char *dir, bool server)
{
  CLEANUP_FREE char *ca = xasprintf ("%s/ca-cert.pem", dir);
  CLEANUP_FREE char *cert = xasprintf ("%s/%s-cert.pem", dir,
                                       server ? "server" : "client");
  CLEANUP_FREE char *key = xasprintf ("%s/%s-key.pem", dir,
                                      server ? "server" : "client");
  int r;

  if (ca == NULL || cert == NULL || key == NULL)
    return -1;
  if ((r = gnutls_certificate_allocate_credentials (&t->cred)) < 0) {
    set_error (0, "tls: %s", gnutls_strerror (r));
    return -1;
  }
  if ((r = gnutls_certificate_set_x509_trust_file (t->cred, ca,
                                                   GNUTLS_X509_FMT_PEM)) <= 0) {
    set_error (0, "tls: CA certificate %s: %s", ca,
               r == 0 ? "no certificate" : gnutls_strerror (r));
    return -1;
  }
  if ((r = gnutls_certificate_set_x509_key_file (t->cred, cert, key,
                                                 GNUTLS_X509_FMT_PEM)) < 0) {
    set_error (0, "tls: %s / %s: %s", cert, key, gnutls_strerror (r));
    return -1;
  }
  return 0;
}

/* Set up the session and shake hands. */
static int
handshake (struct net_tls *t, bool server)
{
  int r;

  /* GNUTLS_NO_SIGNAL: a peer gone away is an error, not a SIGPIPE. */
  if ((r = gnutls_init (&t->session, (server ? GNUTLS_SERVER : GNUTLS_CLIENT)
                        | GNUTLS_NO_SIGNAL)) < 0 ||
      (r = gnutls_set_default_priority (t->session)) < 0 ||
      (r = gnutls_credentials_set (t->session, GNUTLS_CRD_CERTIFICATE,
                                   t->cred)) < 0) {
    set_error (0, "tls: %s", gnutls_strerror (r));
    return -1;
  }
  if (server)
    gnutls_certificate_server_set_request (t->session, GNUTLS_CERT_REQUIRE);
  gnutls_session_set_verify_cert (t->session, NULL, 0);
  gnutls_transport_set_int (t->session, t->fd);
  gnutls_handshake_set_timeout (t->session, HANDSHAKE_TIMEOUT_MS);
  do
    r = gnutls_handshake (t->session);
  while (r < 0 && gnutls_error_is_fatal (r) == 0);
  if (r < 0) {
    set_error (0, "tls: handshake with the %s failed: %s (is its "
               "certificate signed by our CA?)", server ? "client" : "server",
               gnutls_strerror (r));
    return -1;
  }
  t->ok = true;
  return 0;
}

struct net_tls *
net_tls_start (int fd, const char *tls_dir, bool server)
{
  struct net_tls *t = calloc (1, sizeof *t);

  if (t == NULL) {
    set_error (errno, "calloc");
    close (fd);
    return NULL;
  }
  t->fd = fd;
  if (load_cred (t, tls_dir, server) == -1 || handshake (t, server) == -1) {
    net_tls_close (t);
    return NULL;
  }
  return t;
}

int
net_tls_write (struct net_tls *t, const void *buf, size_t len)
{
  const char *p = buf;

  while (len > 0) {
    ssize_t r = t->ok ? gnutls_record_send (t->session, p, len)
      : GNUTLS_E_INVALID_SESSION;
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
      continue;
    if (r < 0) {
      t->ok = false;
      set_error (0, "tls: send: %s", gnutls_strerror (r));
      return -1;
    }
    p += r;
    len -= r;
  }
  return 0;
}

int
net_tls_read (struct net_tls *t, void *buf, size_t len)
{
  char *p = buf;

  while (len > 0) {
    ssize_t r = t->ok ? gnutls_record_recv (t->session, p, len)
      : GNUTLS_E_INVALID_SESSION;
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
      continue;
    if (r <= 0) {
      t->ok = false;
      set_error (0, "tls: receive: %s", r == 0
                 ? "the peer closed the connection" : gnutls_strerror (r));
      return -1;
    }
    p += r;
    len -= r;
  }
  return 0;
}

void
net_tls_shutdown (struct net_tls *t)
{
  if (t)
    shutdown (t->fd, SHUT_RDWR);
}

void
net_tls_close (struct net_tls *t)
{
  if (t == NULL)
    return;
  if (t->session && t->ok)
    gnutls_bye (t->session, GNUTLS_SHUT_WR);
  if (t->session)
    gnutls_deinit (t->session);
  if (t->cred)
    gnutls_certificate_free_credentials (t->cred);
  close (t->fd);
  free (t);
}

int
net_tls_fd (const struct net_tls *t)
{
  return t->fd;
}
