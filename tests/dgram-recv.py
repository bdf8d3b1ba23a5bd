#!/usr/bin/python3
# dgram-recv.py PATH OUT: receive datagrams on the unix socket PATH (made
# here) and append each to OUT, followed by a line "--".  What systemd
# receives from a service: sd_notify's messages (NOTIFY_SOCKET) and the
# journal's native protocol (/run/systemd/journal/socket, KEY=value
# lines).  Runs until killed; the socket exists once OUT does.
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s.bind(path)
with open(out, 'ab', buffering=0) as f:
    while True:
        f.write(s.recv(1 << 20) + b'\n--\n')
