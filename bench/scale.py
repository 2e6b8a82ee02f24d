#!/usr/bin/env python3
"""bench/scale.py — tenant scale: N tenants made from one template, served by one process.

    bench/scale.py [--tenants N] [--template hospital] [--distinct] [--database-url URL] [--bin PATH] [--jobs J]

Starts `alphery serve` (a release binary: --bin, else $CARGO_TARGET_DIR/release/alphery with
CARGO_TARGET_DIR defaulting to /work/target-release) on a fresh database — a new SQLite file by
default, or --database-url (an empty PostgreSQL database: it is migrated) — with a schema cache
budget (SCHEMA_CACHE_MB) that evicts nothing, signs N tenants up through the API with the template
(J at a time) and, with --distinct, gives each tenant a field of its own (so no two tenants share a
compiled schema: the worst case), and then measures:

  1. the server's RSS before any tenant schema exists (after start-up and the sign-ups);
  2. one query per tenant, one tenant after another: the first request of a tenant compiles its
     schema (cold); its latency;
  3. the RSS again: (after - before) / N is what one compiled tenant schema holds;
  4. the same query once more per tenant (warm): its latency;
  5. the server's counters (GET /metrics): schemas built and compiled (a build whose shape is
     compiled already shares it), lookups (so the cache's hit rate), the seconds spent building
     (so the mean build time, metadata load included), and the heap bytes the cache holds, as
     the allocator counted them while each part was built: per compiled schema and per tenant.

Prints a table and writes the figures as one JSON line to bench/results/scale.jsonl. Everything
listens on 127.0.0.1; the server is stopped at the end (also on failure). Needs only python3.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
# The first list of each template's first entity, so any template works.
PROBE = "{ %s(first: 1) { nodes { id } } }"


def post(url, body, token=None, timeout=60):
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


def metrics(base):
    with urllib.request.urlopen(base + "/metrics", timeout=30) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("alphery_schema_") and " " in line:
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, default=1000)
    ap.add_argument("--template", default="hospital")
    ap.add_argument("--distinct", action="store_true",
                    help="give each tenant a field of its own: no compiled schema is shared")
    ap.add_argument("--database-url")
    target = os.environ.get("CARGO_TARGET_DIR", "/work/target-release")
    ap.add_argument("--bin", default=os.path.join(target, "release", "alphery"))
    ap.add_argument("--jobs", type=int, default=4)
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"no server binary at {args.bin} (cargo build --release -p alphery-api, or --bin)")

    work = tempfile.mkdtemp(prefix="alphery-scale-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": args.database_url or f"sqlite://{work}/scale.db?mode=rwc",
        "DATA_DIR": work,
        "BIND": f"127.0.0.1:{port}",
        "SEED_DEMO": "false",
        "ACCESS_TOKEN_TTL": "86400",
        "SCHEMA_CACHE_MB": "65536",
        "LOG": "warn",
    })
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([args.bin, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=5).read()
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    log.flush()
                    sys.exit("the server did not start:\n" + open(os.path.join(work, "server.log")).read())
                time.sleep(0.2)

        run = time.strftime("%Y%m%d-%H%M%S")

        template = json.load(open(os.path.join(HERE, "..", "templates", f"{args.template}.json")))

        def signup(i):
            slug = f"scale-{run}-{i}"
            q = "mutation($i: SignupInput!) { signup(input: $i) { accessToken } }"
            body = {"query": q, "variables": {"i": {
                "tenantName": f"Scale {i}", "tenantSlug": slug, "email": f"admin{i}@scale.test",
                "password": "scale-password-1", "template": args.template}}}
            out, _ = post(base + "/graphql", body, timeout=120)
            if out.get("errors"):
                raise RuntimeError(f"signup {i}: {out['errors']}")
            token = out["data"]["signup"]["accessToken"]
            if args.distinct:
                entity = template["entities"][0]["nameSingular"]
                q = "mutation($e: String!, $f: FieldInput!) { addField(entity: $e, field: $f) { nameSingular } }"
                field = {"key": f"tenant_note_{i}", "label": f"Note {i}", "type": "TEXT"}
                out, _ = post(base + "/graphql", {"query": q, "variables": {"e": entity, "f": field}}, token)
                if out.get("errors"):
                    raise RuntimeError(f"addField {i}: {out['errors']}")
            return token

        started = time.time()
        with ThreadPoolExecutor(args.jobs) as pool:
            tokens = list(pool.map(signup, range(args.tenants)))
        signup_s = time.time() - started

        # The template's first list field, from the schema of the first tenant.
        out, _ = post(base + "/graphql", {"query": "{ __schema { queryType { fields { name } } } }"},
                      tokens[0])
        plural = template["entities"][0]["namePlural"]
        lists = [f["name"] for f in out["data"]["__schema"]["queryType"]["fields"]]
        wanted = "".join(w if i == 0 else w.capitalize() for i, w in enumerate(plural.split("_")))
        if wanted not in lists:
            sys.exit(f"no list field {wanted} in the tenant schema")
        query = {"query": PROBE % wanted}

        before = metrics(base)
        rss_before = rss_kb(server.pid)

        def timed_all():
            lat = []
            for tok in tokens:
                out, dt = post(base + "/graphql", query, tok)
                if out.get("errors"):
                    raise RuntimeError(f"query: {out['errors']}")
                lat.append(dt * 1000)
            return lat

        cold = timed_all()
        rss_after = rss_kb(server.pid)
        warm = timed_all()
        after = metrics(base)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    n = args.tenants
    builds = after["alphery_schema_builds_total"] - before["alphery_schema_builds_total"]
    lookups = after["alphery_schema_lookups_total"] - before["alphery_schema_lookups_total"]
    build_s = after["alphery_schema_build_seconds_total"] - before["alphery_schema_build_seconds_total"]
    row = {
        "run": run, "tenants": n, "template": args.template,
        "backend": "postgres" if args.database_url else "sqlite", "distinct": args.distinct,
        "signup_s": round(signup_s, 1),
        "rss_before_mb": round(rss_before / 1024, 1), "rss_after_mb": round(rss_after / 1024, 1),
        "kb_per_schema": round((rss_after - rss_before) / n, 1),
        "cold_ms_p50": round(statistics.median(cold), 2), "cold_ms_p99": round(percentile(cold, 99), 2),
        "warm_ms_p50": round(statistics.median(warm), 2), "warm_ms_p99": round(percentile(warm, 99), 2),
        "builds": int(builds), "lookups": int(lookups),
        "hit_rate": round(1 - builds / lookups, 4) if lookups else None,
        "compiled_schemas": int(after["alphery_schema_cache_shapes"]),
        "kb_per_compiled_schema": round(after['alphery_schema_cache_bytes{part="schemas"}']
                                        / max(after["alphery_schema_cache_shapes"], 1) / 1024, 1),
        "kb_per_tenant_part": round(after['alphery_schema_cache_bytes{part="tenants"}']
                                    / max(after["alphery_schema_cache_entries"], 1) / 1024, 1),
        "build_ms_mean": round(build_s / builds * 1000, 2) if builds else None,
    }
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "scale.jsonl"), "a") as f:
        f.write(json.dumps(row) + "\n")
    shape = "distinct" if args.distinct else "one template"
    print(f"| tenants | RSS before → after (MB) | RSS per tenant | compiled schemas × KB | tenant part | "
          f"cold p50 / p99 | warm p50 / p99 | build mean (server) | hit rate |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {n} ({args.template}, {shape}, {row['backend']}) | {row['rss_before_mb']} → {row['rss_after_mb']} | "
          f"{row['kb_per_schema']} KB | {row['compiled_schemas']} × {row['kb_per_compiled_schema']} KB | "
          f"{row['kb_per_tenant_part']} KB | {row['cold_ms_p50']} / {row['cold_ms_p99']} ms | "
          f"{row['warm_ms_p50']} / {row['warm_ms_p99']} ms | {row['build_ms_mean']} ms | {row['hit_rate']} |")
    print(f"(sign-ups: {row['signup_s']} s; run {run}; row appended to bench/results/scale.jsonl)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
