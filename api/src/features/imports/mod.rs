//! GraphQL for CSV imports (every role, within its permissions): `startImport` (a file sent as
//! a multipart request, `schema::upload`; see `start`), `import(id)`, `imports(first, after)`,
//! `cancelImport(id)` and the `importChanged(id)` subscription, which pushes the import each
//! time a batch commits or its status changes. A caller sees the imports it started; an
//! administrator sees every import of the tenant. The rows are written by the worker
//! (`jobs::handlers::imports`) through the record store, as the caller would write them.

mod start;

use async_graphql::Value;
use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext,
    SubscriptionField, SubscriptionFieldFuture, Type, TypeRef,
};
use entity::features::imports::{self, Column, Import, RowError, Status};
use entity::runtime::naming::{fields as f, types as t};
use futures_util::StreamExt;
use jobs::BusEvent;

use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::schema::args;
use crate::schema::feature::{Declared, Slot};
use crate::schema::values::{PageInfoValue, parent, s, sync_field, ts};
use crate::schema::{ctx, news};
use crate::services::{Services, Txn};

/// A page of imports or of an import's errors, with each item's cursor.
struct Page<T> {
    items: Vec<(String, T)>,
    info: PageInfoValue,
}

impl<T> Page<T> {
    /// `first` items of `fetched` (one more was asked for, to tell whether a page follows).
    fn new(mut fetched: Vec<T>, first: u64, after: bool, cursor: fn(&T) -> String) -> Page<T> {
        let has_next = fetched.len() as u64 > first;
        fetched.truncate(usize::try_from(first).unwrap_or(usize::MAX));
        let items: Vec<(String, T)> = fetched.into_iter().map(|x| (cursor(&x), x)).collect();
        let info = PageInfoValue {
            has_next,
            has_previous: after,
            start: items.first().map(|(c, _)| c.clone()),
            end: items.last().map(|(c, _)| c.clone()),
        };
        Page { items, info }
    }
}

/// One item of a page, as its edge.
struct Edge<T>(String, T);

fn error_cursor(e: &RowError) -> String {
    format!("{}:{}", e.row_no, e.seq)
}

fn parse_error_cursor(cursor: &str) -> Result<(i64, i32), ApiError> {
    let bad = || ApiError::BadRequest("`after` is not a cursor of this list".into());
    let (row, seq) = cursor.split_once(':').ok_or_else(bad)?;
    Ok((row.parse().map_err(|_| bad())?, seq.parse().map_err(|_| bad())?))
}

/// A connection object `name` of `T`s (`edges`, `nodes`, `pageInfo`) with edge object `edge`.
fn connection<T: Clone + Send + Sync + 'static>(name: &str, edge: &str, node: &str) -> [Type; 2] {
    let node_ty = node.to_owned();
    let edge_obj = Object::new(edge)
        .field(sync_field::<Edge<T>>("cursor", TypeRef::named_nn(TypeRef::STRING), |e| s(&e.0)))
        .field(Field::new("node", TypeRef::named_nn(node_ty), |c| {
            FieldFuture::new(async move { Ok(Some(FieldValue::owned_any(parent::<Edge<T>>(&c)?.1.clone()))) })
        }));
    let conn = Object::new(name)
        .field(Field::new("edges", TypeRef::named_nn_list_nn(edge), |c| {
            FieldFuture::new(async move {
                let p = parent::<Page<T>>(&c)?;
                let edges =
                    p.items.iter().map(|(cur, x)| FieldValue::owned_any(Edge(cur.clone(), x.clone())));
                Ok(Some(FieldValue::list(edges)))
            })
        }))
        .field(Field::new("nodes", TypeRef::named_nn_list_nn(node), |c| {
            FieldFuture::new(async move {
                let p = parent::<Page<T>>(&c)?;
                Ok(Some(FieldValue::list(p.items.iter().map(|(_, x)| FieldValue::owned_any(x.clone())))))
            })
        }))
        .field(Field::new("pageInfo", TypeRef::named_nn(t::PAGE_INFO), |c| {
            FieldFuture::new(
                async move { Ok(Some(FieldValue::owned_any(parent::<Page<T>>(&c)?.info.clone()))) },
            )
        }));
    [edge_obj.into(), conn.into()]
}

fn int(n: i64) -> Option<Value> {
    Some(Value::from(n))
}

