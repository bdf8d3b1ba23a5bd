/* scope.c: a VM's QEMU outside the cgroup of whoever started it.
 *
 * Where systemd is PID 1 (/run/systemd/system exists), the QEMU is
 * registered with systemd-machined (CreateMachine: its own scope in
 * machine.slice, "machinectl list" shows it, as libvirt's VMs), or,
 * without machined, moved into a transient scope of its own
 * (StartTransientUnit).  Then "systemctl stop/kill vmferryd" does not
 * reach it.  Elsewhere there is nothing to do: vm_spawn_confined
 * already detached it (its own session, reparented to init), and no
 * service manager kills by cgroup.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-bus.h>
#endif

#include "internal.h"

bool
vm_scope_systemd (void)
{
  return access ("/run/systemd/system", F_OK) == 0;
}

/* A machine or unit name for VM name: "vmferry-NAME" with what machined
 * refuses in a host name ('_', '.') as '-'.
 */
static void
unit_name (const char *name, char *buf, size_t n)
{
  size_t i;

  snprintf (buf, n, "vmferry-%s", name);
  for (i = 0; buf[i]; i++)
    if (buf[i] == '_' || buf[i] == '.')
      buf[i] = '-';
}

#ifdef HAVE_LIBSYSTEMD
static int
create_machine (sd_bus *bus, const char *machine, pid_t pid,
                sd_bus_error *err)
{
  return sd_bus_call_method (bus, "org.freedesktop.machine1",
                             "/org/freedesktop/machine1",
                             "org.freedesktop.machine1.Manager",
                             "CreateMachine", err, NULL, "sayssusa(sv)",
                             machine, 0, "vmferry", "vm", (uint32_t) pid,
                             "", 0);
}

static int
transient_scope (sd_bus *bus, const char *machine, pid_t pid,
                 sd_bus_error *err)
{
  char unit[96];

  snprintf (unit, sizeof unit, "%s.scope", machine);
  return sd_bus_call_method (bus, "org.freedesktop.systemd1",
                             "/org/freedesktop/systemd1",
                             "org.freedesktop.systemd1.Manager",
                             "StartTransientUnit", err, NULL,
                             "ssa(sv)a(sa(sv))", unit, "fail", 3,
                             "PIDs", "au", 1, (uint32_t) pid,
                             "Slice", "s", "machine.slice",
                             "Description", "s", "vmferry VM", 0);
}

int
vm_scope_register (const char *name, pid_t pid)
{
  sd_bus *bus = NULL;
  sd_bus_error e1 = SD_BUS_ERROR_NULL, e2 = SD_BUS_ERROR_NULL;
  char machine[80];
  int r;

  if (!vm_scope_systemd ())
    return 0;
  unit_name (name, machine, sizeof machine);
  if ((r = sd_bus_open_system (&bus)) < 0) {
    set_error (-r, "the system bus (to give VM %s its own scope)", name);
    return -1;
  }
  r = create_machine (bus, machine, pid, &e1);
  if (r < 0)
    r = transient_scope (bus, machine, pid, &e2);
  if (r < 0)
    set_error (-r, "VM %s keeps the caller's cgroup: machined: %s; "
               "systemd: %s", name, e1.message ? e1.message : "-",
               e2.message ? e2.message : "-");
  sd_bus_error_free (&e1);
  sd_bus_error_free (&e2);
  sd_bus_unref (bus);
  return r < 0 ? -1 : 0;
}
#else
int
vm_scope_register (const char *name, pid_t pid)
{
  char machine[80];

  (void) pid;
  if (!vm_scope_systemd ())
    return 0;
  unit_name (name, machine, sizeof machine);
  set_error (0, "VM %s keeps the caller's cgroup: vmferry was built "
             "without libsystemd, so %s.scope cannot be made", name,
             machine);
  return -1;
}
#endif
