/* acked.c: what link.c needs of a TCP socket, from TCP_INFO: the bytes
 * the peer has acknowledged (tcpi_bytes_acked, Linux 4.1 and later),
 * what went through the link; and how far the smoothed RTT is above the
 * lowest seen (tcpi_min_rtt, 4.6), the queue along the path.  Apart
 * from sock.c because <linux/tcp.h>, which has those fields, clashes
 * with <netinet/tcp.h>.
 */
#include <config.h>

#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/tcp.h>

#include "net.h"

int
net_sock_acked (int fd, uint64_t *acked, uint32_t *queue_us)
{
  struct tcp_info ti = { 0 };
  socklen_t len = sizeof ti;

  if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
      len < offsetof (struct tcp_info, tcpi_min_rtt) +
      sizeof ti.tcpi_min_rtt ||
      len < offsetof (struct tcp_info, tcpi_bytes_acked) +
      sizeof ti.tcpi_bytes_acked)
    return -1;
  *acked = ti.tcpi_bytes_acked;
  *queue_us = ti.tcpi_rtt > ti.tcpi_min_rtt ? ti.tcpi_rtt - ti.tcpi_min_rtt
    : 0;
  return 0;
}
