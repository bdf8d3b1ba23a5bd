/* test-api.c: the HTTPS control plane end to end, over real TLS with
 * certificates made by api_pki_*: routing, body rules, mutual TLS (no
 * client certificate, another CA, expired), and the client's transport
 * errors.  libcurl is also used directly, to send what api_client would
 * never send.
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

/* ---- handlers ---- */

static int
echo (void *opaque, const struct api_request *req, json_t **reply)
{
  struct fixture *f = opaque;

  __atomic_add_fetch (&f->handled, 1, __ATOMIC_SEQ_CST);
  *reply = json_pack ("{s:s, s:O?}", "peer", req->peer_name, "body", req->body);
  return 200;
}

static int
ping (void *opaque, const struct api_request *req, json_t **reply)
{
  struct fixture *f = opaque;

  __atomic_add_fetch (&f->handled, 1, __ATOMIC_SEQ_CST);
  return req->body == NULL ? 200 : 500; /* reply NULL: {} */
}

static int
slow (void *opaque, const struct api_request *req, json_t **reply)
{
  usleep (1500 * 1000);
  return 204;
}

static int
block (void *opaque, const struct api_request *req, json_t **reply)
{
  struct fixture *f = opaque;

  pthread_mutex_lock (&f->lock);
  f->blocked = true;
  pthread_cond_broadcast (&f->cond);
  while (!f->released)
    pthread_cond_wait (&f->cond, &f->lock);
  pthread_mutex_unlock (&f->lock);
  return 204;
}

static int
failing (void *opaque, const struct api_request *req, json_t **reply)
{
  set_error (0, "disk on fire");
  return -1;
}

static const struct api_route routes[] = {
  { "POST", "/v1/echo", echo },   { "GET", "/v1/ping", ping },
  { "POST", "/v1/slow", slow },   { "POST", "/v1/fail", failing },
  { "POST", "/v1/block", block },
};

static int
handled (struct fixture *f)
{
  return __atomic_load_n (&f->handled, __ATOMIC_SEQ_CST);
}

/* ---- fixture ---- */

static char *
sub (struct fixture *f, const char *name)
{
  char *p = xasprintf ("%s/%s", f->tmp, name);

  assert_non_null (p);
  return p;
}

static struct api_server *
start (struct fixture *f, const char *address, int port, const char *dir)
{
  struct api_server_params p = {
    .address = address,
    .port = port,
    .tls_dir = dir,
    .routes = routes,
    .n_routes = sizeof routes / sizeof routes[0],
    .opaque = f,
    .max_body = MAX_BODY,
  };

  return api_server_start (&p);
}

static int teardown (void **state);

/* Copy from_dir/from to to_dir/to.  -1 on error. */
static int
copy_file (const char *from_dir, const char *from, const char *to_dir,
           const char *to)
{
  CLEANUP_FREE char *src = xasprintf ("%s/%s", from_dir, from);
  CLEANUP_FREE char *dst = xasprintf ("%s/%s", to_dir, to);
  CLEANUP_FREE char *data = NULL;
  CLEANUP_FCLOSE FILE *fp = NULL;
  size_t len;

  if (src == NULL || dst == NULL || (data = read_file (src, &len)) == NULL ||
      (fp = fopen (dst, "w")) == NULL || fwrite (data, 1, len, fp) != len)
    return -1;
  return 0;
}

/* swapped/ presents the host's server certificate as a client certificate. */
static int
make_swapped (struct fixture *f)
{
  if (mkdir (f->swapped, 0700) == -1 ||
      copy_file (f->host, "server-cert.pem", f->swapped, "client-cert.pem") ||
      copy_file (f->host, "server-key.pem", f->swapped, "client-key.pem") ||
      copy_file (f->host, "ca-cert.pem", f->swapped, "ca-cert.pem")) {
    set_error (errno, "make_swapped");
    return -1;
  }
  return 0;
}

static int
setup (void **state)
{
  static char *ips[] = { "127.0.0.1", "::1", NULL };
  struct fixture *f = calloc (1, sizeof *f);

  assert_non_null (f);
  pthread_mutex_init (&f->lock, NULL);
  pthread_cond_init (&f->cond, NULL);
  snprintf (f->tmp, sizeof f->tmp, "/tmp/vmferry-test-api.XXXXXX");
  assert_non_null (mkdtemp (f->tmp));
  *state = f;
  f->ca = sub (f, "ca");
  f->host = sub (f, "host");
  f->other_ca = sub (f, "other-ca");
  f->other = sub (f, "other");
  f->expired = sub (f, "expired");
  f->elsewhere = sub (f, "elsewhere");
  f->swapped = sub (f, "swapped");
  if (api_pki_init (f->ca) == -1 ||
      api_pki_issue (f->ca, f->host, "localhost", ips, 0) == -1 ||
      api_pki_init (f->other_ca) == -1 ||
      api_pki_issue (f->other_ca, f->other, "localhost", ips, 0) == -1 ||
      api_pki_issue (f->ca, f->expired, "localhost", ips, -1) == -1 ||
      api_pki_issue (f->ca, f->elsewhere, "elsewhere.example", NULL, 0) == -1 ||
      make_swapped (f) == -1 ||
      (f->srv = start (f, "127.0.0.1", 0, f->host)) == NULL) {
    print_error ("setup: %s\n", get_error ());
    teardown (state);
    return -1;
  }
  f->port = api_server_port (f->srv);
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;

  if (f == NULL)
    return 0;
  *state = NULL;
  pthread_mutex_lock (&f->lock); /* never leave a handler blocked */
  f->released = true;
  pthread_cond_broadcast (&f->cond);
  pthread_mutex_unlock (&f->lock);
  api_server_stop (f->srv);
  remove_tree (f->tmp);
  free (f->ca);
  free (f->host);
  free (f->other_ca);
  free (f->other);
  free (f->expired);
  free (f->elsewhere);
  free (f->swapped);
  pthread_cond_destroy (&f->cond);
  pthread_mutex_destroy (&f->lock);
  free (f);
  return 0;
}

