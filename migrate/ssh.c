/* ssh.c: vmferry migrate VM --to ssh://[user@]host[:port], the
 * zero-PKI one-shot.
 *
 * One ssh connection (OpenSSH's client, run as a ControlMaster) runs
 * "vmferryd --once" on the destination, bound to the destination's
 * 127.0.0.1 only, and a local port forward added to that connection
 * carries the control API.  So the destination needs nothing but sshd,
 * vmferryd and QEMU: no agent running, no certificates, no open port.
 *
 * Every secret is made fresh for this migration and travels only inside
 * ssh, on the remote shell's standard input (never on a command line,
 * where other users could read it in /proc):
 *   - a throwaway CA and a certificate for 127.0.0.1: the control API
 *     keeps its mutual TLS, so no other local user of either host can
 *     talk to the agent through the forwarded port;
 *   - a random TLS-PSK key (keys.psk): the source and skeleton QEMUs
 *     encrypt and authenticate NBD and the migration stream with it.
 *     They connect directly, to the destination address that the ssh
 *     connection reached ($SSH_CONNECTION).
 * The remote script removes its copy on exit, and kills vmferryd when
 * its standard input closes (vmferry finished, died, or the connection
 * dropped), which is how vmferry ends a --once agent that never got a
 * migration.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "internal.h"

#define AGENT_TIMEOUT_MS 60000   /* ssh login + vmferryd start */
#define EXIT_TIMEOUT_MS 60000    /* remote vmferryd stop after EOF */

/* One ssh connection and what it needs. */
struct ssh_conn {
  const struct mig_ssh_params *p;
  struct mig_ssh_target tg;     /* user, host, port */
  char *dir;                    /* local temporary directory (0700) */
  char *tls;                    /* dir/tls: what both ends use */
  pid_t pid;                    /* the ssh master, 0 if none */
  int in_fd, out_fd;            /* its stdin (script) and stdout */
  int rport, lport;             /* vmferryd's port there, forward here */
};

void
mig_ssh_target_clear (struct mig_ssh_target *t)
{
  free (t->user);
  free (t->host);
  free (t->port);
  t->user = t->host = t->port = NULL;
}

/* A user or host name ssh cannot mistake for an option or a path. */
static bool
plain_name (const char *s)
{
  return *s && *s != '-' && strcspn (s, "/@ \t\r\n'\"\\") == strlen (s);
}

int
mig_ssh_parse_target (const char *target, struct mig_ssh_target *tg)
{
  const char *t = target, *h, *at, *colon = NULL;
  size_t hl;

  memset (tg, 0, sizeof *tg);
  if (strncmp (t, "ssh://", 6) != 0)
    goto bad;
  t += 6;
  at = strchr (t, '@');
  if (at && (tg->user = strndup (t, at - t)) == NULL)
    goto bad;
  h = at ? at + 1 : t;
  if (*h == '[') {
    const char *e = strchr (h, ']');
    if (e == NULL || (e[1] && e[1] != ':'))
      goto bad;
    colon = e[1] ? e + 1 : NULL;
    h++;
    hl = e - h;
  }
  else {
    colon = strchr (h, ':');
    hl = colon ? (size_t) (colon - h) : strlen (h);
  }
  if (hl == 0 || (tg->host = strndup (h, hl)) == NULL ||
      (colon && (colon[1] == '\0' || strspn (colon + 1, "0123456789")
                 != strlen (colon + 1) || strlen (colon + 1) > 5)) ||
      (colon && (tg->port = strdup (colon + 1)) == NULL) ||
      (tg->user && !plain_name (tg->user)) || !plain_name (tg->host))
    goto bad;
  return 0;
 bad:
  mig_ssh_target_clear (tg);
  set_error (0, "'%s' is not ssh://[USER@]HOST[:PORT]", target);
  return -1;
}

/* Write a file of mode 0600. */
static int
write_secret (const char *path, const char *text)
{
  CLEANUP_CLOSE int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                               0600);

  if (fd == -1 || write_all (fd, text, strlen (text)) == -1) {
    set_error (errno, "%s", path);
    return -1;
  }
  return 0;
}

/* The temporary directory, a throwaway CA, a certificate for
 * 127.0.0.1 (server and client) and keys.psk with a random 256-bit key.
 */
