/* qmp.h: the QMP client.  The ONLY code in vmferry that speaks to a QEMU
 * monitor.
 *
 * Ownership: a struct qmp is used by one thread at a time (no locking
 * inside).  json_t values returned are new references owned by the
 * caller; json_t arguments passed in are borrowed unless a comment says
 * "stolen".
 *
 * Timeouts: every timeout_ms bounds the whole call (connect, send and
 * reply together), including retries after EINTR.  0 means "do not
 * wait"; a negative value waits without limit, as in poll(2).
 *
 * Errors: functions return NULL / -1 after set_error() (utils.h).  When the
 * failure was an error reply from QEMU, the message is
 * "CMD: CLASS: DESC" (get_errno() == 0) and qmp_error_class() /
 * qmp_error_desc() return QMP's "class" and "desc" until the next
 * command.  A timeout sets errno ETIMEDOUT (get_errno()); a closed
 * connection ECONNRESET; input that is not QMP (not JSON, not an object,
 * longer than QMP_MAX_MESSAGE, a reply with the wrong id) EPROTO.  After a
 * timeout of a command or a protocol error the handle is unusable except
 * for qmp_close(), because replies could no longer be matched to
 * commands: every command then fails, saying why, with the errno of the
 * original error, and the socket is shut down so that QEMU frees its
 * monitor.  Events queued before that can still be collected.  A timeout
 * of qmp_wait_event() leaves the handle usable.
 */
#ifndef VMFERRY_QMP_H
#define VMFERRY_QMP_H

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>

struct qmp;

/* Largest single message accepted from the peer (bytes).  A longer line
 * is a protocol error: the connection is dropped, never grown without
 * bound.
 */
#define QMP_MAX_MESSAGE (16 * 1024 * 1024)

/* The deadline vmferry gives an ordinary QMP command (ms): a healthy
 * QEMU answers in milliseconds; a wedged one must not hang a migration.
 */
#define QMP_TIMEOUT_MS 10000

/* Connect to the QMP unix socket at path, read the greeting and negotiate
 * capabilities, all within timeout_ms.  QMP sockets serve one client at a
 * time: when another client holds the socket, no greeting arrives and the
 * error (ETIMEDOUT) says the socket is busy, and which process holds it
 * ("pid N, comm") when the kernel's unix_diag interface and /proc can
 * tell.  A missing socket fails at once with ENOENT, a socket nobody
 * listens on with ECONNREFUSED.
 */
struct qmp *qmp_connect (const char *path, int timeout_ms);

/* Is a QEMU listening on monitor socket path?  Without talking to it
 * (a monitor held by another client still accepts into its backlog):
 * its PID (1 if it cannot be told), or 0 if nobody listens.
 */
pid_t qmp_listener_pid (const char *path);

/* Close and free (accepts NULL). */
void qmp_close (struct qmp *q);

/* The greeting's "QMP" object (borrowed, lives as long as q), e.g. to read
 * {"version": {"qemu": {"major":..,"minor":..,"micro":..}}}.
 */
json_t *qmp_greeting (struct qmp *q);

/* QEMU's version from the greeting as major*10000 + minor*100 + micro
 * (70202 for 7.2.2), or -1 + set_error if the greeting has none.
 */
int qmp_qemu_version (struct qmp *q);

/* PID of the QEMU process at the other end of the socket (SO_PEERCRED),
 * or -1 if the kernel did not say.
 */
pid_t qmp_peer_pid (struct qmp *q);

/* Run command cmd with arguments args (stolen; may be NULL, else a JSON
 * object) and wait up to timeout_ms for its reply, matched by the
 * command's "id".  Events that arrive meanwhile are queued.  Returns the
 * "return" value (new reference).
 */
json_t *qmp_command (struct qmp *q, const char *cmd, json_t *args,
                     int timeout_ms);

/* Same, with the arguments built by json_pack (fmt, ...); fmt NULL means
 * no arguments.  Example:
 *   qmp_commandf (q, 5000, "block-job-cancel", "{s:s}", "device", id);
 */
json_t *qmp_commandf (struct qmp *q, int timeout_ms, const char *cmd,
                      const char *fmt, ...);

/* Class and description of the last QMP error reply, or "" if the last
 * failure was not an error reply.
 */
const char *qmp_error_class (struct qmp *q);
const char *qmp_error_desc (struct qmp *q);

/* Predicate over one event object ({"event":..,"data":..,"timestamp":..}).
 * Return true to accept it.  It may be called more than once for the same
 * event and must not call qmp_* functions on the same handle.
 */
typedef bool (*qmp_event_match_fn) (json_t *event, void *opaque);

/* Wait up to timeout_ms for an event whose "event" equals name (name NULL
 * means any) and that match accepts (match NULL means any).  Queued
 * events are searched first, oldest first.  The matching event is removed
 * from the queue and returned (new reference); events that do not match
 * stay queued.  Timeout: NULL, errno ETIMEDOUT (the handle stays usable).
 * The queue keeps at most a few thousand events: beyond that the oldest
 * are dropped, so collect or clear the events you do not wait for.
 */
json_t *qmp_wait_event (struct qmp *q, const char *name,
                        qmp_event_match_fn match, void *opaque,
                        int timeout_ms);

/* Read whatever has arrived without blocking and return the oldest queued
 * event matching name/match, or NULL (with no error set: get_errno() == 0)
 * when there is none.  NULL with an error when the connection failed.
 */
json_t *qmp_poll_event (struct qmp *q, const char *name,
                        qmp_event_match_fn match, void *opaque);

/* Drop every queued event. */
void qmp_clear_events (struct qmp *q);

/* The socket's file descriptor, to wait on it with poll(2) together with
 * other descriptors (then call qmp_poll_event()).  Do not read from it or
 * change its flags.
 */
int qmp_fd (struct qmp *q);

/* Pass fd to QEMU with SCM_RIGHTS and name it fdname there ("getfd").
 * The caller keeps its fd (QEMU gets a duplicate; "closefd" closes it).
 * 0, or -1 + set_error as for qmp_command().
 */
int qmp_send_fd (struct qmp *q, int fd, const char *fdname, int timeout_ms);

#endif /* VMFERRY_QMP_H */
