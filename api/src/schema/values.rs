//! The Rust values resolvers hand to each other as GraphQL parent values, and the conversion
//! of stored field values to GraphQL output values (coerced to the declared type).

use std::any::Any;

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, ResolverContext, TypeRef};
use entity::runtime::meta::FieldType;
use entity::runtime::naming::change_kinds;
use entity::runtime::record::{ChangeKind, Record};
pub use entity::runtime::show::{ShowAs, Shown, show_as, shown};

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

/// A list of values lent from the parent, resolved without a future.
pub fn lend<'a>(items: async_graphql::Result<impl Iterator<Item = FieldValue<'a>>>) -> FieldFuture<'a> {
    match items {
        Ok(items) => FieldFuture::Value(Some(FieldValue::list(items))),
        Err(e) => FieldFuture::new(async move { Err::<Option<FieldValue<'_>>, _>(e) }),
    }
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

/// As a GraphQL value: a shown value in the executor's form.
fn into_value(shown: Shown<'_>) -> Option<Value> {
    Some(match shown {
        Shown::Float(x) => Value::from(x),
        Shown::Bool(b) => Value::from(b),
        Shown::Str(s) => Value::from(s.to_owned()),
        Shown::Strings(items) => Value::List(items.into_iter().map(Value::from).collect()),
        Shown::Json(v) => Value::from_json(v.clone()).ok()?,
    })
}

/// A stored value as the GraphQL value of its field's declared type.
pub fn output(ty: FieldType, v: &serde_json::Value) -> Option<Value> {
    into_value(shown(ty, v)?)
}
