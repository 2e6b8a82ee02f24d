//! A PostgreSQL statement's values written as literals, for the simple query protocol: one
//! message can then carry the tenant's `set_config` and the statement, which PostgreSQL runs
//! as one implicit transaction, so a read costs one round trip (`db::ReadScope`). Either the
//! values are written into the statement (`inline`), or the statement is prepared once per
//! connection with typed parameters and each read sends only the arguments (`arguments`, for
//! `PREPARE name(types) AS …` and `EXECUTE name(…)`).
//!
//! Every literal is typed (`'…'::int8`), so PostgreSQL resolves operators and functions as it
//! does for the parameter types sqlx declares; strings are escape-strings (`E'…'`, quotes and
//! backslashes escaped), whose meaning does not depend on `standard_conforming_strings`.
//! A text holding a NUL character has no literal (PostgreSQL stores none, and refuses one as a
//! bound value too): that is bad input. A value of a kind the engine never binds, or a text the
//! scanner does not expect, is a bug of ours.

use sea_orm::{Statement, Value};

use crate::{Error, Result};

/// `statement`'s SQL with each `$n` replaced by the literal of value n.
pub fn inline(statement: &Statement) -> Result<String> {
    checked(statement, written(statement))
}

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
    let written = values.iter().enumerate().try_for_each(|(i, v)| {
        if i > 0 {
            out.types.push_str(", ");
            out.values.push_str(", ");
        }
        out.types.push_str(push_literal(&mut out.values, v)?);
        Some(())
    });
    checked(statement, written.map(|()| out))
}

/// `written`, or the error saying why the values could not be written.
fn checked<T>(statement: &Statement, written: Option<T>) -> Result<T> {
    let values = statement.values.as_ref().map(|v| v.0.as_slice()).unwrap_or_default();
    let nul = |v: &Value| match v {
        Value::String(Some(s)) => s.contains('\0'),
        Value::Json(Some(j)) => j.to_string().contains("\\u0000"),
        _ => false,
    };
    if values.iter().any(nul) {
        return Err(Error::BadRequest("a value holds the NUL character (\\u0000)".into()));
    }
    written.ok_or_else(|| {
        Error::Internal(format!("statement values not writable as literals: {}", statement.sql))
    })
}

fn written(statement: &Statement) -> Option<String> {
    let values = statement.values.as_ref().map(|v| v.0.as_slice()).unwrap_or_default();
    let sql = statement.sql.as_str();
    let mut out = String::with_capacity(sql.len() + 48 * values.len());
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => {
                // An escape-string (E'…') honours backslashes; a plain one only doubled quotes.
                let escapes =
                    i > 0 && matches!(bytes[i - 1], b'E' | b'e') && !ident_char(bytes.get(i.wrapping_sub(2)));
                i = skip_quoted(bytes, i, b'\'', escapes)?;
            }
            b'"' => i = skip_quoted(bytes, i, b'"', false)?,
            b'$' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let start = i;
                i += 1;
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                let n: usize = sql[start + 1..i].parse().ok()?;
                let value = values.get(n.checked_sub(1)?)?;
                out.push_str(&sql[copied..start]);
                push_literal(&mut out, value)?;
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    Some(out)
}