static int
make_secrets (struct ssh_conn *c)
{
  const char *tmp = getenv ("TMPDIR");
  CLEANUP_FREE char *ca = NULL, *psk = NULL, *line = NULL;
  uint8_t key[32];
  char hex[2 * sizeof key + 1];
  size_t i;

  c->dir = xasprintf ("%s/vmferry-ssh.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (c->dir == NULL)
    return -1;
  if (mkdtemp (c->dir) == NULL) {
    set_error (errno, "mkdtemp %s", c->dir);
    free (c->dir);
    c->dir = NULL;
    return -1;
  }
  if ((ca = xasprintf ("%s/ca", c->dir)) == NULL ||
      (c->tls = xasprintf ("%s/tls", c->dir)) == NULL ||
      api_pki_init (ca) == -1 ||
      api_pki_issue (ca, c->tls, "127.0.0.1", NULL, 1) == -1)
    return -1;
  if (getrandom (key, sizeof key, 0) != sizeof key) {
    set_error (errno, "getrandom");
    return -1;
  }
  for (i = 0; i < sizeof key; i++)
    snprintf (hex + 2 * i, 3, "%02x", key[i]);
  if ((psk = xasprintf ("%s/keys.psk", c->tls)) == NULL ||
      (line = xasprintf ("%s:%s\n", MIG_PSK_USER, hex)) == NULL)
    return -1;
  return write_secret (psk, line);
}

char *
mig_sh_quote (const char *s)
{
  size_t n = 3;
  const char *p;
  char *r, *q;

  for (p = s; *p; p++)
    n += *p == '\'' ? 4 : 1;
  r = q = malloc (n);
  if (r == NULL) {
    set_error (errno, "malloc");
    return NULL;
  }
  *q++ = '\'';
  for (p = s; *p; p++) {
    if (*p == '\'') {
      memcpy (q, "'\\''", 4);
      q += 4;
    }
    else
      *q++ = *p;
  }
  *q++ = '\'';
  *q = '\0';
  return r;
}

/* A here-document that writes tls/NAME into "$d/NAME" on the far end. */
static char *
heredoc (struct ssh_conn *c, const char *name)
{
  CLEANUP_FREE char *path = xasprintf ("%s/%s", c->tls, name);
  CLEANUP_FREE char *text = path ? read_file (path, NULL) : NULL;

  if (text == NULL)
    return NULL;
  if (strstr (text, "VMFERRY_EOF")) {
    set_error (0, "%s: unexpected content", path);
    return NULL;
  }
  return xasprintf ("  cat > \"$d/%s\" <<'VMFERRY_EOF' || exit 1\n%s"
                    "VMFERRY_EOF\n", name, text);
}

/* The script the remote shell reads from its stdin.  It is one
 * function, called on the last line, so the shell has parsed all of it
 * before "cat" takes over the rest of stdin.  That cat, in the
 * background, stops vmferryd when stdin ends (vmferry closed it, or the
 * connection dropped); the script itself ends with vmferryd, so an
 * agent that fails to start ends the ssh session at once (and vmferry
 * sees its message) instead of waiting for stdin.  A background job
 * would get /dev/null as stdin: hence fd 3.  The agent lets the VM read
 * any file (--read-dir /): whoever can ssh there as this user can read
 * those files anyway.
 */
static char *
remote_script (struct ssh_conn *c)
{
  CLEANUP_FREE char *ca = heredoc (c, "ca-cert.pem");
  CLEANUP_FREE char *crt = heredoc (c, "server-cert.pem");
  CLEANUP_FREE char *key = heredoc (c, "server-key.pem");
  CLEANUP_FREE char *psk = heredoc (c, "keys.psk");
  CLEANUP_FREE char *bin = mig_sh_quote (c->p->vmferryd);
  CLEANUP_FREE char *sr = mig_sh_quote (c->p->storage_root);
  CLEANUP_FREE char *rr = mig_sh_quote (c->p->run_root);

  if (!ca || !crt || !key || !psk || !bin || !sr || !rr)
    return NULL;
  return xasprintf
    ("vmferry_main ()\n{\n"
     "  umask 077\n"
     "  d=$(mktemp -d \"${TMPDIR:-/tmp}/vmferry-ssh.XXXXXX\") || exit 1\n"
     "  trap 'rm -rf \"$d\"' EXIT\n"
     "%s%s%s%s"
     "  mkdir -p %s %s || exit 1\n"
     "  command -v %s > /dev/null ||\n"
     "    { echo vmferry: %s: command not found >&2; exit 127; }\n"
     "  set -- $SSH_CONNECTION\n"
     "  %s --once --listen 127.0.0.1:0 --data-addr \"$3\" --data-tls psk \\\n"
     "    --tls-dir \"$d\" --storage-root %s --run-root %s --read-dir / \\\n"
     "    </dev/null 3<&- &\n"
     "  pid=$!\n"
     "  ( cat > /dev/null; kill $pid 2>/dev/null ) <&3 > /dev/null 2>&1 &\n"
     "  exec 3<&-\n"
     "  wait $pid\n"
     "}\n"
     "exec 3<&0\n"
     "vmferry_main; exit\n", ca, crt, key, psk, sr, rr, bin, bin, bin, sr,
     rr);
}

/* ssh's argv: -M (master) with our control socket, the target and
 * the user's -o options, then extra (NULL-terminated).
 */
static char **
ssh_argv (struct ssh_conn *c, const char *const *extra)
{
  CLEANUP_FREE char *ctl = xasprintf ("%s/ctl", c->dir);
  char **v = NULL;
  size_t i;

  if (ctl == NULL || strv_push (&v, c->p->ssh) == -1 ||
      strv_push (&v, "-S") == -1 || strv_push (&v, ctl) == -1 ||
      (c->tg.port && (strv_push (&v, "-p") == -1 ||
                      strv_push (&v, c->tg.port) == -1)) ||
      (c->tg.user && (strv_push (&v, "-l") == -1 ||
                      strv_push (&v, c->tg.user) == -1)))
    goto err;
  for (i = 0; c->p->ssh_options && c->p->ssh_options[i]; i++)
    if (strv_push (&v, "-o") == -1 ||
        strv_push (&v, c->p->ssh_options[i]) == -1)
      goto err;
  for (i = 0; extra[i]; i++)
    if (strv_push (&v, extra[i]) == -1)
      goto err;
  return v;
 err:
  strv_free (v);
  return NULL;
}

/* Start the master: its stdin and stdout are pipes to us, its stderr
 * goes to dir/ssh.log (shown when something fails).
 */
static int
spawn_ssh (struct ssh_conn *c, char **argv)
{
  int in[2], out[2];
  CLEANUP_FREE char *log = xasprintf ("%s/ssh.log", c->dir);
  int lfd = log ? open (log, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) : -1;

  if (lfd == -1 || pipe2 (in, O_CLOEXEC) == -1) {
    set_error (errno, "ssh.log or pipe");
    if (lfd >= 0)
      close (lfd);
    return -1;
  }
  if (pipe2 (out, O_CLOEXEC) == -1 || (c->pid = fork ()) == -1) {
    set_error (errno, "pipe or fork");
    c->pid = 0;
    close (lfd);
    return -1;                  /* the fds leak on a failing fork only */
  }
  if (c->pid == 0) {
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    signal (SIGPIPE, SIG_DFL);
    dup2 (in[0], 0);
    dup2 (out[1], 1);
    dup2 (lfd, 2);
    execvp (argv[0], argv);
    fprintf (stderr, "%s: %s\n", argv[0], strerror (errno));
    _exit (127);
  }
  close (lfd);
  close (in[0]);
  close (out[1]);
  c->in_fd = in[1];
  c->out_fd = out[0];
  return 0;
}

/* The last line ssh (or the remote side) wrote to stderr. */
static char *
ssh_last_words (struct ssh_conn *c)
{
  CLEANUP_FREE char *log = xasprintf ("%s/ssh.log", c->dir);
  char *text = log ? read_file (log, NULL) : NULL;
  char *l;

  if (text == NULL)
    return strdup ("no message");
  while (*text && strchr ("\r\n", text[strlen (text) - 1]))
    text[strlen (text) - 1] = '\0';
  l = strrchr (text, '\n');
  l = strdup (l ? l + 1 : *text ? text : "no message");
  free (text);
  return l;
}

/* Read the agent's "listening on 127.0.0.1 port N" line.  Gives up
 * (-1) on EOF or after AGENT_TIMEOUT_MS; -2 when cancel_fd becomes
 * readable (Ctrl-C).
 */
static int
read_port (struct ssh_conn *c, int cancel_fd)
{
  char buf[512];
  size_t len = 0;
  int64_t end = now_ms () + AGENT_TIMEOUT_MS;
  const char *p;

  while (len < sizeof buf - 1) {
    struct pollfd pfd[2] = { { .fd = c->out_fd, .events = POLLIN },
                             { .fd = cancel_fd, .events = POLLIN } };
    ssize_t r;
    if (poll (pfd, cancel_fd >= 0 ? 2 : 1, 100) == 0) {
      if (now_ms () > end)
        break;
      continue;
    }
    if (pfd[1].revents)
      return -2;
    r = read (c->out_fd, buf + len, sizeof buf - 1 - len);
    if (r <= 0)
      break;
    len += r;
    buf[len] = '\0';
    if ((p = strstr (buf, " port ")) && strchr (p, '\n') &&
        sscanf (p, " port %d", &c->rport) == 1 && c->rport > 0)
      return 0;
  }
  return -1;
}

/* Run vmferryd --once there and learn its port. */
static int
start_agent (struct ssh_conn *c, int cancel_fd)
{
  const char *extra[] = { "-M", "-o", "ControlPersist=no", "-o",
    "ExitOnForwardFailure=yes", "-T", "--", c->tg.host, "exec sh -s", NULL };
  CLEANUP_STRV char **argv = ssh_argv (c, extra);
  CLEANUP_FREE char *script = remote_script (c), *why = NULL;
  int r;

  if (argv == NULL || script == NULL || spawn_ssh (c, argv) == -1)
    return -1;
  r = write_all (c->in_fd, script, strlen (script));
  if (r == 0 && (r = read_port (c, cancel_fd)) == 0)
    return 0;
  if (r == -2) {
    set_error (0, "cancelled by the user");
    return -1;
  }
  why = ssh_last_words (c);
  set_error (0, "ssh %s: could not start vmferryd --once there: %s",
             c->tg.host, why);
  return -1;
}

/* Forward 127.0.0.1:lport here to vmferryd's 127.0.0.1:rport there. */
static int
add_forward (struct ssh_conn *c)
{
  char spec[64];
  const char *extra[] = { "-O", "forward", "-L", spec, "--", c->tg.host,
    NULL };
  CLEANUP_STRV char **argv = NULL;
  CLEANUP_FREE char *out = NULL;

  c->lport = net_free_port ("127.0.0.1");
  if (c->lport == -1)
    return -1;
  snprintf (spec, sizeof spec, "127.0.0.1:%d:127.0.0.1:%d", c->lport,
            c->rport);
  if ((argv = ssh_argv (c, extra)) == NULL)
    return -1;
  if (run_capture (argv, &out) != 0) {
    if (out)
      out[strcspn (out, "\n")] = '\0';
    set_error (0, "ssh %s: port forward %s failed: %s", c->tg.host, spec,
               out && *out ? out : "no message");
    return -1;
  }
  debug ("ssh %s: vmferryd --once listens on 127.0.0.1 port %d there, "
         "forwarded from 127.0.0.1:%d here", c->tg.host, c->rport, c->lport);
  return 0;
}

/* Close the script's stdin (the remote side stops vmferryd if it still
 * runs and removes its copy of the secrets), wait for ssh, remove ours.
 */
static void
teardown (struct ssh_conn *c)
{
  int64_t end = now_ms () + EXIT_TIMEOUT_MS;

  if (c->in_fd >= 0)
    close (c->in_fd);
  /* No agent yet (login failed, hangs, or cancelled): nothing there
   * needs a clean stop; a dropped connection ends the remote script.
   */
  if (c->pid > 0 && c->rport == 0)
    kill (c->pid, SIGTERM);
  while (c->pid > 0 && waitpid (c->pid, NULL, WNOHANG) == 0) {
    if (now_ms () > end) {
      kill (c->pid, SIGTERM);
      waitpid (c->pid, NULL, 0);
      break;
    }
    usleep (20000);
  }
  if (c->out_fd >= 0)
    close (c->out_fd);
  if (c->dir && remove_tree (c->dir) == -1)
    debug ("removing %s: %s", c->dir, get_error ());
  free (c->dir);
  free (c->tls);
  mig_ssh_target_clear (&c->tg);
}

enum mig_result
mig_ssh_run (const struct mig_ssh_params *sp, struct mig_source_params *mp)
{
  struct ssh_conn c = { .p = sp, .in_fd = -1, .out_fd = -1 };
  enum mig_result r = MIG_REFUSED;
  char err[2048];

  if (mig_ssh_parse_target (sp->target, &c.tg) == -1)
    r = MIG_USAGE;
  else {
    mp->dest_name = c.tg.host;
    if (make_secrets (&c) == 0 && start_agent (&c, mp->cancel_fd) == 0 &&
        add_forward (&c) == 0) {
      mp->host = "127.0.0.1";
      mp->port = c.lport;
      mp->tls_dir = c.tls;
      mp->psk = true;
      r = sp->check ? mig_check_run (mp) : mig_source_run (mp);
    }
    else if (!sp->check)
      mig_source_early_result (mp, r);
  }
  snprintf (err, sizeof err, "%s", get_error ());
  mp->dest_name = NULL;
  teardown (&c);
  set_error (0, "%s", err);
  return r;
}
