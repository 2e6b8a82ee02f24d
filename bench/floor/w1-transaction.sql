-- The least a create "with audit and outbox in the record's transaction" must do: the raw W1
-- insert, one audit row and one outbox row, one transaction (no hash chain, no rollups, no
-- row-level security, no reference checks).
\set t random(1, 1000)
\set c random(1, 200)
\set a random(0, 9999999)
BEGIN;
INSERT INTO records (tenant_id, entity, data)
VALUES (md5('__SEED__:' || 'tenant:' || :t::int)::uuid, 'deal',
        jsonb_build_object('name', 'W1 deal', 'amount', :a::numeric / 100, 'stage', 'New', 'region', 'North',
                           'close_date', '2026-12-31',
                           'contact_id', md5('__SEED__:' || 'contact:' || :t::int || ':' || :c::int)::uuid))
RETURNING id \gset
INSERT INTO floor.audit (tenant_id, at, action, object_id, changes, prev_hash, hash)
VALUES (md5('__SEED__:' || 'tenant:' || :t::int)::uuid, now(), 'create', :id::uuid,
        jsonb_build_object('name', jsonb_build_array(NULL, 'W1 deal'), 'amount', jsonb_build_array(NULL, :a::numeric / 100),
                           'stage', jsonb_build_array(NULL, 'New'), 'region', jsonb_build_array(NULL, 'North'),
                           'close_date', jsonb_build_array(NULL, '2026-12-31')),
        repeat('0', 64), md5(:id::text) || md5(:id::text));
INSERT INTO floor.outbox (tenant_id, topic, payload, created_at)
VALUES (md5('__SEED__:' || 'tenant:' || :t::int)::uuid, 'record.created',
        jsonb_build_object('entity', 'deal', 'id', :id::uuid, 'name', 'W1 deal', 'amount', :a::numeric / 100), now());
COMMIT;
