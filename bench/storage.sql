-- bench/storage.sql — THE ONE PLACE THAT KNOWS THE SERVER'S STORAGE FORMAT (run by bench/load.sh, and for
-- the W1 cleanup by bench/target/start.sh and stop.sh).
-- When the storage changes (tables, a records column, how a field value is stored), this file is what
-- to edit. Everything else in load.sh is generic: it reads the records columns and indexes from the
-- catalog, copies every column it is not told about from the prototype rows the server wrote itself
-- (ids remapped per tenant), and checks the result through the API.
--
-- Runs in ONE psql session of load.sh, with session_replication_role = replica (no FK/trigger checks).
-- Inputs made by load.sh:
--   bench_t(id, n, big, proto)        the 1,001 bench tenants; proto = id of the prototype tenant to copy
--                                     (the one made with indexed deal fields for the big tenant / INDEX_ALL=1)
--   bench_contact, bench_deal         the yardstick's relational tables, COPYed as they are (the record ids
--                                     as uuid, the type of records.id on PostgreSQL; the other ids as text)
--   pg_temp.remap(json, tenant, proto) the prototype's row as JSON with every id of the prototype tenant
--                                     (anywhere in it) replaced by the tenant's id: md5(tenant:id)::uuid
-- Outputs (used by load.sh afterwards):
--   the platform rows of every bench tenant (section 1)
--   bench_keys(tenant_id, key)        one API key per tenant, for HEADERS_TSV
--   bench_rec_tmpl(bench_tenant, bench_entity, <records columns>)  the prototype's record of each entity,
--                                     remapped per tenant
--   bench_rec_src(bench_ord, bench_entity, <some records columns>)  one row per record; load.sh inserts
--                                     its columns, and the template's for every other records column

-- 0. W1 cleanup — bench/target/start.sh and stop.sh run this file with `-v w1_cleanup=1` while the server is
--    down: delete the records W1 wrote (the loaded ones all have created_at < 2025-01-01), and the rollup
--    cells of their entities (derived data kept by the server's writes; the server rebuilds an entity's cells
--    at start when it has none), so that the loaded database stays consistent run after run.
\if :{?w1_cleanup}
WITH d AS (DELETE FROM records WHERE created_at >= '2025-01-01' RETURNING tenant_id, entity_id),
r AS (DELETE FROM record_rollups x USING (SELECT DISTINCT tenant_id, entity_id FROM d) e
      WHERE x.tenant_id = e.tenant_id AND x.entity_id = e.entity_id RETURNING 1)
SELECT (SELECT count(*) FROM d) AS w1_records, (SELECT count(*) FROM r) AS w1_cells, (SELECT count(*) FROM d) > 0 AS w1_any \gset
\if :w1_any
\echo [alphery] W1 cleanup: removed :w1_records records and :w1_cells rollup cells (the server rebuilds them at start)
VACUUM (ANALYZE) records, record_rollups;
\endif
\quit
\endif

