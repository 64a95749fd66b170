#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Memory under clients that send a pull and never read the answer
# (docs/hostile-inputs.md).  Starts the daemon BIN on a scratch data
# directory (loopback only), pairs a device, pushes OPS ops of PAYLOAD KiB
# of backslashes (they double when escaped), then opens CLIENTS
# connections that each send one pull and never read, and prints the
# daemon's RSS before, while they wait, and after they are closed; then,
# for comparison, the same number of connections that send nothing; last,
# one client that reads: it walks the vault's pages PASSES times, and the
# daemon's CPU per page and per MB of answer are printed.  Each
# client connects from its own loopback address (127.3.x.y), as clients
# on many machines would, so the per-address connection limit does not
# stop them.  Prints figures; asserts nothing.
#
#   bench/hostile-pull.py BIN [CLIENTS] [OPS] [PAYLOAD_KIB] [PASSES]
import json
import os
import resource
import socket
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

PORT = int(os.environ.get("PORT", "47991"))


def open_clients(n, payload):
    socks, refused = [], 0
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind((f"127.3.{i // 250}.{i % 250 + 1}", 0))
        try:
            s.connect(("127.0.0.1", PORT))
            if payload:
                s.sendall(payload)
        except OSError:  # refused at the connection cap
            refused += 1
        socks.append(s)
    return socks, refused


def hold(pid, what, connect):
    base_rss, base_fds = benchlib.rss_kib(pid), benchlib.open_fds(pid)
    socks, refused = connect()
    peak = 0
    for _ in range(10):
        time.sleep(0.5)
        peak = max(peak, benchlib.rss_kib(pid))
    print(f"{what}: {len(socks)} clients ({refused} refused), rss {benchlib.rss_kib(pid)} KiB "
          f"(peak {peak} KiB), threads {benchlib.proc_status(pid, 'Threads')}, "
          f"open fds {benchlib.open_fds(pid)}")
    held = benchlib.open_fds(pid) - base_fds
    if held > 0:
        print(f"  {(benchlib.rss_kib(pid) - base_rss) / held:.1f} KiB per held connection "
              f"({held} held)")
    for s in socks:
        s.close()
    for _ in range(300):  # until the daemon has closed them all (bounded)
        if benchlib.open_fds(pid) <= base_fds:
            break
        time.sleep(0.1)
    print(f"  after they closed: rss {benchlib.rss_kib(pid)} KiB")


def read_pages(pid, url, tok, passes):
    pages = size = 0
    cpu = benchlib.cpu_seconds(pid)
    t0 = time.monotonic()
    for _ in range(passes):
        since, more = 0, True
        while more:
            data = urllib.request.Request(
                url + "/api/v1/sync/pull", json.dumps({"since_sequence": since}).encode(),
                {"Content-Type": "application/json", "Authorization": "Bearer " + tok})
            with urllib.request.urlopen(data, timeout=120) as r:
                body = r.read()
            page = json.loads(body)
            pages, size = pages + 1, size + len(body)
            since, more = page["page_last_sequence"], page["has_more"]
    cpu = benchlib.cpu_seconds(pid) - cpu
    wall = time.monotonic() - t0
    print(f"reading client: {pages} pages, {size / 1e6:.0f} MB in {wall:.1f} s; daemon cpu "
          f"{cpu * 1000 / pages:.1f} ms per page, {cpu * 1000 / (size / 1e6):.2f} ms per MB")


def main():
    binary = sys.argv[1]
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    ops = int(sys.argv[3]) if len(sys.argv) > 3 else 102
    payload_kib = int(sys.argv[4]) if len(sys.argv) > 4 else 256
    passes = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, clients + 256)), hard))
    url = f"http://127.0.0.1:{PORT}"
    with tempfile.TemporaryDirectory(prefix="hostile-pull-") as data:
        # One device stands for the many of a real attack: its limit of
        # pulls at once is lifted, so every connection holds an answer.
        proc = benchlib.start_daemon(binary, data, PORT,
                                      "limits:\n  max_payload_json: 1048576\n"
                                      "  max_pulls_per_device: 100000\n")
        try:
            benchlib.create_users(url, ["hp"], "hostile-pull-pass-1")
            tok = benchlib.post(url, "/api/client/pair", {
                "login": "hp", "password": "hostile-pull-pass-1",
                "vault_id": "bench-hostile"})["device_token"]
            payload = '"' + "\\\\" * (payload_kib * 1024 // 2) + '"'
            for i in range(ops):
                benchlib.post(url, "/api/v1/sync/push", {"ops": [{
                    "op_id": f"hp-{i}", "entity_type": "note", "entity_id": f"e{i}",
                    "op_type": "update", "payload_json": payload, "client_sequence": 1,
                    "last_seen_server_seq": 0, "created_at": "2026-07-01T10:00:00Z"}]}, tok)
            print(f"page: {ops} ops x {payload_kib} KiB of backslashes (twice that escaped)")
            print(f"rss before: {benchlib.rss_kib(proc.pid)} KiB, "
                  f"threads {benchlib.proc_status(proc.pid, 'Threads')}")
            body = b'{"since_sequence":0}'
            req = (f"POST /api/v1/sync/pull HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Authorization: Bearer {tok}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            hold(proc.pid, "pulls never read", lambda: open_clients(clients, req))
            hold(proc.pid, "idle connections", lambda: open_clients(clients, None))
            read_pages(proc.pid, url, tok, passes)
        finally:
            benchlib.stop_daemon(proc)


main()
