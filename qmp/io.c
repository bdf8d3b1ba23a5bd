/* io.c: the line reader.  QEMU sends one JSON object per line; a line
 * longer than QMP_MAX_MESSAGE, a line that is not a JSON object, or the
 * peer closing the connection is an error, never a crash, a hang or
 * unbounded memory.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "utils.h"
#include "internal.h"

/* First allocation of the buffer, and the size above which an empty
 * buffer is given back (after one huge message).
 */
#define INBUF_MIN (64 * 1024)
#define INBUF_KEEP (1024 * 1024)

void
qmp_internal_inbuf_free (struct qmp_inbuf *in)
{
  free (in->buf);
  memset (in, 0, sizeof *in);
}

static bool
is_blank (const char *p, size_t n)
{
  for (; n > 0; p++, n--)
    if (*p != ' ' && *p != '\t' && *p != '\r')
      return false;
  return true;
}

/* Parse one line: 1 with *msg set, -1 + set_error. */
static int
parse_line (const char *line, size_t n, json_t **msg)
{
  json_error_t jerr;
  json_t *v;

  debug ("QMP <- %.*s", n > 1024 ? 1024 : (int) n, line);
  v = json_loadb (line, n, 0, &jerr);
  if (v == NULL) {
    set_error (EPROTO, "malformed QMP message from QEMU: %s (column %d)",
               jerr.text, jerr.column);
    return -1;
  }
  if (!json_is_object (v)) {
    json_decref (v);
    set_error (EPROTO, "QMP message from QEMU is not a JSON object");
    return -1;
  }
  *msg = v;
  return 1;
}

/* Take the next complete non-blank line out of the buffer: 1 with *msg
 * set, 0 if there is no complete line, -1 + set_error.
 */
static int
take_line (struct qmp_inbuf *in, json_t **msg)
{
  char *line, *nl;
  size_t n;
  int r;

  for (;;) {
    if (in->scanned == in->len)
      return 0;
    nl = memchr (in->buf + in->scanned, '\n', in->len - in->scanned);
    if (nl == NULL) {
      in->scanned = in->len;
      return 0;
    }
    line = in->buf + in->start;
    n = nl - line;
    in->start = in->scanned = nl + 1 - in->buf;
    r = is_blank (line, n) ? 0 : parse_line (line, n, msg);
    if (r != 0)
      return r;
  }
}

/* Make room for at least one more byte: move the unparsed bytes to the
 * front, or grow the buffer up to its limit.  -1 + set_error when the
 * line already exceeds QMP_MAX_MESSAGE.
 */
static int
make_room (struct qmp_inbuf *in)
{
  size_t ncap;
  char *nbuf;

  if (in->start > 0) {
    memmove (in->buf, in->buf + in->start, in->len - in->start);
    in->len -= in->start;
    in->scanned -= in->start;
    in->start = 0;
  }
  if (in->len == 0 && in->cap > INBUF_KEEP)
    qmp_internal_inbuf_free (in);
  if (in->len < in->cap)
    return 0;
  if (in->len > QMP_MAX_MESSAGE) {
    set_error (EPROTO, "QMP message from QEMU longer than %d bytes",
               QMP_MAX_MESSAGE);
    return -1;
  }
  ncap = in->cap ? in->cap * 2 : INBUF_MIN;
  if (ncap > QMP_MAX_MESSAGE + 1)
    ncap = QMP_MAX_MESSAGE + 1;
  nbuf = realloc (in->buf, ncap);
  if (nbuf == NULL) {
    set_error (errno, "realloc");
    return -1;
  }
  in->buf = nbuf;
  in->cap = ncap;
  return 0;
}

/* Receive more bytes before deadline: 1 if some arrived, 0 on timeout,
 * -1 + set_error.
 */
static int
fill (struct qmp *q, int64_t deadline)
{
  struct qmp_inbuf *in = &q->in;
  ssize_t r;

  if (make_room (in) == -1)
    return -1;
  for (;;) {
    r = recv (q->fd, in->buf + in->len, in->cap - in->len, 0);
    if (r > 0) {
      in->len += r;
      return 1;
    }
    if (r == 0 || errno == ECONNRESET) {
      set_error (ECONNRESET, "QEMU closed the QMP connection%s",
                 in->len > 0 ? " in the middle of a message" : "");
      return -1;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      set_error (errno, "recv from QMP socket");
      return -1;
    }
    r = qmp_internal_wait_fd (q->fd, POLLIN, deadline);
    if (r <= 0)
      return r;
  }
}

int
qmp_internal_read_message (struct qmp *q, int64_t deadline, json_t **msg)
{
  int r;

  *msg = NULL;
  if (qmp_internal_check_usable (q) == -1)
    return -1;
  do {
    r = take_line (&q->in, msg);
    if (r != 0)
      break;
    r = fill (q, deadline);
  } while (r > 0);
  if (r == -1)
    qmp_internal_break (q);
  return r;
}
