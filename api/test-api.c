/* test-api.c: the HTTPS control plane end to end, over real TLS with
 * certificates made by api_pki_* (test-api-fixture.h): good calls,
 * reconnects, parallel calls, routing and body rules.  test-api-errors.c
 * covers mutual TLS refusals, the client's transport errors and the
 * server's start and PKI errors.
 */
#include <config.h>

#include <errno.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api.h"
#include "utils.h"
#include "test-api-fixture.h"

/* ---- tests: good calls ---- */

static void
test_roundtrip (void **state)
{
  struct fixture *f = *state;
  json_auto_t *body = json_pack ("{s:i, s:s}", "x", 42, "s", "h\xc3\xa9");
  json_auto_t *reply = NULL, *reply2 = NULL;

  assert_int_equal (
    call (f, f->host, "127.0.0.1", "POST", "/v1/echo", body, &reply, 10000),
    200);
  assert_string_equal (json_string_value (json_object_get (reply, "peer")),
                       "localhost");
  assert_string_equal (json_string_value (json_object_get (reply,
                                                           "peer_addr")),
                       "127.0.0.1");
  assert_true (json_equal (json_object_get (reply, "body"), body));
  /* By DNS name (SAN DNS:localhost); GET without a body; empty reply. */
  assert_int_equal (
    call (f, f->host, "localhost", "GET", "/v1/ping", NULL, &reply2, 10000),
    200);
  assert_true (json_is_object (reply2));
  assert_int_equal (json_object_size (reply2), 0);
}

