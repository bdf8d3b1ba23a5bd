/* pki-files.c: PEM files in a TLS directory, written atomically.
 *
 * A file is written to a temporary name in the same directory, then
 * renamed into place (or linked, when an existing file must not be
 * replaced), so a crash never leaves half a key where QEMU or the server
 * would read it.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "internal.h"

static int
fill (int fd, const char *tmp, const void *data, size_t len, mode_t mode)
{
  if (fchmod (fd, mode) == -1) {
    set_error (errno, "fchmod: %s", tmp);
    return -1;
  }
  if (write_all (fd, data, len) == -1) {
    prefix_error ("%s", tmp);
    return -1;
  }
  if (fsync (fd) == -1) {
    set_error (errno, "fsync: %s", tmp);
    return -1;
  }
  return 0;
}

/* Write data to a new temporary file in dir; returns its path. */
static char *
write_temp (const char *dir, const char *file, const void *data, size_t len,
            mode_t mode)
{
  char *tmp = xasprintf ("%s/.%s.XXXXXX", dir, file);
  int fd;

  if (tmp == NULL)
    return NULL;
  fd = mkstemp (tmp); /* mode 0600 */
  if (fd == -1) {
    set_error (errno, "mkstemp: %s", tmp);
    free (tmp);
    return NULL;
  }
  if (fill (fd, tmp, data, len, mode) == -1) {
    close (fd);
    goto err_unlink;
  }
  if (close (fd) == -1) {
    set_error (errno, "close: %s", tmp);
    goto err_unlink;
  }
  return tmp;

err_unlink:
  unlink (tmp);
  free (tmp);
  return NULL;
}

/* Write data to dir/file atomically (rename, or link if !overwrite). */
static int
write_file (const char *dir, const char *file, const void *data, size_t len,
            mode_t mode, bool overwrite)
{
  CLEANUP_FREE char *path = xasprintf ("%s/%s", dir, file);
  CLEANUP_FREE char *tmp = NULL;
  int r;

  if (path == NULL)
    return -1;
  tmp = write_temp (dir, file, data, len, mode);
  if (tmp == NULL)
    return -1;
  r = overwrite ? rename (tmp, path) : link (tmp, path);
  if (r == -1)
    set_error (errno, "%s", path);
  if (r == -1 || !overwrite)
    unlink (tmp);
  return r;
}

int
api_internal_save_pem (const char *dir, const char *file, gnutls_x509_crt_t crt,
                       gnutls_x509_privkey_t key, mode_t mode, bool overwrite)
{
  gnutls_datum_t d = { NULL, 0 };
  int r;

  if (crt)
    r = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &d);
  else
    r = gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL,
                                           GNUTLS_PKCS_PLAIN, &d);
  if (r < 0)
    return api_gnutls_error (r, file);
  r = write_file (dir, file, d.data, d.size, mode, overwrite);
  if (key)
    gnutls_memset (d.data, 0, d.size);
  gnutls_free (d.data);
  return r;
}

/* Read dir/file into a datum (free d->data). */
static int
read_datum (const char *dir, const char *file, gnutls_datum_t *d)
{
  CLEANUP_FREE char *path = xasprintf ("%s/%s", dir, file);
  size_t len;

  if (path == NULL)
    return -1;
  d->data = (unsigned char *) read_file (path, &len);
  if (d->data == NULL)
    return -1;
  d->size = len;
  return 0;
}

gnutls_x509_crt_t
api_internal_load_cert (const char *dir, const char *file)
{
  gnutls_datum_t d;
  gnutls_x509_crt_t crt;
  int r;

  if (read_datum (dir, file, &d) == -1)
    return NULL;
  if ((r = gnutls_x509_crt_init (&crt)) >= 0 &&
      (r = gnutls_x509_crt_import (crt, &d, GNUTLS_X509_FMT_PEM)) < 0)
    gnutls_x509_crt_deinit (crt);
  free (d.data);
  if (r < 0) {
    set_error (0, "%s/%s: %s", dir, file, gnutls_strerror (r));
    return NULL;
  }
  return crt;
}

gnutls_x509_privkey_t
api_internal_load_key (const char *dir, const char *file)
{
  gnutls_datum_t d;
  gnutls_x509_privkey_t key;
  int r;

  if (read_datum (dir, file, &d) == -1)
    return NULL;
  if ((r = gnutls_x509_privkey_init (&key)) >= 0 &&
      (r = gnutls_x509_privkey_import2 (key, &d, GNUTLS_X509_FMT_PEM, NULL,
                                        0)) < 0)
    gnutls_x509_privkey_deinit (key);
  explicit_bzero (d.data, d.size);
  free (d.data);
  if (r < 0) {
    set_error (0, "%s/%s: %s", dir, file, gnutls_strerror (r));
    return NULL;
  }
  return key;
}
