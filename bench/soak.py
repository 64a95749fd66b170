#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The hostile-client soak (docs/hostile-inputs.md): mixed normal load
beside every attack of the hostile-inputs table, against a daemon started
on a scratch data directory (loopback only).

First QUIET seconds of the normal load alone, then SECONDS of the same
load with the attackers running beside it in their own process.  Every
second it samples the daemon's RSS, open files and CPU, and the p99 of
the normal requests that ended in that second; at the end it prints a
summary: RSS and open files after warm-up against the end of the run,
and the normal clients' p50/p99 with and without the attack.  Exits 0;
a run is judged by its figures.

  bench/soak.py BIN [SECONDS] [QUIET_SECONDS]

Normal load (each worker its own loopback address, so no per-address
limit is shared with an attacker): 4 pushers, 2 pullers, 2 long polls
(wait_seconds 5; their wait is not latency and they are left out of the
percentiles), an uploader that also downloads what it uploaded (256 KiB
blobs), a pairing and a login every 10 s (over 60 accounts, each from a
fresh address, under the rate limits).  They wait as long as an answer's
Retry-After asks before their next request.  Each request's phases are
timed too (connect, send, wait for the head of the answer, read its body).

Attackers: slow request heads (a header byte every 2 s), slow bodies
(10 bytes a second), pulls of a page of huge escaped payloads that are
never read, conflict bombs (100 ops on an entity with 5 000 earlier ops of
another device), half-closed connections (part of a head, then FIN, in
bursts of 100), malformed framing (the cases of test_http_framing), and a
second process that holds SQLite's write lock for 5 s every 60 s, and
(run as root, where a loop device can be mounted) a filler that takes every
free byte of the data filesystem for 5 s every 60 s, between the lock
windows, then frees it and times how long health takes to say "ok" again.
The data directory is then on a 3 GiB ext4 image made for the run.