fn ident_char(b: Option<&u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// The index just past the quoted run that opens at `start` (a doubled quote stays inside).
fn skip_quoted(bytes: &[u8], start: usize, quote: u8, escapes: bool) -> Option<usize> {
    let mut i = start + 1;
    loop {
        match *bytes.get(i)? {
            b'\\' if escapes => i += 2,
            b if b == quote => {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
}

/// Appends `value` as a typed literal and returns its type; `None` for a kind the engine does
/// not bind or a text with a NUL character.
fn push_literal(out: &mut String, value: &Value) -> Option<&'static str> {
    let (text, ty): (Option<String>, &'static str) = match value {
        Value::Bool(v) => (v.map(|b| b.to_string()), "bool"),
        Value::SmallInt(v) => (v.map(|n| n.to_string()), "int2"),
        Value::Int(v) => (v.map(|n| n.to_string()), "int4"),
        Value::BigInt(v) => (v.map(|n| n.to_string()), "int8"),
        Value::Double(v) => (v.map(float_text), "float8"),
        Value::Float(v) => (v.map(|f| float_text(f64::from(f))), "float4"),
        Value::String(v) => (v.clone(), "text"),
        Value::Json(v) => (v.as_ref().map(|j| j.to_string()), "jsonb"),
        Value::Uuid(v) => (v.map(|u| u.hyphenated().to_string()), "uuid"),
        Value::ChronoDate(v) => (v.map(|d| d.format("%Y-%m-%d").to_string()), "date"),
        // Microseconds, as PostgreSQL stores them and sqlx sends them (truncated, not rounded).
        Value::ChronoDateTime(v) => (v.map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()), "timestamp"),
        Value::ChronoDateTimeUtc(v) => {
            (v.map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()), "timestamptz")
        }
        _ => return None,
    };
    match text {
        None => out.push_str("NULL"),
        Some(text) if text.contains('\0') => return None,
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
    Some(ty)
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

    fn stmt(sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    #[test]
    fn values_become_typed_literals() {
        let s = stmt(
            "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $10 AND d = $3",
            vec![
                "it's \\ here".into(),
                Value::BigInt(Some(i64::MIN)),
                Value::Bool(None),
                2.into(),
                3.into(),
                4.into(),
                5.into(),
                6.into(),
                7.into(),
                Value::Double(Some(f64::NAN)),
            ],
        );
        assert_eq!(
            inline(&s).ok().as_deref(),
            Some(
                "SELECT * FROM t WHERE a = E'it''s \\\\ here'::text AND b = E'-9223372036854775808'::int8 \
                 AND c = E'NaN'::float8 AND d = NULL::bool"
            )
        );
    }

    #[test]
    fn placeholders_inside_quotes_are_text() {
        let s = stmt(
            "SELECT '$1', \"$1\", E'\\'$1', data->>'k' FROM t WHERE x LIKE $1 ESCAPE '\\' AND y = $2",
            vec!["a".into(), "b".into()],
        );
        assert_eq!(
            inline(&s).ok().as_deref(),
            Some(
                "SELECT '$1', \"$1\", E'\\'$1', data->>'k' FROM t WHERE x LIKE E'a'::text ESCAPE '\\' \
                 AND y = E'b'::text"
            )
        );
    }

    #[test]
    fn arguments_list_types_and_literals() {
        let s = stmt("SELECT $1, $2, $3", vec!["o'k".into(), Value::BigInt(None), true.into()]);
        let expected = Arguments {
            types: "text, int8, bool".into(),
            values: "E'o''k'::text, NULL::int8, E'true'::bool".into(),
        };
        assert_eq!(arguments(&s).ok(), Some(expected));
        assert_eq!(
            arguments(&stmt("SELECT $1", vec!["a\0b".into()])).map_err(|e| e.code()).err(),
            Some("BAD_REQUEST")
        );
    }

    #[test]
    fn timestamps_keep_microseconds() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-02T10:11:12.123456789Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .expect("timestamp");
        let s = stmt("SELECT $1", vec![t.into()]);
        assert_eq!(inline(&s).ok().as_deref(), Some("SELECT E'2026-12-02 10:11:12.123456+00'::timestamptz"));
    }

    #[test]
    fn refuses_what_it_cannot_write() {
        let code = |s: Statement| inline(&s).map_err(|e| e.code());
        assert_eq!(code(stmt("SELECT $2", vec!["a".into()])), Err("INTERNAL"));
        assert_eq!(code(stmt("SELECT $1", vec![Value::Bytes(Some(vec![1]))])), Err("INTERNAL"));
        assert_eq!(code(stmt("SELECT 'open $1", vec!["a".into()])), Err("INTERNAL"));
        assert_eq!(code(stmt("SELECT $1", vec!["a\0b".into()])), Err("BAD_REQUEST"));
    }
}
