#!/usr/bin/env bash
# bench/load.sh — load the performance yardstick's data set into the server's own storage.
#
#   bench/load.sh BENCH_DB_URL ALPHERY_DB_URL HEADERS_TSV
#     BENCH_DB_URL    the yardstick's database (relational tables bench_tenant, deal, contact), e.g.
#                     postgres://bench:bench@127.0.0.1:55433/bench
#     ALPHERY_DB_URL  the server's database on the same cluster, e.g. postgres://bench:bench@127.0.0.1:55433/alphery;
#                     created when missing; must be empty (no tenants) unless RECREATE_DB=1 (drop + create).
#                     Its user must be a superuser (bulk load with session_replication_role = replica).
#     HEADERS_TSV     written: one line per tenant, `<tenant id><TAB>X-Api-Key: <key>` (for the harness)
#   env: ALPHERY_BIN (default $CARGO_TARGET_DIR/release/alphery, CARGO_TARGET_DIR default /work/target-release),
#        INDEXED=big|all|none (whose deal stage/amount/close_date are `indexed`: the big tenant's (default),
#        every tenant's, or nobody's; INDEX_ALL=1 is INDEXED=all. Indexed fields hold index slots, shared
#        indexes of `records`, so `all` loads as fast as the others), RECREATE_DB=1, LOAD_PORT (55072: the short-lived server), LOAD_TIMEOUT (s, bound of each step).
#
# How: `alphery migrate`; two prototype tenants made through the server's own GraphQL API by a briefly
# started `alphery serve` (signup, defineEntity contact + deal, createApiKey, createContact, createDeal;
# one with the deal fields stage/amount/close_date `indexed`); their rows replicated in SQL for the 1,001
# bench tenants (tenant id = bench tenant id); the 1.4M records made from the relational `contact` and
# `deal` tables (COPYed in; same ids, values and timestamps) with every secondary index and constraint of
# `records` dropped during the insert and recreated from the catalog afterwards; the prototypes deleted;
# the server started once more (it builds the rollups of every entity at start) and the load checked
# through the API against the relational rows; VACUUM ANALYZE.
#
# The SQL that knows the storage format is in ONE place: bench/storage.sql. This script is generic about
# it: records columns and indexes are read from the catalog, columns it is not told about are copied from
# the prototype's rows.
# shellcheck disable=SC2016  # $variables in single quotes are GraphQL / SQL, not shell
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $# -ne 3 ]]; then sed -n '2,16p' "$0" >&2; exit 2; fi
BENCH_DB_URL=$1
ALPHERY_DB_URL=$2
HEADERS_TSV=$3
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-release}
ALPHERY_BIN=${ALPHERY_BIN:-$CARGO_TARGET_DIR/release/alphery}
INDEXED=${INDEXED:-big}
[[ ${INDEX_ALL:-0} == 1 ]] && INDEXED=all
case $INDEXED in big|all|none) ;; *) echo "[load] INDEXED must be big, all or none, not $INDEXED" >&2; exit 2;; esac
RECREATE_DB=${RECREATE_DB:-0}
LOAD_PORT=${LOAD_PORT:-55072}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-1800}
STORAGE_SQL=$HERE/storage.sql
RECONCILE_TIMEOUT=${RECONCILE_TIMEOUT:-1800}

[[ -x $ALPHERY_BIN ]] || { echo "[load] no executable $ALPHERY_BIN (cargo build --release, or set ALPHERY_BIN)" >&2; exit 1; }
[[ -f $STORAGE_SQL ]] || { echo "[load] missing $STORAGE_SQL" >&2; exit 1; }
for t in psql python3 curl ss; do command -v $t >/dev/null || { echo "[load] needs $t" >&2; exit 1; }; done