Environment: PORT; SOAK_ATTACKERS=a,b,... runs only those attackers
(slow_head, slow_body, never_read, conflict, half_close, framing, lock,
disk; "none" for the normal load alone); SOAK_CONFIG adds lines to the
daemon's config.yml ("\\n" for a newline); SOAK_ACCESS_LOG=1 logs every
request and adds the daemon's own durations of the normal requests to the
summary; SOAK_DUMP=FILE writes every sample and row as JSON.
"""
import http.client
import json
import multiprocessing
import os
import random
import resource
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

PORT = int(os.environ.get("PORT", "47993"))
URL = f"http://127.0.0.1:{PORT}"
PASSWORD = "soak-password-1"
ACCOUNTS = 60
# SOAK_ACCESS_LOG=1: the daemon logs every request and the summary adds
# its own duration of the normal requests (request line to last byte sent).
ACCESS_LOG = os.environ.get("SOAK_ACCESS_LOG") == "1"


def op(op_id, entity, payload="{\"t\":1}"):
    return {"op_id": op_id, "entity_type": "note", "entity_id": entity, "op_type": "update",
            "payload_json": payload, "client_sequence": 1, "last_seen_server_seq": 0,
            "created_at": "2026-07-01T10:00:00Z"}


class Client:
    """One keep-alive HTTP connection from its own source address.  The
    phases of its last request (seconds) are left in .phases: connect (0
    on a kept-alive connection), send, wait (until the status line and
    headers are in) and read (the body); the seconds its answer asked the
    client to wait before the next (Retry-After, 0 when none) in
    .retry_after."""

    def __init__(self, ip, timeout=30):
        self.ip, self.timeout, self.conn = ip, timeout, None
        self.phases = (0.0, 0.0, 0.0, 0.0)
        self.retry_after = 0

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            t0 = time.monotonic()
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", PORT,
                                                           timeout=self.timeout,
                                                           source_address=(self.ip, 0))
                    self.conn.connect()
                t1 = time.monotonic()
                self.conn.request(method, path, body=body, headers=headers or {})
                t2 = time.monotonic()
                r = self.conn.getresponse()
                t3 = time.monotonic()
                data = r.read()
                self.phases = (t1 - t0, t2 - t1, t3 - t2, time.monotonic() - t3)
                retry = r.getheader("Retry-After") or "0"
                self.retry_after = int(retry) if retry.isdigit() else 0
                return r.status, data
            except (OSError, http.client.HTTPException):
                if self.conn:
                    self.conn.close()
                self.conn = None
                if attempt:
                    return 0, b""
        return 0, b""

    def json(self, path, body, token=None):
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        return self.request("POST", path, json.dumps(body).encode(), h)


# --- normal load --------------------------------------------------------


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples = []  # (end time, seconds, kind, status, phases)

    def add(self, t0, kind, status, phases):
        t1 = time.monotonic()
        with self.lock:
            self.samples.append((t1, t1 - t0, kind, status, phases))


def timed(stats, kind, client, fn):
    t0 = time.monotonic()
    status, body = fn()
    stats.add(t0, kind, status, client.phases)
    return status, body


def pause(stop, client, seconds):
    """Wait before the next request: seconds, or as long as the last answer
    asked (Retry-After), as a well-behaved client does."""
    stop.wait(max(seconds, client.retry_after))


def pusher(stats, stop, ip, token, n):
    c = Client(ip)
    i = 0
    while not stop.is_set():
        i += 1
        timed(stats, "push", c, lambda: c.json("/api/v1/sync/push", {
            "ops": [op(f"push-{n}-{i}-{k}", f"n{n}-{i % 50}") for k in range(5)]}, token))
        pause(stop, c, 0.05)


def puller(stats, stop, ip, token, wait):
    c = Client(ip, timeout=wait + 30)
    since = 0
    while not stop.is_set():
        status, body = timed(stats, "longpoll" if wait else "pull", c,
                             lambda: c.json("/api/v1/sync/pull",
                                            {"since_sequence": since, "wait_seconds": wait},
                                            token))
        if status == 200:
            page = json.loads(body)
            # Pullers walk the vault and start over at its end; long polls
            # stay at the end and wait for the next push.
            since = page.get("page_last_sequence") or since
            if not wait and not page.get("has_more"):
                since = 0
        pause(stop, c, 0.1 if not wait else 0)


def uploader(stats, stop, ip, token):
    c = Client(ip)
    i = 0
    while not stop.is_set():
        i += 1
        data = os.urandom(256 * 1024)
        body = (b"--soakbnd\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n"
                b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--soakbnd--\r\n")
        status, answer = timed(stats, "upload", c, lambda: c.request(
            "POST", "/api/v1/blobs/", body,
            {"Authorization": "Bearer " + token,
             "Content-Type": "multipart/form-data; boundary=soakbnd"}))
        if status == 200:
            sha = json.loads(answer)["sha256"]
            timed(stats, "download", c, lambda: c.request(
                "GET", "/api/v1/blobs/" + sha, None, {"Authorization": "Bearer " + token}))
        pause(stop, c, 0.2)


def accounts(stats, stop):
    i = 0
    while not stop.is_set():
        i += 1
        user = f"soak{i % ACCOUNTS:03d}"
        c = Client(f"127.12.{i // 250 % 250}.{i % 250 + 1}")
        timed(stats, "pair", c, lambda: c.json("/api/client/pair", {
            "login": user, "password": PASSWORD, "vault_id": f"pair-{i}"}))
        c = Client(f"127.13.{i // 250 % 250}.{i % 250 + 1}")
        timed(stats, "login", c, lambda: c.json("/api/v1/auth/login", {
            "username": user, "password": PASSWORD}))
        stop.wait(10)


def pair(user, vault, ip):
    status, body = Client(ip).json("/api/client/pair", {"login": user, "password": PASSWORD,
                                                        "vault_id": vault})
    if status != 200:
        raise SystemExit(f"pairing {user} failed: {status} {body[:200]!r}")
    return json.loads(body)["device_token"]


def normal_load(stats, stop):
    threads = []
    tok = pair("soakn0", "normal", "127.10.0.100")
    for n in range(4):
        threads.append(threading.Thread(target=pusher,
                                        args=(stats, stop, f"127.10.0.{n + 1}", tok, n)))
    for n in range(2):
        threads.append(threading.Thread(target=puller,
                                        args=(stats, stop, f"127.10.0.{n + 11}", tok, 0)))
        threads.append(threading.Thread(target=puller,
                                        args=(stats, stop, f"127.10.0.{n + 21}", tok, 5)))
    threads.append(threading.Thread(target=uploader, args=(stats, stop, "127.10.0.31", tok)))
    threads.append(threading.Thread(target=accounts, args=(stats, stop)))
    for t in threads:
        t.daemon = True
        t.start()
    return threads


# --- attackers (their own process) --------------------------------------


def raw(ip):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((ip, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", PORT))
    s.setblocking(False)
    return s


def trickler(stop, count, ip_base, head, fill, every, recycle=0):
    """count connections that send head, then fill every `every` seconds;
    a connection the daemon ends is replaced, and all of them every
    `recycle` seconds (unread answers hide the end of the connection)."""
    socks = {}
    n = 0
    renewed = time.monotonic()
    while not stop.is_set():
        if recycle and time.monotonic() - renewed > recycle:
            for s in socks:
                s.close()
            socks, renewed = {}, time.monotonic()
        while len(socks) < count and not stop.is_set():
            n += 1
            try:
                s = raw(f"{ip_base}.{n // 50 % 250}.{n % 50 + 1}")
                s.send(head)
                socks[s] = 0
            except OSError:
                time.sleep(0.5)
                break
        for s in list(socks):
            try:
                s.send(fill)
                if s.recv(4096, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b"":
                    raise ConnectionResetError
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                del socks[s]
        stop.wait(every)
    for s in socks:
        s.close()


def never_reader(stop, count, token):
    body = b'{"since_sequence":0}'
    req = (f"POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
           ).encode() + body
    trickler(stop, count, "127.22", req, b"", 1.0, recycle=80)


def conflict_bomber(stop, token):
    c = Client("127.23.0.1", timeout=60)
    i = 0
    while not stop.is_set():
        i += 1
        c.json("/api/v1/sync/push",
               {"ops": [op(f"bomb-{i}-{k}", "hot") for k in range(100)]}, token)
        stop.wait(0.5)


def half_closer(stop):
    n = 0
    while not stop.is_set():
        for _ in range(100):
            n += 1
            try:
                s = raw(f"127.24.{n // 50 % 250}.{n % 50 + 1}")
                s.send(b"GET /livez HTTP/1.1\r\nHo")
                s.shutdown(socket.SHUT_WR)
                s.close()
            except OSError:
                pass
        stop.wait(5)


FRAMING = [
    b"POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    b"Content-Length: 40\r\nConnection: close\r\n\r\n{}",
    b"POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    b"POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
    b"Connection: close\r\n\r\n{}",
    b"GET /api/v1/health HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET /api/v1/blobs/ab%00cd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /api/v1/health?" + b"&".join(b"a%d=1" % i for i in range(500)) +
    b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n"
    b"Connection: close\r\n\r\n",
]


def framer(stop):
    n = 0
    while not stop.is_set():
        for req in FRAMING:
            n += 1
            try:
                s = socket.create_connection(("127.0.0.1", PORT), timeout=5,
                                             source_address=(f"127.25.0.{n % 200 + 1}", 0))
                s.sendall(req)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
                s.close()
            except OSError:
                pass
        stop.wait(0.5)


def lock_holder(stop, db, windows):
    while not stop.wait(55):
        c = sqlite3.connect(db, timeout=30, isolation_level=None)
        try:
            c.execute("BEGIN EXCLUSIVE")
            t0 = time.monotonic()
            stop.wait(5)
            c.execute("COMMIT")
            windows.put(("lock", t0, time.monotonic()))
        except sqlite3.Error:
            pass
        c.close()


def fill_disk(path):
    """Take every free byte of the filesystem of path in a file there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    free = os.statvfs(path).f_bfree * os.statvfs(path).f_frsize
    size = 0
    while free > 1 << 20:  # what fallocate cannot take at once, in smaller steps
        try:
            os.posix_fallocate(fd, size, free)
            size += free
        except OSError:
            free //= 2
    block = b"\0" * 4096
    try:
        while True:
            os.pwrite(fd, block, size)
            size += len(block)
    except OSError:
        pass
    os.close(fd)


