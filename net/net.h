/* net.h: vmferry's data channel between vmferry and vmferryd.
 *
 * This first part is the framing: every unit of data (a disk block, a
 * chunk of a relayed migration stream, a control message) travels as one
 * frame, raw, lz4-compressed on its own, or zstd-compressed with the
 * history of the stream's earlier zstd frames (codec.c).  Frames come
 * from the network, so decoding validates every field before it trusts
 * it.  Streams (TLS, pacing, the auto rule) and the channel of N streams
 * build on this.
 *
 * Wire format (big-endian), NET_FRAME_HEADER bytes then wire_len bytes:
 *   u32 magic "VMFF" | u8 type | u8 flags | u16 channel |
 *   u32 raw_len | u32 wire_len | u64 arg
 * flags bit 0 (NET_FRAME_LZ4): payload is lz4 (block format) of raw_len
 *   bytes, wire_len < raw_len (lz4 falls back to raw per frame).
 * flags bit 1 (NET_FRAME_ZSTD): payload is the next chunk of the
 *   stream's one endless zstd frame: what ZSTD_compressStream2 with
 *   ZSTD_e_flush output for raw_len bytes (the first zstd frame of a
 *   stream starts with zstd's frame header), wire_len <=
 *   ZSTD_compressBound (raw_len).  Only frames flagged zstd feed the
 *   context, on both sides.  Only sent to a receiver that announced it
 *   (prepare's "data_zstd", see net_channel_params).
 * The two bits are exclusive; ZERO frames have neither.
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
#define NET_FRAME_ZSTD 0x02

enum net_frame_type {
  NET_FRAME_DATA = 1,           /* arg: offset; payload: bytes */
  NET_FRAME_ZERO = 2,           /* arg: offset; raw_len zero bytes, no payload */
  NET_FRAME_STREAM = 3,         /* arg: sequence; payload: relayed bytes */
  NET_FRAME_CONTROL = 4,        /* payload: a short text (control.c) */
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

/* How a frame's payload is sent, in order of CPU cost. */
enum net_codec {
  NET_CODEC_RAW = 0,
  NET_CODEC_LZ4 = 1,            /* the frame alone; raw if it does not shrink */
  NET_CODEC_ZSTD = 2,           /* with the stream's history (codec.c) */
  NET_CODEC_N = 3,
};

/* ---- codec.c: the zstd contexts of one stream ---- */

/* A ZSTD_CCtx for the frames a stream sends and a ZSTD_DCtx for those
 * it receives, each created on first use.  One owner thread.
 */
struct net_zstd;
struct net_zstd *net_zstd_new (void);
void net_zstd_free (struct net_zstd *z);    /* accepts NULL */
/* Compress len (> 0) bytes as the stream's next chunk, flushed, into out
 * (cap bytes); the output's size or -1.  Once a call failed, every later
 * one fails (the context's state is unknown).
 */
long net_zstd_compress (struct net_zstd *z, const void *in, size_t len,
                        void *out, size_t cap);
/* Decode the chunk wire (wire_len bytes) into exactly len bytes at out:
 * fails unless it produces exactly len bytes from all of wire and leaves
 * nothing pending; never writes past out + len.  Once a call failed,
 * every later one fails.
 */
int net_zstd_decompress (struct net_zstd *z, const void *wire,
                         size_t wire_len, void *out, size_t len);
/* Did a call fail (the stream is broken: every later frame fails)? */
bool net_zstd_broken (const struct net_zstd *z);

/* ---- frame.c ---- */

/* Worst-case size of an encoded frame of len payload bytes. */
size_t net_frame_bound (size_t len);

/* Encode a frame into out (out_cap bytes, at least net_frame_bound(len)).
 * codec LZ4: the payload is lz4-compressed unless that does not make it
 * smaller (then raw: never grows).  codec ZSTD: compressed with z (which
 * must not be NULL), the stream's history; ZERO frames ignore codec.
 * Returns the frame's total size or -1 (always, once z is broken).
 */
long net_frame_encode (const struct net_frame *f, const void *payload,
                       enum net_codec codec, struct net_zstd *z,
                       void *out, size_t out_cap);

