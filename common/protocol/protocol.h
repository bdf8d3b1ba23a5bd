/* protocol.h: what vmferry and vmferryd agree on, beyond HTTP and JSON
 * (vmferry-api(7)): shared limits and names.  Header only; every layer
 * above api/ may include it.
 */
#ifndef VMFERRY_PROTOCOL_H
#define VMFERRY_PROTOCOL_H

/* Most multifd channels a source may relay or ask for (prepare's
 * "multifd_channels").
 */
#define MIG_MAX_CHANNELS 16

#endif /* VMFERRY_PROTOCOL_H */
