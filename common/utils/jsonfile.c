/* jsonfile.c: small JSON state files that survive a crash (written
 * with write_file_durable: PATH holds either the old or the new object,
 * never a torn one).
 */
#include <config.h>

#include <errno.h>

#include <jansson.h>

#include "utils.h"

int
json_state_save (const char *path, json_t *o)
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
json_state_load (const char *path)
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