/* Parse and validate a header (NET_FRAME_HEADER bytes) into f. */
int net_frame_decode_header (const void *hdr, struct net_frame *f);

/* Decode f's wire payload (f->wire_len bytes) into out, which has room
 * for f->raw_len bytes; z: the receiving stream's zstd context (NULL:
 * zstd frames fail).  Fails on any corruption, never overruns; once z
 * is broken, fails every frame.
 */
int net_frame_decode_payload (const struct net_frame *f, const void *wire,
                              struct net_zstd *z, void *out);

/* ---- addr.c: IP addresses as values (who may connect) ---- */

/* An IPv4-mapped IPv6 address is kept as the IPv4 address, an IPv6
 * scope ("%eth0") is dropped: two addresses are equal when they name
 * the same host address.
 */
struct net_addr {
  int family;                   /* AF_INET or AF_INET6 */
  unsigned char bytes[16];      /* network order; IPv4: the first 4 */
};
#define NET_ADDR_TEXT_MAX 48    /* room for net_addr_text */

struct sockaddr;
/* A numeric IPv4 or IPv6 address; -1 + set_error if text is not one. */
int net_addr_parse (const char *text, struct net_addr *a);
/* The address of sa (AF_INET, AF_INET6; else -1 + set_error). */
int net_addr_from_sockaddr (const struct sockaddr *sa, struct net_addr *a);
bool net_addr_equal (const struct net_addr *a, const struct net_addr *b);
/* Numeric text, "?" if it cannot be written. */
void net_addr_text (const struct net_addr *a, char *buf, size_t n);

/* ---- sock.c: TCP ---- */

/* Listen on a free port of numeric address addr; *port receives it.
 * Returns the listening socket or -1.
 */
int net_listen (const char *addr, int *port);
/* The same on port *port (0: a free one, as net_listen). */
int net_listen_port (const char *addr, int *port);
/* Accept one connection (TCP_NODELAY); the socket or -1.  With peer,
 * also the peer's address.
 */
int net_accept (int listen_fd);
int net_accept_peer (int listen_fd, struct net_addr *peer);
/* Connect to host:port within 10 s (TCP_NODELAY); the socket or -1. */
int net_connect (const char *host, int port, bool bbr);
/* A listening unix socket at path (which must not exist) / a connection
 * to one; the socket or -1.
 */
int net_unix_listen (const char *path);
int net_unix_connect (const char *path);

/* ---- tls.c: one TLS session over a socket ---- */

/* x509 mutual authentication with the certificate directory tls_dir:
 * ca-cert.pem, and client-cert.pem/client-key.pem (connecting side) or
 * server-cert.pem/server-key.pem (server).  The peer must present a
 * certificate that verifies against ca-cert.pem, or the handshake fails.
 * Takes ownership of fd (closed on failure too).
 */
struct net_tls;
struct net_tls *net_tls_start (int fd, const char *tls_dir, bool server);
/* Write all of buf / read exactly len bytes; -1 on error or EOF. */
int net_tls_write (struct net_tls *t, const void *buf, size_t len);
int net_tls_read (struct net_tls *t, void *buf, size_t len);
/* Wake a thread blocked in the session (shutdown(2)); any thread. */
void net_tls_shutdown (struct net_tls *t);
void net_tls_close (struct net_tls *t);   /* accepts NULL */
int net_tls_fd (const struct net_tls *t); /* its socket */

/* ---- pace.c: pacing shared by all streams ---- */

struct net_pace;
/* A token bucket of bytes_per_sec (0: no limit) and, if follow_link, a
 * little below the link's rate (link.c); NULL (nothing to pace) when
 * neither.
 */
struct net_pace *net_pace_new (uint64_t bytes_per_sec, bool follow_link);
void net_pace_free (struct net_pace *p);  /* accepts NULL */
/* A stream's TCP socket, whose acknowledged bytes measure the link; p
 * may be NULL.  Remove it before closing it.
 */