pub fn types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let count = |name: &str, get: fn(&Import) -> Option<Value>| {
        sync_field::<Import>(name, TypeRef::named_nn(TypeRef::INT), get)
    };
    let import = Object::new(t::IMPORT)
        .description("A CSV import into an entity: its settings, status, counts and refused rows.")
        .field(sync_field::<Import>("id", TypeRef::named_nn(TypeRef::ID), |i| s(&i.id)))
        .field(Field::new("entity", string(), |c| {
            FieldFuture::new(async move {
                let i = parent::<Import>(&c)?;
                let meta = &ctx::access(&c)?.meta;
                Ok(meta.entity_by_id(&i.entity_id).map(|e| Value::from(e.name_singular.clone())))
            })
        }))
        .field(sync_field::<Import>("fileName", string(), |i| s(&i.file_name)))
        .field(sync_field::<Import>("status", TypeRef::named_nn(t::IMPORT_STATUS), |i| {
            Status::parse(&i.status).map(|x| Value::Enum(async_graphql::Name::new(x.public_name())))
        }))
        .field(sync_field::<Import>("dryRun", TypeRef::named_nn(TypeRef::BOOLEAN), |i| {
            Some(Value::from(i.dry_run))
        }))
        .field(sync_field::<Import>("runWorkflows", TypeRef::named_nn(TypeRef::BOOLEAN), |i| {
            Some(Value::from(i.run_workflows))
        }))
        .field(sync_field::<Import>("upsertBy", TypeRef::named(TypeRef::STRING), |i| {
            i.upsert_by.as_deref().and_then(s)
        }))
        .field(Field::new("columns", TypeRef::named_nn_list_nn(t::IMPORT_COLUMN), |c| {
            FieldFuture::new(async move {
                let columns: Vec<Column> = serde_json::from_value(parent::<Import>(&c)?.mapping.clone())?;
                Ok(Some(FieldValue::list(columns.into_iter().map(FieldValue::owned_any))))
            })
        }))
        .field(count("totalRows", |i| int(i.total_rows)))
        .field(count("processedRows", |i| int(i.processed_rows)))
        .field(
            count("createdCount", |i| int(i.created_count))
                .description("Records created (a dry run: would be)."),
        )
        .field(
            count("updatedCount", |i| int(i.updated_count))
                .description("Records updated (a dry run: would be)."),
        )
        .field(count("errorCount", |i| int(i.error_count)).description("Rows refused."))
        .field(sync_field::<Import>("message", TypeRef::named(TypeRef::STRING), |i| {
            i.message.as_deref().and_then(s)
        }))
        .field(sync_field::<Import>("createdAt", TypeRef::named_nn(t::DATE_TIME), |i| ts(&i.created_at)))
        .field(sync_field::<Import>("updatedAt", TypeRef::named_nn(t::DATE_TIME), |i| ts(&i.updated_at)))
        .field(sync_field::<Import>("finishedAt", TypeRef::named(t::DATE_TIME), |i| {
            i.finished_at.as_ref().and_then(ts)
        }))
        .field(
            Field::new("errors", TypeRef::named_nn(t::IMPORT_ERROR_CONNECTION), |c| {
                FieldFuture::new(async move { Ok(Some(FieldValue::owned_any(errors(&c).await?))) })
            })
            .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
            .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
            .description("The refused rows' problems in file order, one per row and field."),
        );
    let mut types: Vec<Type> = vec![
        Enum::new(t::IMPORT_STATUS).items(Status::ALL.map(Status::public_name)).into(),
        import.into(),
        Object::new(t::IMPORT_COLUMN)
            .field(sync_field::<Column>("column", string(), |x| s(&x.header)))
            .field(sync_field::<Column>("field", string(), |x| s(&x.field)))
            .into(),
        InputObject::new(t::IMPORT_COLUMN_INPUT)
            .description("A column of the file (its header) and the field it fills (key, name or label).")
            .field(InputValue::new("column", string()))
            .field(InputValue::new("field", string()))
            .into(),
        Object::new(t::IMPORT_ERROR)
            .field(
                sync_field::<RowError>("row", TypeRef::named_nn(TypeRef::INT), |e| int(e.row_no))
                    .description(
                        "The row's number in the file, the header being row 1 (as a spreadsheet numbers it).",
                    ),
            )
            .field(sync_field::<RowError>("field", TypeRef::named(TypeRef::STRING), |e| {
                e.field.as_deref().and_then(s)
            }))
            .field(sync_field::<RowError>("code", string(), |e| s(&e.code)))
            .field(sync_field::<RowError>("message", string(), |e| s(&e.message)))
            .into(),
    ];
    types.extend(connection::<RowError>(t::IMPORT_ERROR_CONNECTION, t::IMPORT_ERROR_EDGE, t::IMPORT_ERROR));
    types.extend(connection::<Import>(t::IMPORT_CONNECTION, t::IMPORT_EDGE, t::IMPORT));
    types
}

/// Whose imports the caller sees: its own, or (administrators) everyone's.
fn starter(p: &Principal) -> Option<&str> {
    (!p.permissions.admin).then_some(p.user_id.as_str())
}

/// Import `id` as the caller may see it.
async fn visible(state: &Services, p: &Principal, id: &str) -> Result<Option<Import>, ApiError> {
    state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| imports::get(txn, &p.tenant_id, id, starter(p)).await)
        .await
}

