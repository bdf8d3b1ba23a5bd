/* acked.c: the bytes a TCP peer has acknowledged on a socket (TCP_INFO's
 * tcpi_bytes_acked, Linux 4.1 and later): what went through the link,
 * for link.c.  Apart from sock.c because <linux/tcp.h>, which has the
 * field, clashes with <netinet/tcp.h>.
 */
#include <config.h>

#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/tcp.h>

#include "net.h"

int
net_sock_acked (int fd, uint64_t *acked)
{
  struct tcp_info ti = { 0 };
  socklen_t len = sizeof ti;

  if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
      len < offsetof (struct tcp_info, tcpi_bytes_acked) +
      sizeof ti.tcpi_bytes_acked)
    return -1;
  *acked = ti.tcpi_bytes_acked;
  return 0;
}
