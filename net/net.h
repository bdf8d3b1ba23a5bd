/* net.h: vmferry's data channel between vmferry and vmferryd.
 *
 * This first part is the framing: every unit of data (a disk block, a
 * chunk of a relayed migration stream, a control message) travels as one
 * frame, compressed with lz4 when that makes it smaller and sent raw
 * otherwise.  Frames come from the network, so decoding validates every
 * field before it trusts it.  Streams, TLS and pacing build on this.
 *
 * Wire format (big-endian), NET_FRAME_HEADER bytes then wire_len bytes:
 *   u32 magic "VMFF" | u8 type | u8 flags | u16 channel |
 *   u32 raw_len | u32 wire_len | u64 arg
 * flags bit 0: payload is lz4 (block format) of raw_len bytes.
 * arg: the frame type's argument (a disk offset, a sequence number).
 *
 * Errors: -1 after set_error() (utils.h).  No shared state: thread-safe.
 */
#ifndef VMFERRY_NET_H
#define VMFERRY_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_FRAME_MAGIC 0x564d4646u     /* "VMFF" */
#define NET_FRAME_HEADER 24
#define NET_FRAME_MAX_PAYLOAD (4u << 20)  /* raw bytes in one frame */
#define NET_FRAME_LZ4 0x01

enum net_frame_type {
  NET_FRAME_DATA = 1,           /* arg: offset; payload: bytes */
  NET_FRAME_ZERO = 2,           /* arg: offset; raw_len zero bytes, no payload */
  NET_FRAME_STREAM = 3,         /* arg: sequence; payload: relayed bytes */
  NET_FRAME_CONTROL = 4,        /* payload: a JSON object */
  NET_FRAME_TYPE_MAX = 4,
};

struct net_frame {
  enum net_frame_type type;
  uint8_t flags;
  uint16_t channel;
  uint32_t raw_len;
  uint32_t wire_len;
  uint64_t arg;
};

/* Worst-case size of an encoded frame of len payload bytes. */
size_t net_frame_bound (size_t len);

/* Encode a frame into out (out_cap bytes, at least net_frame_bound(len)).
 * With compress, the payload is lz4-compressed unless that does not make
 * it smaller (incompressible data goes raw, never grows).  Returns the
 * frame's total size or -1.
 */
long net_frame_encode (const struct net_frame *f, const void *payload,
                       bool compress, void *out, size_t out_cap);

/* Parse and validate a header (NET_FRAME_HEADER bytes) into f. */
int net_frame_decode_header (const void *hdr, struct net_frame *f);

/* Decode f's wire payload (f->wire_len bytes) into out, which has room
 * for f->raw_len bytes.  Fails on any corruption, never overruns.
 */
int net_frame_decode_payload (const struct net_frame *f, const void *wire,
                              void *out);

#endif /* VMFERRY_NET_H */
