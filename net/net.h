/* net.h: data channels between vmferry and vmferryd (N parallel TLS
 * streams, framing, lz4, pacing).  Not written yet: the first migration
 * uses QEMU's own NBD and migration streams (with QEMU's TLS).
 */
#ifndef VMFERRY_NET_H
#define VMFERRY_NET_H
#endif