async fn errors(c: &ResolverContext<'_>) -> Result<Page<RowError>, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let import = parent::<Import>(c)?;
    let first = args::log_page_size(c, state.config.max_page_size)?;
    let after = args::opt_string(c, "after")?.map(|a| parse_error_cursor(&a)).transpose()?;
    let id = import.id.clone();
    let fetched = state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
            imports::errors(txn, &p.tenant_id, &id, first + 1, after).await
        })
        .await?;
    Ok(Page::new(fetched, first, after.is_some(), error_cursor))
}

pub fn queries() -> Vec<Field> {
    vec![
        Field::new(f::IMPORT, TypeRef::named(t::IMPORT), |c| {
            FieldFuture::new(async move {
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let id = args::string(&c, "id")?;
                Ok(visible(state, p, &id).await?.map(FieldValue::owned_any))
            })
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
        .description("An import you started (administrators: any import of the tenant)."),
        Field::new(f::IMPORTS, TypeRef::named_nn(t::IMPORT_CONNECTION), |c| {
            FieldFuture::new(async move {
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let first = args::log_page_size(&c, state.config.max_page_size)?;
                let after = args::opt_string(&c, "after")?;
                let fetched = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                        imports::list(txn, &p.tenant_id, starter(p), first + 1, after.as_deref()).await
                    })
                    .await?;
                Ok(Some(FieldValue::owned_any(Page::new(fetched, first, after.is_some(), |i: &Import| {
                    i.id.clone()
                }))))
            })
        })
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
        .description("Imports you started (administrators: every import of the tenant), newest first."),
    ]
}

pub fn mutations() -> Vec<Field> {
    vec![
        Field::new(f::START_IMPORT, TypeRef::named_nn(t::IMPORT), |c| {
            FieldFuture::new(async move { Ok(Some(FieldValue::owned_any(start::start(&c).await?))) })
        })
        .argument(InputValue::new("entity", TypeRef::named_nn(TypeRef::STRING)))
        .argument(InputValue::new("file", TypeRef::named_nn(t::UPLOAD)))
        .argument(InputValue::new("mapping", TypeRef::named_nn_list(t::IMPORT_COLUMN_INPUT)))
        .argument(InputValue::new("dryRun", TypeRef::named(TypeRef::BOOLEAN)).default_value(false))
        .argument(InputValue::new("upsertBy", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new("runWorkflows", TypeRef::named(TypeRef::BOOLEAN)).default_value(true))
        .description(
            "Imports a CSV file (sent as a multipart request) into an entity (`nameSingular`). Without \
             `mapping`, headers name fields by key, name or label. `dryRun` checks every row and writes \
             nothing but the report; `upsertBy` (a unique field) updates the record holding a row's value \
             instead of creating one; `runWorkflows: false` starts no workflow for the rows.",
        ),
        Field::new(f::CANCEL_IMPORT, TypeRef::named_nn(t::IMPORT), |c| {
            FieldFuture::new(async move {
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let id = args::string(&c, "id")?;
                let actor = ctx::actor(&c)?;
                let (row, cancelled) = state
                    .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                        imports::cancel(txn, &p.tenant_id, &id, starter(p), &actor).await
                    })
                    .await?
                    .ok_or_else(|| ApiError::NotFound("import".into()))?;
                if !cancelled && row.status != Status::Cancelled.as_str() {
                    return Err(
                        ApiError::Conflict(format!("the import has already ended ({})", row.status)).into()
                    );
                }
                Ok(Some(FieldValue::owned_any(row)))
            })
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
        .description("Cancels an import that has not ended; the batches committed before stay."),
    ]
}

/// `importChanged(id)`: the import as it is when the subscription starts, then each time a batch
/// commits or its status changes, for those who may query it.
pub fn subscription() -> SubscriptionField {
    SubscriptionField::new(f::IMPORT_CHANGED, TypeRef::named_nn(t::IMPORT), |c| {
        SubscriptionFieldFuture::new(async move {
            let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
            let id = args::string(&c, "id")?;
            let wanted = id.clone();
            // Listening before reading: a change between the two is heard, not lost.
            let changes = news::stream(
                &c,
                move |e| match e {
                    BusEvent::Import(i) if i.import_id == wanted => Some(i.clone()),
                    _ => None,
                },
                |state, p, changed| async move {
                    // As it is now: a later batch may have committed since this change.
                    Ok(visible(&state, &p, &changed.import_id).await?.map(FieldValue::owned_any))
                },
            )?;
            // The import as it is first, so a subscriber that comes late still sees where it stands.
            let now = visible(state, p, &id).await?.ok_or_else(|| ApiError::NotFound("import".into()))?;
            let first = futures_util::stream::once(std::future::ready(Ok::<_, async_graphql::Error>(
                FieldValue::owned_any(now),
            )));
            Ok(first.chain(changes).boxed())
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .description(
        "An import (that you may query) as it is now, then each time a batch commits or its status changes.",
    )
}

/// CSV imports (every role; rows are written within the caller's permissions).
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Member, |_| queries())],
    mutations: &[(Slot::Member, |_| mutations())],
    subscriptions: |_| vec![subscription()],
    types: |_| types(),
    ..Declared::EMPTY
};
