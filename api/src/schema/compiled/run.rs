//! Running a plan: the resolvers' store calls, in selection order, written straight into the
//! response body as the executor would serialize it (`{"data":{…}}`, response keys in
//! selection order, values through `values::output`). `None` declines: the caller then runs
//! the request through the executor, which answers or raises the coded error.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use async_graphql::{Name, Value, Variables};
use entity::ReadScope;
use entity::runtime::field_key::FieldKey;
use entity::runtime::filter::Filter;
use entity::runtime::meta::FieldDef;
use entity::runtime::record::Record;
use entity::runtime::record::data::{FieldValue, Fields};
use entity::runtime::store::{Page, Store};

use entity::runtime::naming::types as t;

use super::plan::{ConnItem, EdgeItem, PageItem, Plan, RecordItem, RecordSel, Root, substitute};
use crate::auth::principal::Principal;
use crate::schema::access::SchemaAccess;
use crate::schema::args;
use crate::schema::values::{ShowAs, show_as, shown};
use crate::services::Services;

/// The records the to-one fields of one selection point at, for one set of parents: per
/// item of the selection, the targets the caller may see (by id) and what they point at.
struct Related {
    items: Vec<Option<Linked>>,
}

struct Linked {
    records: HashMap<String, Record>,
    below: Related,
}

type Loading<'a> = Pin<Box<dyn Future<Output = Option<Related>> + Send + 'a>>;

impl Plan {
    /// The response body of this plan for `variables`, or `None` to leave the request to the
    /// executor. Reads run in `scope` (the request's read connection) when there is one;
    /// `tenant` is the caller's tenant's view (entity ids and index slots are its own).
    pub async fn run(
        &self,
        state: &Services,
        p: &Principal,
        tenant: &SchemaAccess,
        scope: Option<&ReadScope>,
        variables: &Variables,
    ) -> Option<Vec<u8>> {
        let bound = self.bind(variables)?;
        let store = Store::scoped(&state.db, &p.tenant_id, scope);
        let mut out = Vec::with_capacity(8192);
        out.extend_from_slice(b"{\"data\":{");
        for (i, root) in self.roots.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match root {
                Root::Typename(key) => {
                    write_key(&mut out, key);
                    write_str(&mut out, t::QUERY);
                }
                Root::One { key, entity, id, record } => {
                    let access = tenant.entities.get(*entity)?;
                    let Value::String(given) = substitute(id, &bound) else { return None };
                    // Not an id: the executor answers the validation error.
                    let id = entity::runtime::value::record_id(&given)?;
                    let row = p.permissions.row_filter(&access.full, p.subject());
                    // The record and what its to-one fields point at, in one statement.
                    let keys: Vec<&FieldKey> = record.to_one_keys().collect();
                    let (found, targets) =
                        store.get_with_targets(&access.full, &id, row.as_ref(), &keys).await.ok()?;
                    write_key(&mut out, key);
                    match found {
                        Some(r) => {
                            let related = related(&store, p, tenant, record, vec![&r], Some(targets)).await?;
                            write_record(&mut out, record, &r, &related)?;
                        }
                        None => out.extend_from_slice(b"null"),
                    }
                }
                Root::Many { key, entity, args: written, constant, items } => {
                    let access = tenant.entities.get(*entity)?;
                    let with_total = items.iter().any(|i| matches!(i, ConnItem::TotalCount(_)));
                    let config = &state.config;
                    let read = || {
                        let given: args::Args =
                            written.iter().map(|(n, v)| (n.clone(), substitute(v, &bound))).collect();
                        args::list_args_of(&given, &access.view, config.max_page_size, with_total).ok()
                    };
                    let list = match constant {
                        Some(once) => once.get_or_init(read).clone()?,
                        None => read()?,
                    };
                    let row = p.permissions.row_filter(&access.full, p.subject());
                    let list = list.restrict(row.as_ref()).lean_if(items.iter().all(ConnItem::lean));
                    let page = store.list(&access.view, &list, config.default_page_size).await.ok()?;
                    write_key(&mut out, key);
                    write_connection(&mut out, &store, p, tenant, items, &page).await?;
                }
            }
        }
        out.extend_from_slice(b"}}");
        Some(out)
    }
}

