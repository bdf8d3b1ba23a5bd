/* server-request.c: one HTTP request, from headers to handler.
 *
 * libmicrohttpd calls the access handler first with the headers (the peer
 * check, routing and a Content-Length over max_body are answered then,
 * before any body is read), then once per piece of body, and a last time
 * with *upload_data_size == 0 when the body is complete.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

/* 413 (libmicrohttpd renamed its constant between versions). */
#define HTTP_TOO_LARGE 413

/* Tell the observer (if any) about an error answer with message msg. */
static void
observe (struct api_server *s, const struct api_request *req, unsigned status,
         const char *msg)
{
  json_auto_t *reply = NULL;

  if (s->observe == NULL)
    return;
  reply = json_pack ("{s:s}", "error", msg);
  s->observe (s->opaque, req, status, reply);
}

/* Find the route for method+url.  NULL with *status 404 (no such path) or
 * 405 (path known, method not).
 */
static const struct api_route *
find_route (const struct api_server *s, const char *method, const char *url,
            unsigned *status)
{
  size_t i;

  *status = MHD_HTTP_NOT_FOUND;
  for (i = 0; i < s->n_routes; i++) {
    if (strcmp (s->routes[i].path, url) != 0)
      continue;
    if (strcmp (s->routes[i].method, method) == 0)
      return &s->routes[i];
    *status = MHD_HTTP_METHOD_NOT_ALLOWED;
  }
  return NULL;
}

/* True when the client announced a body larger than max_body. */
static bool
announced_too_big (const struct api_server *s, struct MHD_Connection *c)
{
  const char *cl;
  unsigned long long n;
  char *end;

  cl = MHD_lookup_connection_value (c, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl == NULL)
    return false;
  errno = 0;
  n = strtoull (cl, &end, 10);
  if (errno != 0 || end == cl)
    return false; /* libmicrohttpd rejects it itself */
  return n > s->max_body;
}

static enum MHD_Result
too_big (const struct api_server *s, struct MHD_Connection *c)
{
  return api_internal_reply_error (
    c, HTTP_TOO_LARGE, "request body too large (limit %zu bytes)", s->max_body);
}

