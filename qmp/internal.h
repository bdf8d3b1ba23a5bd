/* internal.h: private to qmp/.  The handle, the input buffer and the
 * functions the files of the QMP client share (qmp_internal_*).
 */
#ifndef VMFERRY_QMP_INTERNAL_H
#define VMFERRY_QMP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "qmp.h"

/* Most events kept in the queue.  When nobody collects them, the oldest
 * is dropped (with a debug message) so that a chatty QEMU cannot grow the
 * queue without bound.
 * XXX A caller waiting on an event older than this many others loses it.
 */
#define QMP_MAX_QUEUED_EVENTS 4096

/* Bytes received from the peer and not parsed yet: buf[start..len).
 * Invariants: start <= scanned <= len <= cap <= QMP_MAX_MESSAGE + 1 (room
 * for one line of QMP_MAX_MESSAGE bytes and its '\n'); buf[start..scanned)
 * holds no '\n'.
 */
struct qmp_inbuf {
  char *buf;
  size_t start;                 /* first byte not parsed yet */
  size_t scanned;               /* searched for '\n' up to here */
  size_t len;                   /* bytes of buf in use */
  size_t cap;                   /* bytes allocated */
};

struct qmp {
  int fd;                       /* nonblocking, close-on-exec socket */
  char *path;                   /* socket path, for messages */
  pid_t peer_pid;               /* SO_PEERCRED of the socket, or -1 */
  json_t *greeting;             /* the greeting's "QMP" object */
  int64_t next_id;              /* id of the next command */
  struct qmp_inbuf in;
  json_t *events;               /* array, oldest first */
  char *err_class;              /* last QMP error reply, or NULL */
  char *err_desc;
  /* After a timeout or protocol error: why, and the errno of it.  The
   * handle then refuses every command (replies can no longer be matched
   * to commands); queued events stay readable.
   */
  bool broken;
  char *broken_msg;
  int broken_errno;
};

/* Deadlines are absolute now_ms() values; -1 means "never". */
int64_t qmp_internal_deadline (int timeout_ms);

/* Milliseconds left until deadline for poll(2): -1 for no deadline, 0 when
 * it has passed.
 */
int qmp_internal_remaining (int64_t deadline);

/* Wait until fd is ready for events (POLLIN / POLLOUT) or deadline passes.
 * EINTR-safe.  1 ready, 0 timeout, -1 + set_error.
 */
int qmp_internal_wait_fd (int fd, short events, int64_t deadline);

/* Next message from the peer (a JSON object, new reference in *msg).
 * deadline 0 means "only what has arrived already".  Returns 1 with *msg
 * set, 0 if the deadline passed first (no error set), -1 + set_error on
 * a read error, a closed connection (ECONNRESET) or malformed input (the
 * handle is then broken).
 */
int qmp_internal_read_message (struct qmp *q, int64_t deadline,
                               json_t **msg);

/* Free the input buffer. */
void qmp_internal_inbuf_free (struct qmp_inbuf *in);

/* Send all of buf before deadline, with fd (if >= 0) attached by
 * SCM_RIGHTS to the first byte.  No SIGPIPE.  0, or -1 + set_error
 * (a timeout is ETIMEDOUT, a closed connection ECONNRESET); the handle is
 * then broken because part of a command may have been sent.
 */
int qmp_internal_send (struct qmp *q, const char *buf, size_t len, int fd,
                       int64_t deadline);

/* Execute cmd with args (stolen, may be NULL), passing fd (if >= 0) with
 * it, and wait until deadline for the reply; events arriving meanwhile
 * are queued.  Returns the "return" value (new reference) or NULL +
 * set_error, recording the class and desc of an error reply.
 */
json_t *qmp_internal_execute (struct qmp *q, const char *cmd, json_t *args,
                              int fd, int64_t deadline);

/* Append an event to the queue (stolen).  -1 + set_error. */
int qmp_internal_queue_event (struct qmp *q, json_t *event);

/* Mark the handle unusable after the error just recorded by set_error
 * (a timeout or a protocol error), and shut the socket down so that QEMU
 * frees its monitor for other clients.
 */
void qmp_internal_break (struct qmp *q);

/* 0 if q may run commands, else -1 + set_error saying why not. */
int qmp_internal_check_usable (struct qmp *q);

/* Open a nonblocking unix stream socket connected to path before
 * deadline, and read the peer's pid (SO_PEERCRED) into *peer_pid.
 * Returns the fd, or -1 + set_error naming the path.
 */
int qmp_internal_open_socket (const char *path, int64_t deadline,
                              pid_t *peer_pid);

/* Record the error for the QMP socket at path that sent no greeting
 * before the deadline (ETIMEDOUT): it is busy, and the message names the
 * client holding it ("pid N, comm") when the unix_diag netlink interface
 * and /proc/PID/fd can tell.  own_fd (or -1) is our own connection, which
 * is not the holder.
 */
void qmp_internal_busy_error (const char *path, int own_fd);

#endif /* VMFERRY_QMP_INTERNAL_H */
