/* libvirt-events.c: libvirt's domain events during vmferry migrate
 * libvirt:NAME (libvirt.h).
 *
 * libvirt calls back from its event loop, which a thread of ours runs
 * (virEventRunDefaultImpl, woken by a 200 ms timer to see the stop
 * flag).  The callbacks only write a small record to a pipe; the
 * migration's watch loop (libvirt-run.c) reads it and reports, so that
 * progress is written by one thread only.  Events: the domain paused
 * for the migration's last step (the switchover) or resumed, and each
 * pass of memory pre-copy (migration iteration).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>

#include "internal.h"
#include "libvirt.h"

#define WAKE_MS 200

static void
put (struct lv_events *e, char kind, int value)
{
  struct lv_event ev = { .kind = kind, .value = value };

  if (write (e->pipe[1], &ev, sizeof ev) != sizeof ev)
    debug ("libvirt events: pipe: %m");
}

static int
lifecycle (virConnectPtr c, virDomainPtr d, int event, int detail,
           void *opaque)
{
  if (event == VIR_DOMAIN_EVENT_SUSPENDED &&
      detail == VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED)
    put (opaque, 'p', 0);
  else if (event == VIR_DOMAIN_EVENT_RESUMED)
    put (opaque, 'r', detail);
  return 0;
}

static void
iteration (virConnectPtr c, virDomainPtr d, int pass, void *opaque)
{
  put (opaque, 'i', pass);
}

static void
wake (int timer, void *opaque)
{
}

static void *
loop (void *opaque)
{
  struct lv_events *e = opaque;

  while (!__atomic_load_n (&e->stop, __ATOMIC_ACQUIRE))
    if (virEventRunDefaultImpl () < 0)
      break;
  return NULL;
}

int
lv_events_start (struct lv_events *e, virConnectPtr c, virDomainPtr d)
{
  e->conn = c;
  e->ids[0] = e->ids[1] = e->timer = -1;
  if (pipe2 (e->pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
    e->pipe[0] = e->pipe[1] = -1;
    set_error (errno, "pipe");
    return -1;
  }
  e->ids[0] = virConnectDomainEventRegisterAny
    (c, d, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
     VIR_DOMAIN_EVENT_CALLBACK (lifecycle), e, NULL);
  e->ids[1] = virConnectDomainEventRegisterAny
    (c, d, VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
     VIR_DOMAIN_EVENT_CALLBACK (iteration), e, NULL);
  e->timer = virEventAddTimeout (WAKE_MS, wake, NULL, NULL);
  if (e->ids[0] < 0 || e->timer < 0 ||
      pthread_create (&e->thread, NULL, loop, e) != 0) {
    set_error (0, "libvirt's events: %s", lv_error ());
    lv_events_stop (e);
    return -1;
  }
  e->running = true;
  return 0;
}

int
lv_events_read (struct lv_events *e, struct lv_event *ev)
{
  return e->pipe[0] >= 0 &&
    read (e->pipe[0], ev, sizeof *ev) == sizeof *ev ? 1 : 0;
}

void
lv_events_stop (struct lv_events *e)
{
  int i;

  for (i = 0; i < 2; i++)
    if (e->ids[i] >= 0)
      virConnectDomainEventDeregisterAny (e->conn, e->ids[i]);
  e->ids[0] = e->ids[1] = -1;
  if (e->running) {
    __atomic_store_n (&e->stop, true, __ATOMIC_RELEASE);
    pthread_join (e->thread, NULL);
    e->running = false;
  }
  if (e->timer >= 0)
    virEventRemoveTimeout (e->timer);
  e->timer = -1;
  for (i = 0; i < 2; i++)
    if (e->pipe[i] >= 0)
      close (e->pipe[i]);
  e->pipe[0] = e->pipe[1] = -1;
}