void net_pace_add_fd (struct net_pace *p, int fd);
void net_pace_remove_fd (struct net_pace *p, int fd);
/* Take bytes at monotonic time now_ns; returns how many ns the caller
 * must wait before sending them (0: at once).  Thread-safe.
 */
uint64_t net_pace_reserve (struct net_pace *p, uint64_t bytes,
                           int64_t now_ns);
/* Reserve and sleep; p may be NULL.  Returns the ns slept. */
uint64_t net_pace_take (struct net_pace *p, uint64_t bytes);
/* p paces below the link (p may be NULL: false). */
bool net_pace_follows_link (const struct net_pace *p);
/* What the streams delivered at most (bytes per second over a second)
 * and the cap it set below the link (0 if the streams never filled the
 * link); both 0 when p is NULL or does not follow the link.
 */
void net_pace_get_link (struct net_pace *p, uint64_t *est, uint64_t *cap);

/* ---- acked.c, sock.c: what pacing asks of a TCP socket ---- */

/* Bytes the peer acknowledged on TCP socket fd, and its smoothed RTT
 * less the lowest it saw (µs); -1 if unknown.
 */
int net_sock_acked (int fd, uint64_t *acked, uint32_t *queue_us);
/* Let the kernel space the socket's packets at no more than bytes_per_sec
 * (0: no limit); best effort.
 */
void net_sock_max_rate (int fd, uint64_t bytes_per_sec);

/* ---- link.c: the link's rate, to pace a little below it ---- */

enum net_link_phase {
  NET_LINK_STARTUP,             /* no cap: finding the rate */
  NET_LINK_CRUISE,              /* a little below the estimate */
  NET_LINK_PROBE,               /* above it for a window: faster now? */
  NET_LINK_DRAIN,               /* below it for a window, after a probe */
};

#define NET_LINK_SPAN 4          /* windows a sample of the rate spans */

struct net_link_mark {
  int64_t ns;
  uint64_t acked;
};

struct net_link {
  enum net_link_phase phase;
  struct net_link_mark marks[NET_LINK_SPAN]; /* recent window starts */
  unsigned n_marks;             /* window starts so far */
  int64_t win_ns;               /* the current window's start; < 0: none */
  uint64_t win_acked;           /* bytes acknowledged at its start */
  int64_t since_ns;             /* when the phase began */
  int64_t probe_ns;             /* cruise this long before a probe */
  double est;                   /* bytes/s: the most delivered in a span */
  unsigned flat;                /* startup: windows without growth */
  bool held;                    /* the cap made a sender wait (cruise) */
  bool paced;                   /* cruise was reached */
};

void net_link_init (struct net_link *l);
/* A window has ended at now_ns: time to call net_link_update. */
bool net_link_due (const struct net_link *l, int64_t now_ns);
/* acked: the bytes the receivers acknowledged on all streams so far;
 * queue_us: the largest queue a stream sees now (RTT above its lowest).
 * Returns the cap to pace at, bytes per second; 0: none.
 */
uint64_t net_link_update (struct net_link *l, int64_t now_ns, uint64_t acked,
                          uint32_t queue_us);
uint64_t net_link_cap (const struct net_link *l);
/* What cruise paces at (est less a little). */
uint64_t net_link_cruise_cap (const struct net_link *l);
/* Probe soon: the senders changed (a new stream). */
void net_link_reprobe (struct net_link *l);
/* The cap made a sender wait. */
void net_link_held (struct net_link *l);

/* ---- auto.c: which codec ---- */

enum net_transport {
  NET_TRANSPORT_TCP = 0,        /* never compress */
  NET_TRANSPORT_COMPRESS = 1,   /* the cheapest of lz4 and zstd (lz4's raw
                                   fallback per frame) */
  NET_TRANSPORT_AUTO = 2,       /* the cheapest of raw, lz4, zstd (auto.c) */
};

/* Recent averages per frame (exponential): raw and wire bytes, ns. */
struct net_auto_avg {
  double raw, wire, ns;
};

/* One decider per stream: the recent measurements per codec (< 0: none
 * yet), derived from the averages as ratios of sums (so a byte counts
 * the same in a small frame as in a large one).  Pure: no clock, no I/O.
 */
