/* resume-state.c: the shape of a resumable copy's state file, kept
 * beside an image (source/resume.c, dest/undo.c).
 */
#include <config.h>

#include <jansson.h>

#include "utils.h"
#include "storage.h"

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
