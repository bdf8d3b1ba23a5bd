/* server-reply.c: JSON replies (Content-Type: application/json). */
#include <config.h>

#include "internal.h"

enum MHD_Result
api_internal_reply (struct MHD_Connection *c, unsigned status,
                    const json_t *reply)
{
  return api_internal_reply_text (c, status, reply ? json_dumps
                                  (reply, JSON_COMPACT) : strdup ("{}"),
                                  "application/json");
}

enum MHD_Result
api_internal_reply_text (struct MHD_Connection *c, unsigned status,
                         char *text, const char *type)
{
  struct MHD_Response *resp;
  enum MHD_Result ret;

  if (text == NULL)
    return MHD_NO;
  /* MUST_FREE: libmicrohttpd free()s text (jansson allocates with malloc). */
  resp = MHD_create_response_from_buffer (strlen (text), text,
                                          MHD_RESPMEM_MUST_FREE);
  if (resp == NULL) {
    free (text);
    return MHD_NO;
  }
  /* One request per connection: api_server_stop() can then wait for the
   * clients to hang up, so a reply is never cut off by a stop (vmferryd
   * --once stops right after its last reply).
   */
  if (MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                               type) == MHD_NO ||
      MHD_add_response_header (resp, MHD_HTTP_HEADER_CONNECTION,
                               "close") == MHD_NO) {
    MHD_destroy_response (resp);
    return MHD_NO;
  }
  ret = MHD_queue_response (c, status, resp);
  MHD_destroy_response (resp);
  return ret;
}

/* Messages may quote the client's URL: JSON strings must be UTF-8, so
 * anything else is replaced by '?' rather than dropping the message.
 */
static json_t *
error_object (char *msg)
{
  json_t *str = json_string (msg);
  char *p;

  if (str == NULL) {
    for (p = msg; *p; p++)
      if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
        *p = '?';
    str = json_string (msg);
  }
  return str ? json_pack ("{s:o}", "error", str) : NULL;
}

enum MHD_Result
api_internal_reply_error (struct MHD_Connection *c, unsigned status,
                          const char *fmt, ...)
{
  CLEANUP_FREE char *msg = NULL;
  json_auto_t *reply = NULL;
  va_list ap;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r == -1) {
    msg = NULL; /* undefined after a failure */
    return MHD_NO;
  }
  reply = error_object (msg);
  if (reply == NULL)
    return MHD_NO;
  return api_internal_reply (c, status, reply);
}
