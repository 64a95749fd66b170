#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A stand-in for journald's native socket, for the operator command tests.

Usage (inside a private mount namespace with a fresh /run, e.g.
`unshare -m sh -c 'mount -t tmpfs tmpfs /run && exec python3 journal_sink.py OUT CMD...'`):

    journal_sink.py OUT CMD [ARG...]

Binds /run/systemd/journal/socket, runs CMD with stdout and stderr
inherited, then writes every record the command sent to OUT: its fields as
KEY=value lines (the native protocol's simple form), records separated by
an empty line.  Exits with CMD's exit status.
"""
import os
import socket
import subprocess
import sys

SOCKET = "/run/systemd/journal/socket"


def main():
    out, cmd = sys.argv[1], sys.argv[2:]
    os.makedirs(os.path.dirname(SOCKET), exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(SOCKET)
    status = subprocess.call(cmd)
    sock.setblocking(False)
    with open(out, "w", encoding="utf-8") as f:
        while True:
            try:
                data = sock.recv(1 << 20)
            except BlockingIOError:
                break
            f.write(data.decode("utf-8", "replace").rstrip("\n") + "\n\n")
    sys.exit(status)


if __name__ == "__main__":
    main()
