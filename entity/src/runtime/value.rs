//! Field values: validating and normalizing input into the stored JSON form, and coercing
//! filter operands. Stored forms: text as strings; NUMBER as JSON numbers in their stable form
//! (`stable_number`: a whole number that fits 64 bits as an integer, else the shortest float
//! that reads back exactly); CURRENCY as exact
//! decimal strings at the field's scale (`"1999.90"`, never a float); DATE `YYYY-MM-DD`;
//! DATETIME `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC); MULTI_SELECT arrays; RELATION the target id;
//! FILE `{url,name,mimeType,size}`. Empty values are never stored (absent means null), so
//! `isNull` means the same thing in SQL and in memory.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

pub use super::decimal::Decimal;
use super::meta::{FieldDef, FieldType, Stored};
use crate::FieldError;

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^\s@]+@[^\s@]+\.[^\s@]+$").expect("static regex"));
static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^https?://[^\s/?#@]+(:[0-9]+)?([/?#]\S*)?$").expect("static regex"));
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\+?[0-9 ().\-]{5,24}$").expect("static regex"));

/// Whether `s` is an email address (an EMAIL field's value, a user's login).
pub fn is_email(s: &str) -> bool {
    EMAIL.is_match(s) && s.len() <= 320
}

/// What a URL must be (a URL field's value, a user's avatar).
pub const URL_RULE: &str = "must be an http(s) URL";

/// Whether `s` is an http(s) URL of at most 2048 bytes (a URL field's value, an avatar).
pub fn is_url(s: &str) -> bool {
    URL.is_match(s) && s.len() <= 2048
}

/// Default number of decimal places of a CURRENCY field.
pub const DEFAULT_SCALE: u32 = 2;
/// Whether an input map is a create (defaults apply, required fields must be present) or an
/// update (only given fields change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// Validates `input` (keyed by GraphQL field names) against `fields` and merges it into
/// `base` (keyed by field keys: empty for a create, the stored values for an update).
/// Returns the new stored values (with the fields that failed left as they were) and every
/// field error found, so callers can run their database checks on the valid part and report
/// all problems at once.
pub fn apply_input(
    fields: &[FieldDef],
    base: &Map<String, Value>,
    input: &Map<String, Value>,
    mode: Mode,
) -> (Map<String, Value>, Vec<FieldError>) {
    let mut out = base.clone();
    let mut errors = Vec::new();
    for f in fields.iter().filter(|f| f.is_stored()) {
        let given = input.get(&f.graphql_name);
        if f.is_computed() {
            // The engine writes it (`rollup_fields`); no input does.
            if given.is_some() {
                errors.push(FieldError::new(&f.graphql_name, "is computed and cannot be written"));
            }
            continue;
        }
        let value = match (given, mode) {
            (Some(v), _) if !v.is_null() => Some(v.clone()),
            (None, Mode::Create) | (Some(_), Mode::Create) => f.default.clone(),
            (Some(_), Mode::Update) => None,
            (None, Mode::Update) => continue,
        };
        match value.map(|v| normalize(f, &v)) {
            Some(Ok(Some(v))) => {
                out.insert(f.key.to_string(), v);
            }
            Some(Ok(None)) | None => {
                out.remove(f.key.as_str());
                // A create's empty UID is generated (`store::uids`), so it is never missing.
                if f.required && !(f.ty == FieldType::Uid && mode == Mode::Create) {
                    errors.push(FieldError::new(&f.graphql_name, "is required"));
                }
            }
            Some(Err(message)) => errors.push(FieldError::new(&f.graphql_name, message)),
        }
    }
    (out, errors)
}

/// Normalizes one value to its stored form and checks the field's constraints.
/// `Ok(None)` means "empty" (not stored).
pub fn normalize(f: &FieldDef, v: &Value) -> Result<Option<Value>, String> {
    let stored = coerce(f, v)?;
    let Some(stored) = stored else { return Ok(None) };
    check_constraints(f, &stored)?;
    Ok(Some(stored))
}

/// Why a value holding a NUL character is refused: PostgreSQL can store it in no text and no
/// JSONB, so both backends refuse it alike, as bad input.
pub const NO_NUL: &str = "must not contain the NUL character (\\u0000)";

/// Why a value is not a record id.
pub const NOT_AN_ID: &str = "must be a record id (a UUID)";

/// The member of a FILE value naming an uploaded file (the document vault's `files`).
pub const FILE_ID: &str = "fileId";

