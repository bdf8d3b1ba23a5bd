/* dest-tap.c: the tap devices of a received VM, made by vmferryd.
 *
 * QEMU never runs a helper or a script on this host: for each tap or
 * bridge back-end, vmferryd opens a tap (/dev/net/tun), attaches it to
 * the bridge the VM was on (only bridges vmferryd is configured to
 * allow, like QEMU's bridge.conf), gives it the bridge's MTU, brings it
 * up, and hands the descriptor to QEMU.  The tap is not persistent: it
 * disappears when the last descriptor (QEMU's) closes.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "internal.h"

/* Is bridge among the allowed ones, and a bridge on this host? */
static int
bridge_allowed (struct mig_dest *d, const char *bridge)
{
  CLEANUP_FREE char *sys = xasprintf ("/sys/class/net/%s/bridge", bridge);
  struct stat st;
  size_t i;

  for (i = 0; d->p.bridges && d->p.bridges[i]; i++)
    if (strcmp (d->p.bridges[i], bridge) == 0)
      break;
  if (d->p.bridges == NULL || d->p.bridges[i] == NULL) {
    set_error (0, "bridge %s is not one this host lets VMs join (vmferryd "
               "--bridge %s)", bridge, bridge);
    return -1;
  }
  if (sys == NULL || stat (sys, &st) == -1) {
    set_error (0, "bridge %s does not exist on this host", bridge);
    return -1;
  }
  return 0;
}

/* ioctl on an AF_INET socket for interface requests. */
static int
if_ioctl (unsigned long req, struct ifreq *ifr, const char *what)
{
  CLEANUP_CLOSE int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (s == -1 || ioctl (s, req, ifr) == -1) {
    set_error (errno, "%s %s", what, ifr->ifr_name);
    return -1;
  }
  return 0;
}

/* Attach tap (its name) to bridge, same MTU, up. */
static int
attach (const char *tap, const char *bridge)
{
  struct ifreq br = { 0 }, t = { 0 };
  int mtu;

  snprintf (br.ifr_name, IFNAMSIZ, "%s", bridge);
  snprintf (t.ifr_name, IFNAMSIZ, "%s", tap);
  if (if_ioctl (SIOCGIFMTU, &br, "mtu of") == -1)
    return -1;
  mtu = br.ifr_mtu;
  t.ifr_mtu = mtu;
  if (if_ioctl (SIOCSIFMTU, &t, "set mtu of") == -1)
    return -1;
  br.ifr_ifindex = if_nametoindex (tap);
  if (br.ifr_ifindex == 0 || if_ioctl (SIOCBRADDIF, &br, "add to") == -1)
    return -1;
  if (if_ioctl (SIOCGIFFLAGS, &t, "flags of") == -1)
    return -1;
  t.ifr_flags |= IFF_UP;
  return if_ioctl (SIOCSIFFLAGS, &t, "bring up");
}

/* A new tap on bridge.  Its descriptor, or -1 + set_error. */
static int
tap_open (const char *bridge, bool vnet_hdr)
{
  struct ifreq ifr = { 0 };
  int fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);

  if (fd == -1) {
    set_error (errno, "open /dev/net/tun");
    return -1;
  }
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
  snprintf (ifr.ifr_name, IFNAMSIZ, "vmftap%%d");
  if (ioctl (fd, TUNSETIFF, &ifr) == -1) {
    set_error (errno, "creating a tap device");
    close (fd);
    return -1;
  }
  if (attach (ifr.ifr_name, bridge) == -1) {
    close (fd);
    return -1;
  }
  return fd;
}

void
mig_dest_taps_close (struct dest_job *j)
{
  size_t i;

  for (i = 0; j->tap_fds && j->tap_fds[i] != -2; i++) {
    if (j->tap_fds[i] >= 0)
      close (j->tap_fds[i]);
    if (j->vhost_fds[i] >= 0)
      close (j->vhost_fds[i]);
  }
  free (j->tap_fds);
  free (j->vhost_fds);
  j->tap_fds = j->vhost_fds = NULL;
}

/* Open one net's tap (and vhost-net).  0, 422 or 500. */
static int
open_net (struct mig_dest *d, struct dest_job *j, size_t i)
{
  const struct vm_net *n = &j->desc->nets[i];

  if (n->type == VM_NET_USER)
    return 0;
  if (n->bridge == NULL) {
    set_error (0, "network %s: the source did not say which bridge its tap "
               "%s is on", n->id ? n->id : "(-nic)",
               n->ifname ? n->ifname : "");
    return 422;
  }
  if (bridge_allowed (d, n->bridge) == -1)
    return 422;
  j->tap_fds[i] = tap_open (n->bridge, n->vnet_hdr);
  if (j->tap_fds[i] == -1)
    return 500;
  if (n->vhost) {
    j->vhost_fds[i] = open ("/dev/vhost-net", O_RDWR | O_CLOEXEC);
    if (j->vhost_fds[i] == -1) {
      set_error (errno, "vhost=on: open /dev/vhost-net");
      return 422;
    }
  }
  return 0;
}

int
mig_dest_taps_open (struct mig_dest *d, struct dest_job *j)
{
  size_t i, n = j->desc->n_nets;
  int status;

  j->tap_fds = malloc ((n + 1) * sizeof *j->tap_fds);
  j->vhost_fds = malloc ((n + 1) * sizeof *j->vhost_fds);
  if (j->tap_fds == NULL || j->vhost_fds == NULL) {
    set_error (errno, "malloc");
    return 500;
  }
  for (i = 0; i < n; i++)
    j->tap_fds[i] = j->vhost_fds[i] = -1;
  j->tap_fds[n] = j->vhost_fds[n] = -2;       /* the end */
  for (i = 0; i < n; i++)
    if ((status = open_net (d, j, i)) != 0) {
      prefix_error ("network %s", j->desc->nets[i].id ? j->desc->nets[i].id
                    : "(-nic)");
      return status;
    }
  return 0;
}
