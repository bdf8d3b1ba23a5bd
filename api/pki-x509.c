/* pki-x509.c: keys and certificates with the GnuTLS x509 API.
 *
 * The certificates must satisfy QEMU's tls-creds-x509, which checks on
 * load: the CA has basicConstraints CA:TRUE and keyUsage keyCertSign;
 * server and client certificates have CA:FALSE, keyUsage digitalSignature
 * and keyEncipherment, and keyPurpose serverAuth / clientAuth; all are
 * within their validity period.  A client connecting with tls-hostname
 * (and curl) also matches the host against subjectAltName.  RSA keys
 * because keyEncipherment only makes sense for RSA, and every TLS stack
 * in QEMU 7.2, GnuTLS and OpenSSL takes them.
 */
#include <config.h>

#include <arpa/inet.h>
#include <time.h>

#include "internal.h"

#define DAY_S ((time_t) 24 * 60 * 60)

gnutls_x509_privkey_t
api_internal_new_key (void)
{
  gnutls_x509_privkey_t key;
  int r;

  r = gnutls_x509_privkey_init (&key);
  if (r < 0) {
    api_gnutls_error (r, "gnutls_x509_privkey_init");
    return NULL;
  }
  r = gnutls_x509_privkey_generate (key, GNUTLS_PK_RSA, API_PKI_RSA_BITS, 0);
  if (r < 0) {
    gnutls_x509_privkey_deinit (key);
    api_gnutls_error (r, "gnutls_x509_privkey_generate");
    return NULL;
  }
  return key;
}

/* Version, random serial, validity, subject CN=name, public key. */
static int
set_basics (gnutls_x509_crt_t crt, const char *name, int days,
            gnutls_x509_privkey_t key)
{
  unsigned char serial[16];
  time_t now = time (NULL), not_before, not_after;
  int r;

  if ((r = gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial)) < 0)
    return api_gnutls_error (r, "gnutls_rnd");
  serial[0] = (serial[0] & 0x7f) | 0x40; /* positive, full length */
  if (days == 0)
    days = 3650;
  not_after = now + days * DAY_S;
  /* Valid since a day before issue (tolerates clock skew between hosts),
   * or, when already expired, for the day before not_after.
   */
  not_before = (days > 0 ? now : not_after) - DAY_S;
  if ((r = gnutls_x509_crt_set_version (crt, 3)) < 0 ||
      (r = gnutls_x509_crt_set_serial (crt, serial, sizeof serial)) < 0 ||
      (r = gnutls_x509_crt_set_activation_time (crt, not_before)) < 0 ||
      (r = gnutls_x509_crt_set_expiration_time (crt, not_after)) < 0 ||
      (r = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                          name, strlen (name))) < 0 ||
      (r = gnutls_x509_crt_set_key (crt, key)) < 0)
    return api_gnutls_error (r, "x509 certificate");
  return 0;
}

/* Append one subjectAltName: IP for an IP literal, else DNS if dns_ok. */
static int
add_san (gnutls_x509_crt_t crt, const char *a, bool dns_ok)
{
  unsigned char addr[16];
  int r;

  if (inet_pton (AF_INET, a, addr) == 1)
    r = gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_IPADDRESS, addr,
                                              4, GNUTLS_FSAN_APPEND);
  else if (inet_pton (AF_INET6, a, addr) == 1)
    r = gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_IPADDRESS, addr,
                                              16, GNUTLS_FSAN_APPEND);
  else if (dns_ok)
    r = gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME, a,
                                              strlen (a), GNUTLS_FSAN_APPEND);
  else {
    set_error (0, "invalid IP address \"%s\"", a);
    return -1;
  }
  if (r < 0)
    return api_gnutls_error (r, "subjectAltName");
  return 0;
}

/* subjectAltName: DNS:name (IP:name for an IP literal), IP:ip...,
 * DNS:dns... (each checked by the caller).
 */
static int
set_san (gnutls_x509_crt_t crt, const char *name, char *const *ips,
         char *const *dns)
{
  size_t i;

  if (add_san (crt, name, true) == -1)
    return -1;
  for (i = 0; ips && ips[i]; i++)
    if (add_san (crt, ips[i], false) == -1)
      return -1;
  for (i = 0; dns && dns[i]; i++)
    if (add_san (crt, dns[i], true) == -1)
      return -1;
  return 0;
}

/* basicConstraints, keyUsage (both critical), keyPurpose, SAN. */
static int
set_extensions (gnutls_x509_crt_t crt, enum api_cert_kind kind,
                const char *name, char *const *ips, char *const *dns)
{
  bool ca = kind == API_CERT_CA;
  unsigned usage = ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
                      : GNUTLS_KEY_DIGITAL_SIGNATURE |
                          GNUTLS_KEY_KEY_ENCIPHERMENT;
  const char *purpose = kind == API_CERT_SERVER ? GNUTLS_KP_TLS_WWW_SERVER
                                                : GNUTLS_KP_TLS_WWW_CLIENT;
  int r;

  if ((r = gnutls_x509_crt_set_basic_constraints (crt, ca, -1)) < 0 ||
      (r = gnutls_x509_crt_set_key_usage (crt, usage)) < 0)
    return api_gnutls_error (r, "x509 extensions");
  if (ca)
    return 0;
  if ((r = gnutls_x509_crt_set_key_purpose_oid (crt, purpose, 0)) < 0)
    return api_gnutls_error (r, "keyPurpose");
  return set_san (crt, name, ips, dns);
}

/* subjectKeyIdentifier, authorityKeyIdentifier, signature. */
static int
sign (gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
      gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key)
{
  unsigned char id[64];
  size_t size = sizeof id;
  unsigned critical;
  int r;

  if ((r = gnutls_x509_privkey_get_key_id (key, 0, id, &size)) < 0 ||
      (r = gnutls_x509_crt_set_subject_key_id (crt, id, size)) < 0)
    return api_gnutls_error (r, "subjectKeyIdentifier");
  if (issuer) {
    size = sizeof id;
    if ((r = gnutls_x509_crt_get_subject_key_id (issuer, id, &size,
                                                 &critical)) < 0 ||
        (r = gnutls_x509_crt_set_authority_key_id (crt, id, size)) < 0)
      return api_gnutls_error (r, "authorityKeyIdentifier");
  }
  r = gnutls_x509_crt_sign2 (crt, issuer ? issuer : crt,
                             issuer ? issuer_key : key, GNUTLS_DIG_SHA256, 0);
  if (r < 0)
    return api_gnutls_error (r, "gnutls_x509_crt_sign2");
  return 0;
}

gnutls_x509_crt_t
api_internal_new_cert (enum api_cert_kind kind, const char *name,
                       char *const *ips, char *const *dns, int days,
                       gnutls_x509_privkey_t key,
                       gnutls_x509_crt_t issuer,
                       gnutls_x509_privkey_t issuer_key)
{
  gnutls_x509_crt_t crt;
  int r;

  r = gnutls_x509_crt_init (&crt);
  if (r < 0) {
    api_gnutls_error (r, "gnutls_x509_crt_init");
    return NULL;
  }
  if (set_basics (crt, name, days, key) == -1 ||
      set_extensions (crt, kind, name, ips, dns) == -1 ||
      sign (crt, key, issuer, issuer_key) == -1) {
    gnutls_x509_crt_deinit (crt);
    return NULL;
  }
  return crt;
}
