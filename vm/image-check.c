/* image-check.c: the check vmferryd makes before it reopens, exports,
 * reuses or stores an image whose content came from a peer.
 *
 * A guest (or the source) writes anything into a disk: a raw image may
 * hold a qcow2 header naming a backing file or an external data file,
 * say /etc/shadow.  Opened as raw it is only data; opened as qcow2
 * (named so, or probed) QEMU, qemu-nbd or qemu-img would open the host
 * file and serve its content.  So an image is read with the format it
 * was created in, never probed (-f), and must name no other file.
 * qemu-img info opens neither the backing file nor the data file (QEMU
 * 7.2 opens the image with BDRV_O_NO_BACKING | BDRV_O_NO_IO), and runs
 * with a time limit.
 */
#include <config.h>

#include "internal.h"

#define CHECK_TIMEOUT_MS 30000
#define SHA256_TIMEOUT_MS 300000   /* 5 min: a DVD image on a slow disk */

/* What in qemu-img's description of an image names another file, or
 * NULL.  path: the image itself.
 */
static const char *
external_file (json_t *info, const char *path)
{
  json_t *data = json_object_get (json_object_get (info, "format-specific"),
                                  "data");
  json_t *children = json_object_get (info, "children"), *c;
  size_t i;

  if (json_object_get (info, "backing-filename") ||
      json_object_get (info, "full-backing-filename") ||
      json_object_get (info, "backing-filename-format"))
    return "a backing file";
  if (json_object_get (data, "data-file") ||
      json_object_get (data, "data-file-raw"))
    return "an external data file";
  /* QEMU 8.0 and later list the node's children: only the image's own
   * file may be there.
   */
  json_array_foreach (children, i, c) {
    const char *name = json_string_value (json_object_get (c, "name"));
    const char *f = json_string_value
      (json_object_get (json_object_get (c, "info"), "filename"));
    if (name == NULL || strcmp (name, "file") != 0 || f == NULL ||
        strcmp (f, path) != 0)
      return "another child node";
  }
  return NULL;
}

/* qemu-img info of path, with -f format unless probe. */
static json_t *
image_info (const char *path, const char *format, bool probe)
{
  char *argv[] = { "qemu-img", "info", "--output=json", "-f",
                   (char *) format, (char *) path, NULL };
  CLEANUP_FREE char *out = NULL;
  json_error_t e;
  json_t *info;
  int r;

  if (probe) {                  /* drop "-f FORMAT" */
    argv[3] = (char *) path;
    argv[4] = NULL;
  }
  r = run_capture_timeout (argv, &out, CHECK_TIMEOUT_MS);
  if (r == -1)
    return NULL;
  if (r != 0) {
    if (out)
      out[strcspn (out, "\n")] = '\0';
    set_error (0, "qemu-img info: %s", out && *out ? out : "failed");
    return NULL;
  }
  info = json_loads (out, 0, &e);
  if (info == NULL)
    set_error (0, "qemu-img info: %s", e.text);
  return info;
}

int
mig_image_check (const char *path, const char *format, bool probe)
{
  json_auto_t *info = NULL;
  const char *f, *why;

  if (strcmp (format, "raw") != 0 && strcmp (format, "qcow2") != 0) {
    set_error (0, "image %s: format %s is not one vmferry moves", path,
               format);
    return -1;
  }
  if ((info = image_info (path, format, probe)) == NULL) {
    prefix_error ("image %s", path);
    return -1;
  }
  f = json_string_value (json_object_get (info, "format"));
  if (f == NULL || strcmp (f, format) != 0) {
    set_error (0, "image %s, a %s image, reads as %s%s", path, format,
               f ? f : "an unknown format",
               probe ? " when its format is probed" : "");
    return -1;
  }
  why = external_file (info, path);
  if (why) {
    set_error (0, "image %s, read as %s%s, names %s", path, format,
               probe ? " (probed)" : "", why);
    return -1;
  }
  return 0;
}

int
mig_image_check_reopen (const struct vm_desc *desc, const char *path,
                        const char *image, const char *format)
{
  ssize_t x = desc ? vm_find_disk (desc, path) : -1;
  const char *opened = x >= 0 ? desc->disks[x].format : NULL;

  if (desc && x < 0) {
    set_error (0, "%s is not an image of the VM's command line", path);
    return -1;
  }
  if (opened && strcmp (opened, format) != 0) {
    set_error (0, "the command line opens %s as %s, not as %s, the "
               "format it was created in", path, opened, format);
    return -1;
  }
  if (mig_image_check (image, format, false) == -1)
    return -1;
  /* Left to QEMU's probe (no command line known, or none names the
   * format): qemu-img's probe (the same code) must find the same format,
   * with nothing external either.
   */
  return opened == NULL ? mig_image_check (image, format, true) : 0;
}

char *
mig_file_sha256 (const char *path)
{
  char *argv[] = { (char *) "sha256sum", (char *) "-b", (char *) "--",
                   (char *) path, NULL };
  CLEANUP_FREE char *out = NULL;
  size_t n;

  if (run_capture_timeout (argv, &out, SHA256_TIMEOUT_MS) != 0 ||
      out == NULL || (n = strspn (out, "0123456789abcdef")) != 64) {
    set_error (0, "sha256sum %s: %s", path, out ? out : get_error ());
    return NULL;
  }
  return strndup (out, 64);
}
