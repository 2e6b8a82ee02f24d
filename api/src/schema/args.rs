//! Execution layer: GraphQL arguments → the filter AST and list arguments of the store.

use async_graphql::dynamic::ResolverContext;
use async_graphql::indexmap::IndexMap;
use async_graphql::{Name, Value};
use entity::runtime::filter::{Filter, Target};
use entity::runtime::meta::EntityDef;
use entity::runtime::sql::{Direction, SortKey, parse_order};
use entity::runtime::store::ListArgs;

use crate::error::{ApiError, gql};

pub use entity::runtime::sql::sort_targets;

/// A field's arguments with the variables in them substituted: what a resolver reads
/// (`ctx.args`), and what a compiled read (`schema::compiled`) hands the same functions.
pub type Args = IndexMap<Name, Value>;

/// A JSON copy of an argument (enum values become strings).
pub fn arg_json(ctx: &ResolverContext<'_>, name: &str) -> async_graphql::Result<Option<serde_json::Value>> {
    json_of(ctx.args.as_index_map(), name)
}

fn json_of(args: &Args, name: &str) -> async_graphql::Result<Option<serde_json::Value>> {
    match args.get(name) {
        Some(v) if !matches!(v, Value::Null) => Ok(Some(
            v.clone()
                .into_json()
                .map_err(|e| ApiError::BadRequest(format!("argument {name}: {e}")).to_graphql())?,
        )),
        _ => Ok(None),
    }
}

/// `filter` → AST.
pub fn filter(ctx: &ResolverContext<'_>, entity: &EntityDef) -> async_graphql::Result<Option<Filter>> {
    filter_of(ctx.args.as_index_map(), entity)
}

fn filter_of(args: &Args, entity: &EntityDef) -> async_graphql::Result<Option<Filter>> {
    json_of(args, "filter")?.map(|v| Filter::parse(entity, &v).map_err(gql)).transpose()
}

/// `orderBy` → sort keys (default: `createdAt ASC`).
pub fn order(ctx: &ResolverContext<'_>, entity: &EntityDef) -> async_graphql::Result<Vec<SortKey>> {
    order_of(ctx.args.as_index_map(), entity)
}

fn order_of(args: &Args, entity: &EntityDef) -> async_graphql::Result<Vec<SortKey>> {
    let Some(serde_json::Value::Array(items)) = json_of(args, "orderBy")? else {
        return Ok(vec![SortKey { target: Target::CreatedAt, direction: Direction::Asc }]);
    };
    parse_order(entity, &items).map_err(gql)
}

/// A `first`/`last` argument, checked against the configured maximum.
fn page_size(args: &Args, name: &str, max: u64) -> async_graphql::Result<Option<u64>> {
    match args.get(name) {
        Some(Value::Null) | None => Ok(None),
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                _ => None,
            }
            .ok_or_else(|| ApiError::BadRequest(format!("`{name}` must be an integer")).to_graphql())?;
            if n < 0 || n as u64 > max {
                return Err(
                    ApiError::BadRequest(format!("`{name}` must be between 0 and {max}")).to_graphql()
                );
            }
            Ok(Some(n as u64))
        }
    }
}

/// The text of a `String` or `ID` argument; `None` when it is absent or null.
///
/// The executor's validation lets an integer through for an `ID` (the spec's input coercion),
/// but every id here is a string (a UUID), and an integer one is refused as it is in record
/// inputs and filters ("must be a string"): a `BAD_REQUEST`, never an internal error.
pub fn opt_string(ctx: &ResolverContext<'_>, name: &str) -> Result<Option<String>, ApiError> {
    string_arg(ctx.args.as_index_map(), name)
}

/// An `Int` argument; `None` when it is absent or null.
pub fn opt_int(ctx: &ResolverContext<'_>, name: &str) -> async_graphql::Result<Option<i64>> {
    ctx.args.get(name).filter(|v| !v.is_null()).map(|v| v.i64()).transpose()
}

/// A `Boolean` argument; `false` when it is absent or null.
pub fn flag(ctx: &ResolverContext<'_>, name: &str) -> async_graphql::Result<bool> {
    Ok(ctx.args.get(name).filter(|v| !v.is_null()).map(|v| v.boolean()).transpose()?.unwrap_or(false))
}

