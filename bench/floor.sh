#!/usr/bin/env bash
# bench/floor.sh — what W1 could reach if the server cost nothing: pgbench runs the yardstick's raw
# W1 insert alternated with the least a create "with audit and outbox in the record's transaction"
# must do (floor/w1-*.sql: the same insert plus one audit row and one outbox row, in one transaction
# or in one statement; no hash chain, rollups, row-level security or reference checks), on the
# yardstick's `bench` database, and prints each one's tps and its ratio to the raw runs beside it.
#
#   bench/floor.sh [ROUNDS]      (default 2; needs the yardstick's cluster: bench/run.sh or its setup.sh)
#
# The tables it writes to live in a schema `floor` created for the run and dropped after it; the rows
# W1 adds to `records` are removed by the yardstick's own cleanup (lib/cleanup_writes.sh).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_SCRATCH=${BENCH_SCRATCH:-/work/benchrun}
ROUNDS=${1:-2}
# shellcheck source=/dev/null
source "$BENCH_SCRATCH/config.env"
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-55433} PGUSER=${PGUSER:-bench} PGPASSWORD=${PGPASSWORD:-bench}
SCRATCH=$(mktemp -d)
cleanup() {
  psql -X -q -d bench -c "DROP SCHEMA IF EXISTS floor CASCADE" || true
  bash "$BENCH_SCRATCH/lib/cleanup_writes.sh" || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
psql -X -q -v ON_ERROR_STOP=1 -d bench <<'SQL'
DROP SCHEMA IF EXISTS floor CASCADE;
CREATE SCHEMA floor;
CREATE TABLE floor.audit (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, at timestamptz NOT NULL,
  action text NOT NULL, object_id uuid, changes jsonb NOT NULL, prev_hash text NOT NULL, hash text NOT NULL);
CREATE INDEX ON floor.audit (tenant_id, object_id);
CREATE TABLE floor.outbox (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, topic text NOT NULL,
  payload jsonb NOT NULL, created_at timestamptz NOT NULL, dispatched_at timestamptz);
CREATE INDEX ON floor.outbox (dispatched_at, id);
SQL
sed "s/__SEED__/$SEED/g" "$BENCH_SCRATCH/pgbench/j_w1.sql" > "$SCRATCH/raw.sql"
for f in "$HERE"/floor/w1-*.sql; do sed "s/__SEED__/$SEED/g" "$f" > "$SCRATCH/$(basename "$f")"; done
tps() {
  timeout 120 pgbench -n -M prepared -c "${PGBENCH_CLIENTS:-8}" -j "${PGBENCH_THREADS:-2}" -T "${PGBENCH_SECONDS:-20}" \
    -f "$1" bench 2>&1 | awk '/^tps/ {print $3}'
}
for round in $(seq "$ROUNDS"); do
  for floor in "$SCRATCH"/w1-*.sql; do
    raw=$(tps "$SCRATCH/raw.sql"); got=$(tps "$floor")
    printf 'round %s  raw W1 %8.0f tps   %-20s %8.0f tps   ratio %.3f\n' "$round" "$raw" "$(basename "$floor")" "$got" \
      "$(awk -v a="$got" -v b="$raw" 'BEGIN { print a / b }')"
  done
done