/// A record id in its stored form, or `None` when `s` cannot be one. Every record id is a
/// UUID (`store::write`) kept hyphenated in lower case; a UUID written otherwise (upper case,
/// braces, no hyphens) is brought to that form so it finds its record. Any other text names
/// no record, so it is refused where given rather than silently matching nothing.
pub fn record_id(s: &str) -> Option<String> {
    uuid::Uuid::try_parse(s.trim()).ok().map(|u| u.hyphenated().to_string())
}

/// A record id given as a filter operand: `record_id` of a string.
pub fn id_operand(v: &Value) -> Result<Value, String> {
    let s = v.as_str().ok_or("must be a string")?;
    record_id(s).map(Value::String).ok_or_else(|| NOT_AN_ID.into())
}

/// Whether any string in `v` (keys included) holds a NUL character.
pub fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Type coercion only (no option, range or format rules beyond the type's own syntax).
fn coerce(f: &FieldDef, v: &Value) -> Result<Option<Value>, String> {
    if v.is_null() {
        return Ok(None);
    }
    if has_nul(v) {
        return Err(NO_NUL.into());
    }
    let text = || v.as_str().ok_or_else(|| "must be a string".to_owned());
    Ok(Some(match f.ty {
        FieldType::Text | FieldType::Textarea => {
            let s = text()?;
            if f.required && s.trim().is_empty() {
                return Ok(None);
            }
            Value::String(s.to_owned())
        }
        FieldType::Email => {
            let s = text()?.trim();
            if !is_email(s) {
                return Err("must be an email address".into());
            }
            Value::String(s.to_owned())
        }
        FieldType::Phone => {
            let s = text()?.trim();
            let digits = s.chars().filter(char::is_ascii_digit).count();
            if !PHONE.is_match(s) || !(5..=15).contains(&digits) {
                return Err("must be a phone number (digits, spaces, + - ( ) .)".into());
            }
            Value::String(s.to_owned())
        }
        FieldType::Url => {
            let s = text()?.trim();
            if !is_url(s) {
                return Err(URL_RULE.into());
            }
            Value::String(s.to_owned())
        }
        FieldType::Number => {
            let n = v.as_f64().filter(|n| n.is_finite()).ok_or("must be a number")?;
            if f.validation.integer == Some(true) {
                if n.fract() != 0.0 || n.abs() > 9.0e15 {
                    return Err("must be a whole number".into());
                }
                Value::from(n as i64)
            } else {
                stable_number(n)
            }
        }
        FieldType::Currency => {
            let d = decimal_operand(v)?;
            let scale = f.validation.scale.unwrap_or(DEFAULT_SCALE);
            if d.trimmed().scale > scale {
                return Err(format!("must have at most {scale} decimal places"));
            }
            Value::String(d.trimmed().to_string_at(scale))
        }
        FieldType::Boolean => Value::Bool(v.as_bool().ok_or("must be true or false")?),
        FieldType::Date => {
            let s = text()?;
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| "must be a date (YYYY-MM-DD)".to_owned())?;
            Value::String(s.to_owned())
        }
        FieldType::Datetime => {
            let ts =
                super::time::parse(text()?).ok_or("must be an RFC 3339 date-time (2026-01-31T09:30:00Z)")?;
            Value::String(super::time::format(&ts))
        }
        FieldType::Select => {
            let s = text()?;
            if s.is_empty() {
                return Ok(None);
            }
            Value::String(s.to_owned())
        }
        FieldType::MultiSelect => {
            let items = v.as_array().ok_or("must be a list of strings")?;
            let mut out: Vec<Value> = Vec::with_capacity(items.len());
            for item in items {
                let s = item.as_str().ok_or("must be a list of strings")?;
                if !out.iter().any(|o| o.as_str() == Some(s)) {
                    out.push(Value::String(s.to_owned()));
                }
            }
            if out.is_empty() {
                return Ok(None);
            }
            Value::Array(out)
        }
        FieldType::Relation => Value::String(record_id(text()?).ok_or(NOT_AN_ID)?),
        FieldType::File => {
            let o = v.as_object().ok_or("must be a file object {fileId} or {url, name, mimeType, size}")?;
            // An uploaded file: the record store checks it and stores its metadata
            // (`store::files::resolve`); whatever else the client sent about it is ignored.
            match o.get(FILE_ID) {
                Some(Value::String(id)) => {
                    let id = record_id(id).ok_or("fileId must be an uploaded file's id (a UUID)")?;
                    return Ok(Some(serde_json::json!({ FILE_ID: id })));
                }
                None | Some(Value::Null) => {}
                Some(_) => return Err("fileId must be an uploaded file's id (a UUID)".into()),
            }
            let url = o.get("url").and_then(Value::as_str).unwrap_or_default().trim();
            if !URL.is_match(url) {
                return Err("file url must be an http(s) URL".into());
            }
            let mut file = Map::new();
            file.insert("url".into(), Value::String(url.to_owned()));
            for key in ["name", "mimeType"] {
                match o.get(key) {
                    Some(Value::String(s)) => {
                        file.insert(key.into(), Value::String(s.clone()));
                    }
                    None | Some(Value::Null) => {}
                    Some(_) => return Err(format!("file {key} must be a string")),
                }
            }
            match o.get("size") {
                Some(n) if n.as_u64().is_some() => {
                    file.insert("size".into(), n.clone());
                }
                None | Some(Value::Null) => {}
                Some(_) => return Err("file size must be a non-negative integer".into()),
            }
            Value::Object(file)
        }
        FieldType::Json => v.clone(),
        // Checked against the field's pattern with the other constraints.
        FieldType::Uid => Value::String(text()?.trim().to_owned()),
    }))
}

