/* confine.c: start a QEMU (or qemu-img, qemu-nbd) confined, so that a
 * bug in the parser or in QEMU is not root on the host.
 *
 * The parent prepares everything that allocates (user ids, paths, the
 * list of mounts); the child, between fork and exec, only makes system
 * calls (vmferryd is multi-threaded: nothing else is safe there).  The
 * child: new session, private mount namespace, a tmpfs root built on
 * the staging directory with bind mounts of what may be seen (see vm.h),
 * pivot_root into it, the old root detached, the new root read-only,
 * supplementary groups, gid and uid of the QEMU user, no new privileges,
 * stdin /dev/null, stdout and stderr to the log, every descriptor but
 * the kept ones closed at exec.  It forks once more so that the process
 * that execs is a child of init, not of the caller.  Failures before
 * exec come back through a pipe as "what: errno".
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "internal.h"

#define MAX_GROUPS 64

enum mnt_kind {
  M_SYS_RO,                     /* a system directory, with its submounts */
  M_BIND_RO, M_BIND_RW,         /* a directory of the VM (not recursive) */
  M_FILE_RO, M_FILE_RW, M_DEV, M_LINK, M_TMPFS, M_PROC,
};

struct mnt {
  enum mnt_kind kind;
  char *src;                    /* host path (M_LINK: the link's target) */
  char *dst;                    /* path under the staging directory */
};

struct plan {
  char *stage;                  /* the new root's mount point */
  struct mnt *m;
  size_t n;
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_GROUPS];
  int n_groups;
  bool change_user;
  int log_fd;
  const int *keep;
  char *exe;                    /* absolute path of argv[0] */
};

/* What the child reports when a step fails. */
struct report {
  int err;
  char what[60];
};

static void
plan_free (struct plan *p)
{
  size_t i;

  for (i = 0; i < p->n; i++) {
    free (p->m[i].src);
    free (p->m[i].dst);
  }
  free (p->m);
  free (p->stage);
  free (p->exe);
  if (p->log_fd >= 0)
    close (p->log_fd);
}

static int
plan_add (struct plan *p, enum mnt_kind k, const char *src, const char *at)
{
  struct mnt *m = realloc (p->m, (p->n + 1) * sizeof *m);

  if (m == NULL) {
    set_error (errno, "realloc");
    return -1;
  }
  p->m = m;
  m[p->n].kind = k;
  m[p->n].src = src ? strdup (src) : NULL;
  m[p->n].dst = xasprintf ("%s%s", p->stage, at);
  if ((src && m[p->n].src == NULL) || m[p->n].dst == NULL)
    return -1;
  p->n++;
  return 0;
}

int
vm_user_ids (const char *name, uid_t *uid, gid_t *gid)
{
  struct passwd pw, *r = NULL;
  char buf[4096];

  if (getpwnam_r (name, &pw, buf, sizeof buf, &r) != 0 || r == NULL) {
    set_error (0, "user '%s' (for confined QEMUs) does not exist: create "
               "it (useradd --system --no-create-home --shell /usr/sbin/"
               "nologin %s; add it to group kvm for KVM), or name another "
               "with --qemu-user", name, name);
    return -1;
  }
  if (pw.pw_uid == 0) {
    set_error (0, "user '%s' is root: confined QEMUs need an unprivileged "
               "user", name);
    return -1;
  }
  *uid = pw.pw_uid;
  *gid = pw.pw_gid;
  return 0;
}

/* The system's own directories: /usr, the merged-/usr links (or the
 * directories themselves), /sys read-only, /dev, /proc, /tmp, and the
 * few files of /etc QEMU's libraries read.
 */
