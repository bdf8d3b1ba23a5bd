/* qemu-view.c: a private directory of one migration that vmferry and
 * the source QEMU both reach.
 *
 * A QEMU that vmferryd started (a VM received here earlier, now leaving
 * again) runs confined (vm/confine.c): in its own mount namespace, as an
 * unprivileged user, so vmferry's /tmp and TLS directory are not what
 * QEMU sees.  The directory is then made in QEMU's own /tmp, reached
 * from here through /proc/PID/root, and given to QEMU's user.  For a
 * QEMU in our own namespace it is simply a directory in /tmp.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

#include "internal.h"

/* The real uid and gid of process pid (/proc/PID/status). */
static int
proc_ids (pid_t pid, uid_t *uid, gid_t *gid)
{
  CLEANUP_FREE char *path = xasprintf ("/proc/%d/status", (int) pid);
  CLEANUP_FREE char *text = path ? read_file (path, NULL) : NULL;
  const char *u = text ? strstr (text, "\nUid:") : NULL;
  const char *g = text ? strstr (text, "\nGid:") : NULL;

  if (u == NULL || g == NULL) {
    set_error (0, "cannot tell the user of QEMU process %d", (int) pid);
    return -1;
  }
  *uid = strtoul (u + 5, NULL, 10);
  *gid = strtoul (g + 5, NULL, 10);
  return 0;
}

int
mig_qemu_dir_make (pid_t qemu, const char *tag, struct mig_qemu_dir *out)
{
  CLEANUP_FREE char *root = xasprintf ("/proc/%d/root", (int) qemu);
  struct stat a, b;
  int n;

  memset (out, 0, sizeof *out);
  if (root == NULL || proc_ids (qemu, &out->uid, &out->gid) == -1)
    return -1;
  if (stat (root, &a) == -1 || stat ("/", &b) == -1) {
    set_error (errno, "stat %s", root);
    return -1;
  }
  out->foreign = a.st_dev != b.st_dev || a.st_ino != b.st_ino;
  n = snprintf (out->host, sizeof out->host, "%s/tmp/vmferry-%s-XXXXXX",
                out->foreign ? root : "", tag);
  if (n < 0 || (size_t) n >= sizeof out->host) {
    set_error (ENAMETOOLONG, "private directory");
    return -1;
  }
  if (mkdtemp (out->host) == NULL) {
    set_error (errno, "mkdtemp %s", out->host);
    out->host[0] = '\0';
    return -1;
  }
  snprintf (out->qemu, sizeof out->qemu, "/tmp/%s",
            strrchr (out->host, '/') + 1);
  if (chown (out->host, out->uid, out->gid) == -1) {
    set_error (errno, "chown %s", out->host);
    return -1;
  }
  return 0;
}

int
mig_qemu_dir_give (const struct mig_qemu_dir *dir, const char *host_path)
{
  if (chown (host_path, dir->uid, dir->gid) == -1) {
    set_error (errno, "chown %s", host_path);
    return -1;
  }
  return 0;
}

int
mig_copy_creds (const char *from, const char *to, const char *const *files,
                uid_t uid, gid_t gid)
{
  size_t i;

  if (mkdir (to, 0700) == -1 || chown (to, uid, gid) == -1) {
    set_error (errno, "mkdir %s", to);
    return -1;
  }
  for (i = 0; files[i]; i++) {
    CLEANUP_FREE char *src = xasprintf ("%s/%s", from, files[i]);
    CLEANUP_FREE char *dst = xasprintf ("%s/%s", to, files[i]);
    CLEANUP_FREE char *data = NULL;
    size_t len;
    if (src == NULL || dst == NULL)
      return -1;
    if (access (src, R_OK) == -1)
      continue;
    if ((data = read_file (src, &len)) == NULL ||
        write_file_durable (dst, data, len) == -1 ||
        chown (dst, uid, gid) == -1 || chmod (dst, 0400) == -1) {
      prefix_error ("copying TLS credentials to %s", to);
      return -1;
    }
  }
  return 0;
}

int
mig_qemu_dir_tls (const struct mig_qemu_dir *dir, const char *tls_dir,
                  char **qemu_path)
{
  static const char *const files[] = { "ca-cert.pem", "client-cert.pem",
                                       "client-key.pem", "keys.psk", NULL };
  CLEANUP_FREE char *host = xasprintf ("%s/tls", dir->host);

  if (host == NULL ||
      mig_copy_creds (tls_dir, host, files, dir->uid, dir->gid) == -1)
    return -1;
  *qemu_path = xasprintf ("%s/tls", dir->qemu);
  return *qemu_path ? 0 : -1;
}
