/* cmdline.c: reading the source VM's command line (source side). */
#include <config.h>

#include <errno.h>

#include "internal.h"
#include "options.h"

/* Read /proc/PID/cmdline into a NULL-terminated vector. */
char **
mig_cmdline_read (pid_t pid)
{
  CLEANUP_FREE char *path = xasprintf ("/proc/%d/cmdline", (int) pid);
  CLEANUP_FREE char *buf = NULL;
  char **v = NULL;
  size_t len, i;

  if (path == NULL || (buf = read_file (path, &len)) == NULL)
    return NULL;
  for (i = 0; i < len; i += strlen (buf + i) + 1) {
    if (strv_push (&v, buf + i) == -1) {
      strv_free (v);
      return NULL;
    }
  }
  if (v == NULL)
    set_error (0, "process %d has an empty command line", (int) pid);
  return v;
}

int
mig_proc_start_time (pid_t pid, uint64_t *start)
{
  CLEANUP_FREE char *path = xasprintf ("/proc/%d/stat", (int) pid);
  CLEANUP_FREE char *buf = path ? read_file (path, NULL) : NULL;
  const char *p = buf ? strrchr (buf, ')') : NULL;
  char *end;
  int field;

  if (p == NULL) {
    if (buf)
      set_error (0, "%s: unexpected content", path);
    return -1;
  }
  /* The command name (field 2) may hold anything but ends at the last
   * ')'; field 3 follows it.
   */
  for (field = 2; field < 22 && p; field++)
    p = strchr (p + 1, ' ');
  errno = 0;
  *start = p ? strtoull (p + 1, &end, 10) : 0;
  if (p == NULL || errno != 0 || end == p + 1) {
    set_error (0, "%s: no start time", path);
    return -1;
  }
  return 0;
}

const char *
mig_argv_option (char *const *argv, const char *opt)
{
  size_t i;

  for (i = 1; argv[i]; i++) {
    const char *a = argv[i];
    if (a[0] == '-' && a[1] == '-')
      a++;
    if (strcmp (a, opt) == 0 && argv[i + 1])
      return argv[i + 1];
  }
  return NULL;
}

/* The machine type named by -machine/-M (first item or type=). */
static const char *
machine_type (const struct mig_keyval *kv)
{
  const char *t = mig_keyval_get (kv, NULL);

  return t ? t : mig_keyval_get (kv, "type");
}

int
mig_argv_set_machine (char **argv, const char *machine)
{
  size_t i;

  for (i = 1; argv[i] && argv[i + 1]; i++) {
    struct mig_keyval *kv;
    char *n;

    if (strcmp (argv[i], "-machine") != 0 && strcmp (argv[i], "-M") != 0 &&
        strcmp (argv[i], "--machine") != 0)
      continue;
    kv = mig_keyval_parse (argv[i + 1]);
    if (kv == NULL)
      return -1;
    if (mig_keyval_get (kv, NULL)) {
      size_t k;
      for (k = 0; k < kv->n && kv->items[k].key; k++)
        ;
      free (kv->items[k].value);
      kv->items[k].value = strdup (machine);
    }
    else if (mig_keyval_set (kv, "type", machine) == -1) {
      mig_keyval_free (kv);
      return -1;
    }
    n = mig_keyval_format (kv);
    mig_keyval_free (kv);
    if (n == NULL)
      return -1;
    free (argv[i + 1]);
    argv[i + 1] = n;
    return 0;
  }
  return 0;                     /* no -machine: QEMU's default; leave it */
}

const char *
mig_argv_machine (char *const *argv, char **buf)
{
  const char *m = mig_argv_option (argv, "-machine");
  struct mig_keyval *kv;

  if (m == NULL)
    m = mig_argv_option (argv, "-M");
  if (m == NULL || (kv = mig_keyval_parse (m)) == NULL)
    return NULL;
  *buf = machine_type (kv) ? strdup (machine_type (kv)) : NULL;
  mig_keyval_free (kv);
  return *buf;
}

/* Describe the pass-through use in one option, or NULL. */
static char *
option_passthrough (const char *opt, const char *arg)
{
  struct mig_keyval *kv;
  const char *o = opt + (opt[1] == '-' ? 2 : 1);
  const char *v;
  char *r = NULL;

  if (arg[0] == '{')
    return strstr (arg, "host_device") || strstr (arg, "host_cdrom") ||
      strstr (arg, "\"/dev/") ? xasprintf ("%s %s", opt, arg) : NULL;
  kv = mig_keyval_parse (arg);
  if (kv == NULL)
    return NULL;
  if (strcmp (o, "device") == 0) {
    v = mig_keyval_get (kv, NULL);
    if (v && mig_device_is_passthrough (v))
      r = xasprintf ("%s %s", opt, arg);
  }
  else if (strcmp (o, "blockdev") == 0 || strcmp (o, "drive") == 0) {
    const char *drv = mig_keyval_get (kv, "driver");
    const char *fd = mig_keyval_get (kv, "file.driver");
    const char *f = mig_keyval_get (kv, "filename");
    if (f == NULL)
      f = mig_keyval_get (kv, "file");
    if ((drv && mig_blockdrv_is_host (drv)) ||
        (fd && mig_blockdrv_is_host (fd)) ||
        (f && strncmp (f, "/dev/", 5) == 0))
      r = xasprintf ("%s %s", opt, arg);
  }
  mig_keyval_free (kv);
  return r;
}

char *
mig_argv_find_passthrough (char *const *argv)
{
  size_t i;

  for (i = 1; argv[i] && argv[i + 1]; i++) {
    char *r;
    if (argv[i][0] != '-')
      continue;
    r = option_passthrough (argv[i], argv[i + 1]);
    if (r)
      return r;
  }
  return NULL;
}
