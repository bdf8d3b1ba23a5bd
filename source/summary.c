/* summary.c: how a migration ended, for people and for scripts: the
 * result as text and as a stable code (vmferry(1) OUTPUT), and the final
 * object of vmferry migrate: times, downtime, the guest's stall and write
 * latency, bytes, where the VM is now.
 */
#include <config.h>

#include "internal.h"

const char *
mig_result_text (enum mig_result r)
{
  switch (r) {
  case MIG_OK: return "migrated";
  case MIG_USAGE: return "usage error";
  case MIG_REFUSED: return "refused, nothing was done";
  case MIG_FAILED_CLEAN:
    return "failed, source VM still running, destination cleaned";
  case MIG_FAILED_LEFTOVERS:
    return "failed, source VM still running, leftovers remain";
  case MIG_UNCERTAIN: return "state uncertain";
  }
  return "?";
}

const char *
mig_result_code (enum mig_result r)
{
  switch (r) {
  case MIG_OK: return "migrated";
  case MIG_USAGE: return "usage_error";
  case MIG_REFUSED: return "refused";
  case MIG_FAILED_CLEAN: return "failed_rolled_back";
  case MIG_FAILED_LEFTOVERS: return "failed_leftovers";
  case MIG_UNCERTAIN: return "uncertain";
  }
  return "?";
}

/* What stopped the guest, from QEMU's figures: the vCPUs throttled
 * (from the policy's throttle to the switchover) and the downtime.
 */
static void
stall (const struct source *s, json_t *o)
{
  int64_t throttled = s->conv.throttle_since && s->t_memory
    ? s->t_memory - s->conv.throttle_since : 0;
  json_int_t down = json_integer_value (json_object_get (o, "downtime_ms"));

  if (throttled > 0) {
    json_object_set_new (o, "throttled_ms", json_integer (throttled));
    json_object_set_new (o, "throttle_max_percent",
                         json_integer (s->conv.throttle_max));
  }
  json_object_set_new (o, "stall_ms", json_integer (down + throttled));
}

json_t *
src_summary (struct source *s, enum mig_result r)
{
  json_t *info = s->migrate_info;
  json_t *ram = json_object_get (info, "ram");
  double resumed = json_real_value (json_object_get (s->prepared,
                                                     "resumed"));
  uint64_t link, cap;
  json_t *o = json_pack ("{s:s, s:s, s:i, s:s, s:s?, s:s, s:o}",
                         "result", mig_result_code (r),
                         "result_text", mig_result_text (r), "exit_code", r,
                         "vm", s->vm ? s->vm->name : s->p->vm,
                         "id", s->id[0] ? s->id : NULL,
                         "destination", s->p->dest_name ? s->p->dest_name
                         : s->p->host,
                         "total_s", progress_seconds ((now_ms () - s->t_start)
                                                      / 1000.0));

  if (r != MIG_OK) {
    json_object_set_new (o, "error", json_string (get_error ()));
    return o;
  }
  if (s->p->dry_run) {
    json_object_set_new (o, "result", json_string ("rehearsed"));
    json_object_set_new (o, "result_text", json_string
                         ("rehearsed: everything was connected, then torn "
                          "down; the VM runs on the source"));
    json_object_set (o, "exercised", s->rehearsal);
    return o;
  }
  json_object_set_new (o, "storage_s", progress_seconds
                       ((s->t_storage - s->t_start) / 1000.0));
  json_object_set_new (o, "memory_s", progress_seconds
                       ((s->t_memory - s->t_storage) / 1000.0));
  if (json_object_get (info, "downtime"))
    json_object_set (o, "downtime_ms", json_object_get (info, "downtime"));
  stall (s, o);
  if (resumed > 0 && s->stop_time > 0)
    json_object_set_new (o, "stop_to_resume_ms",
                         json_integer ((resumed - s->stop_time) * 1000));
  json_object_set_new (o, "storage_bytes", json_integer (s->storage_bytes));
  json_object_set_new (o, "memory_bytes", json_integer
                       (json_integer_value (json_object_get (ram,
                                                             "transferred"))));
  if (s->rl.multifd_channels) {
    json_object_set_new (o, "multifd_channels",
                         json_integer (s->rl.multifd_channels));
    json_object_set_new (o, "multifd_compression",
                         json_string (s->rl.multifd_compression));
  }
  net_pace_get_link (s->pace, &link, &cap);
  if (cap) {
    json_object_set_new (o, "link_bytes_per_s", json_integer (link));
    json_object_set_new (o, "paced_bytes_per_s", json_integer (cap));
  }
  if (s->rl.conns) {
    json_object_set_new (o, "memory_wire_bytes",
                         json_integer (s->rl.wire));
    json_object_set_new (o, "memory_connections",
                         json_integer (s->rl.conns));
  }
  json_object_set (o, "qmp", json_object_get (s->prepared, "qmp"));
  json_object_set (o, "files", json_object_get (s->prepared, "files"));
  json_object_set_new (o, "source_deleted", json_boolean (s->deleted));
  if (s->latency)
    json_object_set_new (o, "write_latency", src_latency_report (s));
  if (s->p->quarantine_s)
    json_object_set_new (o, "quarantine_s",
                         json_integer (s->p->quarantine_s));
  return o;
}
