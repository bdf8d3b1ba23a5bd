/* busy.c: saying who holds a busy QMP socket.
 *
 * QEMU serves one QMP client at a time: a second client's connection
 * waits in the listen queue and gets no greeting.  The kernel's unix_diag
 * interface lists the sockets QEMU accepted on the path together with
 * their peers' inodes (as "ss -xp" shows them); /proc/PID/fd then tells
 * which process owns the peer.  This is best effort: it only improves the
 * error message.
 * XXX Sockets are matched by the path as QEMU bound it, so a different
 * spelling of the same path (relative, through a symlink) finds nobody.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#include "utils.h"
#include "internal.h"

/* The state of a connected unix socket (TCP_ESTABLISHED). */
#define UNIX_ESTABLISHED 1

static int
diag_request (void)
{
  struct {
    struct nlmsghdr nlh;
    struct unix_diag_req req;
  } msg = {
    .nlh = {
      .nlmsg_len = sizeof msg,
      .nlmsg_type = SOCK_DIAG_BY_FAMILY,
      .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
    },
    .req = {
      .sdiag_family = AF_UNIX,
      .udiag_states = 1 << UNIX_ESTABLISHED,
      .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER,
    },
  };
  int fd;

  fd = socket (AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd == -1)
    return -1;
  if (send (fd, &msg, sizeof msg, 0) != (ssize_t) sizeof msg) {
    close (fd);
    return -1;
  }
  return fd;
}

/* If the socket described by m is named path and has a peer other than
 * own, return the peer's inode, else 0.
 */
static uint32_t
diag_match (struct unix_diag_msg *m, size_t len, const char *path,
            ino_t own)
{
  struct rtattr *a = (struct rtattr *) (m + 1);
  size_t left = len - NLMSG_ALIGN (sizeof *m);
  bool named = false;
  uint32_t peer = 0;
  size_t n;

  for (; RTA_OK (a, left); a = RTA_NEXT (a, left)) {
    if (a->rta_type == UNIX_DIAG_NAME) {
      /* The name usually includes the terminating NUL. */
      n = strnlen (RTA_DATA (a), RTA_PAYLOAD (a));
      named = n == strlen (path) && memcmp (RTA_DATA (a), path, n) == 0;
    }
    else if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD (a) >= 4)
      memcpy (&peer, RTA_DATA (a), sizeof peer);
  }
  return named && peer != 0 && peer != own ? peer : 0;
}

/* The inode of a client connected to (and accepted on) path, or 0. */
static uint32_t
holder_inode (const char *path, ino_t own)
{
  CLEANUP_CLOSE int fd = diag_request ();
  static const size_t bufsize = 32768;
  CLEANUP_FREE char *buf = malloc (bufsize);
  struct nlmsghdr *h;
  uint32_t found = 0;
  ssize_t n;
  int len;

  if (fd == -1 || buf == NULL)
    return 0;
  for (;;) {
    n = recv (fd, buf, bufsize, 0);
    if (n == -1 && errno == EINTR)
      continue;
    if (n <= 0)
      return found;
    len = n;
    for (h = (struct nlmsghdr *) buf; NLMSG_OK (h, len);
         h = NLMSG_NEXT (h, len)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
        return found;
      if (found == 0 &&
          h->nlmsg_len >= NLMSG_LENGTH (sizeof (struct unix_diag_msg)))
        found = diag_match (NLMSG_DATA (h), h->nlmsg_len - NLMSG_HDRLEN,
                            path, own);
    }
  }
}

/* Does process pid (a /proc entry name) have a descriptor for link? */
static bool
pid_has_link (const char *pid, const char *link)
{
  CLEANUP_FREE char *dirname = xasprintf ("/proc/%s/fd", pid);
  DIR *dir = dirname ? opendir (dirname) : NULL;
  struct dirent *d;
  char target[64];
  ssize_t n;
  bool ret = false;

  if (dir == NULL)
    return false;
  while (!ret && (d = readdir (dir)) != NULL) {
    n = readlinkat (dirfd (dir), d->d_name, target, sizeof target - 1);
    if (n > 0) {
      target[n] = '\0';
      ret = strcmp (target, link) == 0;
    }
  }
  closedir (dir);
  return ret;
}

/* "pid N, comm" of the process holding socket inode ino, or NULL. */
static char *
describe_owner (uint32_t ino)
{
  char link[64];
  DIR *proc = opendir ("/proc");
  struct dirent *d;
  CLEANUP_FREE char *comm = NULL;
  CLEANUP_FREE char *comm_path = NULL;
  char *ret = NULL;

  if (proc == NULL)
    return NULL;
  snprintf (link, sizeof link, "socket:[%" PRIu32 "]", ino);
  while (ret == NULL && (d = readdir (proc)) != NULL) {
    if (d->d_name[0] < '1' || d->d_name[0] > '9' ||
        !pid_has_link (d->d_name, link))
      continue;
    comm_path = xasprintf ("/proc/%s/comm", d->d_name);
    comm = comm_path ? read_file (comm_path, NULL) : NULL;
    if (comm)
      comm[strcspn (comm, "\n")] = '\0';
    ret = xasprintf ("pid %s, %s", d->d_name, comm ? comm : "?");
  }
  closedir (proc);
  return ret;
}

void
qmp_internal_busy_error (const char *path, int own_fd)
{
  struct stat st = { .st_ino = 0 };
  CLEANUP_FREE char *holder = NULL;
  uint32_t ino;

  if (own_fd >= 0)
    fstat (own_fd, &st);
  ino = holder_inode (path, st.st_ino);
  if (ino != 0)
    holder = describe_owner (ino);
  if (holder)
    set_error (ETIMEDOUT, "QMP socket %s is busy: another client (%s) "
               "holds it; no greeting", path, holder);
  else
    set_error (ETIMEDOUT, "QMP socket %s is busy (another client holds it) "
               "or QEMU is not responding; no greeting", path);
}
