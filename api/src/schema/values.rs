//! The Rust values resolvers hand to each other as GraphQL parent values, and the conversion
//! of stored field values to GraphQL output values (coerced to the declared type).

use std::any::Any;

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, ResolverContext, TypeRef};
use entity::runtime::meta::{FieldDef, FieldType};
use entity::runtime::store::{ChangeKind, Record};

/// A page of a connection (top-level list or reverse relation). Its `nodes` and `edges` are
/// lent to the fields below, never copied: a page's records are decoded once.
#[derive(Debug, Clone)]
pub struct ConnectionValue {
    pub edges: Vec<EdgeValue>,
    pub page_info: PageInfoValue,
    pub total: Option<i64>,
}

impl ConnectionValue {
    /// A page from its records and their cursors (in the same order).
    pub fn new(
        records: Vec<Record>,
        cursors: Vec<String>,
        page_info: PageInfoValue,
        total: Option<i64>,
    ) -> Self {
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
    pub kind: ChangeKind,
    pub record: Record,
    pub changed_fields: Vec<String>,
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

/// A stored value as the GraphQL value of its field's declared type.
pub fn output(f: &FieldDef, v: &serde_json::Value) -> Option<Value> {
    if v.is_null() {
        return None;
    }
    Some(match f.ty {
        // Pitfall: a NUMBER stored as an integer must still come out as a Float.
        FieldType::Number => Value::from(v.as_f64()?),
        FieldType::Boolean => Value::from(v.as_bool()?),
        FieldType::MultiSelect => {
            Value::List(v.as_array()?.iter().filter_map(|s| s.as_str().map(Value::from)).collect())
        }
        FieldType::File | FieldType::Json => Value::from_json(v.clone()).ok()?,
        _ => Value::from(v.as_str()?.to_owned()),
    })
}