t0=$(date +%s)
log() { echo "[load $(( $(date +%s) - t0 )) s] $*"; }
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
B() { timeout "$LOAD_TIMEOUT" "${PSQL[@]}" -d "$BENCH_DB_URL" "$@"; }
A() { timeout "$LOAD_TIMEOUT" "${PSQL[@]}" -d "$ALPHERY_DB_URL" "$@"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/alphery-load.XXXXXX")
SERVER_PID=""
stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
cleanup() {
  local rc=$?
  stop_server
  if [[ $rc != 0 && -f $WORK/serve.log ]]; then echo "[load] failed; last lines of the server log:" >&2; tail -20 "$WORK/serve.log" >&2; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- the database: create / check, migrate
read -r DBNAME ADMIN_URL < <(python3 - "$ALPHERY_DB_URL" <<'PY'
import re, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1]); db = u.path.lstrip("/")
if not re.fullmatch(r"[a-z_][a-z0-9_]*", db): sys.exit(f"ALPHERY_DB_URL: database name {db!r} must match [a-z_][a-z0-9_]*")
print(db, urllib.parse.urlunsplit(u._replace(path="/postgres")))
PY
)
[[ $("${PSQL[@]}" -d "$ADMIN_URL" -tAc "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == t ]] \
  || { echo "[load] the user of ALPHERY_DB_URL must be a superuser (session_replication_role)" >&2; exit 1; }
exists=$("${PSQL[@]}" -d "$ADMIN_URL" -tAc "SELECT count(*) FROM pg_database WHERE datname = '$DBNAME'")
if [[ $exists == 1 && $RECREATE_DB == 1 ]]; then
  log "dropping database $DBNAME (RECREATE_DB=1)"
  "${PSQL[@]}" -d "$ADMIN_URL" -c "DROP DATABASE $DBNAME WITH (FORCE)"
  exists=0
fi
if [[ $exists == 0 ]]; then
  log "creating database $DBNAME"
  "${PSQL[@]}" -d "$ADMIN_URL" -c "CREATE DATABASE $DBNAME"
elif [[ $(A -tAc "SELECT CASE WHEN to_regclass('public.tenants') IS NULL THEN 0 ELSE (SELECT count(*) FROM tenants) END") != 0 ]]; then
  echo "[load] database $DBNAME already holds tenants: give an empty database, or RECREATE_DB=1" >&2; exit 1
fi
log "alphery migrate"
DATABASE_URL=$ALPHERY_DB_URL LOG=warn timeout "$LOAD_TIMEOUT" "$ALPHERY_BIN" migrate

# ---------------------------------------------------------------- a short-lived server on LOAD_PORT
start_server() { # start_server TIMEOUT_S
  if ss -ltnH "sport = :$LOAD_PORT" | grep -q .; then echo "[load] port $LOAD_PORT is in use (set LOAD_PORT)" >&2; exit 1; fi
  mkdir -p "$WORK/data"
  DATABASE_URL=$ALPHERY_DB_URL BIND=127.0.0.1:$LOAD_PORT DATA_DIR=$WORK/data LOG=${LOAD_LOG:-info} SEED_DEMO=false \
    JWT_SECRET=alphery-load-secret-0123456789abcdef0123456789 \
    "$ALPHERY_BIN" serve >> "$WORK/serve.log" 2>&1 < /dev/null &
  SERVER_PID=$!
  local end=$(( $(date +%s) + $1 ))
  until curl -s -o /dev/null -m 2 "http://127.0.0.1:$LOAD_PORT/healthz"; do
    kill -0 "$SERVER_PID" 2>/dev/null || { SERVER_PID=""; echo "[load] the server exited" >&2; exit 1; }
    (( $(date +%s) < end )) || { echo "[load] the server did not answer within $1 s" >&2; exit 1; }
    sleep 0.5
  done
}
# gql HEADER QUERY [VARIABLES-JSON [PATH]]: POST to the short-lived server; fails on errors; prints the
# value at PATH (dot-separated, in `data`) or the whole `data`
gql() {
  python3 - "http://127.0.0.1:$LOAD_PORT/graphql" "$1" "$2" "${3:-{\}}" "${4:-}" <<'PY'
import json, sys, urllib.request
url, header, query, variables, path = sys.argv[1:6]
req = urllib.request.Request(url, data=json.dumps({"query": query, "variables": json.loads(variables)}).encode(), method="POST")
req.add_header("Content-Type", "application/json")
if header:
    k, v = header.split(":", 1); req.add_header(k.strip(), v.strip())
body = urllib.request.urlopen(req, timeout=120).read().decode()
j = json.loads(body)
if j.get("errors") or j.get("data") is None:
    sys.exit(f"GraphQL error: {body[:2000]}")
v = j["data"]
for p in filter(None, path.split(".")):
    v = v[int(p)] if isinstance(v, list) else v[p]
print(v if isinstance(v, str) else json.dumps(v))
PY
}

# ---------------------------------------------------------------- prototypes through the API
make_proto() { # make_proto SLUG INDEXED(true|false) -> prints the tenant id
  local slug=$1 ix=$2 out token tenant role contact
  out=$(gql "" 'mutation S($i: SignupInput!) { signup(input: $i) { accessToken tenant { id } } }' \
    "{\"i\": {\"tenantName\": \"Prototype $slug\", \"tenantSlug\": \"$slug\", \"email\": \"owner@$slug.example\", \"password\": \"bench-password-1\"}}" signup)
  read -r token tenant < <(python3 -c "import json,sys; j=json.loads(sys.argv[1]); print(j['accessToken'], j['tenant']['id'])" "$out")
  local auth="Authorization: Bearer $token"
  gql "$auth" 'mutation { defineEntity(input: {nameSingular: "contact", namePlural: "contacts", labelSingular: "Contact", labelPlural: "Contacts",
    fields: [{key: "name", label: "Name", type: TEXT}, {key: "email", label: "Email", type: EMAIL}]}) { typeName } }' >/dev/null
  gql "$auth" "mutation { defineEntity(input: {nameSingular: \"deal\", namePlural: \"deals\", labelSingular: \"Deal\", labelPlural: \"Deals\",
    fields: [{key: \"name\", label: \"Name\", type: TEXT}, {key: \"amount\", label: \"Amount\", type: CURRENCY, indexed: $ix},
             {key: \"stage\", label: \"Stage\", type: SELECT, options: [\"New\", \"Qualified\", \"Proposal\", \"Won\", \"Lost\"], indexed: $ix},
             {key: \"region\", label: \"Region\", type: SELECT, options: [\"North\", \"South\", \"East\", \"West\"]},
             {key: \"close_date\", label: \"Close date\", type: DATE, indexed: $ix},
             {key: \"contact\", label: \"Contact\", type: RELATION, relatedEntity: \"contact\"}]}) { typeName } }" >/dev/null
  role=$(gql "$auth" '{ roles { id name } }' "" roles | python3 -c "import json,sys; print([r['id'] for r in json.load(sys.stdin) if r['name'] == 'owner'][0])")
  gql "$auth" 'mutation K($r: ID!) { createApiKey(name: "bench", roleId: $r) { apiKey { id } } }' "{\"r\": \"$role\"}" >/dev/null
  contact=$(gql "$auth" 'mutation { createContact(input: {name: "Proto contact", email: "c@proto.example"}) { id } }' "" createContact.id)
  gql "$auth" 'mutation D($c: ID!) { createDeal(input: {name: "Proto deal", amount: "12345.60", stage: "Proposal", region: "North", closeDate: "2026-12-31", contact: $c}) { id } }' \
    "{\"c\": \"$contact\"}" >/dev/null
  echo "$tenant"
}
log "prototype tenants through the API (server on 127.0.0.1:$LOAD_PORT)"
start_server 300
PROTO_PLAIN=$(make_proto proto-plain false)
PROTO_INDEXED=$(make_proto proto-indexed true)
stop_server
log "prototypes: plain $PROTO_PLAIN, indexed $PROTO_INDEXED"

# ---------------------------------------------------------------- staging: the relational tables, COPYed in
A <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_t, bench_contact, bench_deal, bench_keys, bench_proto_ids, bench_saved_ddl;
CREATE UNLOGGED TABLE bench_t (id text PRIMARY KEY, n int NOT NULL, big boolean NOT NULL, proto text);
CREATE UNLOGGED TABLE bench_contact (id uuid, tenant_id text, name text, email text,
  created_at timestamptz, updated_at timestamptz, deleted_at timestamptz);
CREATE UNLOGGED TABLE bench_deal (id uuid, tenant_id text, name text, amount numeric(14,2), stage text, region text,
  close_date date, contact_id text, created_at timestamptz, updated_at timestamptz, deleted_at timestamptz);
SQL
B -c "\copy (SELECT id, n, big FROM bench_tenant ORDER BY n) TO STDOUT" | A -c "\copy bench_t (id, n, big) FROM STDIN"
B -c "\copy (SELECT id, tenant_id, name, email, created_at, updated_at, deleted_at FROM contact) TO STDOUT" \
  | A -c "\copy bench_contact FROM STDIN"
B -c "\copy (SELECT id, tenant_id, name, amount, stage, region, close_date, contact_id, created_at, updated_at, deleted_at FROM deal) TO STDOUT" \
  | A -c "\copy bench_deal FROM STDIN"
A -v plain="$PROTO_PLAIN" -v indexed="$PROTO_INDEXED" -v mode="$INDEXED" <<'SQL'
UPDATE bench_t SET proto = CASE WHEN :'mode' = 'all' OR (big AND :'mode' = 'big') THEN :'indexed' ELSE :'plain' END;
-- every uuid-shaped id of the prototypes' rows, in every table with (id, tenant_id): what remap() rewrites
CREATE UNLOGGED TABLE bench_proto_ids AS SELECT id AS proto, id FROM tenants WHERE id IN (:'plain', :'indexed');
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT c.table_name FROM information_schema.columns c
           JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name AND tb.table_type = 'BASE TABLE'
           WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND c.table_name NOT LIKE 'bench\_%'
             AND EXISTS (SELECT 1 FROM information_schema.columns i WHERE i.table_schema = 'public' AND i.table_name = c.table_name AND i.column_name = 'id')
  LOOP
    EXECUTE format($q$INSERT INTO bench_proto_ids SELECT tenant_id::text, id::text FROM %I
                      WHERE tenant_id::text IN (SELECT proto FROM bench_proto_ids) AND id::text ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'$q$, t);
  END LOOP;
END $$;
ANALYZE bench_t, bench_contact, bench_deal, bench_proto_ids;
SQL
log "staging: $(A -tAc "SELECT (SELECT count(*) FROM bench_t) || ' tenants, ' || (SELECT count(*) FROM bench_contact) || ' contacts, ' || (SELECT count(*) FROM bench_deal) || ' deals, ' || (SELECT count(*) FROM bench_proto_ids) || ' prototype ids'")"
# the tables storage.sql does not replicate, for the record (sessions, audit, outbox are not copied on purpose)
A -tA -v plain="$PROTO_PLAIN" <<'SQL' | sed 's/^/[load] not replicated: /'
CREATE TEMP TABLE proto_rows (tbl text, n bigint);
SELECT format('INSERT INTO proto_rows SELECT %L, count(*) FROM %I WHERE tenant_id::text = %L', c.table_name, c.table_name, :'plain')
FROM information_schema.columns c JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name AND tb.table_type = 'BASE TABLE'
WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND c.table_name NOT LIKE 'bench\_%'
  AND c.table_name NOT IN ('users', 'roles', 'entity_defs', 'field_defs', 'record_counters', 'api_keys', 'records') \gexec
SELECT coalesce(string_agg(tbl || ' (' || n || ' rows)', ', ' ORDER BY tbl), 'nothing') FROM proto_rows WHERE n > 0;
SQL

# ---------------------------------------------------------------- records: drop indexes, insert, recreate
# Saved from the catalog: FKs pointing at records, records' own PK/UNIQUE/EXCLUDE constraints, its other
# indexes. An index whose definition names an id of a prototype (the engine made such per-field indexes
# before index slots) is not recreated: the prototype goes. Indexed fields need no DDL: their records carry
# the slot keys copied from the prototype's record, and the slots' indexes are among those recreated.
A <<'SQL'
CREATE TABLE bench_saved_ddl (ord int, name text, drop_sql text, create_sql text);
INSERT INTO bench_saved_ddl
SELECT 1, conname, format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
FROM pg_constraint WHERE confrelid = 'records'::regclass AND contype = 'f'
UNION ALL
SELECT 2, conname, format('ALTER TABLE records DROP CONSTRAINT %I', conname),
       format('ALTER TABLE records ADD CONSTRAINT %I %s', conname, pg_get_constraintdef(oid))
FROM pg_constraint WHERE conrelid = 'records'::regclass AND contype IN ('p', 'u', 'x')
UNION ALL
SELECT 3, c.relname, format('DROP INDEX %s', i.indexrelid::regclass),
       CASE WHEN NOT EXISTS (SELECT 1 FROM bench_proto_ids p WHERE strpos(pg_get_indexdef(i.indexrelid), p.id) > 0)
            THEN pg_get_indexdef(i.indexrelid) END
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'records'::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = 'records'::regclass AND k.conindid = i.indexrelid);
SELECT drop_sql FROM bench_saved_ddl ORDER BY ord, name \gexec
SQL
log "dropped on records: $(A -tAc "SELECT string_agg(name || CASE WHEN create_sql IS NULL THEN ' (prototype''s, not recreated)' ELSE '' END, ', ' ORDER BY ord, name) FROM bench_saved_ddl")"

REC_COLS=$(A -tAc "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
  WHERE attrelid = 'records'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''")
log "platform rows + records (columns: $REC_COLS)"
A -v storage="$STORAGE_SQL" -v rec_cols="$REC_COLS" <<'SQL'
SET session_replication_role = replica;   -- bulk restore: no FK / trigger checks (ids consistent by construction)
SET work_mem = '1GB';
-- the prototype's row as JSON, every prototype id in it pointed at tenant p_tenant (md5(tenant:id)::uuid)
CREATE FUNCTION pg_temp.remap(p_json jsonb, p_tenant text, p_proto text) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE s text := p_json::text; i text;
BEGIN
  s := replace(s, p_proto, p_tenant);
  FOR i IN SELECT id FROM bench_proto_ids WHERE proto = p_proto AND id <> p_proto LOOP
    s := replace(s, i, md5(p_tenant || ':' || i)::uuid::text);
  END LOOP;
  RETURN s::jsonb;
END $$;
\i :storage
-- each records column: from bench_rec_src when it has it (cast to the column's type), else from the template
SELECT string_agg(CASE WHEN v.attname IS NULL THEN format('t.%I', a.attname)
                       ELSE format('s.%I::%s', a.attname, format_type(a.atttypid, a.atttypmod)) END, ', ' ORDER BY a.attnum) AS rec_sel,
       string_agg(v.attname, ', ' ORDER BY a.attnum) AS src_cols
FROM pg_attribute a LEFT JOIN pg_attribute v ON v.attrelid = 'bench_rec_src'::regclass AND v.attname = a.attname AND v.attnum > 0
WHERE a.attrelid = 'records'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' \gset
\echo [load] inserting records: from the relational rows :src_cols; the rest from the prototype
INSERT INTO records (:rec_cols)
SELECT :rec_sel FROM bench_rec_src s JOIN bench_rec_tmpl t ON t.bench_tenant = s.tenant_id AND t.bench_entity = s.bench_entity
ORDER BY s.bench_ord, s.created_at, s.id;
SQL
log "records inserted; recreating constraints and indexes"
A <<'SQL'
SET maintenance_work_mem = '1GB';
SELECT create_sql FROM bench_saved_ddl WHERE create_sql IS NOT NULL ORDER BY CASE ord WHEN 2 THEN 0 ELSE ord END, name \gexec
SQL

# ---------------------------------------------------------------- finish: headers, prototypes gone, server start
umask 077
A -c "\copy (SELECT tenant_id, 'X-Api-Key: ' || key FROM bench_keys ORDER BY tenant_id) TO STDOUT" > "$HEADERS_TSV.tmp"
mv "$HEADERS_TSV.tmp" "$HEADERS_TSV"
umask 022
# the prototype tenants go (cascade); their audit rows stay (audit_log is append-only, no FK)
A -c "DELETE FROM tenants WHERE id IN ('$PROTO_PLAIN', '$PROTO_INDEXED')"
SAVED=$(A -tAc "SELECT string_agg(quote_literal(name), ',') FROM bench_saved_ddl WHERE ord IN (2, 3) AND create_sql IS NOT NULL")
A -c "DROP TABLE bench_t, bench_contact, bench_deal, bench_keys, bench_proto_ids, bench_saved_ddl"
log "$(wc -l < "$HEADERS_TSV") tenant headers in $HEADERS_TSV; starting the server (rollups; up to $RECONCILE_TIMEOUT s)"
start_server "$RECONCILE_TIMEOUT"
log "server up; indexes it made on records: $(A -tAc "SELECT coalesce(string_agg(indexname, ' ' ORDER BY indexname), 'none') FROM pg_indexes
  WHERE tablename = 'records' AND indexname NOT IN (${SAVED:-''})")"

# ---------------------------------------------------------------- check through the API against the relational rows
B -tA -F $'\t' -c "SELECT d.id, d.tenant_id, d.name, d.amount, d.stage, d.region, coalesce(to_char(d.close_date, 'YYYY-MM-DD'), ''), coalesce(c.name, ''),
    (SELECT count(*) FROM deal x WHERE x.tenant_id = d.tenant_id AND x.deleted_at IS NULL),
    (SELECT sum(amount) FROM deal x WHERE x.tenant_id = d.tenant_id AND x.deleted_at IS NULL)
  FROM (SELECT DISTINCT ON (t.big) d.* FROM deal d JOIN bench_tenant t ON t.id = d.tenant_id WHERE d.deleted_at IS NULL AND t.n IN (0, 1000)
        ORDER BY t.big, d.created_at DESC) d LEFT JOIN contact c ON c.id = d.contact_id" > "$WORK/expect.tsv"
B -tA -F $'\t' -c "SELECT d.tenant_id, d.stage, count(*), sum(d.amount) FROM deal d JOIN bench_tenant t ON t.id = d.tenant_id
  WHERE t.n IN (0, 1000) AND d.deleted_at IS NULL GROUP BY 1, 2" > "$WORK/groups.tsv"
python3 - "http://127.0.0.1:$LOAD_PORT/graphql" "$HEADERS_TSV" "$WORK/expect.tsv" "$WORK/groups.tsv" <<'PY'
import json, sys, urllib.request
from decimal import Decimal
url, hdr_file, expect, groups = sys.argv[1:5]
want_groups = {}
for l in open(groups):
    t, stage, n, total = l.rstrip("\n").split("\t")
    want_groups.setdefault(t, {})[stage] = (int(n), Decimal(total))
keys = dict(l.rstrip("\n").split("\t", 1) for l in open(hdr_file) if l.strip())
def q(tenant, query, variables):
    k, v = keys[tenant].split(":", 1)
    req = urllib.request.Request(url, data=json.dumps({"query": query, "variables": variables}).encode(), method="POST")
    req.add_header("Content-Type", "application/json"); req.add_header(k.strip(), v.strip())
    j = json.loads(urllib.request.urlopen(req, timeout=300).read())
    if j.get("errors"): sys.exit(f"[load] check: GraphQL error {json.dumps(j)[:1000]}")
    return j["data"]
bad = []
for line in open(expect):
    did, tid, name, amount, stage, region, close, cname, count, total = line.rstrip("\n").split("\t")
    d = q(tid, "query($id: ID!) { deal(id: $id) { id name amount stage region closeDate contact { name } } }", {"id": did})["deal"]
    got = (d["id"], d["name"], Decimal(str(d["amount"])), d["stage"], d["region"], d["closeDate"] or "", (d.get("contact") or {}).get("name") or "")
    want = (did, name, Decimal(amount), stage, region, close, cname)
    if got != want: bad.append(f"deal {did}: got {got}, want {want}")
    a = q(tid, "{ dealsAggregate { count sum { amount } } }", {})["dealsAggregate"]
    a = a[0] if isinstance(a, list) else a
    if int(a["count"]) != int(count) or Decimal(str(a["sum"]["amount"])) != Decimal(total):
        bad.append(f"tenant {tid}: dealsAggregate {a}, want count {count} sum {total}")
    g = q(tid, "{ dealsAggregate(groupBy: [STAGE]) { group count sum { amount } } }", {})["dealsAggregate"]
    got_groups = {x["group"]["stage"]: (int(x["count"]), Decimal(str(x["sum"]["amount"]))) for x in g}
    if got_groups != want_groups[tid]:
        bad.append(f"tenant {tid}: dealsAggregate by stage {got_groups}, want {want_groups[tid]}")
    print(f"[load] check tenant {tid}: deal {did} ok={got == want}, {a['count']} deals, by stage ok={got_groups == want_groups[tid]}")
if bad: sys.exit("[load] CHECK FAILED:\n  " + "\n  ".join(bad))
PY
stop_server
log "VACUUM (ANALYZE)"
A -c "VACUUM (ANALYZE)"
A -c "SELECT (SELECT count(*) FROM tenants) AS tenants, (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM api_keys) AS api_keys,
  (SELECT count(*) FROM records) AS records, pg_size_pretty(pg_total_relation_size('records')) AS records_size,
  (SELECT string_agg(indexname, ' ' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'records') AS records_indexes"
log "done"
