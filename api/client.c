/* client.c: the HTTPS+JSON client (libcurl), with a client certificate.
 *
 * One struct api_client per thread: the curl easy handle inside keeps the
 * connection and the TLS session between calls and is not thread-safe.
 */
#include <config.h>

#include <errno.h>
#include <curl/curl.h>

#include "internal.h"

/* Largest reply accepted (a reply is a small JSON object). */
#define API_MAX_REPLY (16 * 1024 * 1024)

struct api_client {
  CURL *curl;
  char *hostport;        /* "host:port" / "[v6]:port", for messages */
  char *base_url;        /* "https://" hostport */
  char *cert, *key, *ca; /* paths in the TLS directory */
  struct curl_slist *headers;
  char errbuf[CURL_ERROR_SIZE];
};

/* The reply body as it arrives. */
struct reply_buf {
  char *data;
  size_t len;
  bool too_big;
};

/* curl_global_init must run once, before any other thread uses curl.  This
 * once-flag and its result are the only process state in api/.
 */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void
curl_init_once (void)
{
  curl_init_result = curl_global_init (CURL_GLOBAL_DEFAULT);
}

/* dir/file, which must be readable. */
static char *
tls_file (const char *dir, const char *file)
{
  char *path = xasprintf ("%s/%s", dir, file);

  if (path && access (path, R_OK) == -1) {
    set_error (errno, "api client: %s", path);
    free (path);
    return NULL;
  }
  return path;
}

static int
client_init (struct api_client *c, const char *host, int port,
             const char *tls_dir)
{
  bool v6 = strchr (host, ':') != NULL;

  c->hostport = xasprintf (v6 ? "[%s]:%d" : "%s:%d", host, port);
  if (c->hostport == NULL)
    return -1;
  c->base_url = xasprintf ("https://%s", c->hostport);
  if (c->base_url == NULL)
    return -1;
  if ((c->cert = tls_file (tls_dir, API_CLIENT_CERT)) == NULL ||
      (c->key = tls_file (tls_dir, API_CLIENT_KEY)) == NULL ||
      (c->ca = tls_file (tls_dir, API_CA_CERT)) == NULL)
    return -1;
  c->curl = curl_easy_init ();
  c->headers = curl_slist_append (NULL, "Content-Type: application/json");
  if (c->headers)
    c->headers = curl_slist_append (c->headers, "Accept: application/json");
  if (c->headers) /* no "Expect: 100-continue" round trip */
    c->headers = curl_slist_append (c->headers, "Expect:");
  if (c->curl == NULL || c->headers == NULL) {
    set_error (ENOMEM, "api client: curl");
    return -1;
  }
  return 0;
}

struct api_client *
api_client_new (const char *host, int port, const char *tls_dir)
{
  struct api_client *c;

  if (port <= 0 || port > 65535 || host == NULL || host[0] == '\0') {
    set_error (0, "api client: invalid address %s port %d",
               host ? host : "(null)", port);
    return NULL;
  }
  pthread_once (&curl_once, curl_init_once);
  if (curl_init_result != CURLE_OK) {
    set_error (0, "api client: curl_global_init: %s",
               curl_easy_strerror (curl_init_result));
    return NULL;
  }
  c = calloc (1, sizeof *c);
  if (c == NULL) {
    set_error (errno, "calloc");
    return NULL;
  }
  if (client_init (c, host, port, tls_dir) == -1) {
    api_client_free (c);
    return NULL;
  }
  return c;
}

void
api_client_free (struct api_client *c)
{
  if (c == NULL)
    return;
  if (c->curl)
    curl_easy_cleanup (c->curl);
  curl_slist_free_all (c->headers);
  free (c->hostport);
  free (c->base_url);
  free (c->cert);
  free (c->key);
  free (c->ca);
  free (c);
}

static size_t
write_cb (char *ptr, size_t size, size_t nmemb, void *opaque)
{
  struct reply_buf *buf = opaque;
  size_t n = size * nmemb;
  char *p;

  if (n > API_MAX_REPLY - buf->len) {
    buf->too_big = true;
    return 0; /* makes curl fail with CURLE_WRITE_ERROR */
  }
  p = realloc (buf->data, buf->len + n + 1);
  if (p == NULL)
    return 0;
  memcpy (p + buf->len, ptr, n);
  buf->data = p;
  buf->len += n;
  return n;
}

