/* test-api-errors.c: the HTTPS control plane's refusals and errors, over
 * real TLS with certificates made by api_pki_* (test-api-fixture.h):
 * mutual TLS (no client certificate, another CA, expired, a server
 * certificate), the client's transport errors (closed port, untrusted
 * server, wrong host name, timeout), and server start and PKI errors.
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

/* ---- tests: mutual TLS ---- */

static void
test_no_client_cert (void **state)
{
  struct fixture *f = *state;
  int before = handled (f);
  CLEANUP_FREE char *text = NULL;
  long status;

  assert_int_equal (
    raw (f, NULL, f->host, "POST", "/v1/echo", "{}", NULL, &status, &text),
    CURLE_OK);
  assert_int_equal (status, 403);
  assert_non_null (strstr (text, "client certificate required"));
  assert_int_equal (handled (f), before);
}

static void
test_other_ca_client_cert (void **state)
{
  struct fixture *f = *state;
  int before = handled (f);
  CLEANUP_FREE char *text = NULL;
  long status;
  CURLcode r;

  r = raw (f, f->other, f->host, "POST", "/v1/echo", "{}", NULL, &status,
           &text);
  if (r == CURLE_OK) {
    assert_int_equal (status, 403);
    assert_non_null (strstr (text, "client certificate rejected"));
  }
  assert_int_equal (handled (f), before);
}

/* Is the client's error a TLS failure (the server refused the
 * certificate in the handshake, with an alert), not any other transport
 * failure (could not connect, timed out, a connection dropped without
 * a word)?  api_internal_curl_error's wording names TLS or SSL then.
 */
static bool
is_tls_refusal (const char *err)
{
  return strstr (err, "TLS handshake/certificate problem") ||
    (strstr (err, "connection to") &&
     (strstr (err, "SSL") || strstr (err, "TLS") || strstr (err, "alert")));
}

/* A call with the client certificate in dir is refused (403 saying why,
 * or a failed TLS handshake) and no handler runs.
 */
static void
assert_refused (struct fixture *f, const char *dir, const char *why)
{
  int before = handled (f);
  json_auto_t *reply = NULL;
  int r;

  r = call (f, dir, "127.0.0.1", "POST", "/v1/echo", NULL, &reply, 10000);
  if (r == -1 && !is_tls_refusal (get_error ()))
    fail_msg ("refused by a transport error, not TLS: %s", get_error ());
  assert_true (r == 403 || r == -1);
  if (r == 403)
    assert_non_null (strstr (error_of (reply), why));
  assert_int_equal (handled (f), before);
}

/* expired/ has the expired client certificate and our (valid) CA. */
static void
test_expired_client_cert (void **state)
{
  struct fixture *f = *state;

  assert_refused (f, f->expired, "expired");
}

/* A certificate of our CA, but for servers only (keyPurpose serverAuth). */
static void
test_server_cert_as_client_cert (void **state)
{
  struct fixture *f = *state;

  assert_refused (f, f->swapped, "intended purpose");
}
/* ---- tests: client transport errors ---- */

static void
test_closed_port (void **state)
{
  struct fixture *f = *state;
  int port = closed_port ();
  struct api_client *c = api_client_new ("127.0.0.1", port, f->host);
  CLEANUP_FREE char *where = xasprintf ("could not connect to 127.0.0.1:%d",
                                        port);
  json_t *reply = NULL;

  assert_non_null (c);
  assert_int_equal (api_client_call (c, "GET", "/v1/ping", NULL, &reply, 5000),
                    -1);
  assert_null (reply);
  assert_non_null (strstr (get_error (), where));
  api_client_free (c);
}

static void
test_untrusted_server (void **state)
{
  struct fixture *f = *state;
  CLEANUP_FREE char *where = xasprintf ("127.0.0.1:%d", f->port);
  json_t *reply = NULL;

  /* other/ trusts another CA. */
  assert_int_equal (
    call (f, f->other, "127.0.0.1", "GET", "/v1/ping", NULL, &reply, 10000),
    -1);
  assert_non_null (strstr (get_error (), "TLS handshake/certificate problem"));
  assert_non_null (strstr (get_error (), where));
  assert_non_null (strstr (get_error (), "certificate"));
}

/* The server's certificate is valid but for another host name. */
static void
test_wrong_host (void **state)
{
  struct fixture *f = *state;
  struct api_server *s = start (f, "127.0.0.1", 0, f->elsewhere);
  struct api_client *c;
  json_t *reply = NULL;

  assert_non_null (s);
  c = api_client_new ("127.0.0.1", api_server_port (s), f->host);
  assert_non_null (c);
  assert_int_equal (api_client_call (c, "GET", "/v1/ping", NULL, &reply, 10000),
                    -1);
  assert_non_null (strstr (get_error (), "TLS handshake/certificate problem"));
  api_client_free (c);
  api_server_stop (s);
}

static void
test_timeout (void **state)
{
  struct fixture *f = *state;
  json_t *reply = NULL;

  assert_int_equal (
    call (f, f->host, "127.0.0.1", "POST", "/v1/slow", NULL, &reply, 300), -1);
  assert_non_null (strstr (get_error (), "timed out"));
}

/* ---- tests: server start errors, PKI ---- */

static void
test_start_errors (void **state)
{
  struct fixture *f = *state;
  CLEANUP_FREE char *missing = sub (f, "missing");

  assert_null (start (f, "127.0.0.1", 0, missing));
  assert_non_null (strstr (get_error (), "server-key.pem"));
  assert_non_null (strstr (get_error (), "No such file"));
  assert_null (start (f, "127.0.0.1", f->port, f->host));
  assert_non_null (strstr (get_error (), "in use"));
  assert_null (start (f, "localhost", 0, f->host));
  assert_non_null (strstr (get_error (), "invalid listen address"));
}

static void
test_pki (void **state)
{
  struct fixture *f = *state;
  static char *bad_ips[] = { "1.2.3.x", NULL };
  const char *keys[] = { "ca/ca-key.pem", "host/server-key.pem",
                         "host/client-key.pem" };
  struct stat st;
  size_t i;

  for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    CLEANUP_FREE char *path = sub (f, keys[i]);
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
  }
  assert_int_equal (api_pki_init (f->ca), -1);
  assert_int_equal (get_errno (), EEXIST);
  assert_int_equal (api_pki_issue (f->ca, f->host, "h", bad_ips, 0), -1);
  assert_non_null (strstr (get_error (), "invalid IP address"));
  assert_int_equal (api_pki_issue (f->ca, f->host, "a b", NULL, 0), -1);
  assert_non_null (strstr (get_error (), "invalid host name"));
}
int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_no_client_cert),
    cmocka_unit_test (test_other_ca_client_cert),
    cmocka_unit_test (test_expired_client_cert),
    cmocka_unit_test (test_server_cert_as_client_cert),
    cmocka_unit_test (test_closed_port),
    cmocka_unit_test (test_untrusted_server),
    cmocka_unit_test (test_wrong_host),
    cmocka_unit_test (test_timeout),
    cmocka_unit_test (test_start_errors),
    cmocka_unit_test (test_pki),
  };

  if (getenv ("VMFERRY_DEBUG"))
    vmferry_debug_enable ("test-api");
  curl_global_init (CURL_GLOBAL_DEFAULT);
  return cmocka_run_group_tests (tests, fixture_setup, fixture_teardown);
}
