//! A record's values as the database returned them, parsed only when something asks for the
//! whole map. A PostgreSQL row keeps the `jsonb` text it came with: building a
//! `Map<String, Value>` for every row of a page (an owned key and value per field, a tree
//! node per few) was the largest part of a list's server CPU (yardstick Q1, `perf`: a
//! third of it), while a compiled read only copies each selected field's JSON into the
//! response (`fields`). Everything else reads the map through `Deref`, parsed once on first
//! use; records built in the server (writes, SQLite rows) hold the map from the start.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A record's values keyed by field key: the stored JSON object's text, its parsed map, or
/// both once the map has been asked for.
#[derive(Clone, Default)]
pub struct RecordData {
    /// The object's text as PostgreSQL wrote it (`jsonb` output: valid JSON, an object).
    raw: Option<Box<str>>,
    map: OnceLock<Map<String, Value>>,
}

impl RecordData {
    /// Values kept as the object's JSON text, parsed on first use. The text must be a JSON
    /// object (a `jsonb` column's output); `None` when it does not even start like one.
    pub fn from_json_text(text: &str) -> Option<RecordData> {
        text.trim_start()
            .starts_with('{')
            .then(|| RecordData { raw: Some(text.into()), map: OnceLock::new() })
    }

    /// The fields without parsing the values: each key with its value's JSON text.
    pub fn fields(&self) -> Fields<'_> {
        if let (None, Some(raw)) = (self.map.get(), self.raw.as_deref())
            && let Ok(Pairs(pairs)) = serde_json::from_str::<Pairs<'_>>(raw)
        {
            return Fields::Raw(pairs);
        }
        Fields::Map(self)
    }
}

/// The object of `raw`; an empty map for none. `jsonb` output always parses: the empty map
/// for text that does not is logged, never silently taken as data.
fn parse(raw: Option<&str>) -> Map<String, Value> {
    let Some(raw) = raw else { return Map::new() };
    serde_json::from_str(raw).unwrap_or_else(|e| {
        tracing::error!(error = %e, "record data is not a JSON object");
        Map::new()
    })
}

impl Deref for RecordData {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| parse(self.raw.as_deref()))
    }
}

impl From<Map<String, Value>> for RecordData {
    fn from(map: Map<String, Value>) -> Self {
        RecordData { raw: None, map: OnceLock::from(map) }
    }
}

impl PartialEq for RecordData {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl fmt::Debug for RecordData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl Serialize for RecordData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for RecordData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Map::deserialize(d).map(RecordData::from)
    }
}

/// A record's fields for reading one by one: from the text (each value's JSON as stored) or
/// from the parsed map.
pub enum Fields<'a> {
    Raw(Vec<(Cow<'a, str>, &'a RawValue)>),
    Map(&'a Map<String, Value>),
}

/// One field's stored value.
pub enum FieldValue<'a> {
    /// Its JSON text: a string's without any escape is the string's JSON as serde_json
    /// writes it, byte for byte (PostgreSQL escapes exactly what JSON requires).
    Raw(&'a RawValue),
    Parsed(&'a Value),
}

impl<'a> Fields<'a> {
    /// The stored value of `key`; `None` when absent or JSON `null`.
    pub fn get(&self, key: &str) -> Option<FieldValue<'a>> {
        match self {
            Fields::Raw(pairs) => pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| *v)
                .filter(|v| v.get() != "null")
                .map(FieldValue::Raw),
            Fields::Map(map) => map.get(key).filter(|v| !v.is_null()).map(FieldValue::Parsed),
        }
    }

    /// The value of `key` when it is a string.
    pub fn str_of(&self, key: &str) -> Option<Cow<'a, str>> {
        self.get(key)?.as_str()
    }
}

impl<'a> FieldValue<'a> {
    /// The value when it is a string: borrowed from the text unless it has escapes.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        match self {
            FieldValue::Parsed(v) => v.as_str().map(Cow::Borrowed),
            FieldValue::Raw(raw) => {
                let text = raw.get();
                let inner = text.strip_prefix('"')?.strip_suffix('"')?;
                if inner.contains('\\') {
                    serde_json::from_str::<String>(text).ok().map(Cow::Owned)
                } else {
                    Some(Cow::Borrowed(inner))
                }
            }
        }
    }

    /// The JSON text of a string value that can be copied as it is into a response, or
    /// `None` (not a string, or one with escapes that serde_json may spell otherwise).
    pub fn verbatim_str(&self) -> Option<&'a str> {
        match self {
            FieldValue::Raw(raw) => {
                let text = raw.get();
                (text.len() >= 2 && text.starts_with('"') && text.ends_with('"') && !text.contains('\\'))
                    .then_some(text)
            }
            FieldValue::Parsed(_) => None,
        }
    }

    /// The value, parsed (`None` only for text that is not JSON, which `jsonb` never writes).
    pub fn to_value(&self) -> Option<Cow<'a, Value>> {
        match self {
            FieldValue::Parsed(v) => Some(Cow::Borrowed(*v)),
            FieldValue::Raw(raw) => serde_json::from_str(raw.get()).ok().map(Cow::Owned),
        }
    }
}

/// An object's members in order, keys borrowed where they have no escapes, values as text.
struct Pairs<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Pairs<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = Pairs<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Pairs<'de>, A::Error> {
                let mut pairs = Vec::with_capacity(access.size_hint().unwrap_or(8));
                while let Some((Key(k), v)) = access.next_entry::<Key<'de>, &'de RawValue>()? {
                    pairs.push((k, v));
                }
                Ok(Pairs(pairs))
            }
        }
        d.deserialize_map(PairsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEXT: &str = r#"{"a": "plain", "b": "tab\there \"q\" \\", "n": 3, "x": null, "m": ["p", "q"]}"#;

    #[test]
    fn the_text_and_the_map_read_alike() {
        let data = RecordData::from_json_text(TEXT).expect("an object");
        let fields = data.fields();
        assert!(matches!(fields, Fields::Raw(_)));
        assert_eq!(fields.str_of("a").as_deref(), Some("plain"));
        assert_eq!(fields.str_of("b").as_deref(), Some("tab\there \"q\" \\"));
        assert_eq!(fields.get("a").and_then(|v| v.verbatim_str()), Some("\"plain\""));
        assert!(fields.get("b").and_then(|v| v.verbatim_str()).is_none());
        assert!(fields.get("x").is_none() && fields.get("missing").is_none());
        assert_eq!(fields.get("n").and_then(|v| v.to_value()).as_deref(), Some(&json!(3)));
        // The map, once built, answers the same.
        let map: &Map<String, Value> = &data;
        assert_eq!(map.get("m"), Some(&json!(["p", "q"])));
        assert!(matches!(data.fields(), Fields::Map(_)));
        assert_eq!(data.fields().str_of("b").as_deref(), Some("tab\there \"q\" \\"));
        assert_eq!(serde_json::to_value(&data).ok(), serde_json::from_str::<Value>(TEXT).ok());
    }

    #[test]
    fn only_an_object_is_kept_as_text() {
        assert!(RecordData::from_json_text("[1]").is_none());
        assert!(RecordData::from_json_text("{}").is_some_and(|d| d.is_empty()));
    }
}
