/* pki.c: a private CA and the certificates of one host (api_pki_init,
 * api_pki_issue).  See pki-x509.c for what goes into the certificates.
 */
#include <config.h>

#include <errno.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include "internal.h"

#define MAX_DAYS (100 * 365)

static bool
is_ip (const char *s)
{
  unsigned char addr[16];

  return inet_pton (AF_INET, s, addr) == 1 ||
         inet_pton (AF_INET6, s, addr) == 1;
}

/* A DNS name (or at least nothing else: letters, digits, '.', '-',
 * '_'; at most 253 characters).
 */
static bool
is_dns (const char *s)
{
  return s && s[0] != '\0' && s[0] != '-' && s[0] != '.' &&
    strlen (s) <= 253 &&
    strspn (s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
            "0123456789.-_") == strlen (s);
}

/* Refuse bad input before spending time on RSA key generation. */
static int
check_names (const char *name, char *const *ips, char *const *dns,
             int days)
{
  size_t i;

  if (name == NULL || (!is_ip (name) && !is_dns (name))) {
    set_error (0,
               "invalid host name \"%s\" (expected a DNS name or "
               "an IP address)",
               name ? name : "(null)");
    return -1;
  }
  for (i = 0; ips && ips[i]; i++) {
    if (!is_ip (ips[i])) {
      set_error (0, "invalid IP address \"%s\"", ips[i]);
      return -1;
    }
  }
  for (i = 0; dns && dns[i]; i++) {
    if (!is_dns (dns[i])) {
      set_error (0, "invalid DNS name \"%s\"", dns[i]);
      return -1;
    }
  }
  if (days > MAX_DAYS || days < -MAX_DAYS) {
    set_error (0, "invalid validity of %d days", days);
    return -1;
  }
  return 0;
}

static bool
exists (const char *dir, const char *file)
{
  CLEANUP_FREE char *path = xasprintf ("%s/%s", dir, file);
  struct stat st;

  return path == NULL || lstat (path, &st) == 0 || errno != ENOENT;
}

int
api_pki_init (const char *dir)
{
  CLEANUP_KEY gnutls_x509_privkey_t key = NULL;
  CLEANUP_CRT gnutls_x509_crt_t crt = NULL;
  CLEANUP_FREE char *key_path = NULL;
  char cn[128], host[64] = "";

  if (mkdir_p (dir, 0700) == -1)
    return -1;
  if (exists (dir, API_CA_CERT) || exists (dir, API_CA_KEY)) {
    set_error (EEXIST, "%s already holds a CA (%s or %s)", dir, API_CA_CERT,
               API_CA_KEY);
    return -1;
  }
  gethostname (host, sizeof host - 1);
  snprintf (cn, sizeof cn, "vmferry CA %s", host);
  key = api_internal_new_key ();
  if (key == NULL)
    return -1;
  crt = api_internal_new_cert (API_CERT_CA, cn, NULL, NULL, 3650, key, NULL,
                               NULL);
  if (crt == NULL)
    return -1;
  if (api_internal_save_pem (dir, API_CA_KEY, NULL, key, 0600, false) == -1)
    return -1;
  if (api_internal_save_pem (dir, API_CA_CERT, crt, NULL, 0644, false) == -1) {
    key_path = xasprintf ("%s/%s", dir, API_CA_KEY);
    if (key_path)
      unlink (key_path); /* a key without its certificate is useless */
    return -1;
  }
  return 0;
}

/* A key and a certificate of kind, named prefix-key.pem / prefix-cert.pem. */
static int
issue_one (enum api_cert_kind kind, const char *out_dir, const char *name,
           char *const *ips, char *const *dns, int days, gnutls_x509_crt_t ca,
           gnutls_x509_privkey_t ca_key)
{
  CLEANUP_KEY gnutls_x509_privkey_t key = NULL;
  CLEANUP_CRT gnutls_x509_crt_t crt = NULL;
  bool server = kind == API_CERT_SERVER;

  key = api_internal_new_key ();
  if (key == NULL)
    return -1;
  crt = api_internal_new_cert (kind, name, ips, dns, days, key, ca, ca_key);
  if (crt == NULL)
    return -1;
  if (api_internal_save_pem (out_dir, server ? API_SERVER_KEY : API_CLIENT_KEY,
                             NULL, key, 0600, true) == -1 ||
      api_internal_save_pem (out_dir,
                             server ? API_SERVER_CERT : API_CLIENT_CERT, crt,
                             NULL, 0644, true) == -1)
    return -1;
  return 0;
}

/* True if a and b are the same directory. */
static bool
same_dir (const char *a, const char *b)
{
  struct stat sa, sb;

  return stat (a, &sa) == 0 && stat (b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

int
api_pki_issue (const char *ca_dir, const char *out_dir, const char *name,
               char *const *ips, int days)
{
  return api_pki_issue_names (ca_dir, out_dir, name, ips, NULL, days);
}

int
api_pki_issue_names (const char *ca_dir, const char *out_dir,
                     const char *name, char *const *ips, char *const *dns,
                     int days)
{
  CLEANUP_KEY gnutls_x509_privkey_t ca_key = NULL;
  CLEANUP_CRT gnutls_x509_crt_t ca = NULL;

  if (check_names (name, ips, dns, days) == -1)
    return -1;
  ca = api_internal_load_cert (ca_dir, API_CA_CERT);
  if (ca == NULL)
    return -1;
  ca_key = api_internal_load_key (ca_dir, API_CA_KEY);
  if (ca_key == NULL)
    return -1;
  if (mkdir_p (out_dir, 0700) == -1)
    return -1;
  if (issue_one (API_CERT_SERVER, out_dir, name, ips, dns, days, ca,
                 ca_key) == -1 ||
      issue_one (API_CERT_CLIENT, out_dir, name, ips, dns, days, ca,
                 ca_key) == -1)
    return -1;
  if (!same_dir (ca_dir, out_dir) &&
      api_internal_save_pem (out_dir, API_CA_CERT, ca, NULL, 0644, true) == -1)
    return -1;
  return 0;
}
