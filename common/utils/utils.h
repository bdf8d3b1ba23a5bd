/* utils.h: the public face of common/utils (libutils.a).
 *
 * Error rule (used by every layer of vmferry): a function that fails
 * records one message with set_error() and returns -1 or NULL.  It never
 * prints the error as well.  The caller that decides what to do (in the
 * end only cmd/) reads it with get_error().  The recorded error is
 * thread-local, so worker threads do not overwrite each other's errors.
 */
#ifndef VMFERRY_UTILS_H
#define VMFERRY_UTILS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

/* --- errors (error.c) --- */

/* Record an error for the current thread.  If errnum != 0, ": strerror"
 * is appended.  errno is preserved.  The message replaces any earlier one.
 */
void set_error (int errnum, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* Like set_error, but errnum is only recorded (for get_errno), not
 * appended to the message: a class of failure the caller tests, whose
 * strerror text would say nothing useful.
 */
void set_error_class (int errnum, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* Prefix the current thread's error with "context: " (used when a lower
 * layer's message needs to say which disk / VM / host it was about).
 */
void prefix_error (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

/* The last error recorded on this thread ("" if none), and its errno. */
const char *get_error (void);
int get_errno (void);

/* Forget the error recorded on this thread. */
void clear_error (void);

/* --- debug messages (debug.c) ---
 *
 * Off unless vmferry_debug_enable() was called (cmd/ does, on -v or when
 * VMFERRY_DEBUG is set in the environment).  Messages go to stderr as
 * "prog: debug: ...".  The flag is one of the few globals the house style
 * allows (a debug flag).
 */
extern int vmferry_debug_flag;
void vmferry_debug_enable (const char *progname);
void vmferry_debug_print (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));
#define debug(fs, ...)                                                  \
  do {                                                                  \
    if (__builtin_expect (vmferry_debug_flag, 0))                       \
      vmferry_debug_print ((fs), ##__VA_ARGS__);                        \
  } while (0)

/* --- leveled log messages (log.c) ---
 *
 * For vmferryd's audit trail and notes: "prog: LEVEL: message" on
 * stderr, or through the sink main() installs (the journal, with the
 * fields).  Levels are syslog's priorities.  Off above the level set
 * (default info); debug also turns debug() on.
 */
enum log_level {
  LOG_LEVEL_ERROR = 3, LOG_LEVEL_WARNING = 4, LOG_LEVEL_INFO = 6,
  LOG_LEVEL_DEBUG = 7,
};
/* A sink gets the level, the fields ("KEY=value" strings, NULL-ended;
 * may be NULL) and the message; it returns 0, or -1 to have the message
 * go to stderr instead.
 */
typedef int (*log_sink_fn) (enum log_level l, const char *const *fields,
                            const char *msg);
/* "error", "warning", "info", "debug" (any case).  -1 + set_error. */
int log_level_parse (const char *s, enum log_level *out);
const char *log_level_name (enum log_level l);
/* Called by main() before threads start; sink NULL: stderr. */
void log_setup (const char *prog, enum log_level max, log_sink_fn sink);
/* A new level (on reload). */
void log_set_level (enum log_level max);
bool log_enabled (enum log_level l);
void log_fields (enum log_level l, const char *const *fields,
                 const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

/* --- small helpers (misc.c) --- */

/* Monotonic clock in milliseconds / wall clock in milliseconds. */
int64_t now_ms (void);
int64_t wall_ms (void);

/* Is process pid alive?  A zombie counts as dead. */
bool pid_alive (pid_t pid);

/* Write all of buf, retrying on EINTR and short writes.  -1 + set_error. */
int write_all (int fd, const void *buf, size_t len);

/* Read a whole small file into a malloc'd, NUL-terminated buffer;
 * *len_out (if not NULL) receives the length.  NULL + set_error.
 */
char *read_file (const char *path, size_t *len_out);

/* malloc'd printf; NULL + set_error on failure. */
char *xasprintf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* Recursively remove a directory tree (like rm -rf, does not follow
 * symlinks).  Missing path is not an error.  -1 + set_error.
 */
int remove_tree (const char *path);

/* Replace path with buf atomically and durably (durable.c): write
 * path.tmp, fsync, rename over path, fsync the directory.  A crash
 * leaves the old or the new content.  -1 + set_error.
 */
int write_file_durable (const char *path, const void *buf, size_t len);
/* Delete path (a missing one is fine) and fsync its directory. */
int unlink_durable (const char *path);

/* Testing aid (test-hold.c): if VMFERRY_TEST_HOLD lists point
 * ("POINT[:FILE][,...]"), say so on stderr and wait until FILE exists
 * (default /tmp/vmferry-hold-POINT).  Documented in vmferry(1).
 */
void test_hold (const char *prog, const char *point);
/* Does VMFERRY_TEST_HOLD list point?  For a point that must prepare
 * before it is reached (so that the phase is still going on there).
 */
bool test_hold_wanted (const char *point);

/* mkdir -p with the given mode.  -1 + set_error. */
int mkdir_p (const char *path, mode_t mode);

/* Run argv (PATH searched, no shell), wait for it, and return its exit
 * status (128+N if killed by signal N).  Its stdout and stderr, merged,
 * go to *output (malloc'd) if output is not NULL.  -1 + set_error if it
 * could not be run at all.
 */
int run_capture (char *const *argv, char **output);

/* Like run_capture, but a program still running (or still holding its
 * output open) timeout_ms after the start is killed (SIGKILL): -1 +
 * set_error then.  timeout_ms < 0: no limit.
 */
int run_capture_timeout (char *const *argv, char **output, int timeout_ms);

/* Like run_capture, but stdout and stderr go to the file log (created or
 * truncated) and stdin is /dev/null: for a program that daemonizes and
 * keeps its output descriptors (qemu-nbd --fork), where a pipe would
 * never reach end of file.
 */
int run_logged (char *const *argv, const char *log);

/* Read a configuration file of "key = value" lines (blank lines and
 * lines starting with '#' ignored; a '#' that starts a word ends the
 * value: "queue = yes   # comment") and call fn for each pair.  fn
 * returns -1 + set_error to stop; the error is then prefixed with
 * "FILE:LINE".  A line without '=' or longer than 4094 bytes is an
 * error ("FILE:LINE: ...").
 */
typedef int (*conf_fn) (void *opaque, const char *key, const char *value);
int conf_read (const char *path, conf_fn fn, void *opaque);

/* A boolean setting: yes/no, true/false, on/off, 1/0 (any case) into
 * *out; anything else is -1 + set_error naming key.
 */
int conf_bool (const char *key, const char *value, bool *out);

/* --- crash-safe JSON state files (jsonfile.c) --- */

struct json_t;                  /* jansson's json_t */

/* Write o to path atomically and durably (tmp + fsync + rename + fsync
 * of the directory).  -1 + set_error.
 */
int json_state_save (const char *path, struct json_t *o);
/* Read a JSON object from path; NULL + set_error. */
struct json_t *json_state_load (const char *path);


/* --- cleanup attributes (scope cleanup, as in libnbd) --- */

void cleanup_free (void *ptr);
void cleanup_close (int *fd);
void cleanup_fclose (FILE **fp);
void cleanup_mutex_unlock (pthread_mutex_t **ptr);
void cleanup_strv (char ***strv);

#define CLEANUP_FREE __attribute__ ((cleanup (cleanup_free)))
#define CLEANUP_CLOSE __attribute__ ((cleanup (cleanup_close)))
#define CLEANUP_FCLOSE __attribute__ ((cleanup (cleanup_fclose)))
#define CLEANUP_STRV __attribute__ ((cleanup (cleanup_strv)))

#define ACQUIRE_LOCK_FOR_CURRENT_SCOPE(mutex)                           \
  __attribute__ ((cleanup (cleanup_mutex_unlock)))                      \
  pthread_mutex_t *_lock_##__LINE__ = (mutex);                          \
  pthread_mutex_lock (_lock_##__LINE__)

/* --- NULL-terminated string vectors (strv.c) --- */

/* Length of a NULL-terminated vector. */
size_t strv_len (char *const *v);
/* Append a copy of s; -1 + set_error. *v may be NULL initially. */
int strv_push (char ***v, const char *s);
/* Free the vector and its strings (accepts NULL). */
void strv_free (char **v);

#endif /* VMFERRY_UTILS_H */