/* A body close to the limit arrives in several pieces. */
static void
test_large_body (void **state)
{
  struct fixture *f = *state;
  char big[MAX_BODY - 64];
  json_auto_t *body = NULL, *reply = NULL;

  memset (big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  body = json_pack ("{s:s}", "big", big);
  assert_int_equal (
    call (f, f->host, "127.0.0.1", "POST", "/v1/echo", body, &reply, 10000),
    200);
  assert_true (json_equal (json_object_get (reply, "body"), body));
}

static void
test_client_reuse_and_ipv6 (void **state)
{
  struct fixture *f = *state;
  struct api_server *s6 = start (f, "::1", 0, f->host);
  struct api_client *c;
  json_auto_t *r1 = NULL, *r2 = NULL;

  if (s6 == NULL)
    skip (); /* no IPv6 loopback here */
  c = api_client_new ("::1", api_server_port (s6), f->host);
  assert_non_null (c);
  assert_int_equal (api_client_call (c, "GET", "/v1/ping", NULL, &r1, 10000),
                    200);
  assert_int_equal (api_client_call (c, "GET", "/v1/ping", NULL, &r2, 10000),
                    200);
  /* Stopping with the client's keep-alive connection open must not hang. */
  api_server_stop (s6);
  api_client_free (c);
}

/* After the server closed the connection (413 closes it), the same client
 * reconnects (possibly resuming the TLS session) and is still known by its
 * certificate.
 */
static void
test_reconnect (void **state)
{
  struct fixture *f = *state;
  struct api_client *c = api_client_new ("127.0.0.1", f->port, f->host);
  char big[2 * MAX_BODY];
  json_auto_t *body = NULL, *r1 = NULL, *r2 = NULL;

  assert_non_null (c);
  memset (big, 'b', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  body = json_pack ("{s:s}", "big", big);
  assert_int_equal (api_client_call (c, "POST", "/v1/echo", body, &r1, 10000),
                    413);
  assert_int_equal (api_client_call (c, "POST", "/v1/echo", NULL, &r2, 10000),
                    200);
  assert_string_equal (json_string_value (json_object_get (r2, "peer")),
                       "localhost");
  api_client_free (c);
}

struct blocked_call {
  struct fixture *f;
  int status;
};

static void *
blocked_thread (void *arg)
{
  struct blocked_call *bc = arg;
  json_auto_t *reply = NULL;

  bc->status = call (bc->f, bc->f->host, "127.0.0.1", "POST", "/v1/block", NULL,
                     &reply, 30000);
  return NULL;
}

/* While one handler is blocked, a call on another connection is served
 * (no timing involved: the blocked handler waits for the test).
 */
static void
test_parallel (void **state)
{
  struct fixture *f = *state;
  struct blocked_call bc = { f, 0 };
  json_auto_t *reply = NULL;
  pthread_t t;

  assert_int_equal (pthread_create (&t, NULL, blocked_thread, &bc), 0);
  pthread_mutex_lock (&f->lock);
  while (!f->blocked)
    pthread_cond_wait (&f->cond, &f->lock);
  pthread_mutex_unlock (&f->lock);
  assert_int_equal (
    call (f, f->host, "127.0.0.1", "GET", "/v1/ping", NULL, &reply, 10000),
    200);
  pthread_mutex_lock (&f->lock);
  f->released = true;
  pthread_cond_broadcast (&f->cond);
  pthread_mutex_unlock (&f->lock);
  assert_int_equal (pthread_join (t, NULL), 0);
  assert_int_equal (bc.status, 204);
}
/* ---- tests: routing and bodies ---- */

static void
test_not_found_and_method (void **state)
{
  struct fixture *f = *state;
  json_auto_t *r1 = NULL, *r2 = NULL;

  assert_int_equal (
    call (f, f->host, "127.0.0.1", "GET", "/v1/nope", NULL, &r1, 10000), 404);
  assert_non_null (strstr (error_of (r1), "/v1/nope"));
  assert_int_equal (
    call (f, f->host, "127.0.0.1", "GET", "/v1/echo", NULL, &r2, 10000), 405);
  assert_non_null (strstr (error_of (r2), "not allowed"));
}

static void
test_bad_bodies (void **state)
{
  struct fixture *f = *state;
  CLEANUP_FREE char *t1 = NULL, *t2 = NULL;
  json_auto_t *r1 = NULL;
  long status;
  int before = handled (f);

  assert_int_equal (raw (f, f->host, f->host, "POST", "/v1/echo", "{\"a\": }",
                         NULL, &status, &t1),
                    CURLE_OK);
  assert_int_equal (status, 400);
  r1 = json_loads (t1, 0, NULL);
  assert_non_null (r1);
  assert_non_null (strstr (error_of (r1), "malformed JSON at line 1 column"));
  assert_int_equal (
    raw (f, f->host, f->host, "POST", "/v1/echo", "[1, 2]", NULL, &status, &t2),
    CURLE_OK);
  assert_int_equal (status, 400);
  assert_non_null (strstr (t2, "must be a JSON object"));
  assert_int_equal (handled (f), before);
}

static void
test_too_large (void **state)
{
  struct fixture *f = *state;
  char body[3 * MAX_BODY];
  CLEANUP_FREE char *t1 = NULL, *t2 = NULL;
  long status;
  int before = handled (f);

  snprintf (body, sizeof body, "{\"big\": \"%0*d\"}", 2 * MAX_BODY, 0);
  /* Content-Length over the limit: refused before the body is read. */
  assert_int_equal (
    raw (f, f->host, f->host, "POST", "/v1/echo", body, NULL, &status, &t1),
    CURLE_OK);
  assert_int_equal (status, 413);
  assert_non_null (strstr (t1, "too large"));
  /* Chunked: no length announced, discarded once over the limit. */
  assert_int_equal (raw (f, f->host, f->host, "POST", "/v1/echo", body,
                         "Transfer-Encoding: chunked", &status, &t2),
                    CURLE_OK);
  assert_int_equal (status, 413);
  assert_int_equal (handled (f), before);
}

static void
test_handler_error (void **state)
{
  struct fixture *f = *state;
  json_auto_t *reply = NULL;

  assert_int_equal (
    call (f, f->host, "127.0.0.1", "POST", "/v1/fail", NULL, &reply, 10000),
    500);
  assert_string_equal (error_of (reply), "disk on fire");
}
int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_roundtrip),
    cmocka_unit_test (test_large_body),
    cmocka_unit_test (test_client_reuse_and_ipv6),
    cmocka_unit_test (test_reconnect),
    cmocka_unit_test (test_parallel),
    cmocka_unit_test (test_not_found_and_method),
    cmocka_unit_test (test_bad_bodies),
    cmocka_unit_test (test_too_large),
    cmocka_unit_test (test_handler_error),
  };

  if (getenv ("VMFERRY_DEBUG"))
    vmferry_debug_enable ("test-api");
  curl_global_init (CURL_GLOBAL_DEFAULT);
  return cmocka_run_group_tests (tests, fixture_setup, fixture_teardown);
}