/// A required `String` or `ID` argument (see `opt_string`).
pub fn string(ctx: &ResolverContext<'_>, name: &str) -> Result<String, ApiError> {
    opt_string(ctx, name)?.ok_or_else(|| ApiError::BadRequest(format!("`{name}` is required")))
}

fn string_arg(args: &Args, name: &str) -> Result<Option<String>, ApiError> {
    match args.get(name) {
        Some(Value::Null) | None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::BadRequest(format!("`{name}` must be a string"))),
    }
}

/// All list arguments of a connection field.
pub fn list_args(ctx: &ResolverContext<'_>, entity: &EntityDef, max: u64) -> async_graphql::Result<ListArgs> {
    list_args_of(ctx.args.as_index_map(), entity, max, ctx.look_ahead().field("totalCount").exists())
}

/// `list_args` from the arguments themselves; `with_total` says whether `totalCount` is asked.
pub fn list_args_of(
    args: &Args,
    entity: &EntityDef,
    max: u64,
    with_total: bool,
) -> async_graphql::Result<ListArgs> {
    let first = page_size(args, "first", max)?;
    let last = page_size(args, "last", max)?;
    if first.is_some() && last.is_some() {
        return Err(ApiError::BadRequest("pass `first` or `last`, not both".into()).to_graphql());
    }
    Ok(ListArgs {
        filter: filter_of(args, entity)?,
        search: string_arg(args, "search")?,
        order: order_of(args, entity)?,
        first,
        last,
        after: string_arg(args, "after")?,
        before: string_arg(args, "before")?,
        with_total,
        ..ListArgs::default()
    })
}

/// A canonical text of the arguments (batches reverse relations with equal arguments).
pub fn args_key(ctx: &ResolverContext<'_>) -> String {
    let map = ctx.args.as_index_map().clone();
    async_graphql::Value::Object(map).into_json().map(|j| j.to_string()).unwrap_or_default()
}

/// The `id` argument.
pub fn id(ctx: &ResolverContext<'_>) -> Result<String, ApiError> {
    string(ctx, "id")
}

/// The `id` argument naming a record: in its stored form, or VALIDATION_FAILED on `id` when it
/// cannot be a record id (`value::record_id`), so a typo is told apart from a missing record.
pub fn record_id(ctx: &ResolverContext<'_>) -> Result<String, ApiError> {
    record_id_named(ctx, "id")
}

/// Argument `name` naming a record (`recordId` of workflows and approvals), as `record_id`.
pub fn record_id_named(ctx: &ResolverContext<'_>, name: &str) -> Result<String, ApiError> {
    stored_record_id(name, &string(ctx, name)?)
}

/// Optional argument `name` naming a record, as `record_id_named` when given.
pub fn opt_record_id_named(ctx: &ResolverContext<'_>, name: &str) -> Result<Option<String>, ApiError> {
    opt_string(ctx, name)?.map(|given| stored_record_id(name, &given)).transpose()
}

fn stored_record_id(name: &str, given: &str) -> Result<String, ApiError> {
    entity::runtime::value::record_id(given).ok_or_else(|| {
        ApiError::Validation(vec![entity::FieldError::new(name, entity::runtime::value::NOT_AN_ID)])
    })
}

/// An input object as JSON, split into entity values and the `owner` system field.
pub fn record_input(
    ctx: &ResolverContext<'_>,
) -> async_graphql::Result<(serde_json::Map<String, serde_json::Value>, Option<String>)> {
    Ok(split_owner(arg_json(ctx, "input")?))
}

/// A record input as JSON, split into entity values and the `owner` system field.
pub fn split_owner(
    input: Option<serde_json::Value>,
) -> (serde_json::Map<String, serde_json::Value>, Option<String>) {
    let mut map = match input {
        Some(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let owner = map.remove("owner").and_then(|v| v.as_str().map(str::to_owned));
    (map, owner)
}

/// `first` of the platform's log lists (runs, deliveries, emails): 50 when absent, at most the
/// configured page size.
pub fn log_page_size(ctx: &ResolverContext<'_>, max: u64) -> async_graphql::Result<u64> {
    let first = opt_int(ctx, "first")?.unwrap_or(50);
    u64::try_from(first)
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| ApiError::BadRequest(format!("`first` must be between 0 and {max}")).into())
}