/* The client's IP address, numeric, into addr[API_PEER_ADDR_MAX]. */
static void
peer_addr (struct MHD_Connection *c, char *addr)
{
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info (
    c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

  if (ci && ci->client_addr)
    api_internal_addr_text (ci->client_addr, addr, API_PEER_ADDR_MAX);
  else
    snprintf (addr, API_PEER_ADDR_MAX, "?");
}

/* The headers are in: check the peer, route, allocate the request state. */
static enum MHD_Result
first_call (struct api_server *s, struct MHD_Connection *c, const char *url,
            const char *method, void **con_cls)
{
  char name[API_PEER_NAME_MAX], addr[API_PEER_ADDR_MAX];
  const struct api_route *route;
  struct api_conn_req *rq;
  unsigned status;

  peer_addr (c, addr);
  if (api_internal_check_peer (c, name) == -1) {
    struct api_request req = { .method = method, .path = url,
                               .peer_addr = addr };
    debug ("api: %s %s from %s refused: %s", method, url, addr, get_error ());
    observe (s, &req, MHD_HTTP_FORBIDDEN, get_error ());
    return api_internal_reply_error (c, MHD_HTTP_FORBIDDEN, "%s", get_error ());
  }
  /* The connection is trusted from now on (server-guard.c). */
  api_internal_trusted (s, c);
  debug ("api: %s %s from %s (%s)", method, url, name, addr);
  route = find_route (s, method, url, &status);
  if (route == NULL && status == MHD_HTTP_NOT_FOUND)
    return api_internal_reply_error (c, status, "no such path: %s", url);
  if (route == NULL)
    return api_internal_reply_error (c, status, "method %s not allowed on %s",
                                     method, url);
  if (announced_too_big (s, c))
    return too_big (s, c);

  rq = calloc (1, sizeof *rq);
  if (rq == NULL)
    return MHD_NO;
  rq->route = route;
  memcpy (rq->peer_name, name, sizeof name);
  memcpy (rq->peer_addr, addr, sizeof addr);
  *con_cls = rq;
  return MHD_YES;
}

/* Store a piece of body, or discard it once over the limit. */
static void
append_body (const struct api_server *s, struct api_conn_req *rq,
             const char *data, size_t n)
{
  size_t cap;
  char *p;

  if (rq->error_status != 0)
    return;
  if (n > s->max_body - rq->len) {
    rq->error_status = HTTP_TOO_LARGE;
    return;
  }
  if (rq->len + n > rq->cap) {
    cap = rq->cap ? rq->cap * 2 : 4096;
    if (cap < rq->len + n)
      cap = rq->len + n;
    if (cap > s->max_body)
      cap = s->max_body;
    p = realloc (rq->body, cap);
    if (p == NULL) {
      rq->error_status = MHD_HTTP_INTERNAL_SERVER_ERROR;
      return;
    }
    rq->body = p;
    rq->cap = cap;
  }
  memcpy (rq->body + rq->len, data, n);
  rq->len += n;
}

/* Parse the body: none gives NULL, else it must be a JSON object. */
static int
parse_body (const struct api_conn_req *rq, json_t **body)
{
  json_error_t err;

  *body = NULL;
  if (rq->len == 0)
    return 0;
  *body = json_loadb (rq->body, rq->len, JSON_REJECT_DUPLICATES, &err);
  if (*body == NULL) {
    set_error (0, "malformed JSON at line %d column %d: %s", err.line,
               err.column, err.text);
    return -1;
  }
  if (!json_is_object (*body)) {
    json_decref (*body);
    *body = NULL;
    set_error (0, "the request body must be a JSON object");
    return -1;
  }
  return 0;
}

/* Run the handler and queue its reply. */
static enum MHD_Result
run_handler (struct api_server *s, struct MHD_Connection *c,
             const struct api_request *req, api_handler_fn handler)
{
  json_auto_t *reply = NULL;
  int status;

  clear_error ();
  status = handler (s->opaque, req, &reply);
  if (status == -1 && get_error ()[0] == '\0')
    set_error (0, "handler failed");
  else if (status != -1 && (status < 100 || status > 599))
    set_error (0, "handler returned HTTP status %d", status);
  else if (status != -1 && reply != NULL && !json_is_object (reply))
    set_error (0, "handler reply is not a JSON object");
  else if (status != -1) {
    if (s->observe)
      s->observe (s->opaque, req, status, reply);
    return api_internal_reply (c, status, reply);
  }
  observe (s, req, MHD_HTTP_INTERNAL_SERVER_ERROR, get_error ());
  return api_internal_reply_error (c, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s",
                                   get_error ());
}

/* The body is complete. */
static enum MHD_Result
last_call (struct api_server *s, struct MHD_Connection *c,
           struct api_conn_req *rq, const char *url, const char *method)
{
  json_auto_t *body = NULL;
  struct api_request req;

  if (rq->error_status == HTTP_TOO_LARGE)
    return too_big (s, c);
  if (rq->error_status != 0)
    return api_internal_reply_error (c, rq->error_status,
                                     "out of memory reading the request");
  if (parse_body (rq, &body) == -1)
    return api_internal_reply_error (c, MHD_HTTP_BAD_REQUEST, "%s",
                                     get_error ());
  req.method = method;
  req.path = url;
  req.body = body;
  req.peer_name = rq->peer_name;
  req.peer_addr = rq->peer_addr;
  return run_handler (s, c, &req, rq->route->handler);
}

enum MHD_Result
api_internal_access (void *cls, struct MHD_Connection *c, const char *url,
                     const char *method, const char *version,
                     const char *upload_data, size_t *upload_data_size,
                     void **con_cls)
{
  struct api_server *s = cls;
  struct api_conn_req *rq = *con_cls;

  if (rq == NULL)
    return first_call (s, c, url, method, con_cls);
  if (*upload_data_size > 0) {
    append_body (s, rq, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  return last_call (s, c, rq, url, method);
}

void
api_internal_completed (void *cls, struct MHD_Connection *c, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
  struct api_conn_req *rq = *con_cls;

  if (rq) {
    free (rq->body);
    free (rq);
    *con_cls = NULL;
  }
}
