/* hostinfo.c: facts about this host that the preflight checks compare. */
#include <config.h>

#include <errno.h>
#include <sys/statvfs.h>

#include "internal.h"

/* Value of "key : value" from a /proc file such as /proc/cpuinfo. */
static char *
proc_field (const char *file, const char *key)
{
  CLEANUP_FCLOSE FILE *fp = fopen (file, "r");
  char line[512];
  size_t kl = strlen (key);

  if (fp == NULL) {
    set_error (errno, "open: %s", file);
    return NULL;
  }
  while (fgets (line, sizeof line, fp)) {
    char *v;
    if (strncmp (line, key, kl) != 0 || (line[kl] != ' ' && line[kl] != ':'
                                         && line[kl] != '\t'))
      continue;
    v = strchr (line, ':');
    if (v == NULL)
      continue;
    v++;
    v += strspn (v, " \t");
    v[strcspn (v, "\n")] = '\0';
    return strdup (v);
  }
  set_error (0, "%s: no %s", file, key);
  return NULL;
}

char *
mig_host_cpu_vendor (void)
{
  return proc_field ("/proc/cpuinfo", "vendor_id");
}

/* The CPU's "model name": -cpu host moves only between identical CPUs. */
char *
mig_host_cpu_model_name (void)
{
  return proc_field ("/proc/cpuinfo", "model name");
}

uint64_t
mig_host_mem_available (void)
{
  CLEANUP_FREE char *v = proc_field ("/proc/meminfo", "MemAvailable");

  return v ? strtoull (v, NULL, 10) * 1024 : 0;
}

int64_t
mig_host_free_bytes (const char *dir)
{
  struct statvfs sv;

  if (statvfs (dir, &sv) == -1) {
    set_error (errno, "statvfs: %s", dir);
    return -1;
  }
  return (int64_t) sv.f_bavail * sv.f_frsize;
}

/* "QEMU emulator version 7.2.22 (Debian ...)" -> 70222. */
int
mig_qemu_binary_version (const char *qemu)
{
  char *argv[] = { (char *) qemu, "-version", NULL };
  CLEANUP_FREE char *out = NULL;
  const char *p;
  int maj, min, mic = 0;

  if (run_capture (argv, &out) != 0) {
    set_error (0, "cannot run %s -version: %s", qemu, out ? out : "");
    return -1;
  }
  p = strstr (out, "version ");
  if (p == NULL || sscanf (p + 8, "%d.%d.%d", &maj, &min, &mic) < 2) {
    set_error (0, "cannot read the version of %s", qemu);
    return -1;
  }
  return maj * 10000 + min * 100 + mic;
}

/* Does `qemu -machine help` list machine (by name, not as an alias)? */
int
mig_qemu_has_machine (const char *qemu, const char *machine)
{
  char *argv[] = { (char *) qemu, "-machine", "help", NULL };
  CLEANUP_FREE char *out = NULL;
  const char *p;
  size_t ml = strlen (machine);

  if (run_capture (argv, &out) != 0) {
    set_error (0, "cannot run %s -machine help", qemu);
    return -1;
  }
  for (p = out; p && *p; p = strchr (p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp (p, machine, ml) == 0 && (p[ml] == ' ' || p[ml] == '\n'))
      return 1;
  return 0;
}
