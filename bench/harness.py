"""bench/harness.py — what the tenant-scale benchmarks share: a server started on a fresh
database and stopped at the end, GraphQL over HTTP, /metrics, RSS, percentiles. Python's
standard library only."""

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def default_bin():
    target = os.environ.get("CARGO_TARGET_DIR", "/work/target-release")
    return os.path.join(target, "release", "alphery")


def post(url, body, token=None, timeout=60):
    """POSTs a GraphQL body; returns (the JSON answer, seconds taken)."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        out = json.loads(resp.read())
    return out, time.perf_counter() - started


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def metrics(base, prefix="alphery_"):
    """The server's /metrics lines starting with `prefix`, as {name{labels}: value}."""
    with urllib.request.urlopen(base + "/metrics", timeout=30) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith(prefix) and " " in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def raise_fd_limit():
    """Open files up to the hard limit, for this process and the server it starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Server:
    """`alphery serve` on a fresh database (a new SQLite file, or `database_url`), stopped by
    `stop()` (also when the caller fails: use it as a context manager)."""

    def __init__(self, binary, database_url=None, env=None, prefix="alphery-bench-"):
        if not os.access(binary, os.X_OK):
            sys.exit(f"no server binary at {binary} (cargo build --release -p alphery-api, or --bin)")
        self.work = tempfile.mkdtemp(prefix=prefix)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.ws_url = ("127.0.0.1", port, "/graphql/ws")
        full = dict(os.environ)
        full.update({
            "DATABASE_URL": database_url or f"sqlite://{self.work}/bench.db?mode=rwc",
            "DATA_DIR": self.work,
            "BIND": f"127.0.0.1:{port}",
            "SEED_DEMO": "false",
            "ACCESS_TOKEN_TTL": "86400",
            "LOG": "warn",
        })
        full.update(env or {})
        self.log_path = os.path.join(self.work, "server.log")
        self.log = open(self.log_path, "w")
        raise_fd_limit()
        self.proc = subprocess.Popen([binary, "serve"], env=full, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while True:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=5).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    sys.exit("the server did not start:\n" + open(self.log_path).read())
                time.sleep(0.2)

    def graphql(self, body, token=None, timeout=120):
        return post(self.base + "/graphql", body, token, timeout)

    def signup(self, slug, i, template=None):
        """Signs a tenant up; returns its access token."""
        q = "mutation($i: SignupInput!) { signup(input: $i) { accessToken } }"
        inp = {"tenantName": f"Bench {i}", "tenantSlug": slug, "email": f"admin{i}@bench.test",
               "password": "bench-password-1"}
        if template:
            inp["template"] = template
        out, _ = self.graphql({"query": q, "variables": {"i": inp}})
        if out.get("errors"):
            raise RuntimeError(f"signup {i}: {out['errors']}")
        return out["data"]["signup"]["accessToken"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def report(name, row, columns, footer):
    """Appends `row` as a JSON line to bench/results/<name>.jsonl and prints `columns`
    ((heading, cell) pairs) as a one-row markdown table, then `footer`."""
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", f"{name}.jsonl"), "a") as f:
        f.write(json.dumps(row) + "\n")
    print("| " + " | ".join(h for h, _ in columns) + " |")
    print("|" + "---|" * len(columns))
    print("| " + " | ".join(str(c) for _, c in columns) + " |")
    print(f"({footer}; row appended to bench/results/{name}.jsonl)")