def health_ok():
    try:
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5,
                                       source_address=("127.26.0.1", 0))
        c.request("GET", "/api/v1/health")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def disk_filler(stop, fs_dir, windows):
    """Fill the data filesystem for 5 s every 60 s (30 s after the lock
    holder's turns), then free it: reports the window, whether health said
    degraded while it was full, and how long health took to recover."""
    if stop.wait(25):
        return
    filler = os.path.join(fs_dir, "filler")
    while not stop.is_set():
        t0 = time.monotonic()
        fill_disk(filler)
        degraded = False
        while time.monotonic() - t0 < 5 and not stop.is_set():
            degraded = degraded or not health_ok()
            stop.wait(0.25)
        os.unlink(filler)
        t1 = time.monotonic()
        while not health_ok() and time.monotonic() - t1 < 30:
            time.sleep(0.05)
        windows.put(("disk", t0, t1, degraded, time.monotonic() - t1))
        if stop.wait(60 - (time.monotonic() - t0)):
            return


def attackers(stop_event, tokens, db, windows, fs_dir):
    stop = threading.Event()
    slow_head = (b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a", 2.0)
    slow_body = (b"POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                 b"\r\nContent-Length: 100000\r\n\r\n{\"since_sequence\":0,\"pad\":\"",
                 b"bbbbbbbbbb", 1.0)
    jobs = {
        "slow_head": (trickler, (stop, 300, "127.20") + slow_head),
        "slow_body": (trickler, (stop, 100, "127.21") + slow_body),
        "never_read": (never_reader, (stop, 500, tokens["reader"])),
        "conflict": (conflict_bomber, (stop, tokens["bomber"])),
        "half_close": (half_closer, (stop,)),
        "framing": (framer, (stop,)),
        "lock": (lock_holder, (stop, db, windows)),
    }
    if fs_dir:
        jobs["disk"] = (disk_filler, (stop, fs_dir, windows))
    chosen = os.environ.get("SOAK_ATTACKERS")
    if chosen:
        jobs = {k: v for k, v in jobs.items() if k in chosen.split(",")}
    threads = [threading.Thread(target=f, args=a, daemon=True) for f, a in jobs.values()]
    for t in threads:
        t.start()
    stop_event.wait()
    stop.set()
    for t in threads:
        t.join(timeout=70)


# --- setup, sampling, summary ------------------------------------------


def seed(url):
    benchlib.create_users(url, ["soakn0", "soaka0", "soakb0"] +
                          [f"soak{i:03d}" for i in range(ACCOUNTS)], PASSWORD)
    tokens = {"reader": pair("soaka0", "big", "127.10.1.1"),
              "bomber": pair("soakb0", "hot", "127.10.1.2")}
    other = pair("soakb0", "hot", "127.10.1.3")
    c = Client("127.10.1.4", timeout=120)
    payload = '"' + "\\\\" * (128 * 1024) + '"'
    for i in range(102):  # a page of huge escaped payloads
        c.json("/api/v1/sync/push", {"ops": [op(f"big-{i}", f"e{i}", payload)]},
               tokens["reader"])
    for i in range(50):  # 5 000 earlier ops on the conflict bomb's entity
        c.json("/api/v1/sync/push",
               {"ops": [op(f"hot-{i}-{k}", "hot") for k in range(100)]}, other)
    return tokens


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def main():
    binary = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 600
    quiet = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else min(120, max(10, seconds // 5))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        fs_dir = mount_data_fs(scratch)
        data = os.path.join(fs_dir or scratch, "data")
        try:
            proc = benchlib.start_daemon(binary, data, PORT,
                                         "limits:\n  max_payload_json: 1048576\n" +
                                         os.environ.get("SOAK_CONFIG", "").replace("\\n", "\n"),
                                         "info" if ACCESS_LOG else "warning")
            try:
                run(proc, data, seconds, quiet, fs_dir)
            finally:
                benchlib.stop_daemon(proc)
        finally:
            if fs_dir:
                subprocess.run(["umount", fs_dir], check=False)


def mount_data_fs(scratch):
    """A 3 GiB ext4 image mounted under scratch for the data directory
    (the disk-full attacker fills it), or None where that is not allowed."""
    image, mnt = os.path.join(scratch, "data.img"), os.path.join(scratch, "fs")
    os.mkdir(mnt)
    with open(image, "wb") as f:
        f.truncate(3 << 30)
    try:
        subprocess.run(["mkfs.ext4", "-q", "-m", "0", image], check=True)
        subprocess.run(["mount", "-o", "loop", image, mnt], check=True,
                       stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        print("no loop mount here: the data filesystem is not filled")
        return None
    return mnt


def run(proc, data, seconds, quiet, fs_dir):
    tokens = seed(URL)
    stats, stop = Stats(), threading.Event()
    normal_load(stats, stop)
    rows = []  # (t, phase, rss KiB, fds, cpu s, p99 ms, n, load, attackers' cpu s)
    start = time.monotonic()
    ctx = multiprocessing.get_context("spawn")
    attack_stop, windows, attack = ctx.Event(), ctx.Queue(), None
    print(f"quiet {quiet} s, then {seconds} s under attack; one line every 10 s")
    print(f"{'t':>5} {'phase':7} {'rss MB':>7} {'fds':>5} {'cpu %':>6} {'p99 ms':>7} {'req/s':>6}")
    last_cpu, seen, last_attack_cpu = benchlib.cpu_seconds(proc.pid), 0, 0.0
    log_cut = None
    for sec in range(1, quiet + seconds + 1):
        if sec == quiet + 1:
            log_cut = os.path.getsize(os.path.join(data, "daemon.log"))
            attack = ctx.Process(target=attackers,
                                 args=(attack_stop, tokens, os.path.join(data, "server.db"),
                                       windows, fs_dir))
            attack.start()
        time.sleep(max(0.0, start + sec - time.monotonic()))
        with stats.lock:
            new = stats.samples[seen:]
            seen = len(stats.samples)
        lat = [s[1] for s in new if s[2] != "longpoll"]
        cpu = benchlib.cpu_seconds(proc.pid)
        attack_cpu = 0.0
        if attack and attack.is_alive():
            try:
                attack_cpu = benchlib.cpu_seconds(attack.pid)
            except OSError:
                pass
        row = (sec, "quiet" if sec <= quiet else "attack", benchlib.rss_kib(proc.pid),
               benchlib.open_fds(proc.pid), cpu - last_cpu, pct(lat, 0.99), len(lat),
               os.getloadavg()[0], max(0.0, attack_cpu - last_attack_cpu))
        last_cpu, last_attack_cpu = cpu, attack_cpu
        rows.append(row)
        if sec % 10 == 0:
            print(f"{row[0]:5} {row[1]:7} {row[2] / 1024:7.1f} {row[3]:5} {row[4] * 100:6.0f} "
                  f"{row[5]:7.1f} {row[6]:6}", flush=True)
    attack_stop.set()
    stop.set()
    locks = []
    if attack:
        deadline = time.monotonic() + 90
        while attack.is_alive() and time.monotonic() < deadline:
            while not windows.empty():
                locks.append(windows.get())
            attack.join(timeout=1)
        if attack.is_alive():
            attack.kill()
        while not windows.empty():
            locks.append(windows.get())
    summary(stats, rows, quiet, start, locks)
    if os.environ.get("SOAK_DUMP"):  # every sample and row, for a closer look
        with open(os.environ["SOAK_DUMP"], "w") as f:
            json.dump({"start": start, "quiet": quiet, "rows": rows, "locks": locks,
                       "samples": stats.samples}, f)
    if ACCESS_LOG:
        server_durations(os.path.join(data, "daemon.log"), log_cut)


def server_durations(log, cut):
    """The daemon's own duration of the normal clients' requests (their
    addresses are 127.10.0.0/24), from its access log."""
    kinds = {"/api/v1/sync/push": "push", "/api/v1/sync/pull": "pull",
             "/api/v1/blobs/": "upload"}
    with open(log, "rb") as f:
        text = f.read()
    for name, part in (("quiet", text[:cut]), ("attack", text[cut:])):
        by = {}
        for line in part.decode(errors="replace").splitlines():
            if " CLIENT_IP=127.10.0." not in line or "DURATION_US=" not in line:
                continue
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            path = fields.get("HTTP_PATH", "")
            kind = kinds.get(path, "download" if path.startswith("/api/v1/blobs/") else None)
            if kind:
                by.setdefault(kind, []).append(int(fields["DURATION_US"]) / 1e6)
        print(f"  server side, {name}: " + ", ".join(
            f"{k} p50 {pct(v, .5):.1f} p99 {pct(v, .99):.1f} ms" for k, v in sorted(by.items())))


def summary(stats, rows, quiet, start, locks):
    samples = stats.samples
    cut = start + quiet
    print("\nsummary")
    for name, sel in (("quiet", lambda s: s[0] <= cut), ("attack", lambda s: s[0] > cut)):
        chosen = [s for s in samples if sel(s) and s[2] != "longpoll"]
        by_status = {}
        for s in chosen:
            by_status[s[3]] = by_status.get(s[3], 0) + 1
        print(f"  {name:6}: {len(chosen)} normal requests, p50 {pct([s[1] for s in chosen], .5):.1f}"
              f" ms, p99 {pct([s[1] for s in chosen], .99):.1f} ms, statuses {by_status}")
        for kind in ("push", "pull", "upload", "download", "pair", "login"):
            k = [s for s in chosen if s[2] == kind]
            if k:
                # p99 of each phase on its own (they need not add up)
                ph = " ".join(f"{p} {pct([s[4][i] for s in k], .99):6.1f}"
                              for i, p in enumerate(("connect", "send", "wait", "read")))
                print(f"          {kind:8} n={len(k):6} p50 {pct([s[1] for s in k], .5):7.1f} ms "
                      f"p99 {pct([s[1] for s in k], .99):7.1f} ms; p99 of {ph}")
    attack = [r for r in rows if r[1] == "attack"]
    if len(attack) >= 20:
        tenth = max(1, len(attack) // 10)
        early, late = attack[tenth:2 * tenth], attack[-tenth:]
        for name, i in (("rss MB", 2), ("open fds", 3)):
            a = sum(r[i] for r in early) / len(early)
            b = sum(r[i] for r in late) / len(late)
            scale = 1024 if i == 2 else 1
            print(f"  {name}: {a / scale:.1f} after warm-up (second tenth of the attack), "
                  f"{b / scale:.1f} in the last tenth, max {max(r[i] for r in attack) / scale:.1f}")
        print(f"  daemon cpu: {sum(r[4] for r in attack) / len(attack) * 100:.0f} % of a core "
              f"under attack, {sum(r[4] for r in rows if r[1] == 'quiet') / max(1, quiet) * 100:.0f}"
              f" % quiet; the attackers' own process: "
              f"{sum(r[8] for r in attack) / len(attack) * 100:.0f} % of a core")
        loads = sorted(r[7] for r in rows)
        print(f"  machine load average (1 min) over the run: median {loads[len(loads) // 2]:.1f},"
              f" max {loads[-1]:.1f} ({os.cpu_count()} cores)")
    q99 = pct([s[1] for s in samples if s[0] <= cut and s[2] != "longpoll"], .99)
    a99 = pct([s[1] for s in samples if s[0] > cut and s[2] != "longpoll"], .99)
    print(f"  p99 under attack / quiet: {a99 / q99:.2f}")
    # Writes wait up to 1.5 s for a lock held elsewhere, by design: the
    # figure without the requests that overlapped a held lock.
    held = [w for w in locks if w[0] == "lock"]
    full = [w for w in locks if w[0] == "disk"]

    def overlaps(s, ws, after=0.1):
        return any(w[1] <= s[0] and s[0] - s[1] <= w[2] + after for w in ws)
    free = [s[1] for s in samples if s[0] > cut and s[2] != "longpoll" and
            not overlaps(s, held) and not overlaps(s, full, 1.0)]
    print(f"  write lock held elsewhere {len(held)} times for 5 s; data filesystem full "
          f"{len(full)} times for 5 s")
    print(f"  without the requests that overlapped either (or the second after a full disk): "
          f"p99 {pct(free, .99):.1f} ms, {pct(free, .99) / q99:.2f} x quiet")
    print("  the same by kind, p99 quiet -> attack: " + ", ".join(
        f"{kind} {pct([s[1] for s in samples if s[0] <= cut and s[2] == kind], .99):.1f} -> "
        f"{pct([s[1] for s in samples if s[0] > cut and s[2] == kind and not overlaps(s, held) and not overlaps(s, full, 1.0)], .99):.1f}"
        for kind in ("push", "pull", "upload", "download")))
    if full:
        during = {}
        for s in samples:
            if s[2] != "longpoll" and overlaps(s, full, 0):
                during[(s[2], s[3])] = during.get((s[2], s[3]), 0) + 1
        print(f"  while the disk was full: {dict(sorted(during.items()))}")
        print(f"  health degraded while full: {sum(1 for w in full if w[3])} of {len(full)}; "
              f"health ok again after freeing in at most {max(w[4] for w in full):.2f} s")
        after = [s for s in samples if s[2] in ("push", "upload") and
                 any(w[2] + 1.0 < s[0] - s[1] and s[0] < w[2] + 10 for w in full)]
        print(f"  pushes and uploads in the 10 s after freeing: "
              f"{sum(1 for s in after if s[3] == 200)} of {len(after)} answered 200")


if __name__ == "__main__":
    main()