struct net_auto {
  enum net_transport mode;
  bool zstd;                    /* the receiver decodes zstd */
  double ratio[NET_CODEC_N];    /* wire bytes / raw bytes */
  double cpu_ns[NET_CODEC_N];   /* encoding CPU time per raw byte */
  double link_ns;               /* send time per wire byte */
  struct net_auto_avg avg[NET_CODEC_N];  /* ns: encoding CPU time */
  struct net_auto_avg link;     /* ns: send time */
  unsigned idle[NET_CODEC_N];   /* frames since the codec was last used */
  unsigned tries[NET_CODEC_N];  /* frames measured, up to 2 (auto.c) */
  int pick;                     /* the rule's latest pick */
};

void net_auto_init (struct net_auto *a, enum net_transport mode);
/* The codec for the next DATA or STREAM frame. */
enum net_codec net_auto_choose (struct net_auto *a);
/* What sending a DATA or STREAM frame with codec cost: raw and wire
 * payload bytes, the CPU time spent encoding it and the time spent
 * sending it.
 */
void net_auto_record (struct net_auto *a, enum net_codec codec, uint64_t raw,
                      uint64_t wire, uint64_t cpu_ns, uint64_t link_ns);

/* ---- stream.c: frames over a TLS session ---- */

struct net_stream;
struct net_stream_stats {
  uint64_t frames;
  uint64_t raw_bytes;           /* payload bytes before compression */
  uint64_t wire_bytes;          /* bytes on the wire, headers included */
  uint64_t compressed;          /* frames sent compressed (lz4 or zstd) */
  uint64_t zstd;                /* of which with zstd */
};

/* Takes ownership of tls (closed on failure too); pace may be NULL and
 * must outlive the stream.
 */
struct net_stream *net_stream_new (struct net_tls *tls,
                                   enum net_transport mode,
                                   struct net_pace *pace);
void net_stream_free (struct net_stream *s);      /* accepts NULL */
/* The receiver decodes zstd: the sender may use it (off by default). */
void net_stream_allow_zstd (struct net_stream *s, bool yes);
void net_stream_shutdown (struct net_stream *s);  /* wake; any thread */
/* Send one frame (payload: f->raw_len bytes; NULL for ZERO). */
int net_stream_send (struct net_stream *s, const struct net_frame *f,
                     const void *payload);
/* Receive and validate one frame; *payload (f->raw_len decoded bytes)
 * stays valid until the next call.
 */
int net_stream_recv (struct net_stream *s, struct net_frame *f,
                     const void **payload);
void net_stream_get_stats (const struct net_stream *s,
                           struct net_stream_stats *st);

/* ---- control.c: CONTROL messages (short texts, see control.c) ---- */

int net_control_send (struct net_stream *s, const char *msg, uint64_t arg);
/* Receive a CONTROL frame into msg (size bytes, NUL-terminated). */
int net_control_recv (struct net_stream *s, char *msg, size_t size,
                      uint64_t *arg);
/* Receive exactly word with arg; "error MSG" becomes the error. */
int net_control_expect (struct net_stream *s, const char *word,
                        uint64_t arg);
/* Send "flush" seq and wait for "ack" seq: every earlier frame of the
 * stream has landed on the destination (and was flushed there).
 */
int net_stream_barrier (struct net_stream *s, uint64_t seq);

/* ---- channel.c: N streams to vmferryd (the sending side) ---- */

struct net_channel_params {
  const char *host;             /* vmferryd's data address */
  int port;                     /* its data listener (prepare's data_port) */
  const char *tls_dir;          /* our client certificate and the CA */
  const char *id;               /* the migration id */
  unsigned streams;             /* >= 1 */
  enum net_transport mode;
  uint64_t bandwidth;           /* bytes per second for all streams; 0: no
                                   limit */
  bool follow_link;             /* and a little below the link (link.c) */
  struct net_pace *pace;        /* NULL: a limit of bandwidth for this
                                   channel; else this one, shared with
                                   other channels (not owned) */
  bool zstd;                    /* vmferryd decodes zstd frames (prepare's
                                   "data_zstd"; an older one does not) */
};

