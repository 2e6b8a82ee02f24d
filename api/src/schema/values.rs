//! The Rust values resolvers hand to each other as GraphQL parent values, and the conversion
//! of stored field values to GraphQL output values (coerced to the declared type).

use std::any::Any;

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, ResolverContext, TypeRef};
use entity::runtime::meta::{FieldType, Stored};
use entity::runtime::naming::change_kinds;
use entity::runtime::record::{ChangeKind, Record};

/// A page of a connection (top-level list or reverse relation). Its `nodes` and `edges` are
/// lent to the fields below, never copied: a page's records are decoded once.
#[derive(Debug, Clone)]
pub struct ConnectionValue {
    pub edges: Vec<EdgeValue>,
    pub page_info: PageInfoValue,
    pub total: Option<i64>,
}

impl ConnectionValue {
    /// A page from its records and their cursors (in the same order), whether pages follow
    /// and precede it, and the count of all matches when it was asked for. Its `PageInfo`
    /// starts and ends at its first and last cursor.
    pub fn new(
        records: Vec<Record>,
        cursors: Vec<String>,
        has_next: bool,
        has_previous: bool,
        total: Option<i64>,
    ) -> Self {
        let page_info = PageInfoValue {
            has_next,
            has_previous,
            start: cursors.first().cloned(),
            end: cursors.last().cloned(),
        };
        let edges =
            records.into_iter().zip(cursors).map(|(record, cursor)| EdgeValue { cursor, record }).collect();
        ConnectionValue { edges, page_info, total }
    }
}

/// One edge.
#[derive(Debug, Clone)]
pub struct EdgeValue {
    pub cursor: String,
    pub record: Record,
}

/// `PageInfo`.
#[derive(Debug, Clone)]
pub struct PageInfoValue {
    pub has_next: bool,
    pub has_previous: bool,
    pub start: Option<String>,
    pub end: Option<String>,
}

/// A subscription event.
#[derive(Debug, Clone)]
pub struct ChangeValue {
    pub kind: LiveKind,
    pub record: Record,
    pub changed_fields: Vec<String>,
}

/// What a committed change is to one subscriber (`ChangeKind` in the schema): the change
/// itself, or an update that moved the record out of (`Left`) or into (`Entered`) what the
/// subscriber's filter and row rule match, so that a client's list stays right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveKind {
    Change(ChangeKind),
    Left,
    Entered,
}

impl LiveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveKind::Change(k) => k.as_str(),
            LiveKind::Left => change_kinds::LEFT,
            LiveKind::Entered => change_kinds::ENTERED,
        }
    }

    /// Every value, in the schema's order.
    pub fn all() -> Vec<LiveKind> {
        let changes = ChangeKind::ALL.into_iter().map(LiveKind::Change);
        changes.chain([LiveKind::Left, LiveKind::Entered]).collect()
    }
}

/// The parent value of a resolver, downcast to what its type carries.
pub fn parent<'a, T: Any>(ctx: &'a ResolverContext<'_>) -> async_graphql::Result<&'a T> {
    ctx.parent_value.try_downcast_ref::<T>()
}

/// The parent value for as long as the parent lives, so that a field can lend parts of it to
/// the fields below (`FieldValue::borrowed_any`) instead of cloning them.
pub fn parent_lent<'a, T: Any>(ctx: &ResolverContext<'a>) -> async_graphql::Result<&'a T> {
    ctx.parent_value.try_downcast_ref::<T>()
}

/// A field whose value is read synchronously from a parent of type `T` (no future is boxed
/// per value, which matters for large pages).
pub fn sync_field<T: Any>(name: &str, ty: TypeRef, get: fn(&T) -> Option<Value>) -> Field {
    Field::new(name, ty, move |c| match parent::<T>(&c) {
        Ok(p) => FieldFuture::Value(get(p).map(FieldValue::value)),
        Err(e) => FieldFuture::new(async move { Err::<Option<Value>, _>(e) }),
    })
}

/// A string as a GraphQL value.
pub fn s(v: &str) -> Option<Value> {
    Some(Value::from(v.to_owned()))
}

/// A timestamp as a GraphQL `DateTime` value.
pub fn ts(v: &chrono::DateTime<chrono::Utc>) -> Option<Value> {
    Some(Value::from(entity::runtime::time::format(v)))
}

/// JSON as a GraphQL `JSON` value.
pub fn json(v: &serde_json::Value) -> Option<Value> {
    Value::from_json(v.clone()).ok()
}

/// A stored value as its field's declared type shows it, borrowed from the record: the one
/// map from field type to output, which the executor (`output`) and compiled reads
/// (`Shown::write`) both use.
#[derive(Debug)]
pub enum Shown<'a> {
    Float(f64),
    Bool(bool),
    Str(&'a str),
    Strings(Vec<&'a str>),
    Json(&'a serde_json::Value),
}

/// How a field type shows its stored values: the one map from field type to output form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowAs {
    Float,
    Bool,
    Strings,
    Json,
    /// The stored string as it is.
    Str,
}

/// The output form of field type `ty`: lists and JSON as such, the rest as they are stored
/// (`FieldType::stored_as`, the one map from type to storage).
pub fn show_as(ty: FieldType) -> ShowAs {
    match (ty, ty.stored_as()) {
        (FieldType::MultiSelect, _) => ShowAs::Strings,
        (FieldType::File | FieldType::Json, _) => ShowAs::Json,
        // Pitfall: a NUMBER stored as an integer must still come out as a Float.
        (_, Stored::Float) => ShowAs::Float,
        (_, Stored::Bool) => ShowAs::Bool,
        // A decimal stays a string (exact); timestamps and dates are strings.
        (_, Stored::Decimal | Stored::Timestamp | Stored::Text) => ShowAs::Str,
    }
}

/// How a field of type `ty` shows stored value `v` (`None`: null, or a value not of the type).
pub fn shown(ty: FieldType, v: &serde_json::Value) -> Option<Shown<'_>> {
    if v.is_null() {
        return None;
    }
    Some(match show_as(ty) {
        ShowAs::Float => Shown::Float(v.as_f64()?),
        ShowAs::Bool => Shown::Bool(v.as_bool()?),
        ShowAs::Strings => Shown::Strings(v.as_array()?.iter().filter_map(|s| s.as_str()).collect()),
        ShowAs::Json => Shown::Json(v),
        ShowAs::Str => Shown::Str(v.as_str()?),
    })
}

impl Shown<'_> {
    /// As a GraphQL value.
    pub fn into_value(self) -> Option<Value> {
        Some(match self {
            Shown::Float(x) => Value::from(x),
            Shown::Bool(b) => Value::from(b),
            Shown::Str(s) => Value::from(s.to_owned()),
            Shown::Strings(items) => Value::List(items.into_iter().map(Value::from).collect()),
            Shown::Json(v) => Value::from_json(v.clone()).ok()?,
        })
    }

    /// Written as JSON, exactly as the executor serializes `into_value`.
    pub fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Shown::Float(x) => serde_json::to_writer(out, x),
            Shown::Bool(b) => serde_json::to_writer(out, b),
            Shown::Str(s) => serde_json::to_writer(out, s),
            Shown::Strings(items) => serde_json::to_writer(out, items),
            Shown::Json(v) => serde_json::to_writer(out, v),
        }
    }
}

/// A stored value as the GraphQL value of its field's declared type.
pub fn output(ty: FieldType, v: &serde_json::Value) -> Option<Value> {
    shown(ty, v)?.into_value()
}
