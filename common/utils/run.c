/* run.c: run a program and capture its output (no shell involved). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "utils.h"

/* Wait until fd is readable or the deadline (now_ms () clock; -1:
 * none) passes.  false once it has passed.
 */
static bool
wait_readable (int fd, int64_t deadline)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  int64_t left;
  int r;

  if (deadline < 0)
    return true;
  for (;;) {
    left = deadline - now_ms ();
    if (left <= 0)
      return false;
    r = poll (&p, 1, left > INT_MAX ? INT_MAX : (int) left);
    if (r > 0 || (r == -1 && errno != EINTR))
      return true;              /* readable, or let read() tell */
  }
}

/* Read all of fd into a malloc'd string, until end of file or the
 * deadline (see wait_readable): then *timed_out is set.
 */
static char *
slurp_fd (int fd, int64_t deadline, bool *timed_out)
{
  char *buf = NULL, *nb;
  size_t len = 0, cap = 0;
  ssize_t r;

  for (;;) {
    if (cap - len < 1024) {
      cap = cap ? cap * 2 : 4096;
      nb = realloc (buf, cap);
      if (nb == NULL) {
        free (buf);
        return NULL;
      }
      buf = nb;
    }
    if (!wait_readable (fd, deadline)) {
      *timed_out = true;
      break;
    }
    r = read (fd, buf + len, cap - len - 1);
    if (r == -1 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    len += r;
  }
  buf[len] = '\0';
  return buf;
}

/* In the child: stdout and stderr to out, then exec argv. */
static void __attribute__ ((noreturn))
child_exec (char *const *argv, int out)
{
  sigset_t none;

  /* The caller may block signals (vmferryd reads them from a
   * signalfd); a child such as a daemonized QEMU must not inherit that.
   */
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  signal (SIGPIPE, SIG_DFL);
  dup2 (out, 1);
  dup2 (out, 2);
  execvp (argv[0], argv);
  fprintf (stderr, "%s: %s\n", argv[0], strerror (errno));
  _exit (127);
}

/* Wait for pid; its exit status, 128+N if killed by signal N. */
static int
wait_status (pid_t pid)
{
  int status;

  while (waitpid (pid, &status, 0) == -1)
    if (errno != EINTR) {
      set_error (errno, "waitpid");
      return -1;
    }
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return 128 + WTERMSIG (status);
}

int
run_capture_timeout (char *const *argv, char **output, int timeout_ms)
{
  int64_t deadline = timeout_ms >= 0 ? now_ms () + timeout_ms : -1;
  bool timed_out = false;
  int fds[2], status;
  pid_t pid;
  char *out;

  if (pipe2 (fds, O_CLOEXEC) == -1) {
    set_error (errno, "pipe");
    return -1;
  }
  pid = fork ();
  if (pid == -1) {
    set_error (errno, "fork");
    close (fds[0]);
    close (fds[1]);
    return -1;
  }
  if (pid == 0)
    child_exec (argv, fds[1]);
  close (fds[1]);
  out = slurp_fd (fds[0], deadline, &timed_out);
  close (fds[0]);
  if (timed_out)
    kill (pid, SIGKILL);        /* our own child, not yet reaped */
  status = wait_status (pid);
  if (timed_out) {
    free (out);
    set_error (0, "%s: no answer in %d ms, killed", argv[0], timeout_ms);
    return -1;
  }
  if (output && status != -1)
    *output = out;
  else
    free (out);
  return status;
}

int
run_capture (char *const *argv, char **output)
{
  return run_capture_timeout (argv, output, -1);
}

int
run_logged (char *const *argv, const char *log)
{
  int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  pid_t pid;

  if (fd == -1) {
    set_error (errno, "%s", log);
    return -1;
  }
  pid = fork ();
  if (pid == -1) {
    set_error (errno, "fork");
    close (fd);
    return -1;
  }
  if (pid == 0) {
    int null = open ("/dev/null", O_RDONLY);
    if (null >= 0)
      dup2 (null, 0);
    child_exec (argv, fd);
  }
  close (fd);
  return wait_status (pid);
}
