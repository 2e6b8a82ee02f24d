//! GraphQL names of the tenant's archive export (`startTenantExport`): the owner's mutation that
//! queues a job writing the whole tenant as one zip file (`features::exports::tenant`).

/// The owner's mutation: queue the tenant's archive.
pub const START_TENANT_EXPORT: &str = "startTenantExport";

/// The root fields named here (reserved: no entity may generate one of them).
pub const ROOT_FIELDS: &[&str] = &[START_TENANT_EXPORT];