fn check_constraints(f: &FieldDef, v: &Value) -> Result<(), String> {
    let val = &f.validation;
    if let Some(s) = v.as_str().filter(|_| f.ty.is_text_like()) {
        let len = s.chars().count() as u32;
        if let Some(min) = val.min_length.filter(|&m| len < m) {
            return Err(format!("must be at least {min} characters"));
        }
        if let Some(max) = val.max_length.filter(|&m| len > m) {
            return Err(format!("must be at most {max} characters"));
        }
        if let Some(re) = &f.pattern
            && !re.is_match(s)
        {
            return Err(format!("must match the pattern {}", re.as_str()));
        }
    }
    match f.ty {
        FieldType::Select => {
            let s = v.as_str().unwrap_or_default();
            if !f.options.iter().any(|o| o == s) {
                return Err(format!("must be one of: {}", f.options.join(", ")));
            }
        }
        FieldType::MultiSelect => {
            for item in v.as_array().into_iter().flatten() {
                let s = item.as_str().unwrap_or_default();
                if !f.options.iter().any(|o| o == s) {
                    return Err(format!("`{s}` is not one of: {}", f.options.join(", ")));
                }
            }
        }
        FieldType::Number | FieldType::Currency | FieldType::Date | FieldType::Datetime => {
            if let Some(min) = &val.min
                && compare(f.ty, v, min) == Some(Ordering::Less)
            {
                return Err(format!("must be at least {}", display(min)));
            }
            if let Some(max) = &val.max
                && compare(f.ty, v, max) == Some(Ordering::Greater)
            {
                return Err(format!("must be at most {}", display(max)));
            }
        }
        FieldType::Uid => super::uid::validate(f, v.as_str().unwrap_or_default())?,
        _ => {}
    }
    Ok(())
}

fn display(v: &Value) -> String {
    v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())
}

/// A decimal from a string or an integer JSON number (floats are refused: they may already
/// have been rounded).
pub fn decimal_operand(v: &Value) -> Result<Decimal, String> {
    match v {
        Value::String(s) => {
            Decimal::parse(s).ok_or_else(|| "must be a decimal number as a string (\"1999.90\")".into())
        }
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            Decimal::parse(&n.to_string()).ok_or_else(|| "number out of range".into())
        }
        _ => Err("must be a decimal number as a string (\"1999.90\"), not a float".into()),
    }
}

/// Coerces a filter operand (same syntax rules as stored values, no constraint checks).
pub fn operand(f: &FieldDef, v: &Value) -> Result<Value, String> {
    if matches!(f.ty, FieldType::Text | FieldType::Textarea | FieldType::Select | FieldType::Uid) {
        return v.as_str().map(|s| Value::String(s.to_owned())).ok_or_else(|| "must be a string".into());
    }
    if f.ty == FieldType::Relation {
        return id_operand(v);
    }
    if matches!(f.ty, FieldType::Email | FieldType::Phone | FieldType::Url) {
        return v
            .as_str()
            .map(|s| Value::String(s.trim().to_owned()))
            .ok_or_else(|| "must be a string".into());
    }
    if f.ty == FieldType::Currency {
        // Operands keep their own precision: `lt: "10.005"` is a meaningful bound.
        let d = decimal_operand(v)?;
        return Ok(Value::String(d.to_string_at(d.scale)));
    }
    if f.ty == FieldType::Number {
        return v
            .as_f64()
            .filter(|n| n.is_finite())
            .map(Value::from)
            .ok_or_else(|| "must be a number".into());
    }
    coerce(f, v)?.ok_or_else(|| "must not be null".into())
}

