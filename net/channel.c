/* channel.c: the sending side of the data channel: N TLS streams to
 * vmferryd's data listener, each introduced by "hello ID" and accepted
 * with "ok", sharing one rate limit.  Stream i belongs to one thread at
 * a time (the copier's worker i); the channel itself is owned by one
 * thread.
 */
#include <config.h>

#include <errno.h>

#include "utils.h"
#include "net.h"

struct net_channel {
  unsigned n;
  struct net_stream **s;        /* n streams, owned */
  struct net_pace *pace;        /* shared by the streams */
  bool own_pace;                /* pace is ours (not p->pace) */
};

struct net_stream *
net_channel_open_stream (const struct net_channel_params *p,
                         struct net_pace *pace, unsigned i)
{
  int fd = net_connect (p->host, p->port, !net_pace_follows_link (pace));
  struct net_tls *t = fd >= 0 ? net_tls_start (fd, p->tls_dir, false) : NULL;
  struct net_stream *s = t ? net_stream_new (t, p->mode, pace) : NULL;
  CLEANUP_FREE char *hello = xasprintf ("hello %s", p->id);

  if (s)
    net_stream_allow_zstd (s, p->zstd);
  if (s == NULL || hello == NULL || net_control_send (s, hello, i) == -1 ||
      net_control_expect (s, "ok", i) == -1) {
    prefix_error ("data channel to %s port %d, stream %u", p->host, p->port,
                  i);
    net_stream_free (s);
    return NULL;
  }
  return s;
}

struct net_channel *
net_channel_connect (const struct net_channel_params *p)
{
  struct net_channel *ch = calloc (1, sizeof *ch);
  unsigned i;

  if (ch == NULL || (ch->s = calloc (p->streams, sizeof *ch->s)) == NULL) {
    set_error (errno, "calloc");
    free (ch);
    return NULL;
  }
  ch->own_pace = p->pace == NULL;
  ch->pace = p->pace ? p->pace : net_pace_new (p->bandwidth, p->follow_link);
  for (i = 0; i < p->streams; i++) {
    if ((ch->s[i] = net_channel_open_stream (p, ch->pace, i)) == NULL) {
      net_channel_free (ch);
      return NULL;
    }
    ch->n++;
  }
  return ch;
}

void
net_channel_free (struct net_channel *ch)
{
  unsigned i;

  if (ch == NULL)
    return;
  for (i = 0; i < ch->n; i++)
    net_stream_free (ch->s[i]);
  free (ch->s);
  if (ch->own_pace)
    net_pace_free (ch->pace);
  free (ch);
}

unsigned
net_channel_streams (const struct net_channel *ch)
{
  return ch->n;
}

struct net_stream *
net_channel_stream (struct net_channel *ch, unsigned i)
{
  return i < ch->n ? ch->s[i] : NULL;
}

void
net_channel_get_stats (const struct net_channel *ch,
                       struct net_stream_stats *st)
{
  unsigned i;

  memset (st, 0, sizeof *st);
  for (i = 0; i < ch->n; i++) {
    struct net_stream_stats one;
    net_stream_get_stats (ch->s[i], &one);
    st->frames += one.frames;
    st->raw_bytes += one.raw_bytes;
    st->wire_bytes += one.wire_bytes;
    st->compressed += one.compressed;
    st->zstd += one.zstd;
  }
}
