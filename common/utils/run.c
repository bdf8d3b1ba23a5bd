/* run.c: run a program and capture its output (no shell involved). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "utils.h"

/* Read all of fd into a malloc'd string. */
static char *
slurp_fd (int fd)
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

int
run_capture (char *const *argv, char **output)
{
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
  if (pid == 0) {
    sigset_t none;

    /* The caller may block signals (vmferryd reads them from a
     * signalfd); a child such as a daemonized QEMU must not inherit that.
     */
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    signal (SIGPIPE, SIG_DFL);
    dup2 (fds[1], 1);
    dup2 (fds[1], 2);
    execvp (argv[0], argv);
    fprintf (stderr, "%s: %s\n", argv[0], strerror (errno));
    _exit (127);
  }
  close (fds[1]);
  out = slurp_fd (fds[0]);
  close (fds[0]);
  while (waitpid (pid, &status, 0) == -1)
    if (errno != EINTR) {
      set_error (errno, "waitpid");
      free (out);
      return -1;
    }
  if (output)
    *output = out;
  else
    free (out);
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return 128 + WTERMSIG (status);
}
