/* test-api-fixture.c: the shared fixture of the cmocka tests of api/:
 * certificates made by api_pki_*, a server with test routes, and
 * helpers to call it through api_client or libcurl directly (to send
 * what api_client would never send).  See test-api-fixture.h.
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

/* ---- handlers ---- */

static int
echo (void *opaque, const struct api_request *req, json_t **reply)
{
  struct fixture *f = opaque;

  __atomic_add_fetch (&f->handled, 1, __ATOMIC_SEQ_CST);
  *reply = json_pack ("{s:s, s:s, s:O?}", "peer", req->peer_name,
                      "peer_addr", req->peer_addr, "body", req->body);
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

int
handled (struct fixture *f)
{
  return __atomic_load_n (&f->handled, __ATOMIC_SEQ_CST);
}

/* ---- fixture ---- */

char *
sub (struct fixture *f, const char *name)
{
  char *p = xasprintf ("%s/%s", f->tmp, name);

  assert_non_null (p);
  return p;
}

struct api_server *
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

int
fixture_setup (void **state)
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
    fixture_teardown (state);
    return -1;
  }
  f->port = api_server_port (f->srv);
  return 0;
}

int
fixture_teardown (void **state)
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
int
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
const char *
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
CURLcode
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
int
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