static int
plan_system (struct plan *p)
{
  static const char *const tops[] = { "/bin", "/sbin", "/lib", "/lib32",
                                      "/lib64", "/libx32", NULL };
  static const char *const etc[] = { "/etc/ld.so.cache", "/etc/localtime",
                                     "/etc/passwd", "/etc/group",
                                     "/etc/nsswitch.conf", "/etc/hosts",
                                     "/etc/resolv.conf", "/etc/host.conf",
                                     NULL };
  static const char *const devs[] = { "/dev/null", "/dev/zero", "/dev/full",
                                      "/dev/random", "/dev/urandom",
                                      "/dev/kvm", NULL };
  char target[PATH_MAX];
  struct stat st;
  size_t i;
  ssize_t n;

  if (plan_add (p, M_SYS_RO, "/usr", "/usr") == -1 ||
      plan_add (p, M_SYS_RO, "/sys", "/sys") == -1 ||
      plan_add (p, M_TMPFS, NULL, "/dev") == -1 ||
      plan_add (p, M_PROC, NULL, "/proc") == -1 ||
      plan_add (p, M_TMPFS, NULL, "/tmp") == -1)
    return -1;
  for (i = 0; tops[i]; i++) {
    if (lstat (tops[i], &st) == -1)
      continue;
    if (S_ISLNK (st.st_mode)) {
      n = readlink (tops[i], target, sizeof target - 1);
      if (n <= 0)
        continue;
      target[n] = '\0';
      if (plan_add (p, M_LINK, target, tops[i]) == -1)
        return -1;
    }
    else if (plan_add (p, M_SYS_RO, tops[i], tops[i]) == -1)
      return -1;
  }
  for (i = 0; etc[i]; i++)
    if (stat (etc[i], &st) == 0 && S_ISREG (st.st_mode) &&
        plan_add (p, M_FILE_RO, etc[i], etc[i]) == -1)
      return -1;
  for (i = 0; devs[i]; i++)
    if (stat (devs[i], &st) == 0 && S_ISCHR (st.st_mode) &&
        plan_add (p, M_DEV, devs[i], devs[i]) == -1)
      return -1;
  return 0;
}

/* argv[0] as an absolute path (PATH searched), and its directory
 * visible when it lies outside /usr (a QEMU in a private prefix).
 */
static int
plan_exe (struct plan *p, const char *argv0)
{
  const char *path = getenv ("PATH");
  CLEANUP_FREE char *copy = strdup (path && *path ? path : "/usr/bin:/bin");
  char *dir, *save = NULL, *slash;

  if (copy == NULL)
    return -1;
  if (strchr (argv0, '/'))
    p->exe = realpath (argv0, NULL);
  for (dir = strtok_r (copy, ":", &save); !p->exe && dir;
       dir = strtok_r (NULL, ":", &save)) {
    CLEANUP_FREE char *cand = xasprintf ("%s/%s", dir, argv0);
    if (cand && access (cand, X_OK) == 0)
      p->exe = realpath (cand, NULL);
  }
  if (p->exe == NULL) {
    set_error (ENOENT, "cannot find %s", argv0);
    return -1;
  }
  if (strncmp (p->exe, "/usr/", 5) == 0)
    return 0;
  slash = strrchr (p->exe, '/');
  *slash = '\0';
  dir = strdup (p->exe);
  *slash = '/';
  if (dir == NULL)
    return -1;
  if (plan_add (p, M_SYS_RO, dir, dir) == -1) {
    free (dir);
    return -1;
  }
  free (dir);
  return 0;
}

static int
plan_user (struct plan *p, const char *user)
{
  if (user == NULL)
    return 0;
  if (vm_user_ids (user, &p->uid, &p->gid) == -1)
    return -1;
  p->n_groups = MAX_GROUPS;
  if (getgrouplist (user, p->gid, p->groups, &p->n_groups) == -1) {
    set_error (0, "user %s is in more than %d groups", user, MAX_GROUPS);
    return -1;
  }
  p->change_user = true;
  return 0;
}

static int
plan_make (struct plan *p, char *const *argv, const struct vm_confine *c)
{
  size_t i;

  p->log_fd = -1;
  p->keep = c->keep_fds;
  if (c->rw_dirs == NULL || c->rw_dirs[0] == NULL) {
    set_error (0, "confinement without a directory of its own");
    return -1;
  }
  p->stage = xasprintf ("%s/.root", c->rw_dirs[0]);
  if (p->stage == NULL || plan_user (p, c->user) == -1 ||
      plan_system (p) == -1 || plan_exe (p, argv[0]) == -1)
    return -1;
  if (mkdir (p->stage, 0700) == -1 && errno != EEXIST) {
    set_error (errno, "mkdir %s", p->stage);
    return -1;
  }
  for (i = 0; c->ro_paths && c->ro_paths[i]; i++) {
    struct stat st;
    if (stat (c->ro_paths[i], &st) == -1 ||
        (!S_ISDIR (st.st_mode) && !S_ISREG (st.st_mode))) {
      set_error (errno, "read-only path %s", c->ro_paths[i]);
      return -1;
    }
    if (plan_add (p, S_ISDIR (st.st_mode) ? M_BIND_RO : M_FILE_RO,
                  c->ro_paths[i], c->ro_paths[i]) == -1)
      return -1;
  }
  for (i = 0; c->rw_dirs[i]; i++) {
    struct stat st;
    if (stat (c->rw_dirs[i], &st) == -1 ||
        (!S_ISDIR (st.st_mode) && !S_ISREG (st.st_mode))) {
      set_error (errno, "read-write path %s", c->rw_dirs[i]);
      return -1;
    }
    if (plan_add (p, S_ISDIR (st.st_mode) ? M_BIND_RW : M_FILE_RW,
                  c->rw_dirs[i], c->rw_dirs[i]) == -1)
      return -1;
  }
  p->log_fd = open (c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                    0600);
  if (p->log_fd == -1) {
    set_error (errno, "open %s", c->log);
    return -1;
  }
  return 0;
}

