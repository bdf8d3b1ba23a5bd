/* cleanup.c: functions behind the CLEANUP_* attributes. */
#include <config.h>

#include "utils.h"

void
cleanup_free (void *ptr)
{
  free (*(void **) ptr);
}

void
cleanup_close (int *fd)
{
  if (*fd >= 0)
    close (*fd);
}

void
cleanup_fclose (FILE **fp)
{
  if (*fp)
    fclose (*fp);
}

void
cleanup_mutex_unlock (pthread_mutex_t **ptr)
{
  pthread_mutex_unlock (*ptr);
}

void
cleanup_strv (char ***strv)
{
  strv_free (*strv);
}
