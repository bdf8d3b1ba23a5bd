/* recover-source.c: what vmferry recover does on the source host: end
 * QEMU's migration, remove vmferry's objects from the source QEMU
 * (block jobs, NBD client nodes, dirty bitmaps, exports, NBD server,
 * TLS object), resume the VM, or quit it and delete its images once it
 * runs on the destination.  Every step is "remove if present", so a
 * second run (after a crash of the first) does no harm.
 */
#include <config.h>

#include <errno.h>

#include "recover.h"

#define END_TIMEOUT 30000

static bool
prefixed (const char *s)
{
  return s && strncmp (s, "vmferry-", 8) == 0;
}

static const char *
migration_status (struct qmp *q, json_t **info)
{
  *info = qmp_commandf (q, QMP_TIMEOUT_MS, "query-migrate", NULL);
  return json_string_value (json_object_get (*info, "status"));
}

static const char *
run_status (struct qmp *q, json_t **st)
{
  *st = qmp_commandf (q, QMP_TIMEOUT_MS, "query-status", NULL);
  return json_string_value (json_object_get (*st, "status"));
}

/* Is QEMU's migration state st one that has ended? */
static bool
ended (const char *st)
{
  return st == NULL || strcmp (st, "completed") == 0 ||
    strcmp (st, "failed") == 0 || strcmp (st, "cancelled") == 0 ||
    strcmp (st, "none") == 0;
}

int
rec_source_migration (struct qmp *q, enum rec_migration *m)
{
  json_auto_t *info = NULL, *st = NULL;
  const char *ms = migration_status (q, &info), *rs;
  int i;

  if (info == NULL)
    return -1;
  if (ms && strncmp (ms, "postcopy", 8) == 0) {
    *m = REC_POSTCOPY;
    return 0;
  }
  if (!ended (ms)) {
    json_decref (qmp_commandf (q, QMP_TIMEOUT_MS, "migrate_cancel", NULL));
    for (i = 0; i < END_TIMEOUT / 100 && !ended (ms); i++) {
      json_decref (info);
      usleep (100000);
      ms = migration_status (q, &info);
    }
    if (!ended (ms)) {
      set_error (0, "the source QEMU's migration does not end (%s)", ms);
      return -1;
    }
  }
  rs = run_status (q, &st);
  if (rs == NULL)
    return -1;
  /* Completed and still paused after it: the destination has it all.
   * Completed but running: someone resumed it here already.
   */
  *m = ms && strcmp (ms, "completed") == 0 && strcmp (rs, "postmigrate") == 0
    ? REC_COMPLETED : REC_NOT_MIGRATED;
  return 0;
}

/* Remove one of our block jobs (cancel) or exports (hard delete). */
static void
remove_job (struct qmp *q, json_t *job)
{
  json_decref (qmp_commandf (q, QMP_TIMEOUT_MS, "block-job-cancel",
                             "{s:s, s:b}", "device", json_string_value
                             (json_object_get (job, "device")), "force", 1));
}

static void
remove_export (struct qmp *q, json_t *exp)
{
  if (!json_is_true (json_object_get (exp, "shutting-down")))
    json_decref (qmp_commandf (q, QMP_TIMEOUT_MS, "block-export-del",
                               "{s:s, s:s}", "id", json_string_value
                               (json_object_get (exp, "id")),
                               "mode", "hard"));
}

/* Remove each of our items that query lists (named by key), once, and
 * wait until none is left (both end asynchronously).  -1 + set_error if
 * some remain.
 */
static int
remove_all (struct qmp *q, const char *query, const char *key,
            void (*remove) (struct qmp *, json_t *))
{
  int i;

  for (i = 0; i < END_TIMEOUT / 100; i++) {
    json_auto_t *items = qmp_commandf (q, QMP_TIMEOUT_MS, query, NULL);
    json_t *it;
    size_t k, n = 0;
    json_array_foreach (items, k, it) {
      if (!prefixed (json_string_value (json_object_get (it, key))))
        continue;
      n++;
      if (i == 0)
        remove (q, it);
    }
    if (n == 0)
      return 0;
    usleep (100000);
  }
  set_error (0, "%s: vmferry's items do not go away on the source QEMU",
             query);
  return -1;
}

