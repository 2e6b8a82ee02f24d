//! Guards of a record's INSERT on PostgreSQL: conditions its `SELECT … WHERE` checks in the
//! same statement, each failing the whole statement with a SQLSTATE of its own (a plpgsql
//! function made by a migration, `migration`'s `ddl::guard_function`), so a create checks its
//! relations and its definitions without a round trip of its own. SQLite checks step by step.

use crate::sql_buf::SqlBuf;

/// `alphery_require_current_definitions(…)` (migration 23) of a record's INSERT: the tenant's
/// metadata version is still `version`, the one the record was checked against, and the
/// tenant row stays locked `FOR SHARE` until the write commits — a definition change updates
/// that row before it writes index-slot keys into existing records, so it waits for the write
/// and then sees its record, and a write that waited for a change fails with `AL002`
/// (`Error::DefinitionsChanged`) instead of storing a record without a new slot's key.
pub fn push_definitions_guard(buf: &mut SqlBuf, tenant_id: &str, version: i64) {
    buf.push("alphery_require_current_definitions((SELECT metadata_version FROM tenants WHERE id = ");
    buf.bind(tenant_id.to_owned()).push(" FOR SHARE) = ").bind(version).push(")");
}

/// The SQLSTATE with which a reference guard fails its statement (`alphery_require_references`,
/// created by a migration).
pub const REFERENCE_GUARD_STATE: &str = "AL001";

/// A condition (PostgreSQL) that holds when each (record id, entity id) of `targets` is a live
/// record of the tenant and of that entity, and otherwise fails the whole statement with
/// `REFERENCE_GUARD_STATE`: a write checks its relations itself instead of after a look-up of
/// their own.
pub fn push_reference_guard(buf: &mut SqlBuf, tenant_id: &str, targets: &[(String, String)]) {
    let distinct: std::collections::BTreeSet<&(String, String)> = targets.iter().collect();
    buf.push("alphery_require_references((SELECT count(*) FROM records WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" AND deleted_at IS NULL AND (id, entity_id) IN (");
    for (i, (id, entity_id)) in distinct.iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        buf.push("(").bind_record_id(id).push(", ").bind(entity_id.clone()).push(")");
    }
    buf.push(")) = ").push(&distinct.len().to_string()).push(")");
}
