/* client-error.c: say which transport failure stopped a call.
 *
 * The caller decides what to do from the error's class (get_errno():
 * API_NOT_SENT, API_NO_REPLY), and an operator reads the message, so
 * each kind of failure gets its own wording:
 * "could not connect to HOST:PORT", "TLS handshake/certificate problem
 * with HOST:PORT", "timed out", "connection ... failed".
 */
#include <config.h>

#include "internal.h"

static bool
is_tls_error (CURLcode r)
{
  switch (r) {
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_USE_SSL_FAILED:
    return true;
  default:
    return false;
  }
}

void
api_internal_curl_error (const char *hostport, const char *errbuf,
                         const char *method, const char *path, CURLcode r,
                         bool reply_too_big, bool sent)
{
  const char *detail = errbuf[0] ? errbuf : curl_easy_strerror (r);
  int class = sent ? API_NO_REPLY : API_NOT_SENT;

  if (r == CURLE_COULDNT_CONNECT)
    set_error_class (class, "%s %s: could not connect to %s: %s", method, path,
                     hostport, detail);
  else if (r == CURLE_COULDNT_RESOLVE_HOST)
    set_error_class (class, "%s %s: could not resolve the host name of %s: %s",
                     method, path, hostport, detail);
  else if (r == CURLE_OPERATION_TIMEDOUT)
    set_error_class (class, "%s %s: timed out talking to %s: %s", method, path,
                     hostport, detail);
  else if (is_tls_error (r))
    set_error_class (class,
                     "%s %s: TLS handshake/certificate problem with %s: %s",
                     method, path, hostport, detail);
  else if (r == CURLE_WRITE_ERROR && reply_too_big)
    set_error_class (class, "%s %s: the reply from %s is too large", method,
                     path, hostport);
  else if (r == CURLE_SEND_ERROR || r == CURLE_RECV_ERROR ||
           r == CURLE_GOT_NOTHING)
    /* A server refusing our certificate during the handshake shows up
     * here (an alert while reading); detail then names TLS/SSL.
     */
    set_error_class (class, "%s %s: connection to %s failed: %s", method, path,
                     hostport, detail);
  else
    set_error_class (class, "%s %s: request to %s failed: %s", method, path,
                     hostport, detail);
}