struct net_channel;
/* Open one stream numbered i (TLS, hello, ok) paced by pace (may be
 * NULL); NULL on failure.
 */
struct net_stream *net_channel_open_stream (const struct net_channel_params *p,
                                            struct net_pace *pace,
                                            unsigned i);
/* Connect every stream (TLS, hello, ok); NULL if any fails. */
struct net_channel *net_channel_connect (const struct net_channel_params *p);
void net_channel_free (struct net_channel *ch);   /* accepts NULL */
unsigned net_channel_streams (const struct net_channel *ch);
/* Stream i (NULL if i is out of range); used by one thread at a time. */
struct net_stream *net_channel_stream (struct net_channel *ch, unsigned i);
/* The sums over the streams. */
void net_channel_get_stats (const struct net_channel *ch,
                            struct net_stream_stats *st);

/* ---- relay.c: byte streams (QEMU's migration) over the channel ---- */

/* A unix socket that QEMU's migration connects to (the main connection,
 * then one per multifd channel).  Each connection, in the order they
 * arrive, gets its own stream to vmferryd (net_channel_open_stream with
 * stream number = connection index), introduced by "relay" and accepted
 * with "ok" once vmferryd has connected to the skeleton's incoming
 * socket, so the skeleton sees its connections in the same order.  A
 * thread per connection reads what QEMU writes and sends it as STREAM
 * frames (compressed per the channel's mode); QEMU's end of stream becomes
 * "eof", acknowledged once vmferryd has delivered everything.  The
 * relay is one-way: the receiving QEMU says nothing back (no return
 * path, hence no post-copy).
 */
struct net_relay_params {
  const char *path;             /* the unix socket to create (copied) */
  struct net_channel_params ch; /* streams to vmferryd (ch.streams unused;
                                   its strings and pace must outlive the
                                   relay) */
  unsigned max_conns;           /* connections accepted, >= 1 */
};

struct net_relay;
/* Listen and start relaying; NULL on failure. */
struct net_relay *net_relay_start (const struct net_relay_params *p);
/* Bytes the relay has put on the data channel so far (any thread; r
 * may be NULL: 0).
 */
uint64_t net_relay_wire_bytes (struct net_relay *r);
/* Stop accepting; give the connections grace_ms to end by themselves
 * (QEMU closed them and vmferryd acknowledged every byte), then cut the
 * rest and join every thread; st (may be NULL) receives the sums over
 * the streams and *conns (may be NULL) the connections relayed.  0 if
 * every connection ended cleanly, else -1 with the first failure.
 * Frees r (accepts NULL: returns 0).
 */
int net_relay_stop (struct net_relay *r, int grace_ms,
                    struct net_stream_stats *st, unsigned *conns);

/* ---- duplex.c: byte streams, one way and both ways ---- */

/* The pumps of one direction of a relayed connection.  send: what fd
 * yields goes as STREAM frames (compressed per the stream's mode) until
 * fd's end of stream, then "eof" seq, answered "ack" seq once the far
 * end has everything; *wire (may be NULL) grows atomically by the bytes
 * sent.  recv: STREAM frames are written to fd (*raw, may be NULL, grows
 * atomically by their bytes); "eof" shuts down fd's writing side and is
 * answered "ack".  Both return 0 at that end, -1 on
 * any failure (an "error MSG" from the far end becomes the error).
 */
int net_duplex_send (int fd, struct net_stream *s, uint16_t channel,
                     uint64_t *wire);
int net_duplex_recv (struct net_stream *s, int fd, uint64_t *raw);

/* Connections relayed both ways (libvirt's migration and NBD, which
 * talk back): unix sockets a local QEMU connects to, one per target.
 * Each connection, in the order they arrive, gets two streams to
 * vmferryd: up (what the local end writes, paced) then down (what the
 * far end writes), each introduced by "duplex" NET_DUPLEX_ARG and
 * answered "ok": for up once vmferryd has connected to the target's
 * far end, for down once it has taken that connection's other
 * direction.  Each direction ends with "eof" / "ack" (net_duplex_send).
 */
