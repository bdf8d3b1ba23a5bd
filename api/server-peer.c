/* server-peer.c: mutual TLS, enforced per request.
 *
 * MHD_OPTION_HTTPS_MEM_TRUST makes GnuTLS *request* a client certificate
 * but completes the handshake without one, or with one it cannot verify.
 * So every request checks the peer here before any route runs.
 */
#include <config.h>

#include <time.h>

#include "internal.h"

/* Explain a non-zero verification status. */
static int
status_error (unsigned status)
{
  gnutls_datum_t text = { NULL, 0 };

  if (gnutls_certificate_verification_status_print (status, GNUTLS_CRT_X509,
                                                    &text, 0) < 0)
    set_error (0, "client certificate rejected: verification status 0x%x",
               status);
  else {
    size_t n = strlen ((char *) text.data);
    while (n > 0 && text.data[n - 1] == ' ')
      text.data[--n] = '\0';
    set_error (0, "client certificate rejected: %s", (char *) text.data);
  }
  gnutls_free (text.data);
  return -1;
}

/* Check the validity period of the client's own certificate (GnuTLS does
 * too, unless time checks were disabled in the credentials: this makes
 * sure) and copy its common name to name.
 */
static int
leaf_name (const gnutls_datum_t *der, char *name)
{
  CLEANUP_CRT gnutls_x509_crt_t crt = NULL;
  size_t size = API_PEER_NAME_MAX;
  time_t now = time (NULL);
  int r;

  if ((r = gnutls_x509_crt_init (&crt)) < 0 ||
      (r = gnutls_x509_crt_import (crt, der, GNUTLS_X509_FMT_DER)) < 0) {
    set_error (0, "client certificate rejected: %s", gnutls_strerror (r));
    return -1;
  }
  if (gnutls_x509_crt_get_activation_time (crt) > now ||
      gnutls_x509_crt_get_expiration_time (crt) < now) {
    set_error (0, "client certificate rejected: "
                  "expired or not yet valid");
    return -1;
  }
  r = gnutls_x509_crt_get_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
                                     name, &size);
  if (r < 0 || name[0] == '\0') {
    set_error (0, "client certificate rejected: no usable common name: %s",
               r < 0 ? gnutls_strerror (r) : "empty");
    return -1;
  }
  return 0;
}

int
api_internal_check_peer (struct MHD_Connection *c, char *name)
{
  const union MHD_ConnectionInfo *ci;
  const gnutls_datum_t *peers;
  gnutls_typed_vdata_st purpose = {
    .type = GNUTLS_DT_KEY_PURPOSE_OID,
    .data = (unsigned char *) GNUTLS_KP_TLS_WWW_CLIENT,
  };
  unsigned n_peers = 0, status = 0;
  int r;

  ci = MHD_get_connection_info (c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (ci == NULL || ci->tls_session == NULL) {
    set_error (0, "client certificate required: not a TLS connection");
    return -1;
  }
  peers = gnutls_certificate_get_peers (ci->tls_session, &n_peers);
  if (peers == NULL || n_peers == 0) {
    set_error (0, "client certificate required: the client sent none");
    return -1;
  }
  /* verify_peers2 plus the key purpose: a certificate whose extended key
   * usage excludes clientAuth (a server certificate) is refused.
   */
  r = gnutls_certificate_verify_peers (ci->tls_session, &purpose, 1, &status);
  if (r < 0) {
    set_error (0, "client certificate rejected: %s", gnutls_strerror (r));
    return -1;
  }
  if (status != 0)
    return status_error (status);
  return leaf_name (&peers[0], name);
}