/// Orders two stored (or operand) values of a comparable type. `None` when incomparable.
pub fn compare(ty: FieldType, a: &Value, b: &Value) -> Option<Ordering> {
    match ty.stored_as() {
        Stored::Float => a.as_f64()?.partial_cmp(&b.as_f64()?),
        Stored::Decimal => Some(decimal_operand(a).ok()?.compare(decimal_operand(b).ok()?)),
        Stored::Bool => Some(a.as_bool()?.cmp(&b.as_bool()?)),
        Stored::Timestamp => {
            let pa = super::time::parse(a.as_str()?)?;
            let pb = super::time::parse(b.as_str()?)?;
            Some(pa.cmp(&pb))
        }
        Stored::Text => Some(a.as_str()?.cmp(b.as_str()?)),
    }
}

/// The stored form of a finite float: an integer when it is a whole number within the 64-bit
/// integer types, else the float itself (serde_json writes the shortest text that parses back
/// to it). It is what the databases hand back: PostgreSQL keeps JSON numbers as `numeric` and
/// writes `1e16` back as `10000000000000000` (an integer to serde_json) and `-0.0` as `0`, so
/// storing those as floats would read back as different JSON than was written — and hashed
/// into the audit chain. Non-finite floats have no JSON form and come back as `null`.
pub fn stable_number(n: f64) -> Value {
    // 2^63 and 2^64: the bounds of i64 and u64, exact as floats.
    const I64_MIN: f64 = -9_223_372_036_854_775_808.0;
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    if n.fract() == 0.0 && (I64_MIN..U64_END).contains(&n) {
        // Exact conversions: whole, and within the target type's range.
        if n < 0.0 { Value::from(n as i64) } else { Value::from(n as u64) }
    } else {
        Value::from(n)
    }
}

/// `v` with every float number in its stable form (`stable_number`), at every level.
pub fn stable_numbers(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => n.as_f64().map_or(Value::Null, stable_number),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), stable_numbers(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(stable_numbers).collect()),
        other => other.clone(),
    }
}

/// JSON with object keys sorted at every level. Hashes and cache keys use it, so they do not
/// depend on serde_json's map order or on PostgreSQL's JSONB key order.
pub fn canonical_json(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, Value> = m.iter().map(|(k, v)| (k, canonical_json(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical_json).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_numbers_are_integers_when_whole_and_in_range() {
        assert_eq!(stable_number(1e16).to_string(), "10000000000000000");
        assert_eq!(stable_number(-0.0).to_string(), "0");
        assert_eq!(stable_number(-9_223_372_036_854_775_808.0).to_string(), "-9223372036854775808");
        assert_eq!(stable_number(18_446_744_073_709_549_568.0).to_string(), "18446744073709549568");
        assert!(stable_number(18_446_744_073_709_551_616.0).is_f64());
        assert_eq!(stable_number(2.5).to_string(), "2.5");
        assert_eq!(stable_number(2.5e250).as_f64(), Some(2.5e250));
        assert_eq!(stable_numbers(&serde_json::json!({"a": [3.0, 0.5]})).to_string(), r#"{"a":[3,0.5]}"#);
    }

    #[test]
    fn decimals_are_exact() {
        let d = Decimal::parse("1999.9").expect("parses");
        assert_eq!(d.to_string_at(2), "1999.90");
        assert_eq!(Decimal::parse("-0.5").expect("parses").to_string_at(2), "-0.50");
        assert_eq!(Decimal::parse("007").expect("parses").to_string_at(2), "7.00");
        assert_eq!(Decimal::parse("1.500").expect("parses").trimmed().scale, 1);
        assert!(Decimal::parse("1e5").is_none());
        assert!(Decimal::parse("1.").is_none());
        assert!(Decimal::parse("").is_none());
        let a = Decimal::parse("0.1").expect("parses");
        let b = Decimal::parse("0.10").expect("parses");
        assert_eq!(a.compare(b), Ordering::Equal);
        assert_eq!(
            Decimal::parse("10000").expect("parses").compare(Decimal::parse("9999.99").expect("parses")),
            Ordering::Greater
        );
    }
}
