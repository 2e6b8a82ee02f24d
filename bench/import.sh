#!/usr/bin/env bash
# bench/import.sh — how long a 100,000-row CSV import takes, on SQLite and on PostgreSQL.
#
#   bench/import.sh                 # both backends, 100,000 rows
#   ROWS=20000 bench/import.sh sqlite
#
# Starts `alphery serve` (its in-process worker, default settings) on a fresh database of each
# backend, signs up a tenant, defines `item` (code TEXT required, qty NUMBER, price CURRENCY,
# active BOOLEAN, ordered DATE), uploads a generated CSV of ROWS rows (three of them bad) with
# curl as a multipart request, and waits for the import to be DONE. Prints the rows, the
# seconds from upload to DONE and the rows per second; checks the counts.
#
# Env: ROWS (100000), ALPHERY_BIN (target/release/alphery, else target/debug/alphery under
# CARGO_TARGET_DIR or ./target), PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres: a
# scratch database is created there and dropped after), PORT (18140).
set -euo pipefail

ROWS=${ROWS:-100000}
PORT=${PORT:-18140}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${ALPHERY_BIN:-}
if [[ -z "$BIN" ]]; then
  for b in "$TARGET/release/alphery" "$TARGET/debug/alphery"; do
    [[ -x "$b" ]] && { BIN=$b; break; }
  done
fi
[[ -x "${BIN:-}" ]] || { echo "no alphery binary: build it or set ALPHERY_BIN" >&2; exit 1; }
WHICH=${1:-both}
URL="http://127.0.0.1:$PORT/graphql"

gql() { # gql TOKEN QUERY VARIABLES-JSON → response body
  python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "variables": json.loads(sys.argv[2])}))' "$2" "$3" |
    curl -sS "$URL" -H 'content-type: application/json' ${1:+-H "authorization: Bearer $1"} --data-binary @-
}
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); exec("for k in sys.argv[1].split(\".\"): d=d[int(k) if k.isdigit() else k]"); print(d)' "$1"; }

run_one() {
  local backend=$1 dir db_url pg_name="" pid
  dir=$(mktemp -d /tmp/alphery-import-bench.XXXXXX)
  if [[ $backend == postgres ]]; then
    pg_name="alphery_import_bench_$$"
    psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE $pg_name" >/dev/null
    db_url="${PG_ADMIN_URL%/*}/$pg_name"
  else
    db_url="sqlite://$dir/alphery.db?mode=rwc"
  fi
  DATABASE_URL=$db_url DATA_DIR=$dir BIND=127.0.0.1:$PORT SEED_DEMO=false LOG=warn \
    JWT_SECRET=import-bench-secret-import-bench-secret-0123 "$BIN" serve >"$dir/server.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' RETURN
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.5; done
  local token
  token=$(gql "" 'mutation { signup(input: {tenantName: "Bench", tenantSlug: "bench", email: "owner@bench.example.com", password: "correct horse battery staple"}) { accessToken } }' '{}' | field data.signup.accessToken)
  gql "$token" 'mutation($i: EntityInput!) { defineEntity(input: $i) { id } }' \
    '{"i": {"nameSingular": "item", "namePlural": "items", "labelSingular": "Item", "labelPlural": "Items",
      "fields": [{"key": "code", "label": "Code", "type": "TEXT", "required": true},
                 {"key": "qty", "label": "Qty", "type": "NUMBER"}, {"key": "price", "label": "Price", "type": "CURRENCY"},
                 {"key": "active", "label": "Active", "type": "BOOLEAN"}, {"key": "ordered", "label": "Ordered", "type": "DATE"}]}}' >/dev/null
  python3 - "$ROWS" "$dir/items.csv" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
bad = {n // 10: ",{i},1.50,yes,2026-01-02", n // 2: "IT-{i},many,1.50,yes,2026-01-02", n - 1: "IT-{i},{i},1.505,no,2026-01-02"}
with open(path, "w") as f:
    f.write("Code,Qty,Price,Active,Ordered\n")
    for i in range(1, n + 1):
        line = bad.get(i, "IT-{i},{i},{p}.{c:02d},{a},2026-01-02")
        f.write(line.format(i=i, p=i % 1000, c=i % 100, a="true" if i % 2 == 0 else "false") + "\n")
PY
  local started id status body
  started=$(date +%s.%N)
  body=$(curl -sS "$URL" -H "authorization: Bearer $token" \
    -F operations='{"query":"mutation($f: Upload!) { startImport(entity: \"item\", file: $f, runWorkflows: false) { id totalRows } }","variables":{"f":null}}' \
    -F map='{"0":["variables.f"]}' -F 0=@"$dir/items.csv")
  id=$(echo "$body" | field data.startImport.id)
  while :; do
    body=$(gql "$token" 'query($id: ID!) { import(id: $id) { status processedRows createdCount errorCount } }' "{\"id\": \"$id\"}")
    status=$(echo "$body" | field data.import.status)
    [[ $status == DONE || $status == FAILED || $status == CANCELLED ]] && break
    sleep 1
  done
  local ended secs
  ended=$(date +%s.%N)
  secs=$(python3 -c "print(f'{$ended - $started:.1f}')")
  echo "$backend: $ROWS rows in $secs s ($(python3 -c "print(int($ROWS / ($ended - $started)))") rows/s): $body"
  [[ $(echo "$body" | field data.import.createdCount) == $((ROWS - 3)) ]] || { echo "unexpected counts" >&2; exit 1; }
  kill $pid; wait $pid 2>/dev/null || true
  [[ -n $pg_name ]] && psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $pg_name WITH (FORCE)" >/dev/null
  rm -rf "$dir"
}

echo "binary: $BIN"
[[ $WHICH == sqlite || $WHICH == both ]] && run_one sqlite
[[ $WHICH == postgres || $WHICH == both ]] && run_one postgres
exit 0