/* TLS, timeouts and where the reply goes; the same for every call. */
static bool
setup_transport (struct api_client *c, struct reply_buf *buf, int timeout_ms)
{
  CURL *h = c->curl;
  long connect_ms = API_CONNECT_TIMEOUT_MS;

  if (timeout_ms > 0 && timeout_ms < connect_ms)
    connect_ms = timeout_ms;
  return curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
         curl_easy_setopt (h, CURLOPT_ERRORBUFFER, c->errbuf) == CURLE_OK &&
         curl_easy_setopt (h, CURLOPT_SSLCERT, c->cert) == CURLE_OK &&
         curl_easy_setopt (h, CURLOPT_SSLKEY, c->key) == CURLE_OK &&
         curl_easy_setopt (h, CURLOPT_CAINFO, c->ca) == CURLE_OK &&
         /* Trust our CA only, not the system's CA directory. */
         curl_easy_setopt (h, CURLOPT_CAPATH, NULL) == CURLE_OK &&
         curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
         curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
         curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) ==
           CURLE_OK &&
         curl_easy_setopt (h, CURLOPT_TIMEOUT_MS,
                           (long) (timeout_ms > 0 ? timeout_ms : 0)) ==
           CURLE_OK &&
         curl_easy_setopt (h, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
         curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK &&
         curl_easy_setopt (h, CURLOPT_WRITEDATA, buf) == CURLE_OK;
}

/* Method, URL, headers and body of this call. */
static bool
setup_request (struct api_client *c, const char *method, const char *url,
               const char *text)
{
  CURL *h = c->curl;

  if (text == NULL && strcmp (method, "GET") != 0)
    text = ""; /* POST etc. without a body: length 0 */
  return curl_easy_setopt (h, CURLOPT_URL, url) == CURLE_OK &&
         curl_easy_setopt (h, CURLOPT_HTTPHEADER, c->headers) == CURLE_OK &&
         (text == NULL ||
          (curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE, (long) strlen (text)) ==
             CURLE_OK &&
           curl_easy_setopt (h, CURLOPT_POSTFIELDS, text) == CURLE_OK)) &&
         curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
}

/* Parse the reply of a call that got an HTTP status. */
static int
parse_reply (struct api_client *c, const char *method, const char *path,
             long status, const struct reply_buf *buf, json_t **reply)
{
  json_error_t err;

  if (buf->len == 0) {
    *reply = json_object ();
    if (*reply == NULL)
      set_error (ENOMEM, "json_object");
    return *reply ? 0 : -1;
  }
  *reply = json_loadb (buf->data, buf->len, 0, &err);
  if (*reply == NULL || !json_is_object (*reply)) {
    set_error (0, "%s %s on %s: the reply (HTTP %ld) is not a JSON object%s%s",
               method, path, c->hostport, status, *reply ? "" : ": ",
               *reply ? "" : err.text);
    json_decref (*reply);
    *reply = NULL;
    return -1;
  }
  return 0;
}

/* Did the last transfer hand its request to the server?  curl counts
 * the header bytes it sent: none when it failed to connect, resolve or
 * finish the TLS handshake.
 */
static bool
request_sent (struct api_client *c)
{
  long n = 0;

  return curl_easy_getinfo (c->curl, CURLINFO_REQUEST_SIZE, &n) == CURLE_OK
    && n > 0;
}

int
api_client_call (struct api_client *c, const char *method, const char *path,
                 json_t *body, json_t **reply, int timeout_ms)
{
  CLEANUP_FREE char *url = NULL, *text = NULL;
  struct reply_buf buf = { NULL, 0, false };
  long status = 0;
  CURLcode r;
  int ret = -1;

  *reply = NULL;
  if (path[0] != '/') {
    set_error (0, "%s %s: the path must start with /", method, path);
    return -1;
  }
  url = xasprintf ("%s%s", c->base_url, path);
  if (url == NULL)
    return -1;
  if (body &&
      (text = json_dumps (body, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
    set_error (0, "%s %s: cannot encode the request body", method, path);
    return -1;
  }
  curl_easy_reset (c->curl); /* keeps connections and TLS sessions */
  if (!setup_transport (c, &buf, timeout_ms) ||
      !setup_request (c, method, url, text)) {
    set_error (ENOMEM, "%s %s: curl_easy_setopt", method, path);
    return -1;
  }
  c->errbuf[0] = '\0';
  r = curl_easy_perform (c->curl);
  if (r != CURLE_OK)
    api_internal_curl_error (c->hostport, c->errbuf, method, path, r,
                             buf.too_big, request_sent (c));
  else if (curl_easy_getinfo (c->curl, CURLINFO_RESPONSE_CODE, &status) ==
             CURLE_OK &&
           parse_reply (c, method, path, status, &buf, reply) == 0)
    ret = status;
  free (buf.data);
  return ret;
}
