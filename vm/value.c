/* value.c: the value types of the allow-lists.  Each value is checked
 * against its type and re-formatted: numbers are re-printed, booleans
 * become on/off, enums take the table's own string, identifiers and
 * tokens must match a character class.  What comes out is vmferry's
 * text, built from what the type allows.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <arpa/inet.h>

#include "internal.h"

bool
vm_id_ok (const char *s)
{
  size_t i;

  if (s == NULL || !isalpha ((unsigned char) s[0]) || strlen (s) > 127)
    return false;
  for (i = 1; s[i]; i++)
    if (!isalnum ((unsigned char) s[i]) && !strchr ("-._", s[i]))
      return false;
  return true;
}

bool
vm_file_name_ok (const char *s)
{
  size_t i;

  if (s == NULL || s[0] == '\0' || s[0] == '.' || strlen (s) > 64)
    return false;
  for (i = 0; s[i]; i++)
    if (!isalnum ((unsigned char) s[i]) && !strchr ("._-", s[i]))
      return false;
  return true;
}

static bool
class_ok (const char *s, const char *extra, size_t max)
{
  size_t i;

  if (s[0] == '\0' || strlen (s) > max)
    return false;
  for (i = 0; s[i]; i++)
    if (!isalnum ((unsigned char) s[i]) && !strchr (extra, s[i]))
      return false;
  return true;
}

static bool
printable (const char *s)
{
  size_t i;

  for (i = 0; s[i]; i++)
    if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
      return false;
  return i <= 4096;
}

/* Decimal or 0x hexadecimal, the whole string. */
static int
parse_uint (const char *s, uint64_t *out)
{
  char *end;
  unsigned long long v;

  if (!isdigit ((unsigned char) s[0]))
    return -1;
  errno = 0;
  v = strtoull (s, &end, 0);
  if (errno || *end || (s[0] == '0' && s[1] && s[1] != 'x' && s[1] != 'X'))
    return -1;                  /* no octal: QEMU reads "010" as 10 */
  *out = v;
  return 0;
}

int
vm_parse_size (const char *s, uint64_t default_mult, uint64_t *out)
{
  static const char units[] = "BKMGTP";
  uint64_t whole = 0, frac = 0, fscale = 1, mult = default_mult;
  const char *p = s, *u;
  int n = 0;

  for (; isdigit ((unsigned char) *p) && n < 20; p++, n++)
    whole = whole * 10 + (*p - '0');
  if (n == 0 || n == 20)
    return -1;
  if (*p == '.') {
    for (p++, n = 0; isdigit ((unsigned char) *p) && n < 6; p++, n++) {
      frac = frac * 10 + (*p - '0');
      fscale *= 10;
    }
    if (n == 0)
      return -1;
  }
  if (*p) {
    u = strchr (units, toupper ((unsigned char) *p));
    if (u == NULL || p[1])
      return -1;
    mult = (uint64_t) 1 << (10 * (u - units));
  }
  if (__builtin_mul_overflow (whole, mult, &whole) ||
      __builtin_mul_overflow (frac, mult, &frac) || frac % fscale ||
      __builtin_add_overflow (whole, frac / fscale, out))
    return -1;                  /* overflow, or not a whole number of bytes */
  return 0;
}

/* [tcp|udp]:[ADDR]:PORT-[ADDR]:PORT */
static bool
hostfwd_ok (const char *s)
{
  CLEANUP_FREE char *c = strdup (s);
  char *parts[5], *p = c;
  size_t n = 0;
  unsigned char buf[16];
  uint64_t port;

  if (c == NULL)
    return false;
  for (n = 0; n < 5 && p; n++) {
    parts[n] = p;
    p = strpbrk (p, n == 2 ? "-" : ":");
    if (p)
      *p++ = '\0';
  }
  if (n != 5 || p || (strcmp (parts[0], "tcp") && strcmp (parts[0], "udp")
                      && parts[0][0]))
    return false;
  for (n = 1; n < 5; n += 2)
    if (parts[n][0] && inet_pton (AF_INET, parts[n], buf) != 1)
      return false;
  for (n = 2; n < 5; n += 2)
    if (parse_uint (parts[n], &port) == -1 || port > 65535)
      return false;
  return true;
}

static bool
mac_ok (const char *s)
{
  size_t i;

  if (strlen (s) != 17)
    return false;
  for (i = 0; i < 17; i++)
    if (i % 3 == 2 ? s[i] != ':' : !isxdigit ((unsigned char) s[i]))
      return false;
  return true;
}

static bool
uuid_ok (const char *s)
{
  size_t i;

  if (strlen (s) != 36)
    return false;
  for (i = 0; i < 36; i++)
    if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-'
        : !isxdigit ((unsigned char) s[i]))
      return false;
  return true;
}

static bool
ip_ok (const char *s, bool cidr)
{
  CLEANUP_FREE char *c = strdup (s);
  char *slash = c ? strchr (c, '/') : NULL;
  unsigned char buf[16];
  uint64_t len;
  int fam;

  if (c == NULL || (slash && !cidr))
    return false;
  if (slash)
    *slash = '\0';
  fam = inet_pton (AF_INET, c, buf) == 1 ? 4
    : inet_pton (AF_INET6, c, buf) == 1 ? 6 : 0;
  if (fam == 0)
    return false;
  return slash == NULL || (parse_uint (slash + 1, &len) == 0 &&
                           len <= (fam == 4 ? 32u : 128u));
}

