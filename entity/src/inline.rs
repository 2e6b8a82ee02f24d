//! A PostgreSQL statement's values written as literals, for the simple query protocol: one
//! message can then carry the tenant's `set_config` and the statement, which PostgreSQL runs
//! as one implicit transaction, so a read costs one round trip (`db::ReadScope`). The
//! statement is prepared once per connection with typed parameters (`PREPARE name(types) AS
//! …`), and each read sends only its arguments (`EXECUTE name(values)`).
//!
//! Every literal is typed (`'…'::int8`), so PostgreSQL resolves operators and functions as it
//! does for the parameter types sqlx declares; strings are escape-strings (`E'…'`, quotes and
//! backslashes escaped), whose meaning does not depend on `standard_conforming_strings`.
//! A text holding a NUL character has no literal (PostgreSQL stores none, and refuses one as a
//! bound value too): that is bad input. A value of a kind the engine never binds is a bug of
//! ours.

use sea_orm::{Statement, Value};

use crate::{Error, Result};

/// A statement's parameter types and its values as a list of literals.
#[derive(Debug, PartialEq, Eq)]
pub struct Arguments {
    /// `text, int8, …`, for `PREPARE name(…)`.
    pub types: String,
    /// `E'a'::text, E'5'::int8, …`, for `EXECUTE name(…)`.
    pub values: String,
}

/// `statement`'s values as `Arguments`.
pub fn arguments(statement: &Statement) -> Result<Arguments> {
    let values = statement.values.as_ref().map(|v| v.0.as_slice()).unwrap_or_default();
    let mut out = Arguments { types: String::new(), values: String::new() };
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.types.push_str(", ");
            out.values.push_str(", ");
        }
        let ty = push_literal(&mut out.values, v).map_err(|e| match e {
            Unwritable::Nul => Error::BadRequest("a value holds the NUL character (\\u0000)".into()),
            Unwritable::Kind => {
                Error::Internal(format!("statement values not writable as literals: {}", statement.sql))
            }
        })?;
        out.types.push_str(ty);
    }
    Ok(out)
}

/// Why a value has no literal.
enum Unwritable {
    /// A text (or a JSON string) holding a NUL character.
    Nul,
    /// A kind of value the engine does not bind.
    Kind,
}

/// Appends `value` as a typed literal and returns its type.
fn push_literal(out: &mut String, value: &Value) -> std::result::Result<&'static str, Unwritable> {
    let (text, ty): (Option<String>, &'static str) = match value {
        Value::Bool(v) => (v.map(|b| b.to_string()), "bool"),
        Value::SmallInt(v) => (v.map(|n| n.to_string()), "int2"),
        Value::Int(v) => (v.map(|n| n.to_string()), "int4"),
        Value::BigInt(v) => (v.map(|n| n.to_string()), "int8"),
        Value::Double(v) => (v.map(float_text), "float8"),
        Value::Float(v) => (v.map(|f| float_text(f64::from(f))), "float4"),
        Value::String(v) => (v.clone(), "text"),
        // A NUL in a JSON string is serialized as the escape `\u0000`, which JSONB refuses.
        Value::Json(v) => match v.as_ref().map(|j| j.to_string()) {
            Some(j) if j.contains("\\u0000") => return Err(Unwritable::Nul),
            j => (j, "jsonb"),
        },
        Value::Uuid(v) => (v.map(|u| u.hyphenated().to_string()), "uuid"),
        Value::ChronoDate(v) => (v.map(|d| d.format("%Y-%m-%d").to_string()), "date"),
        // Microseconds, as PostgreSQL stores them and sqlx sends them (truncated, not rounded).
        Value::ChronoDateTime(v) => (v.map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()), "timestamp"),
        Value::ChronoDateTimeUtc(v) => {
            (v.map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()), "timestamptz")
        }
        _ => return Err(Unwritable::Kind),
    };
    match text {
        None => out.push_str("NULL"),
        Some(text) if text.contains('\0') => return Err(Unwritable::Nul),
        Some(text) => {
            out.push_str("E'");
            for c in text.chars() {
                match c {
                    '\'' => out.push_str("''"),
                    '\\' => out.push_str("\\\\"),
                    c => out.push(c),
                }
            }
            out.push('\'');
        }
    }
    out.push_str("::");
    out.push_str(ty);
    Ok(ty)
}

/// A float as PostgreSQL reads it back to the same value (Rust prints the shortest exact form).
fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity".into() } else { "-Infinity".into() }
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::DbBackend;

    fn stmt(values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, "SELECT", values)
    }

    fn written(values: Vec<Value>) -> Option<Arguments> {
        arguments(&stmt(values)).ok()
    }

    #[test]
    fn values_become_typed_literals() {
        let expected = Arguments {
            types: "text, int8, bool, float8, float8, jsonb".into(),
            values: "E'it''s \\\\ here'::text, E'-9223372036854775808'::int8, NULL::bool, E'NaN'::float8, \
                     E'-Infinity'::float8, E'{\"a\":[1]}'::jsonb"
                .into(),
        };
        let values = vec![
            "it's \\ here".into(),
            Value::BigInt(Some(i64::MIN)),
            Value::Bool(None),
            Value::Double(Some(f64::NAN)),
            Value::Double(Some(f64::NEG_INFINITY)),
            Value::Json(Some(Box::new(serde_json::json!({"a": [1]})))),
        ];
        assert_eq!(written(values), Some(expected));
    }

    #[test]
    fn timestamps_keep_microseconds() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-02T10:11:12.123456789Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .expect("timestamp");
        let expected = Arguments {
            types: "timestamptz".into(),
            values: "E'2026-12-02 10:11:12.123456+00'::timestamptz".into(),
        };
        assert_eq!(written(vec![t.into()]), Some(expected));
    }

    #[test]
    fn refuses_what_it_cannot_write() {
        let code = |values: Vec<Value>| arguments(&stmt(values)).map_err(|e| e.code().as_str()).err();
        assert_eq!(code(vec![Value::Bytes(Some(vec![1]))]), Some("INTERNAL"));
        assert_eq!(code(vec!["a\0b".into()]), Some("BAD_REQUEST"));
        assert_eq!(
            code(vec![Value::Json(Some(Box::new(serde_json::json!({"k": "a\u{0}"}))))]),
            Some("BAD_REQUEST")
        );
    }
}