/* ---- helpers ---- */

/* Call with a fresh api_client using the certificates in dir. */
static int
call (struct fixture *f, const char *dir, const char *host, const char *method,
      const char *path, json_t *body, json_t **reply, int timeout_ms)
{
  struct api_client *c = api_client_new (host, f->port, dir);
  int r;

  if (c == NULL)
    fail_msg ("api_client_new: %s", get_error ());
  r = api_client_call (c, method, path, body, reply, timeout_ms);
  api_client_free (c);
  return r;
}

/* The "error" string of a reply ("" if none). */
static const char *
error_of (json_t *reply)
{
  const char *s = json_string_value (json_object_get (reply, "error"));

  return s ? s : "";
}

static size_t
raw_write (char *ptr, size_t size, size_t nmemb, void *opaque)
{
  char **buf = opaque;
  size_t old = *buf ? strlen (*buf) : 0, n = size * nmemb;
  char *p = realloc (*buf, old + n + 1);

  assert_non_null (p);
  memcpy (p + old, ptr, n);
  p[old + n] = '\0';
  *buf = p;
  return n;
}

/* A request with libcurl directly: client certificate from cert_dir (NULL:
 * none), CA from ca_dir, a raw body and optional extra header.  Returns
 * the CURLcode; *status and *text (malloc'd) when it got a reply.
 */
static CURLcode
raw (struct fixture *f, const char *cert_dir, const char *ca_dir,
     const char *method, const char *path, const char *body, const char *header,
     long *status, char **text)
{
  CLEANUP_FREE char *url = xasprintf ("https://127.0.0.1:%d%s", f->port, path);
  CLEANUP_FREE char *cert = xasprintf ("%s/client-cert.pem", cert_dir);
  CLEANUP_FREE char *key = xasprintf ("%s/client-key.pem", cert_dir);
  CLEANUP_FREE char *ca = xasprintf ("%s/ca-cert.pem", ca_dir);
  struct curl_slist *hdrs = header ? curl_slist_append (NULL, header) : NULL;
  CURL *h = curl_easy_init ();
  CURLcode r;

  assert_non_null (h);
  *status = 0;
  *text = NULL;
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_CAINFO, ca);
  if (cert_dir) {
    curl_easy_setopt (h, CURLOPT_SSLCERT, cert);
    curl_easy_setopt (h, CURLOPT_SSLKEY, key);
  }
  curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, method);
  if (body)
    curl_easy_setopt (h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, raw_write);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, text);
  curl_easy_setopt (h, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  r = curl_easy_perform (h);
  if (r == CURLE_OK)
    curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup (h);
  curl_slist_free_all (hdrs);
  return r;
}

/* A port nothing listens on (bound, read, closed). */
static int
closed_port (void)
{
  struct sockaddr_in sin = { .sin_family = AF_INET };
  socklen_t len = sizeof sin;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  assert_true (fd >= 0);
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  assert_int_equal (bind (fd, (struct sockaddr *) &sin, sizeof sin), 0);
  assert_int_equal (getsockname (fd, (struct sockaddr *) &sin, &len), 0);
  close (fd);
  return ntohs (sin.sin_port);
}

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
    cmocka_unit_test (test_roundtrip),
    cmocka_unit_test (test_large_body),
    cmocka_unit_test (test_client_reuse_and_ipv6),
    cmocka_unit_test (test_reconnect),
    cmocka_unit_test (test_parallel),
    cmocka_unit_test (test_no_client_cert),
    cmocka_unit_test (test_other_ca_client_cert),
    cmocka_unit_test (test_expired_client_cert),
    cmocka_unit_test (test_server_cert_as_client_cert),
    cmocka_unit_test (test_not_found_and_method),
    cmocka_unit_test (test_bad_bodies),
    cmocka_unit_test (test_too_large),
    cmocka_unit_test (test_handler_error),
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
  return cmocka_run_group_tests (tests, setup, teardown);
}
