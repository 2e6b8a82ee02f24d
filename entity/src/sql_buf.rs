//! The statement buffer every hand-built statement is written into (`SqlBuf`: its text, and its
//! values bound as parameters numbered per dialect), with what it takes in a form of its own: a
//! field's key written into the text only as a `FieldKey` (`push_key`), a UUID of our own
//! checked to be literal-safe (`uuid_literal`), and a record id bound as `records.id` holds it
//! (`record_uuid`). Below everything that writes SQL — the connection (`db`), the record SQL
//! (`runtime::sql`), the outbox, the audit trail, the features — it knows nothing of filters,
//! field definitions or records.

use sea_orm::{Statement, Value as SqlValue};

use crate::runtime::field_key::FieldKey;
use crate::runtime::time;
use crate::{Dialect, Error, Result};

/// A statement under construction.
#[derive(Debug)]
pub struct SqlBuf {
    pub dialect: Dialect,
    pub sql: String,
    values: Vec<SqlValue>,
}

impl SqlBuf {
    pub fn new(dialect: Dialect) -> Self {
        SqlBuf { dialect, sql: String::with_capacity(256), values: Vec::new() }
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }

    /// Binds `v` without writing its placeholder, and returns the placeholder, for text that
    /// names it (PostgreSQL numbers its placeholders, so a statement can use one value several
    /// times, in any order, while sending it once).
    pub fn param(&mut self, v: impl Into<SqlValue>) -> Result<String> {
        if self.dialect != Dialect::Postgres {
            return Err(Error::Internal("numbered placeholders are PostgreSQL's".into()));
        }
        self.values.push(v.into());
        Ok(format!("${}", self.values.len()))
    }

    /// Appends field key `key` as text (inside a JSON path or a literal the caller writes around
    /// it): a key reaches SQL text only as a `FieldKey`, an identifier, which needs no quoting.
    pub fn push_key(&mut self, key: &FieldKey) -> &mut Self {
        self.push(key.as_str())
    }

    /// Appends a placeholder bound to `v` as JSON (JSONB on PostgreSQL, text on SQLite).
    pub fn bind_json(&mut self, v: &impl serde::Serialize) -> Result<&mut Self> {
        let text = serde_json::to_string(v)?;
        Ok(match self.dialect {
            Dialect::Postgres => self.push("CAST(").bind(text).push(" AS JSONB)"),
            Dialect::Sqlite => self.bind(text),
        })
    }

    /// Appends a placeholder bound to `v`.
    pub fn bind(&mut self, v: impl Into<SqlValue>) -> &mut Self {
        self.values.push(v.into());
        match self.dialect {
            Dialect::Postgres => {
                let n = self.values.len();
                self.sql.push('$');
                self.sql.push_str(&n.to_string());
            }
            Dialect::Sqlite => self.sql.push('?'),
        }
        self
    }

    /// Appends a placeholder bound to record id `id` as `records.id` holds it: a `uuid` on
    /// PostgreSQL (migration 28), its text on SQLite. For writing an id and for comparing `id`
    /// with `=` or `IN`: text that is not an id in its stored form (`record_uuid`) binds NULL
    /// on PostgreSQL, which equals no id, as that text equals none on SQLite.
    pub fn bind_record_id(&mut self, id: &str) -> &mut Self {
        match self.dialect {
            Dialect::Postgres => self.bind(record_uuid(id)),
            Dialect::Sqlite => self.bind(id.to_owned()),
        }
    }

    /// Binds a timestamp the way each database stores it (TIMESTAMPTZ / fixed-format text).
    pub fn bind_ts(&mut self, ts: chrono::DateTime<chrono::Utc>) -> &mut Self {
        self.bind(time::value(self.dialect, ts))
    }

    /// The statement built so far, leaving the buffer empty (for builder-style chains).
    pub fn take_statement(&mut self) -> Statement {
        let taken = SqlBuf {
            dialect: self.dialect,
            sql: std::mem::take(&mut self.sql),
            values: std::mem::take(&mut self.values),
        };
        taken.into_statement()
    }

    pub fn into_statement(self) -> Statement {
        Statement::from_sql_and_values(self.dialect.backend(), self.sql, self.values)
    }
}

/// A UUID of our own (tenant or entity id) checked for writing into SQL as a literal: the
/// hyphenated form, hex digits and hyphens only, so nothing in it needs quoting.
pub fn uuid_literal<'a>(id: &'a str, what: &str) -> Result<&'a str> {
    if id.len() != 36 || uuid::Uuid::try_parse(id).is_err() {
        return Err(Error::Internal(format!("bad {what} id {id:?}")));
    }
    Ok(id)
}

/// A record id as PostgreSQL's `records.id` holds it, when `id` is one in the form the engine
/// stores (and PostgreSQL prints) record ids: lowercase and hyphenated. Any other text names no
/// record on either backend — the API brings other spellings of a UUID to this form first
/// (`value::record_id`).
pub fn record_uuid(id: &str) -> Option<uuid::Uuid> {
    let stored = id.len() == 36 && !id.bytes().any(|b| b.is_ascii_uppercase());
    stored.then(|| uuid::Uuid::try_parse(id).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_id_is_a_uuid_only_in_its_stored_form() {
        let id = "0b9c6a5e-2f1d-4c8e-9a43-7d2e1f0c5b6a";
        assert_eq!(record_uuid(id).map(|u| u.hyphenated().to_string()).as_deref(), Some(id));
        let others = [
            "0B9C6A5E-2F1D-4C8E-9A43-7D2E1F0C5B6A",
            "0b9c6a5e2f1d4c8e9a437d2e1f0c5b6a",
            "{0b9c6a5e-2f1d-4c8e-9a43-7d2e1f0c5b6a}",
            "0b9c6a5e-2f1d-4c8e-9a43-7d2e1f0c5b6",
            "<doctor id>",
            "",
        ];
        for other in others {
            assert_eq!(record_uuid(other), None, "{other}");
        }
    }

    #[test]
    fn record_ids_bind_as_the_column_holds_them() {
        let id = "0b9c6a5e-2f1d-4c8e-9a43-7d2e1f0c5b6a";
        let bound = |d: Dialect, id: &str| {
            let mut buf = SqlBuf::new(d);
            buf.bind_record_id(id);
            buf.values
        };
        assert_eq!(bound(Dialect::Postgres, id), vec![SqlValue::Uuid(record_uuid(id))]);
        // Text in no stored form equals no id: NULL, not a failing cast.
        assert_eq!(bound(Dialect::Postgres, "123"), vec![SqlValue::Uuid(None)]);
        assert_eq!(bound(Dialect::Sqlite, "123"), vec![SqlValue::from("123")]);
    }
}
