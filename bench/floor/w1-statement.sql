-- The same three rows as w1-transaction.sql in one statement (data-modifying CTEs, autocommit): one
-- round trip, one implicit transaction.
\set t random(1, 1000)
\set c random(1, 200)
\set a random(0, 9999999)
WITH r AS (
  INSERT INTO records (tenant_id, entity, data)
  VALUES (md5('__SEED__:' || 'tenant:' || :t::int)::uuid, 'deal',
          jsonb_build_object('name', 'W1 deal', 'amount', :a::numeric / 100, 'stage', 'New', 'region', 'North',
                             'close_date', '2026-12-31',
                             'contact_id', md5('__SEED__:' || 'contact:' || :t::int || ':' || :c::int)::uuid))
  RETURNING id, tenant_id, data),
a AS (
  INSERT INTO floor.audit (tenant_id, at, action, object_id, changes, prev_hash, hash)
  SELECT tenant_id, now(), 'create', id, data, repeat('0', 64), md5(id::text) || md5(id::text) FROM r),
o AS (
  INSERT INTO floor.outbox (tenant_id, topic, payload, created_at)
  SELECT tenant_id, 'record.created', data || jsonb_build_object('id', id), now() FROM r)
SELECT id FROM r;
