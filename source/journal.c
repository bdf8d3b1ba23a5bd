/* source-journal.c: the source side's crash-safe journal of one
 * migration, kept in RUN_DIR/ID/state.json (control.c writes it
 * durably) under "journal":
 *
 *   version         1
 *   open            true until the migration ended with nothing to
 *                   finish (vmferry recover acts on open journals only)
 *   stage           how far it got (stage_names below)
 *   vm, qmp, vm_pid, was_running   the source VM and its monitor
 *   dest            {host, port, tls_dir, name}: the agent to ask
 *   keep_source     do not delete the source images
 *   delete          the source images deleted once the VM moved
 *   objects         [{kind, name}] what vmferry made on the source QEMU
 *                   or host, recorded *before* making it: kinds tls,
 *                   node, job, bitmap (name NODE/PREFIX), nbd-server,
 *                   export, dir
 *
 * vmferry recover (recover.c) finishes or rolls back from it; the
 * actual QEMU state decides, the journal says where to look.
 */
#include <config.h>

#include "internal.h"

static const char *const stage_names[] = {
  [SRC_NOTHING] = "setup", [SRC_PREPARED] = "prepared",
  [SRC_MIRRORING] = "mirroring", [SRC_MIGRATING] = "migrating",
  [SRC_SWITCHOVER] = "switchover", [SRC_COMPLETED] = "completed",
  [SRC_MOVED] = "moved",
};

const char *
src_stage_name (enum src_stage st)
{
  return stage_names[st];
}

static int
write_journal (struct source *s)
{
  if (s->journal == NULL)
    return 0;
  return src_control_journal (s->ctl, s->journal);
}

int
src_journal_begin (struct source *s)
{
  const struct mig_source_params *p = s->p;
  json_t *del = json_array ();
  size_t i;

  if (s->ctl == NULL)
    return 0;                   /* no run dir: nothing to recover from */
  for (i = 0; del && i < s->vm->n_disks; i++)
    if (src_disk_deletable (s->vm, &s->vm->disks[i]))
      json_array_append_new (del, json_string (s->vm->disks[i].path));
  s->journal = json_pack ("{s:i, s:b, s:s, s:s, s:s, s:i, s:b,"
                          " s:{s:s, s:i, s:s, s:s}, s:b, s:o, s:[]}",
                          "version", 1, "open", 1, "stage",
                          stage_names[s->stage], "vm", s->vm->name,
                          "qmp", s->vm->qmp_path, "vm_pid", (int) s->vm->pid,
                          "was_running", s->was_running,
                          "dest", "host", p->host, "port", p->port,
                          "tls_dir", p->tls_dir, "name",
                          p->dest_name ? p->dest_name : p->host,
                          "keep_source", p->keep_source || s->shared,
                          "delete", del, "objects");
  if (s->journal == NULL) {
    set_error (0, "cannot build the migration journal");
    return -1;
  }
  return write_journal (s);
}

int
src_journal_stage (struct source *s, enum src_stage st)
{
  s->stage = st;
  if (s->journal == NULL)
    return 0;
  json_object_set_new (s->journal, "stage", json_string (stage_names[st]));
  return write_journal (s);
}

int
src_journal_add (struct source *s, const char *kind, const char *name)
{
  json_t *objs = json_object_get (s->journal, "objects"), *o;
  size_t i;

  if (s->journal == NULL)
    return 0;
  json_array_foreach (objs, i, o)
    if (strcmp (json_string_value (json_object_get (o, "kind")), kind) == 0
        && strcmp (json_string_value (json_object_get (o, "name")),
                   name) == 0)
      return 0;
  json_array_append_new (objs, json_pack ("{s:s, s:s}", "kind", kind,
                                          "name", name));
  return write_journal (s);
}

void
src_journal_close (struct source *s, bool open)
{
  if (s->journal == NULL)
    return;
  json_object_set_new (s->journal, "open", json_boolean (open));
  if (write_journal (s) == -1)
    debug ("journal: %s", get_error ());
}