async fn write_connection(
    out: &mut Vec<u8>,
    store: &Store<'_>,
    p: &Principal,
    access: &SchemaAccess,
    items: &[ConnItem],
    page: &Page,
) -> Option<()> {
    out.push(b'{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match item {
            ConnItem::Typename(key, name) => {
                write_key(out, key);
                write_str(out, name);
            }
            ConnItem::TotalCount(key) => {
                write_key(out, key);
                out.extend_from_slice(page.total.unwrap_or(0).to_string().as_bytes());
            }
            ConnItem::PageInfo(key, fields) => {
                write_key(out, key);
                write_page_info(out, fields, page);
            }
            ConnItem::Nodes(key, sel) => {
                let related = related(store, p, access, sel, page.records.iter().collect(), None).await?;
                write_key(out, key);
                out.push(b'[');
                for (j, r) in page.records.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    write_record(out, sel, r, &related)?;
                }
                out.push(b']');
            }
            ConnItem::Edges(key, fields) => {
                let mut related_of = Vec::with_capacity(fields.len());
                for f in fields {
                    related_of.push(match f {
                        EdgeItem::Node(_, sel) => {
                            Some(related(store, p, access, sel, page.records.iter().collect(), None).await?)
                        }
                        _ => None,
                    });
                }
                write_key(out, key);
                out.push(b'[');
                for (j, r) in page.records.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    out.push(b'{');
                    for (k, (f, related)) in fields.iter().zip(&related_of).enumerate() {
                        if k > 0 {
                            out.push(b',');
                        }
                        match (f, related) {
                            (EdgeItem::Typename(key, name), _) => {
                                write_key(out, key);
                                write_str(out, name);
                            }
                            (EdgeItem::Cursor(key), _) => {
                                write_key(out, key);
                                write_str(out, &page.cursor(j)?);
                            }
                            (EdgeItem::Node(key, sel), Some(related)) => {
                                write_key(out, key);
                                write_record(out, sel, r, related)?;
                            }
                            (EdgeItem::Node(..), None) => return None,
                        }
                    }
                    out.push(b'}');
                }
                out.push(b']');
            }
        }
    }
    out.push(b'}');
    Some(())
}

fn write_page_info(out: &mut Vec<u8>, fields: &[PageItem], page: &Page) {
    out.push(b'{');
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (key, value): (&Name, Option<String>) = match f {
            PageItem::Typename(k) => (k, Some(t::PAGE_INFO.to_owned())),
            PageItem::Start(k) => (k, page.cursor(0)),
            PageItem::End(k) => (k, page.end_cursor()),
            PageItem::HasNext(k) => {
                write_key(out, k);
                write_bool(out, page.has_next);
                continue;
            }
            PageItem::HasPrevious(k) => {
                write_key(out, k);
                write_bool(out, page.has_previous);
                continue;
            }
        };
        write_key(out, key);
        match value {
            Some(v) => write_str(out, &v),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.push(b'}');
}

/// Loads what the to-one fields of `sel` point at from `parents`: one statement for all of
/// them (as the record loader batches; none when they came with the parents, `prefetched`),
/// then each field's targets within the caller's row rule of the target entity, then
/// recursively below.
fn related<'a>(
    store: &'a Store<'a>,
    p: &'a Principal,
    access: &'a SchemaAccess,
    sel: &'a RecordSel,
    parents: Vec<&'a Record>,
    prefetched: Option<Vec<Record>>,
) -> Loading<'a> {
    Box::pin(async move {
        // A selection without to-one fields reads nothing more: its parents' rows are not
        // even split into fields (a list page's largest cost after decoding, yardstick Q1).
        if sel.to_one_keys().next().is_none() {
            return Some(Related { items: Vec::new() });
        }
        // Each parent's fields are read from its row once, for every to-one field.
        let parent_fields: Vec<Fields<'a>> = parents.iter().map(|r| r.data.fields()).collect();
        let mut ids: Vec<String> = Vec::new();
        for field_key in sel.to_one_keys() {
            for id in parent_fields.iter().filter_map(|f| f.str_of(field_key.as_str())) {
                if !ids.iter().any(|known| *known == *id) {
                    ids.push(id.into_owned());
                }
            }
        }
        if ids.is_empty() {
            return Some(Related { items: Vec::new() });
        }
        let fetched = match prefetched {
            Some(records) => records,
            None => store.get_many(&ids).await.ok()?,
        };
        let mut fetched: HashMap<String, Record> = fetched.into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut items = Vec::with_capacity(sel.items.len());
        for item in &sel.items {
            let RecordItem::ToOne { field_key, target, record, .. } = item else {
                items.push(None);
                continue;
            };
            let target = access.entities.get(*target)?;
            let row: Option<Filter> = p.permissions.row_filter(&target.full, p.subject());
            store.prepare_rule(row.as_ref()).await.ok()?;
            let mut records = HashMap::new();
            for id in parent_fields.iter().filter_map(|f| f.str_of(field_key.as_str())) {
                let id: &str = &id;
                let visible = fetched
                    .get(id)
                    .filter(|t| t.entity_id == target.full.id)
                    .filter(|t| row.as_ref().is_none_or(|f| f.matches(t)));
                if visible.is_some()
                    && !records.contains_key(id)
                    && let Some(t) = fetched.remove(id)
                {
                    records.insert(id.to_owned(), t);
                }
            }
            items.push(Some((records, record)));
        }
        // Below: each field's targets, loaded for the next level.
        let mut linked = Vec::with_capacity(items.len());
        for item in items {
            linked.push(match item {
                None => None,
                Some((records, record)) => {
                    // The borrow of `records` ends with the level below loaded.
                    let below = related(store, p, access, record, records.values().collect(), None).await?;
                    Some(Linked { records, below })
                }
            });
        }
        Some(Related { items: linked })
    })
}

