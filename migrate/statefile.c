/* statefile.c: small JSON state files that survive a crash (written
 * with write_file_durable: PATH holds either the old or the new object,
 * never a torn one), and the resume state's shape.
 */
#include <config.h>

#include <errno.h>

#include "internal.h"

int
mig_json_save (const char *path, json_t *o)
{
  CLEANUP_FREE char *text = json_dumps (o, JSON_INDENT (2));
  CLEANUP_FREE char *line = text ? xasprintf ("%s\n", text) : NULL;

  if (line == NULL) {
    set_error (0, "cannot format %s", path);
    return -1;
  }
  return write_file_durable (path, line, strlen (line));
}

json_t *
mig_json_load (const char *path)
{
  json_error_t e;
  json_t *o = json_load_file (path, 0, &e);

  if (o == NULL)
    set_error (0, "%s: %s", path, e.text);
  else if (!json_is_object (o)) {
    set_error (0, "%s: not a JSON object", path);
    json_decref (o);
    o = NULL;
  }
  return o;
}

json_t *
mig_resume_state (const char *token, uint64_t size, uint64_t copied_to,
                  const char *dest)
{
  return json_pack ("{s:s, s:I, s:I, s:s, s:I}", "token", token,
                    "virtual_size", (json_int_t) size,
                    "copied_to", (json_int_t) copied_to,
                    "destination", dest,
                    "updated", (json_int_t) (wall_ms () / 1000));
}
