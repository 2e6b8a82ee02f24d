//! The columns a read of records selects: every column (`COLUMNS`, the order `rows` decodes
//! by position), or a lean page's (`Columns::Lean`), with `data` carrying the entity's formula
//! values when it has formulas.

use std::borrow::Cow;

use crate::Dialect;
use crate::runtime::formula;
use crate::runtime::meta::EntityDef;

pub(super) const COLUMNS: &str = "id, entity_id, data, owner_id, created_by, number, record_number, \
                       created_at, updated_at, deleted_at, version";

/// `COLUMNS` for a lean page (`Columns::Lean`) on PostgreSQL: the same names in the same
/// places, the columns such a page never reads as typed NULLs. A read runs as an `EXECUTE` of
/// a simple-protocol message (`db::ReadScope`), whose rows PostgreSQL stores in a tuplestore
/// before sending: each column shown costs its output function and a copy per row. On the
/// yardstick's Q1 page (51 rows) the unread columns were about a fifth of PostgreSQL's CPU.
const LEAN_COLUMNS: &str = "id, entity_id, data, CAST(NULL AS varchar) AS owner_id, \
                            CAST(NULL AS varchar) AS created_by, CAST(NULL AS bigint) AS number, \
                            CAST(NULL AS varchar) AS record_number, created_at, \
                            CAST(NULL AS timestamptz) AS updated_at, deleted_at, \
                            CAST(NULL AS bigint) AS version";

/// The columns of a record of `entity` as reads select them: `COLUMNS`, with `data` holding
/// every formula field's value when the entity has formulas (`formula::data_expr`).
pub(super) fn columns(d: Dialect, entity: &EntityDef) -> Cow<'static, str> {
    with_data(entity, d, COLUMNS)
}

/// `columns` for a page read with `shown` columns.
pub(super) fn page_columns(d: Dialect, entity: &EntityDef, shown: Columns) -> Cow<'static, str> {
    match (d, shown) {
        (Dialect::Postgres, Columns::Lean) => with_data(entity, d, LEAN_COLUMNS),
        _ => columns(d, entity),
    }
}

fn with_data(entity: &EntityDef, d: Dialect, list: &'static str) -> Cow<'static, str> {
    match formula::data_expr(d, entity) {
        Some(data) => Cow::Owned(list.replacen("data", &format!("{data} AS data"), 1)),
        None => Cow::Borrowed(list),
    }
}

/// Which of a record's columns a page reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Columns {
    /// Every column: the page's records are whole.
    #[default]
    All,
    /// Only `id`, `entity_id`, `data`, `created_at` and `deleted_at`: for a reader that shows
    /// nothing else and orders by nothing else (a compiled page, `ListArgs::lean_if`). Its
    /// records carry no owner, creator or record number, version 0 and `updated_at` equal to
    /// `created_at`. PostgreSQL only; elsewhere every column is read.
    Lean,
}