-- 1. platform rows: copies of the prototype's rows (jsonb_populate_record keeps every column; the remap
--    points ids at the tenant). Not copied: sessions, audit chain (the tenant's first write starts it),
--    outbox history, record_rollups (derived from the records: the server builds an entity's cells at
--    start when it has none). load.sh lists every table holding prototype rows that is not copied here.
INSERT INTO tenants
SELECT r.* FROM tenants p JOIN bench_t b ON b.proto = p.id
CROSS JOIN LATERAL jsonb_populate_record(NULL::tenants, pg_temp.remap(to_jsonb(p), b.id, b.proto)
  || jsonb_build_object('name', 'Bench tenant ' || b.n, 'slug', 'bench-' || b.n)) r;

-- users: the owner (password bench-password-1, the prototype's hash), owner@bench-<n>.example
INSERT INTO users
SELECT r.* FROM users p JOIN bench_t b ON b.proto = p.tenant_id
CROSS JOIN LATERAL jsonb_populate_record(NULL::users, pg_temp.remap(to_jsonb(p), b.id, b.proto)
  || jsonb_build_object('email', 'owner@bench-' || b.n || '.example')) r;

-- plain copies (roles with their permissions, entity and field definitions — `indexed` comes from the
-- prototype the tenant copies — and record counters)
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['roles', 'entity_defs', 'field_defs', 'record_counters'] LOOP
    EXECUTE format('INSERT INTO %1$I SELECT r.* FROM %1$I p JOIN bench_t b ON b.proto = p.tenant_id
      CROSS JOIN LATERAL jsonb_populate_record(NULL::%1$I, pg_temp.remap(to_jsonb(p), b.id, b.proto)) r', t);
  END LOOP;
END $$;

-- API keys in the server's format (api/src/auth/tokens.rs: ak_<tenant id>_<secret>; SHA-256 hex stored,
-- key_prefix = as many leading characters as the server stored for the prototype's key)
CREATE TABLE bench_keys AS
SELECT id AS tenant_id, 'ak_' || id || '_bench' || md5('key:' || id) AS key FROM bench_t;
INSERT INTO api_keys
SELECT r.* FROM api_keys p JOIN bench_t b ON b.proto = p.tenant_id JOIN bench_keys k ON k.tenant_id = b.id
CROSS JOIN LATERAL jsonb_populate_record(NULL::api_keys, pg_temp.remap(to_jsonb(p), b.id, b.proto)
  || jsonb_build_object('name', 'bench', 'key_hash', encode(sha256(convert_to(k.key, 'UTF8')), 'hex'),
                        'key_prefix', left(k.key, length(p.key_prefix)), 'last_used_at', NULL)) r;

-- 2. records. Template: the prototype's record of each entity (entity_id, owner_id = created_by = the
--    owner, number / record_number (NULL: no prefix), version, and any column added later), remapped; load.sh
--    takes every records column that bench_rec_src below does not have from here.
CREATE TEMP TABLE bench_rec_tmpl AS
SELECT b.id AS bench_tenant, e.name_singular AS bench_entity, r.*
FROM bench_t b JOIN records p ON p.tenant_id = b.proto JOIN entity_defs e ON e.id = p.entity_id
CROSS JOIN LATERAL jsonb_populate_record(NULL::records, pg_temp.remap(to_jsonb(p) - 'data', b.id, b.proto)) r;
CREATE UNIQUE INDEX ON bench_rec_tmpl (bench_tenant, bench_entity);
ANALYZE bench_rec_tmpl;

-- Per record, the columns named as in `records` (load.sh casts them to the column types; the id is a uuid
-- already): same id and timestamps as the relational row; data keyed by field key, values in the stored
-- form: TEXT / EMAIL / SELECT as strings, CURRENCY as a 2-place decimal string, DATE 'YYYY-MM-DD',
-- RELATION = the related record's id (text in the JSON); NULLs left out. Order (bench_ord, created_at, id):
-- contacts, then deals, each by created_at (tenants interleave on disk, as with real inserts).
CREATE TEMP VIEW bench_rec_src AS
SELECT 1 AS bench_ord, 'contact'::text AS bench_entity, s.id, s.tenant_id,
       jsonb_strip_nulls(jsonb_build_object('name', s.name, 'email', s.email)) AS data,
       s.created_at, s.updated_at, s.deleted_at
FROM bench_contact s
UNION ALL
SELECT 2, 'deal', s.id, s.tenant_id,
       jsonb_strip_nulls(jsonb_build_object('name', s.name, 'amount', s.amount::text, 'stage', s.stage, 'region', s.region,
         'close_date', to_char(s.close_date, 'YYYY-MM-DD'), 'contact', s.contact_id)),
       s.created_at, s.updated_at, s.deleted_at
FROM bench_deal s;

-- Guard: a generated record's data must have the same keys and JSON types as the one the server wrote for
-- the prototype (which sets every field). Fails the load when the stored form of a value changes.
DO $$
DECLARE diff text;
BEGIN
  WITH proto AS (
    SELECT DISTINCT e.name_singular AS entity, k.key, jsonb_typeof(k.value) AS type
    FROM records r JOIN entity_defs e ON e.id = r.entity_id JOIN (SELECT DISTINCT proto FROM bench_t) b ON b.proto = r.tenant_id
    CROSS JOIN LATERAL jsonb_each(r.data) k),
  gen AS (
    SELECT e.entity, k.key, jsonb_typeof(k.value) AS type
    FROM (SELECT DISTINCT entity FROM proto) e
    CROSS JOIN LATERAL (SELECT s.data FROM bench_rec_src s WHERE s.bench_entity = e.entity
                        ORDER BY (SELECT count(*) FROM jsonb_object_keys(s.data)) DESC LIMIT 1) x
    CROSS JOIN LATERAL jsonb_each(x.data) k),
  d AS ((SELECT 'server wrote' AS side, * FROM proto EXCEPT SELECT 'server wrote', * FROM gen)
        UNION ALL (SELECT 'load writes', * FROM gen EXCEPT SELECT 'load writes', * FROM proto))
  SELECT string_agg(format('%s %s.%s as %s', side, entity, key, type), '; ') INTO diff FROM d;
  IF diff IS NOT NULL THEN
    RAISE EXCEPTION 'storage format changed (edit bench/storage.sql): %', diff;
  END IF;
END $$;