#define NET_DUPLEX_TARGETS 2    /* 0: the migration stream, 1: NBD */
#define NET_DUPLEX_ARG(conn, target, down) \
  (((uint64_t) (conn) << 8) | ((uint64_t) (target) << 1) | (down))
struct net_duplex_params {
  const char *paths[NET_DUPLEX_TARGETS]; /* sockets to create (copied;
                                            NULL: no such target) */
  struct net_channel_params ch; /* as net_relay_params' */
  unsigned max_conns;           /* connections accepted, >= 1 */
};
struct net_duplex;
struct net_duplex *net_duplex_start (const struct net_duplex_params *p);
/* Bytes sent up so far (any thread; d may be NULL: 0). */
uint64_t net_duplex_wire_bytes (struct net_duplex *d);
/* As net_relay_stop; up and down (may be NULL) receive the sums over
 * each direction's streams.
 */
int net_duplex_stop (struct net_duplex *d, int grace_ms,
                     struct net_stream_stats *up,
                     struct net_stream_stats *down, unsigned *conns);

/* ---- netsel.c: the migration network ----  */

/* addr (an IP literal) lies in cidr (NULL: any). */
bool net_addr_in_cidr (const char *addr, const char *cidr);
/* The first of addrs configured on this host and in cidr, or NULL. */
const char *net_pick_addr (char *const *addrs, const char *cidr);
/* This host's first address in cidr, into out.  -1 + set_error. */
int net_local_addr_in (const char *cidr, char *out, size_t n);
/* This host's addresses (interfaces up, loopback aside), at most
 * NET_MAX_LOCAL_ADDRS, as a JSON array of strings: prepare's "data_from",
 * the addresses the destination's data channel accepts besides the one
 * the request came from (the data may leave by another interface: a
 * migration network, or routes).  NULL if they cannot be read.
 */
#define NET_MAX_LOCAL_ADDRS 64
struct json_t;
struct json_t *net_local_addrs_json (void);

/* cidr is "ADDR" or "ADDR/LEN" (IPv4 or IPv6). */
bool net_cidr_valid (const char *cidr);
/* A free TCP port on host (bound to port 0 and released: a race only
 * with programs picking ports the same way).  -1 + set_error.
 */
int net_free_port (const char *host);
/* "tcp:HOST:PORT", brackets around an IPv6 host (malloc'd). */
char *net_tcp_uri (const char *host, int port);

/* The ports vmferryd may open for a migration (--port-range LOW-HIGH):
 * QEMU's NBD server and incoming migration, the data channel.  Without
 * a range (low 0) every pick is a free port of the kernel's ephemeral
 * range.  Picks go round the range from the port after the last one
 * given, skipping ports in use, so that two migrations being prepared
 * at once do not get the same port.  Thread safe.
 */
struct net_ports;
/* NULL + set_error. */
struct net_ports *net_ports_new (int low, int high);
void net_ports_free (struct net_ports *p);
/* A new range (vmferryd's reload); picks go on with it. */
void net_ports_set (struct net_ports *p, int low, int high);
/* The range into *low, *high (0, 0: none). */
void net_ports_get (struct net_ports *p, int *low, int *high);
/* A free port on host (an IP literal), not avoid (0: none).  When the
 * range has no free port: -1, get_errno() EADDRNOTAVAIL and a message
 * naming the range.
 */
int net_ports_pick (struct net_ports *p, const char *host, int avoid);
/* Listen on host at a port of the range; *port receives it.  The
 * socket, or -1 (EADDRNOTAVAIL as net_ports_pick).
 */
int net_ports_listen (struct net_ports *p, const char *host, int *port);
/* Parse "LOW-HIGH" (1 <= LOW <= HIGH <= 65535).  -1 + set_error. */
int net_ports_parse (const char *s, int *low, int *high);

/* The first address host (a name or an IP literal) resolves to, as a
 * numeric literal into buf (IPv4 first).  -1 + set_error.
 */
int net_resolve (const char *host, char *buf, size_t n);

#endif /* VMFERRY_NET_H */
