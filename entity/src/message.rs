//! What a message on a raw PostgreSQL connection (`raw_pool`) is made of, for the two that send
//! them: a request's shared reads (`db::ReadScope`) and a pipelined write transaction
//! (`pipeline`). A message is simple-protocol text: the tenant's setting for row-level security
//! (`set_tenant`), then each statement as the text that runs it (`statement_text`); a driver
//! error of either maps to the public error SeaORM's would (`driver_error`).

use sea_orm::Statement;

use crate::Result;
use crate::raw_pool::Lease;

/// A driver error as SeaORM reports it, so that it maps to the same public error.
pub(crate) fn driver_error(e: sea_orm::sqlx::Error) -> crate::Error {
    crate::Error::from(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(e))))
}

/// The statement setting `tenant` (a literal-safe id) for row-level security until the end of
/// the (implicit or explicit) transaction: `SET LOCAL`, which holds in the implicit transaction
/// of a multi-statement message as in a BEGIN block. It is what `set_config(…, true)` does,
/// without a query to parse, plan and answer with a row (a get by id ran ~10 % faster under
/// pgbench).
pub(crate) fn set_tenant(tenant: &str) -> String {
    format!("SET LOCAL app.tenant_id = '{tenant}'")
}

/// The text that runs `statement` on `conn` inside a message. A statement with values is
/// prepared once per connection and later messages only EXECUTE it with its arguments, so
/// PostgreSQL can settle on a cached plan (what sqlx's statement cache did for bound
/// statements); the text then also PREPAREs it when the connection has not (and DEALLOCATEs
/// the statement it replaces). One without values is sent as it is.
pub(crate) fn statement_text(conn: &mut Lease, statement: &Statement) -> Result<String> {
    use std::fmt::Write;

    let bound = statement.values.as_ref().is_some_and(|v| !v.0.is_empty());
    if !bound {
        return Ok(statement.sql.clone());
    }
    let args = crate::inline::arguments(statement)?;
    let prepared = conn.prepared(&statement.sql, &args.types).map_err(driver_error)?;
    let mut text = String::new();
    if let Some(old) = &prepared.evicted {
        let _ = write!(text, "DEALLOCATE {old}; ");
    }
    if prepared.new {
        let _ = write!(text, "PREPARE {}({}) AS {}; ", prepared.name, args.types, statement.sql);
    }
    let _ = write!(text, "EXECUTE {}({})", prepared.name, args.values);
    Ok(text)
}
