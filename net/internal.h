/* internal.h: private to net/. */
#ifndef VMFERRY_NET_INTERNAL_H
#define VMFERRY_NET_INTERNAL_H

#include <stdint.h>
#include <time.h>

/* Clock clk (CLOCK_MONOTONIC, CLOCK_THREAD_CPUTIME_ID) in ns. */
static inline int64_t
net_internal_clock_ns (clockid_t clk)
{
  struct timespec ts;

  clock_gettime (clk, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
