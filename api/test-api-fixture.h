/* test-api-fixture.h: the shared fixture of the cmocka tests of api/.
 *
 * Test-only.  fixture_setup (a cmocka group setup) makes a temporary
 * directory with two CAs and their certificates (valid, expired, for
 * another host name, a server certificate posing as a client one) and
 * starts an HTTPS server on 127.0.0.1 with the test routes:
 *
 *   POST /v1/echo   200 {"peer": <client CN>, "body": <request body>}
 *   GET  /v1/ping   200 {} without a body, 500 with one
 *   POST /v1/slow   204 after 1.5 s
 *   POST /v1/fail   the handler fails ("disk on fire")
 *   POST /v1/block  204 once the test sets released
 */
#ifndef VMFERRY_API_TEST_API_FIXTURE_H
#define VMFERRY_API_TEST_API_FIXTURE_H

#include <stdbool.h>
#include <pthread.h>
#include <curl/curl.h>
#include <jansson.h>

#include "api.h"

#define MAX_BODY 4096

/* Shared by the whole group (made once: key generation takes time). */
struct fixture {
  char tmp[64]; /* temporary directory */
  char *ca, *host, *other_ca, *other, *expired, *elsewhere, *swapped;
  struct api_server *srv;
  int port;
  int handled; /* handler calls (atomic) */
  /* /v1/block: sets blocked, waits for released. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool blocked, released;
};

/* cmocka group setup and teardown: make and remove the fixture. */
extern int fixture_setup (void **state);
extern int fixture_teardown (void **state);

/* Handler calls so far (echo and ping count theirs). */
extern int handled (struct fixture *f);
/* f->tmp/name, malloc'd. */
extern char *sub (struct fixture *f, const char *name);
/* Start a server with the test routes and the certificates in dir. */
extern struct api_server *start (struct fixture *f, const char *address,
                                 int port, const char *dir);
/* Call with a fresh api_client using the certificates in dir. */
extern int call (struct fixture *f, const char *dir, const char *host,
                 const char *method, const char *path, json_t *body,
                 json_t **reply, int timeout_ms);
/* The "error" string of a reply ("" if none). */
extern const char *error_of (json_t *reply);
/* A request with libcurl directly: client certificate from cert_dir (NULL:
 * none), CA from ca_dir, a raw body and optional extra header.  Returns
 * the CURLcode; *status and *text (malloc'd) when it got a reply.
 */
extern CURLcode raw (struct fixture *f, const char *cert_dir,
                     const char *ca_dir, const char *method, const char *path,
                     const char *body, const char *header, long *status,
                     char **text);
/* A port nothing listens on (bound, read, closed). */
extern int closed_port (void);

#endif /* VMFERRY_API_TEST_API_FIXTURE_H */
