#!/usr/bin/python3
# conn-probe.py: TCP and TLS clients for the tests of vmferryd's limits
# (api-limits.sh, data-channel-peer.sh).  Standard library only.
#
#   conn-probe.py hold HOST PORT BIND MODE COUNT LIMIT READY
#     Open COUNT connections to HOST:PORT from address BIND, touch READY
#     once all are open, and watch them until the server has closed all
#     of them or LIMIT seconds have passed.  MODE says what each
#     connection does meanwhile:
#       plain    nothing (a TCP connection that never starts TLS)
#       hello    a TLS ClientHello, one byte a second (never idle)
#       headers  a TLS handshake without a client certificate, then an
#                HTTP request line and headers, one byte a second
#     Prints one JSON object: {"count": COUNT, "open": N still open at
#     the end, "closed": [seconds each closed connection lasted]}.
#
#   conn-probe.py stream HOST PORT BIND TLS_DIR ID SECONDS
#     A data channel stream of migration ID from BIND: TLS with
#     TLS_DIR's client certificate, "hello ID", which must be answered
#     "ok"; then a "flush" barrier every 0.2 s for SECONDS, each of which
#     must be answered "ack" within 5 s.  Prints {"handshake": seconds
#     to "ok", "acks": N, "slowest_ack": seconds}; exits 1 (with the
#     reason on stderr) if the stream fails.

import json
import os
import socket
import ssl
import struct
import sys
import time

FRAME_MAGIC = 0x564D4646
FRAME_CONTROL = 4


def connect(host, port, bind):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((bind, 0))
    s.settimeout(10)
    s.connect((host, port))
    return s


def client_hello():
    """The bytes of a TLS ClientHello, made by Python's own TLS."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def open_one(host, port, bind, mode):
    s = connect(host, port, bind)
    if mode == 'plain':
        return s, b''
    if mode == 'hello':
        return s, client_hello()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(s)
    return s, b'GET /v1/status HTTP/1.1\r\nHost: vmferry\r\n' * 100


def is_closed(s):
    """Has the server closed s?  Never blocks."""
    s.setblocking(False)
    try:
        data = s.recv(4096)
    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return False
    except OSError:
        return True
    return data == b''


def hold(host, port, bind, mode, count, limit, ready):
    conns = []
    for _ in range(count):
        try:
            s, trickle = open_one(host, port, bind, mode)
            conns.append({'s': s, 'start': time.monotonic(), 'left': trickle})
        except OSError:
            # Refused, reset or closed during the TLS handshake: it
            # lasted no time.
            conns.append({'s': None, 'start': time.monotonic(), 'end': 0.0})
    with open(ready, 'w'):
        pass
    end = time.monotonic() + limit
    last_send = 0.0
    while time.monotonic() < end:
        now = time.monotonic()
        send = now - last_send >= 1.0
        if send:
            last_send = now
        for c in conns:
            if c['s'] is None:
                continue
            closed = is_closed(c['s'])
            if not closed and send and c['left']:
                try:
                    c['s'].send(c['left'][:1])
                    c['left'] = c['left'][1:]
                except (BlockingIOError, ssl.SSLWantWriteError):
                    pass
                except OSError:
                    closed = True
            if closed:
                c['end'] = now - c['start']
                c['s'].close()
                c['s'] = None
        if all(c['s'] is None for c in conns):
            break
        time.sleep(0.05)
    print(json.dumps({'count': count,
                      'open': sum(1 for c in conns if c['s'] is not None),
                      'closed': [round(c['end'], 2) for c in conns
                                 if c['s'] is None]}))


def send_control(s, msg, arg):
    data = msg.encode()
    s.sendall(struct.pack('>IBBHIIQ', FRAME_MAGIC, FRAME_CONTROL, 0, 0,
                          len(data), len(data), arg) + data)


def recv_exact(s, n):
    buf = b''
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError('the receiver closed the stream')
        buf += chunk
    return buf


def recv_control(s):
    magic, ftype, _, _, raw, wire, arg = struct.unpack('>IBBHIIQ',
                                                       recv_exact(s, 24))
    if magic != FRAME_MAGIC or ftype != FRAME_CONTROL or raw != wire:
        raise OSError('not a control frame')
    return recv_exact(s, wire).decode(), arg


def stream(host, port, bind, tls_dir, mig_id, seconds):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(os.path.join(tls_dir, 'ca-cert.pem'))
    ctx.load_cert_chain(os.path.join(tls_dir, 'client-cert.pem'),
                        os.path.join(tls_dir, 'client-key.pem'))
    t0 = time.monotonic()
    s = ctx.wrap_socket(connect(host, port, bind))
    s.settimeout(5)
    send_control(s, 'hello ' + mig_id, 0)
    if recv_control(s) != ('ok', 0):
        raise OSError('hello was not answered "ok"')
    result = {'handshake': round(time.monotonic() - t0, 2), 'acks': 0,
              'slowest_ack': 0.0}
    end = time.monotonic() + seconds
    seq = 1
    while time.monotonic() < end:
        t = time.monotonic()
        send_control(s, 'flush', seq)
        if recv_control(s) != ('ack', seq):
            raise OSError('flush %d was not answered "ack"' % seq)
        result['acks'] += 1
        result['slowest_ack'] = max(result['slowest_ack'],
                                    round(time.monotonic() - t, 2))
        seq += 1
        time.sleep(0.2)
    s.close()
    print(json.dumps(result))


def main():
    a = sys.argv[1:]
    if len(a) == 8 and a[0] == 'hold':
        hold(a[1], int(a[2]), a[3], a[4], int(a[5]), float(a[6]), a[7])
    elif len(a) == 7 and a[0] == 'stream':
        try:
            stream(a[1], int(a[2]), a[3], a[4], a[5], float(a[6]))
        except OSError as e:
            print('conn-probe.py: stream: %s' % e, file=sys.stderr)
            sys.exit(1)
    else:
        print('usage: see the head of %s' % sys.argv[0], file=sys.stderr)
        sys.exit(2)


if __name__ == '__main__':
    main()