fn write_record(out: &mut Vec<u8>, sel: &RecordSel, r: &Record, related: &Related) -> Option<()> {
    // Each selected value is copied from the row's text (`RecordData::fields`), not parsed
    // into a map first.
    let fields = r.data.fields();
    out.push(b'{');
    for (i, item) in sel.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match item {
            RecordItem::Typename(key) => {
                write_key(out, key);
                write_str(out, &sel.type_name);
            }
            RecordItem::Id(key) => {
                write_key(out, key);
                write_str(out, &r.id);
            }
            RecordItem::RecordNumber(key) => {
                write_key(out, key);
                match &r.record_number {
                    Some(n) => write_str(out, n),
                    None => out.extend_from_slice(b"null"),
                }
            }
            RecordItem::CreatedAt(key) => {
                write_key(out, key);
                write_str(out, &entity::runtime::time::format(&r.created_at));
            }
            RecordItem::UpdatedAt(key) => {
                write_key(out, key);
                write_str(out, &entity::runtime::time::format(&r.updated_at));
            }
            RecordItem::Value(key, def) => {
                write_key(out, key);
                if !write_value(out, def, fields.get(def.key.as_str()))? {
                    // A required field's type is non-null: the executor would answer an
                    // error here, so it shall.
                    if def.required {
                        return None;
                    }
                    out.extend_from_slice(b"null");
                }
            }
            RecordItem::ToOne { key, field_key, record, .. } => {
                write_key(out, key);
                let linked = related.items.get(i).and_then(Option::as_ref);
                let target = fields.str_of(field_key.as_str());
                match (linked, target) {
                    (Some(linked), Some(id)) => match linked.records.get(&*id) {
                        Some(t) => write_record(out, record, t, &linked.below)?,
                        None => out.extend_from_slice(b"null"),
                    },
                    _ => out.extend_from_slice(b"null"),
                }
            }
        }
    }
    out.push(b'}');
    Some(())
}

/// Writes the stored value `v` of field `def` as the executor would (`values::shown`):
/// `Some(false)` when there is nothing to show (absent, null or not of the field's type),
/// `None` when it cannot be written. A string without escapes is copied as it is stored.
fn write_value(out: &mut Vec<u8>, def: &FieldDef, v: Option<FieldValue<'_>>) -> Option<bool> {
    let Some(v) = v else { return Some(false) };
    if show_as(def.ty) == ShowAs::Str
        && let Some(text) = v.verbatim_str()
    {
        out.extend_from_slice(text.as_bytes());
        return Some(true);
    }
    let v = v.to_value()?;
    match shown(def.ty, &v) {
        Some(shown) => shown.write(out).ok().map(|()| true),
        None => Some(false),
    }
}

fn write_key(out: &mut Vec<u8>, key: &Name) {
    // GraphQL names are [_A-Za-z][_0-9A-Za-z]*: nothing to escape.
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing a &str to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}
