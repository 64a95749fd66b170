#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Memory under clients that send a pull and never read the answer
# (docs/hostile-inputs.md).  Loopback only, bounded: pairs a device on the
# given server, pushes OPS ops of PAYLOAD KiB of backslashes (they double
# when escaped), opens CLIENTS connections that each send one pull and
# never read, and prints the server's RSS before, while they wait, and
# after they are closed.  Prints figures; asserts nothing.
#
#   bench/hostile-pull.py URL PID LOGIN PASSWORD [CLIENTS] [OPS] [PAYLOAD_KIB]
import json, socket, sys, time, urllib.request
from urllib.parse import urlparse

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1

def post(url, path, body, token=None):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)

def main():
    url, pid, login, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    clients = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
    ops = int(sys.argv[6]) if len(sys.argv) > 6 else 20
    payload_kib = int(sys.argv[7]) if len(sys.argv) > 7 else 200
    u = urlparse(url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("loopback only")
    tok = post(url, "/api/client/pair", {"login": login, "password": password,
                                         "vault_id": "bench-hostile"})["device_token"]
    payload = json.dumps("\\" * (payload_kib * 1024 // 2))
    for i in range(ops):
        post(url, "/api/v1/sync/push", {"ops": [{
            "op_id": f"hp-{time.time_ns()}-{i}", "entity_type": "note", "entity_id": f"e{i}",
            "op_type": "update", "payload_json": payload, "client_sequence": 1,
            "last_seen_server_seq": 0, "created_at": "2026-07-01T10:00:00Z"}]}, tok)
    print(f"rss before: {rss_kib(pid)} KiB")
    body = b'{"since_sequence":0}'
    head = (f"POST /api/v1/sync/pull HTTP/1.1\r\nHost: {u.hostname}\r\n"
            f"Authorization: Bearer {tok}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    socks = []
    for _ in range(clients):
        s = socket.create_connection((u.hostname, u.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(head + body)
        socks.append(s)
    peak = 0
    for _ in range(10):
        time.sleep(0.5)
        peak = max(peak, rss_kib(pid))
    print(f"clients: {clients}, page ops: {ops} x {payload_kib} KiB escaped twice")
    print(f"rss while they wait: {rss_kib(pid)} KiB (peak {peak} KiB)")
    for s in socks:
        s.close()
    time.sleep(2)
    print(f"rss after: {rss_kib(pid)} KiB")

main()
