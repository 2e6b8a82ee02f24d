//! Shared test harness: the database (a fresh SQLite file, or a fresh PostgreSQL database when
//! `ALPHERY_TEST_DATABASE_URL` is set), one server per test binary on its own runtime, HTTP and
//! `graphql-transport-ws` clients, a fresh tenant per test, JSON assertion helpers, and the one
//! wait for what happens in the background (`eventually`).
//!
//! Every test module goes through these helpers so that no request, login or socket code is
//! repeated across files.

mod http;
mod servers;
mod tenants;
mod wait;
mod ws;

pub use http::*;
pub use servers::*;
pub use tenants::*;
pub use wait::*;
pub use ws::*;

use std::time::Duration;

use serde_json::{Value, json};

/// How long a test waits for a response, a websocket message or a close frame: generous, as
/// on a loaded machine an event may wait seconds for the outbox relay (seen: a definition
/// change's 4205 close took over 10 s to reach its socket during a full CI run).
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// How long a test waits for an effect of the job queue (an email sent, a workflow's write):
/// generous, as on a loaded machine the queue works behind the whole suite's jobs.
pub const EFFECT_WAIT: Duration = Duration::from_secs(60);
/// A short read of a socket, for what arrives at once (a test that must wait for a
/// subscription to listen uses `Ws::settle`, never a pause).
pub const LISTEN_WINDOW: Duration = Duration::from_millis(600);
/// How long a test listens to prove that an event is *not* delivered.
pub const SILENCE: Duration = Duration::from_millis(1500);

// ---------------------------------------------------------------------------------------------
// Generated names
// ---------------------------------------------------------------------------------------------

/// The GraphQL names generated for an entity.
#[derive(Clone, Debug)]
pub struct Names {
    /// `deal`: the get-by-id root field.
    pub singular: String,
    /// `deals`: the connection root field.
    pub plural: String,
    /// `Deal`.
    pub type_name: String,
}

impl Names {
    pub fn new(name_singular: &str, name_plural: &str) -> Names {
        let singular = camel(name_singular);
        Names { type_name: pascal(&singular), plural: camel(name_plural), singular }
    }
}

/// `full_name` → `fullName` (camelCase input stays as it is).
pub fn camel(key: &str) -> String {
    let mut out = String::new();
    for (i, part) in key.split('_').filter(|p| !p.is_empty()).enumerate() {
        if i == 0 {
            out.push_str(part);
        } else {
            out.push_str(&pascal(part));
        }
    }
    out
}

/// `fullName` → `FullName`.
pub fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Entity input builders
// ---------------------------------------------------------------------------------------------

/// A `FieldInput`: `key`, a derived `label`, `type`, plus the members of `extra`.
pub fn field(key: &str, ty: &str, extra: Value) -> Value {
    let mut label = key.replace('_', " ");
    if let Some(first) = label.get(..1) {
        label = first.to_uppercase() + &label[1..];
    }
    let mut out = json!({ "key": key, "label": label, "type": ty });
    merge(&mut out, extra);
    out
}

/// Fields without options, from `(key, type)` pairs.
pub fn plain_fields(specs: &[(&str, &str)]) -> Vec<Value> {
    specs.iter().map(|(key, ty)| field(key, ty, json!({}))).collect()
}

/// An `EntityInput` with derived labels and the given fields.
pub fn entity(name_singular: &str, name_plural: &str, fields: Vec<Value>, extra: Value) -> Value {
    let label = |s: &str| pascal(&s.replace('_', " "));
    let mut out = json!({
        "nameSingular": name_singular,
        "namePlural": name_plural,
        "labelSingular": label(name_singular),
        "labelPlural": label(name_plural),
        "fields": fields,
    });
    merge(&mut out, extra);
    out
}

/// Shallow-merges the members of object `extra` into object `target`.
pub fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        target.extend(extra);
    }
}

// ---------------------------------------------------------------------------------------------
// JSON helpers
// ---------------------------------------------------------------------------------------------

/// A JSON value that keeps its objects' members in the order of the text (`Value` does not).
enum Ordered {
    Object(Vec<(String, Ordered)>),
    List(Vec<Ordered>),
    Leaf,
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> serde::de::Visitor<'de> for OrderedVisitor {
    type Value = Ordered;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry::<String, Ordered>()? {
            members.push(member);
        }
        Ok(Ordered::Object(members))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Ordered>()? {
            items.push(item);
        }
        Ok(Ordered::List(items))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
        Ok(Ordered::Leaf)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
        Ok(Ordered::Leaf)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
        Ok(Ordered::Leaf)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
        Ok(Ordered::Leaf)
    }
    fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
        Ok(Ordered::Leaf)
    }
    fn visit_unit<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Leaf)
    }
}

/// The member names of the object at `path` (member names, or indices into arrays) in the
/// JSON `text`, in the order the text has them: the GraphQL spec orders response objects.
pub fn member_order(text: &str, path: &[&str]) -> Vec<String> {
    let parsed: Ordered = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut at = &parsed;
    for step in path {
        at = match at {
            Ordered::Object(members) => members.iter().find(|(k, _)| k == step).map(|(_, v)| v),
            Ordered::List(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
            Ordered::Leaf => None,
        }
        .unwrap_or_else(|| panic!("no {path:?} in {text}"));
    }
    match at {
        Ordered::Object(members) => members.iter().map(|(k, _)| k.clone()).collect(),
        _ => panic!("{path:?} is not an object in {text}"),
    }
}

pub fn str_of(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("expected a string, got {value}")).to_owned()
}

/// `key` of every element of an array, as strings (`"<null>"` for null).
pub fn pluck_str(array: &Value, key: &str) -> Vec<String> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {array}"))
        .iter()
        .map(|item| item[key].as_str().map_or_else(|| "<null>".to_owned(), str::to_owned))
        .collect()
}

pub fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// JSON equality where numbers compare by value (`42` equals `42.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

pub fn assert_json_eq(actual: &Value, expected: &Value, context: &str) {
    assert!(json_eq(actual, expected), "{context}:\n  expected {expected}\n  actual   {actual}");
}

/// An RFC 3339 UTC timestamp with milliseconds, as the `DateTime` scalar promises.
pub fn assert_utc_millis(value: &Value) {
    let s = str_of(value);
    let bytes = s.as_bytes();
    assert!(
        s.len() == 24
            && s.ends_with('Z')
            && bytes[4] == b'-'
            && bytes[10] == b'T'
            && bytes[19] == b'.'
            && s[20..23].chars().all(|c| c.is_ascii_digit()),
        "not a UTC millisecond timestamp: {s}"
    );
}
