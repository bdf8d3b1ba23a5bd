/* control.c: the CONTROL messages of a stream, short texts (the frame's
 * arg carries a number):
 *
 *   "hello ID"   first frame of every stream: the migration it belongs to
 *   "ok"         the receiver accepts the stream
 *   "flush"      barrier: the receiver finishes every earlier frame of the
 *                stream, flushes the destination, and answers
 *   "ack"        the barrier's answer (arg: the flush's arg)
 *   "error MSG"  the receiver failed (then closes the stream)
 *   "relay"      second frame of a relay stream (relay.c; arg: QEMU's
 *                connection number): what follows are STREAM frames for
 *                the skeleton's incoming migration; answered "ok" once
 *                the receiver is connected to it
 *   "eof"        QEMU ended the relayed connection (arg: the number of
 *                STREAM frames sent); answered "ack" once all of them
 *                were handed to the skeleton
 */
#include <config.h>

#include "utils.h"
#include "net.h"

#define MAX_CONTROL 1024

int
net_control_send (struct net_stream *s, const char *msg, uint64_t arg)
{
  struct net_frame f = { .type = NET_FRAME_CONTROL, .arg = arg,
                         .raw_len = strnlen (msg, MAX_CONTROL) };

  return net_stream_send (s, &f, msg);
}

int
net_control_recv (struct net_stream *s, char *msg, size_t size,
                  uint64_t *arg)
{
  struct net_frame f;
  const void *pl;

  if (net_stream_recv (s, &f, &pl) == -1)
    return -1;
  if (f.type != NET_FRAME_CONTROL || f.raw_len >= size ||
      f.raw_len > MAX_CONTROL || memchr (pl, '\0', f.raw_len)) {
    set_error (0, "data channel: expected a control message, got a frame "
               "of type %d and %" PRIu32 " bytes", f.type, f.raw_len);
    return -1;
  }
  memcpy (msg, pl, f.raw_len);
  msg[f.raw_len] = '\0';
  *arg = f.arg;
  return 0;
}

int
net_control_expect (struct net_stream *s, const char *word, uint64_t arg)
{
  char msg[MAX_CONTROL + 1];
  uint64_t got;

  if (net_control_recv (s, msg, sizeof msg, &got) == -1)
    return -1;
  if (strncmp (msg, "error ", 6) == 0) {
    set_error (0, "data channel: the receiver failed: %s", msg + 6);
    return -1;
  }
  if (strcmp (msg, word) != 0 || got != arg) {
    set_error (0, "data channel: expected \"%s\" %" PRIu64 ", got \"%.64s\" "
               "%" PRIu64, word, arg, msg, got);
    return -1;
  }
  return 0;
}

int
net_stream_barrier (struct net_stream *s, uint64_t seq)
{
  if (net_control_send (s, "flush", seq) == -1 ||
      net_control_expect (s, "ack", seq) == -1) {
    prefix_error ("flush barrier");
    return -1;
  }
  return 0;
}