static char *
canon_bool (const char *s)
{
  static const char *const on[] = { "on", "yes", "true", "y", NULL };
  static const char *const off[] = { "off", "no", "false", "n", NULL };
  size_t i;

  for (i = 0; on[i]; i++)
    if (strcmp (s, on[i]) == 0)
      return strdup ("on");
  for (i = 0; off[i]; i++)
    if (strcmp (s, off[i]) == 0)
      return strdup ("off");
  set_error (0, "'%s' is not on or off", s);
  return NULL;
}

static char *
canon_number (const struct vm_key *k, const char *s)
{
  uint64_t v;
  bool neg = k->type == VT_INT && s[0] == '-';

  if (k->type == VT_SIZE ? vm_parse_size (s, 1, &v) == -1
      : parse_uint (s + neg, &v) == -1 || (neg && v > INT64_MAX)) {
    set_error (0, "'%s' is not a%s number", s,
               k->type == VT_SIZE ? " size or" : "n unsigned");
    return NULL;
  }
  return xasprintf ("%s%" PRIu64, neg ? "-" : "", v);
}

static char *
canon_enum (const struct vm_key *k, const char *s)
{
  size_t i;

  for (i = 0; k->choices[i]; i++)
    if (strcmp (k->choices[i], s) == 0)
      return strdup (k->choices[i]);
  set_error (0, "'%s' is not one of the supported values (%s%s%s%s)", s,
             k->choices[0], k->choices[1] ? ", " : "",
             k->choices[1] ? k->choices[1] : "",
             k->choices[1] && k->choices[2] ? ", ..." : "");
  return NULL;
}

/* An absolute path (cwd makes a relative one absolute), with no control
 * characters, no "." or ".." components; a run file's last component
 * must be a safe file name (it names the file in the run directory).
 */
static char *
canon_path (const struct vm_key *k, const char *s, const char *cwd)
{
  CLEANUP_FREE char *abs = s[0] == '/' || cwd == NULL ? strdup (s)
    : xasprintf ("%s/%s", cwd, s);
  const char *last;

  if (abs == NULL)
    return NULL;
  /* QEMU reads "proto:..." as a protocol (json:, nbd:, file:...). */
  if (s[0] != '/' && strchr (s, ':') &&
      strchr (s, ':') < (strchr (s, '/') ? strchr (s, '/') : s + strlen (s))) {
    set_error (0, "'%.60s' names a protocol, not a file", s);
    return NULL;
  }
  if (abs[0] != '/' || !printable (abs) || strlen (abs) >= PATH_MAX ||
      strstr (abs, "/./") || strstr (abs, "/../") || strstr (abs, "//")) {
    set_error (0, "'%s' is not a usable %s path", s,
               abs[0] != '/' ? "absolute" : "plain");
    return NULL;
  }
  last = strrchr (abs, '/') + 1;
  if (strcmp (last, ".") == 0 || strcmp (last, "..") == 0 ||
      (k->type != VT_READDIR && last[0] == '\0') ||
      (k->type == VT_RUNFILE && !vm_file_name_ok (last))) {
    set_error (0, "'%s' does not end in a plain file name", s);
    return NULL;
  }
  /* vmferryd's own files in the run directory are vmferry-*. */
  if (k->type == VT_RUNFILE && strncmp (last, "vmferry-", 8) == 0) {
    set_error (0, "'%s': file names starting with vmferry- are reserved",
               s);
    return NULL;
  }
  return strdup (abs);
}

/* Types whose canonical text is the input once it passed a check. */
static bool
plain_ok (enum vm_type t, const char *s)
{
  switch (t) {
  case VT_ID: return vm_id_ok (s) && strncmp (s, "vmferry-", 8) != 0;
  case VT_REF: return vm_id_ok (s);
  case VT_TOKEN: return class_ok (s, "_.:+-", 128);
  case VT_STR: return printable (s);
  case VT_MAC: return mac_ok (s);
  case VT_IP: return ip_ok (s, false);
  case VT_CIDR: return ip_ok (s, true);
  case VT_HOSTFWD: return hostfwd_ok (s);
  case VT_UUID: return uuid_ok (s);
  default: return false;
  }
}

char *
vm_value_canon (const struct vm_key *k, const char *s, const char *cwd)
{
  switch (k->type) {
  case VT_BOOL:
    return canon_bool (s);
  case VT_UINT: case VT_INT: case VT_SIZE:
    return canon_number (k, s);
  case VT_ENUM:
    return canon_enum (k, s);
  case VT_DISK: case VT_RUNFILE: case VT_READFILE: case VT_READDIR:
    return canon_path (k, s, cwd);
  case VT_CHILD:
    if (s[0] == '\0' || vm_id_ok (s))   /* "" is null: no child */
      return strdup (s);
    break;
  default:
    if (plain_ok (k->type, s))
      return strdup (s);
    break;
  }
  set_error (0, "'%.80s%s' is not a valid %s", s, strlen (s) > 80 ? "..." : "",
             k->type == VT_ID ? "identifier (a letter, then letters, digits, "
             "'-', '.', '_'; 'vmferry-' is reserved)"
             : k->type == VT_REF || k->type == VT_CHILD ? "identifier"
             : k->type == VT_MAC ? "MAC address"
             : k->type == VT_HOSTFWD ? "forwarding rule" : "value here");
  return NULL;
}
