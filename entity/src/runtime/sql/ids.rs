//! Record ids in SQL: `records.id` is a `uuid` on PostgreSQL (migration 28) and text on
//! SQLite. How an id given as text is bound (`SqlBuf::bind_record_id`, through `record_uuid`),
//! how an id held in a record's `data` meets the column (`record_id_of`, `push_fenced_ids`), and
//! how the column is read back as the id's text.

use crate::sql_buf::SqlBuf;
use crate::{Dialect, Result};

/// The regular expression of `record_uuid`'s form, for SQL.
const RECORD_ID_FORM: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/// `text`, an SQL text expression holding a record id (a relation value read from `data`), as
/// it compares with `records.id`: on PostgreSQL cast to `uuid` when it is an id in its stored
/// form and NULL (equal to no id) otherwise, so a stored value of any other form finds no
/// record, as on SQLite, instead of failing the statement; on SQLite the text itself. The
/// comparison stays on `id`'s side as it is, so the primary key serves it.
pub fn record_id_of(d: Dialect, text: &str) -> String {
    match d {
        Dialect::Postgres => {
            format!("(CASE WHEN {text} ~ '{RECORD_ID_FORM}' THEN CAST({text} AS UUID) END)")
        }
        Dialect::Sqlite => text.to_owned(),
    }
}

/// The body of `id IN (…)`: the column `v` of what `select` writes, a SELECT (or a UNION ALL
/// of them).
/// On PostgreSQL the subquery is fenced (`OFFSET 0`) so that the casts computing its ids run
/// inside it: row-level security lets no function that is not leakproof — a cast to `uuid`
/// can fail, so it is not — into the scan of `records` ahead of the tenant's policy, and a
/// flattened subquery made the cast part of the join condition, so the primary key could not
/// serve it and a get with its to-one relation read every record of its tenant (yardstick
/// Q4: 781 requests/s against 7,500). Fenced, the join compares `id` with a plain `uuid`.
pub fn push_fenced_ids(buf: &mut SqlBuf, select: impl FnOnce(&mut SqlBuf) -> Result<()>) -> Result<()> {
    buf.push("SELECT f.v FROM (");
    select(buf)?;
    buf.push(match buf.dialect {
        Dialect::Postgres => " OFFSET 0) AS f",
        Dialect::Sqlite => ") AS f",
    });
    Ok(())
}

/// `= ANY (ARRAY(…))` on PostgreSQL, `IN (…)` on SQLite: a comparison of `id` with the ids
/// `select` computes (its column, a SELECT or a UNION ALL of them). PostgreSQL computes the
/// array once, before the scan (an InitPlan), and the primary key looks up its elements as a
/// parameter: no cast reaches the scan of `records` (row-level security), and no hash
/// aggregate and join dedupe a subquery's rows first, as `IN (SELECT …)` plans it (a get with
/// its to-one relations: yardstick Q4's statement ran ~20 % faster alone under pgbench).
pub fn push_any_id(buf: &mut SqlBuf, select: impl FnOnce(&mut SqlBuf) -> Result<()>) -> Result<()> {
    buf.push(match buf.dialect {
        Dialect::Postgres => " = ANY (ARRAY(",
        Dialect::Sqlite => " IN (",
    });
    select(buf)?;
    buf.push(match buf.dialect {
        Dialect::Postgres => "))",
        Dialect::Sqlite => ")",
    });
    Ok(())
}

/// `records.id` as text (the stored form): for reading it where text is expected, such as a
/// group value.
pub fn record_id_text(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => "CAST(id AS TEXT)",
        Dialect::Sqlite => "id",
    }
}

/// Reads a record id column: a `uuid` on PostgreSQL, text on SQLite; the stored form either way.
pub fn record_id_col(r: &sea_orm::QueryResult, d: Dialect, col: &str) -> Result<String> {
    Ok(match d {
        Dialect::Postgres => r.try_get::<uuid::Uuid>("", col)?.hyphenated().to_string(),
        Dialect::Sqlite => r.try_get("", col)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_held_in_data_meets_the_column_in_its_stored_form() {
        assert_eq!(record_id_of(Dialect::Sqlite, "(x)"), "(x)");
        let pg = record_id_of(Dialect::Postgres, "(x)");
        assert!(
            pg.starts_with("(CASE WHEN (x) ~ '^[0-9a-f]{8}-") && pg.ends_with("THEN CAST((x) AS UUID) END)"),
            "{pg}"
        );
    }
}