/* ---- the child: system calls only ---- */

static void
fail_child (int fd, const char *what)
{
  struct report r = { .err = errno };
  size_t i;

  for (i = 0; what[i] && i < sizeof r.what - 1; i++)
    r.what[i] = what[i];
  if (write (fd, &r, sizeof r) < 0) {
    /* nothing more can be said */
  }
  _exit (127);
}

/* mkdir -p path (a copy on the stack). */
static int
child_mkdirs (const char *path)
{
  char buf[PATH_MAX];
  size_t i, n = strlen (path);

  if (n >= sizeof buf)
    return -1;
  memcpy (buf, path, n + 1);
  for (i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0')
      continue;
    buf[i] = '\0';
    if (mkdir (buf, 0755) == -1 && errno != EEXIST)
      return -1;
    buf[i] = i == n ? '\0' : '/';
  }
  return 0;
}

/* mkdir -p the directory path lies in. */
static int
child_mkparent (const char *path)
{
  char buf[PATH_MAX];
  size_t n = strlen (path);
  char *slash;

  if (n >= sizeof buf)
    return -1;
  memcpy (buf, path, n + 1);
  slash = strrchr (buf, '/');
  if (slash == NULL || slash == buf)
    return 0;
  *slash = '\0';
  return child_mkdirs (buf);
}

static int
child_mount (const struct mnt *m)
{
  unsigned long ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID;
  int fd;

  switch (m->kind) {
  case M_LINK:
    return child_mkparent (m->dst) || symlink (m->src, m->dst) ? -1 : 0;
  case M_TMPFS:
    return child_mkdirs (m->dst) ||
      mount ("tmpfs", m->dst, "tmpfs", MS_NOSUID | MS_NOEXEC,
             "mode=1777,size=64m") ? -1 : 0;
  case M_PROC:
    return child_mkdirs (m->dst) ||
      mount ("proc", m->dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
             NULL) ? -1 : 0;
  case M_FILE_RO:
  case M_FILE_RW:
  case M_DEV:
    if (child_mkparent (m->dst) == -1)
      return -1;
    fd = open (m->dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd == -1)
      return -1;
    close (fd);
    return mount (m->src, m->dst, NULL, MS_BIND, NULL) ||
      (m->kind == M_FILE_RO &&
       mount (NULL, m->dst, NULL, ro | MS_NODEV, NULL)) ? -1 : 0;
  case M_SYS_RO:
  case M_BIND_RO:
  case M_BIND_RW:
    return child_mkdirs (m->dst) ||
      mount (m->src, m->dst, NULL,
             MS_BIND | (m->kind == M_SYS_RO ? MS_REC : 0), NULL) ||
      mount (NULL, m->dst, NULL, (m->kind == M_BIND_RW
                                  ? MS_BIND | MS_REMOUNT | MS_NOSUID : ro)
             | MS_NODEV, NULL) ? -1 : 0;
  }
  return -1;
}

/* Build the new root and move into it. */
static void
child_root (const struct plan *p, int rfd)
{
  char old[PATH_MAX];
  size_t i;

  if (unshare (CLONE_NEWNS) == -1)
    fail_child (rfd, "unshare the mount namespace");
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
    fail_child (rfd, "make mounts private");
  if (mount ("tmpfs", p->stage, "tmpfs", MS_NOSUID | MS_NODEV,
             "mode=0755,size=16m") == -1)
    fail_child (rfd, "mount the new root");
  for (i = 0; i < p->n; i++)
    if (child_mount (&p->m[i]) == -1)
      fail_child (rfd, p->m[i].dst + strlen (p->stage));
  if ((size_t) snprintf (old, sizeof old, "%s/.old", p->stage)
      >= sizeof old || mkdir (old, 0700) == -1 ||
      syscall (SYS_pivot_root, p->stage, old) == -1 || chdir ("/") == -1 ||
      umount2 ("/.old", MNT_DETACH) == -1 || rmdir ("/.old") == -1)
    fail_child (rfd, "pivot_root");
  if (mount (NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID
             | MS_NODEV, NULL) == -1)
    fail_child (rfd, "make the root read-only");
}

