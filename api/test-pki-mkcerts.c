/* test-pki-mkcerts.c: make certificates for the shell tests.
 *
 *   test-pki-mkcerts CA_DIR OUT_DIR NAME DAYS [IP...]
 *
 * Creates the CA in CA_DIR if it has none, then issues the server and
 * client certificates of NAME in OUT_DIR (api_pki_init, api_pki_issue).
 */
#include <config.h>

#include <errno.h>
#include <sys/stat.h>

#include "api.h"
#include "utils.h"

int
main (int argc, char *argv[])
{
  CLEANUP_FREE char *ca_cert = NULL;
  struct stat st;

  if (argc < 5) {
    fprintf (stderr, "usage: %s CA_DIR OUT_DIR NAME DAYS [IP...]\n", argv[0]);
    exit (EXIT_FAILURE);
  }
  ca_cert = xasprintf ("%s/ca-cert.pem", argv[1]);
  if (ca_cert == NULL ||
      (stat (ca_cert, &st) == -1 && api_pki_init (argv[1]) == -1) ||
      api_pki_issue (argv[1], argv[2], argv[3], argc > 5 ? &argv[5] : NULL,
                     (int) strtol (argv[4], NULL, 10)) == -1) {
    fprintf (stderr, "%s: %s\n", argv[0], get_error ());
    exit (EXIT_FAILURE);
  }
  exit (EXIT_SUCCESS);
}
