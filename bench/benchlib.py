# SPDX-License-Identifier: MIT
"""What the hostile-client benchmarks share: start a daemon on a scratch
data directory with an administrator, create confirmed users through the
console's JSON API, and read the daemon's RSS, threads and open files
from /proc.  Loopback only."""
import http.cookiejar
import json
import os
import subprocess
import time
import urllib.request

ADMIN, ADMIN_PASSWORD = "benchadmin", "bench-Admin-pass-1"


def start_daemon(binary, data, port, config_yaml="", log_level="warning"):
    """Start binary on 127.0.0.1:port over data (created); returns the
    Popen once /livez answers.  Its log goes to data/daemon.log."""
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, "config.yml"), "w") as f:
        f.write(config_yaml)
    pass_file = os.path.join(data, "admin-pass")
    with open(pass_file, "w") as f:
        f.write(ADMIN_PASSWORD + "\n")
    log = open(os.path.join(data, "daemon.log"), "w")
    proc = subprocess.Popen([binary, "--data", data, "--port", str(port), "--allow-root",
                             "--log-level", log_level, "--admin-user", ADMIN,
                             "--admin-pass-file", pass_file], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(url + "/livez", timeout=2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the daemon exited ({proc.returncode}); see {data}/daemon.log")
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the daemon did not start")


def stop_daemon(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def create_users(url, names, password):
    """Create confirmed users (username = e-mail's local part)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    req = urllib.request.Request(url + "/admin/api/login",
                                 json.dumps({"username": ADMIN,
                                             "password": ADMIN_PASSWORD}).encode(),
                                 {"Content-Type": "application/json"})
    opener.open(req, timeout=60).read()
    csrf = next(c.value for c in jar if c.name == "csrf_token")
    for name in names:
        req = urllib.request.Request(
            url + "/admin/api/users/create",
            json.dumps({"username": name, "email": f"{name}@example.test",
                        "password": password}).encode(),
            {"Content-Type": "application/json", "X-CSRF-Token": csrf})
        opener.open(req, timeout=60).read()


def post(url, path, body, token=None, timeout=60):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.load(r)


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def rss_kib(pid):
    return proc_status(pid, "VmRSS")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
