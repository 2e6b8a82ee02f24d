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
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from harness import HERE, Server, default_bin, metrics, percentile, report, rss_kb

# The first list of each template's first entity, so any template works.
PROBE = "{ %s(first: 1) { nodes { id } } }"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, default=1000)
    ap.add_argument("--template", default="hospital")
    ap.add_argument("--distinct", action="store_true",
                    help="give each tenant a field of its own: no compiled schema is shared")
    ap.add_argument("--database-url")
    ap.add_argument("--bin", default=default_bin())
    ap.add_argument("--jobs", type=int, default=4)
    args = ap.parse_args()

    server = Server(args.bin, args.database_url, {"SCHEMA_CACHE_MB": "65536"}, prefix="alphery-scale-")
    base = server.base
    try:
        run = time.strftime("%Y%m%d-%H%M%S")

        template = json.load(open(os.path.join(HERE, "..", "templates", f"{args.template}.json")))

        def signup(i):
            token = server.signup(f"scale-{run}-{i}", i, args.template)
            if args.distinct:
                entity = template["entities"][0]["nameSingular"]
                q = "mutation($e: String!, $f: FieldInput!) { addField(entity: $e, field: $f) { nameSingular } }"
                field = {"key": f"tenant_note_{i}", "label": f"Note {i}", "type": "TEXT"}
                out, _ = server.graphql({"query": q, "variables": {"e": entity, "f": field}}, token)
                if out.get("errors"):
                    raise RuntimeError(f"addField {i}: {out['errors']}")
            return token

        started = time.time()
        with ThreadPoolExecutor(args.jobs) as pool:
            tokens = list(pool.map(signup, range(args.tenants)))
        signup_s = time.time() - started

        # The template's first list field, from the schema of the first tenant.
        out, _ = server.graphql({"query": "{ __schema { queryType { fields { name } } } }"}, tokens[0])
        plural = template["entities"][0]["namePlural"]
        lists = [f["name"] for f in out["data"]["__schema"]["queryType"]["fields"]]
        wanted = "".join(w if i == 0 else w.capitalize() for i, w in enumerate(plural.split("_")))
        if wanted not in lists:
            sys.exit(f"no list field {wanted} in the tenant schema")
        query = {"query": PROBE % wanted}

        before = metrics(base, "alphery_schema_")
        rss_before = rss_kb(server.proc.pid)

        def timed_all():
            lat = []
            for tok in tokens:
                out, dt = server.graphql(query, tok)
                if out.get("errors"):
                    raise RuntimeError(f"query: {out['errors']}")
                lat.append(dt * 1000)
            return lat

        cold = timed_all()
        rss_after = rss_kb(server.proc.pid)
        warm = timed_all()
        after = metrics(base, "alphery_schema_")
    finally:
        server.stop()

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
    shape = "distinct" if args.distinct else "one template"
    report("scale", row, [
        ("tenants", f"{n} ({args.template}, {shape}, {row['backend']})"),
        ("RSS before → after (MB)", f"{row['rss_before_mb']} → {row['rss_after_mb']}"),
        ("RSS per tenant", f"{row['kb_per_schema']} KB"),
        ("compiled schemas × KB", f"{row['compiled_schemas']} × {row['kb_per_compiled_schema']} KB"),
        ("tenant part", f"{row['kb_per_tenant_part']} KB"),
        ("cold p50 / p99", f"{row['cold_ms_p50']} / {row['cold_ms_p99']} ms"),
        ("warm p50 / p99", f"{row['warm_ms_p50']} / {row['warm_ms_p99']} ms"),
        ("build mean (server)", f"{row['build_ms_mean']} ms"),
        ("hit rate", row["hit_rate"]),
    ], f"sign-ups: {row['signup_s']} s; run {run}")
    shutil.rmtree(server.work, ignore_errors=True)


if __name__ == "__main__":
    main()
