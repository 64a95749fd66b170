#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# How many slow clients (request heads left unfinished) it takes before a
# normal client waits: starts the daemon BIN on a scratch data directory
# (loopback only), then for each count N opens N connections that send
# part of a request head and hold it, from one address (127.30.0.1) or
# from many (50 per address, 127.30.x.y), and times 40 health requests of
# a normal client, each on a new connection from its own address.  Prints
# how many slow connections the daemon held and the normal client's p50,
# p99 and refusals per N.  Prints figures; asserts nothing.
#
#   bench/slow-clients.py BIN
import os
import resource
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

PORT = int(os.environ.get("PORT", "47994"))
HEAD = b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: a"


def open_slow(n, one_address):
    socks = []
    for i in range(n):
        ip = "127.30.0.1" if one_address else f"127.30.{i // 50 + 1}.{i % 50 + 1}"
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((ip, 0))
        try:
            s.settimeout(2)
            s.connect(("127.0.0.1", PORT))
            s.send(HEAD)
        except OSError:
            pass
        socks.append(s)
    return socks


def normal_client(k):
    times, refused = [], 0
    for i in range(40):
        t0 = time.monotonic()
        try:
            s = socket.create_connection(("127.0.0.1", PORT), timeout=10,
                                         source_address=(f"127.31.{k % 200}.{i + 1}", 0))
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got = s.recv(64)
            s.close()
            if not got.startswith(b"HTTP/1.1 200"):
                refused += 1
                continue
        except OSError:
            refused += 1
            continue
        times.append((time.monotonic() - t0) * 1000)
    times.sort()
    p = (lambda q: times[min(len(times) - 1, int(len(times) * q))] if times else float("nan"))
    return p(0.5), p(0.99), refused


def main():
    binary = sys.argv[1]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    with tempfile.TemporaryDirectory(prefix="slow-clients-") as data:
        proc = benchlib.start_daemon(binary, data, PORT)
        base = benchlib.open_fds(proc.pid)
        print(f"{'from':14} {'slow':>5} {'held':>5} {'p50 ms':>7} {'p99 ms':>7} {'refused':>8}")
        k = 0
        try:
            for one, counts in ((True, (0, 32, 64, 200)),
                                (False, (250, 500, 1000, 1500, 1900, 1984, 2200))):
                for n in counts:
                    k += 1
                    socks = open_slow(n, one)
                    time.sleep(0.5)  # let the daemon accept them all
                    held = benchlib.open_fds(proc.pid) - base
                    p50, p99, refused = normal_client(k)
                    print(f"{'one address' if one else 'many addresses':14} {n:5} {held:5} "
                          f"{p50:7.1f} {p99:7.1f} {refused:5}/40", flush=True)
                    for s in socks:
                        s.close()
                    for _ in range(300):
                        if benchlib.open_fds(proc.pid) <= base:
                            break
                        time.sleep(0.1)
        finally:
            benchlib.stop_daemon(proc)


main()
