/* dest-probe.c: POST /v1/probe {"id", "paths": [...]} on the
 * destination agent: for each path, whether this host sees that file
 * and, beside it, the marker file the source made for migration id
 * (source-shared.c) -- that is, whether the disk is on storage both
 * hosts share.  Answers {"shared": [bool, ...]}.  Reads nothing but
 * the existence of those files.
 */
#include <config.h>

#include <libgen.h>

#include "internal.h"

#define MAX_PROBE_PATHS 64

/* Does this host see path and the marker of id beside it? */
static bool
sees (const char *path, const char *id)
{
  CLEANUP_FREE char *copy = strdup (path);
  CLEANUP_FREE char *marker = copy ? xasprintf ("%s/%s%s", dirname (copy),
                                                MIG_SHARED_MARKER, id)
    : NULL;

  return marker && access (path, R_OK | W_OK) == 0 &&
    access (marker, F_OK) == 0;
}

int
mig_dest_probe (void *opaque, const struct api_request *req, json_t **reply)
{
  const char *id = json_string_value (json_object_get (req->body, "id"));
  json_t *paths = json_object_get (req->body, "paths"), *p;
  json_t *shared;
  size_t i;

  if (!mig_safe_name (id))
    return mig_dest_error (reply, 400, "missing or malformed \"id\"");
  if (!json_is_array (paths) || json_array_size (paths) > MAX_PROBE_PATHS)
    return mig_dest_error (reply, 400, "\"paths\" must be an array of at "
                           "most 64 absolute paths");
  shared = json_array ();
  json_array_foreach (paths, i, p) {
    const char *s = json_string_value (p);
    if (s == NULL || s[0] != '/') {
      json_decref (shared);
      return mig_dest_error (reply, 400, "\"paths\" must be an array of at "
                             "most 64 absolute paths");
    }
    json_array_append_new (shared, json_boolean (sees (s, id)));
  }
  *reply = json_pack ("{s:o}", "shared", shared);
  return 200;
}