static void
child_exec (const struct plan *p, char *const *argv, int rfd)
{
  static char *const envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
                                "HOME=/", NULL };
  int null, i;

  static const int sigs[] = { SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGCHLD,
                              SIGQUIT, SIGUSR1, SIGUSR2 };
  sigset_t none;
  size_t s;

  /* Nothing of the caller's signal handling carries over. */
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  for (s = 0; s < sizeof sigs / sizeof sigs[0]; s++)
    signal (sigs[s], SIG_DFL);
  if (setsid () == -1)
    fail_child (rfd, "setsid");
  umask (022);                  /* the new root's directories: traversable */
  child_root (p, rfd);
  umask (077);                  /* what QEMU makes: its user's alone */
  if (p->change_user &&
      (setgroups (p->n_groups, p->groups) == -1 || setgid (p->gid) == -1 ||
       setuid (p->uid) == -1))
    fail_child (rfd, "change to the QEMU user");
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
    fail_child (rfd, "no new privileges");
  null = open ("/dev/null", O_RDONLY);
  if (null == -1 || dup2 (null, 0) == -1 || dup2 (p->log_fd, 1) == -1 ||
      dup2 (p->log_fd, 2) == -1)
    fail_child (rfd, "standard descriptors");
  if (syscall (SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) == -1)
    fail_child (rfd, "close descriptors");
  for (i = 0; p->keep && p->keep[i] >= 0; i++)
    if (fcntl (p->keep[i], F_SETFD, 0) == -1)
      fail_child (rfd, "keep a descriptor");
  execve (p->exe, argv, envp);
  fail_child (rfd, "exec");
}

/* Fork the process that execs, report its PID, and exit. */
static void
child_middle (const struct plan *p, char *const *argv, int rfd)
{
  pid_t pid = fork ();

  if (pid == -1)
    fail_child (rfd, "fork");
  if (pid == 0)
    child_exec (p, argv, rfd);
  if (write (rfd, &pid, sizeof pid) != sizeof pid)
    _exit (126);
  _exit (0);
}

/* Read the grandchild's PID, then the report (none if exec worked). */
static pid_t
parent_wait (pid_t mid, int rfd, const char *exe)
{
  struct report r;
  pid_t pid = -1;
  int st;
  ssize_t n;

  while (waitpid (mid, &st, 0) == -1 && errno == EINTR)
    ;
  n = read (rfd, &pid, sizeof pid);
  if (n != sizeof pid) {
    set_error (errno, "starting %s confined: no process", exe);
    return -1;
  }
  do
    n = read (rfd, &r, sizeof r);
  while (n == -1 && errno == EINTR);
  if (n == 0)
    return pid;
  r.what[sizeof r.what - 1] = '\0';
  set_error (n == sizeof r ? r.err : EIO, "starting %s confined: %s", exe,
             n == sizeof r ? r.what : "broken report");
  return -1;
}

pid_t
vm_spawn_confined (char *const *argv, const struct vm_confine *c)
{
  struct plan p = { .log_fd = -1 };
  int fds[2] = { -1, -1 };
  pid_t mid, pid = -1;

  if (plan_make (&p, argv, c) == -1)
    goto out;
  if (pipe2 (fds, O_CLOEXEC) == -1) {
    set_error (errno, "pipe2");
    goto out;
  }
  mid = fork ();
  if (mid == -1) {
    set_error (errno, "fork");
    goto out;
  }
  if (mid == 0) {
    close (fds[0]);
    child_middle (&p, argv, fds[1]);
  }
  close (fds[1]);
  fds[1] = -1;
  pid = parent_wait (mid, fds[0], p.exe);
 out:
  if (fds[0] >= 0)
    close (fds[0]);
  if (fds[1] >= 0)
    close (fds[1]);
  plan_free (&p);
  return pid;
}