/* Our NBD client nodes and our dirty bitmaps on any node. */
static void
del_nodes_and_bitmaps (struct qmp *q)
{
  json_auto_t *nodes = qmp_commandf (q, QMP_TIMEOUT_MS, "query-named-block-nodes", NULL);
  json_t *n, *b;
  size_t i, k;

  json_array_foreach (nodes, i, n) {
    const char *node = json_string_value (json_object_get (n, "node-name"));
    json_array_foreach (json_object_get (n, "dirty-bitmaps"), k, b) {
      const char *name = json_string_value (json_object_get (b, "name"));
      if (node && prefixed (name))
        json_decref (qmp_commandf (q, QMP_TIMEOUT_MS, "block-dirty-bitmap-remove", "{s:s, s:s}",
                          "node", node, "name", name));
    }
  }
  json_array_foreach (nodes, i, n) {
    const char *node = json_string_value (json_object_get (n, "node-name"));
    if (node && strncmp (node, "vmferry-nbd-", 12) == 0)
      json_decref (qmp_commandf (q, QMP_TIMEOUT_MS, "blockdev-del", "{s:s}", "node-name", node));
  }
}

/* The journal lists an object of this kind. */
static json_t *
journaled (json_t *j, const char *kind)
{
  json_t *o;
  size_t i;

  json_array_foreach (json_object_get (j, "objects"), i, o)
    if (strcmp (json_string_value (json_object_get (o, "kind")), kind) == 0)
      return o;
  return NULL;
}

/* Objects of the host: our private socket directories. */
static void
del_dirs (json_t *j)
{
  json_t *o;
  size_t i;

  json_array_foreach (json_object_get (j, "objects"), i, o) {
    const char *kind = json_string_value (json_object_get (o, "kind"));
    const char *name = json_string_value (json_object_get (o, "name"));
    if (strcmp (kind, "dir") == 0 && name &&
        (strncmp (name, "/tmp/vmferry-src-", 17) == 0 ||
         strncmp (name, "/tmp/vmferry-relay-", 19) == 0))
      remove_tree (name);
  }
}

int
rec_source_rollback (struct qmp *q, json_t *j)
{
  json_auto_t *st = NULL;
  const char *rs;
  int r = remove_all (q, "query-block-jobs", "device", remove_job);

  if (remove_all (q, "query-block-exports", "id", remove_export) == -1)
    r = -1;
  /* The NBD server only if vmferry started it (the VM may run its own). */
  if (journaled (j, "nbd-server"))
    json_decref (qmp_commandf (q, QMP_TIMEOUT_MS, "nbd-server-stop", NULL));
  del_nodes_and_bitmaps (q);
  if (journaled (j, "tls")) {
    json_decref (qmp_commandf (q, QMP_TIMEOUT_MS, "migrate-set-parameters", "{s:s, s:s}",
                      "tls-creds", "", "tls-hostname", ""));
    json_decref (qmp_commandf (q, QMP_TIMEOUT_MS, "object-del", "{s:s}", "id", MIG_TLS_ID));
  }
  json_decref (qmp_commandf (q, QMP_TIMEOUT_MS, "migrate-set-capabilities", "{s:[{s:s, s:b}]}",
                    "capabilities", "capability", "pause-before-switchover",
                    "state", 0));
  del_dirs (j);
  rs = run_status (q, &st);
  if (rs == NULL)
    return -1;
  if (json_is_true (json_object_get (j, "was_running")) &&
      strcmp (rs, "running") != 0) {
    json_t *c = qmp_commandf (q, QMP_TIMEOUT_MS, "cont", NULL);
    if (c == NULL)
      return -1;
    json_decref (c);
  }
  return r;
}

int
rec_source_quit (struct qmp *q, pid_t pid)
{
  int i;

  json_decref (qmp_commandf (q, QMP_TIMEOUT_MS, "quit", NULL));
  for (i = 0; i < 1000; i++) {
    if (!pid_alive (pid))
      return 0;
    usleep (10000);
  }
  /* It is paused and its VM runs elsewhere: SIGKILL is safe. */
  return mig_qemu_kill (pid);
}

int
rec_source_delete (json_t *j)
{
  json_t *p;
  size_t i;
  int r = 0;

  if (json_is_true (json_object_get (j, "keep_source")))
    return 0;
  json_array_foreach (json_object_get (j, "delete"), i, p) {
    const char *path = json_string_value (p);
    if (path && unlink (path) == -1 && errno != ENOENT) {
      set_error (errno, "delete %s", path);
      r = -1;
    }
  }
  return r;
}
