//! Hierarchy scopes (issue 16.1): the tenant's hierarchy links are RELATION fields marked
//! `hierarchy` (plant.company → company, department.plant → plant), read with the tenant's
//! metadata, so an entity without one costs no statement. This module owns `record_closure`
//! — every (ancestor, descendant) pair of those links with its depth — kept in the write's
//! transaction when a linked field changes (`relink`: insert, re-parent; a cycle is refused),
//! rebuilt when a field becomes or stops being a link (`rebuild`), and read by the `within`
//! operator: in SQL as an EXISTS on the closure (`sql`), in memory from the descendants of
//! each `within` root, loaded once per rule (`load`) before the rule is evaluated on records.
//! A soft-deleted record keeps its place, so restoring it restores its scope.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sea_orm::{QueryResult, Statement};
use serde_json::{Map, Value};

use super::filter::{Below, Filter, Op};
use super::meta::{EntityDef, FieldDef};
use super::sql::text_expr;
use crate::pipeline::Exec;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, FieldError, Result};

/// The hierarchy link of `e`: its RELATION field marked `hierarchy`, if any.
pub fn link_of(e: &EntityDef) -> Option<&FieldDef> {
    e.fields.iter().find(|f| f.hierarchy)
}

/// A field marked `hierarchy` must be a RELATION (to one record: every relation is).
pub fn check_link(errors: &mut Vec<FieldError>, path: &str, f: &FieldDef) {
    if f.hierarchy && (f.ty != super::meta::FieldType::Relation || f.is_computed()) {
        errors
            .push(FieldError::new(path, "only a RELATION field links a record to its parent in a hierarchy"));
    }
}

/// An entity has at most one hierarchy link (a record has one parent).
pub fn check_one_link(errors: &mut Vec<FieldError>, path: &str, e: &EntityDef) {
    if e.fields.iter().filter(|f| f.hierarchy).count() > 1 {
        errors.push(FieldError::new(
            path,
            "an entity has at most one hierarchy link (a record has one parent)",
        ));
    }
}

/// When `updateField` marks or unmarks field `f` of `e` as a hierarchy link (checked into
/// `errors`): every link of the tenant after the change (each entity with its link field),
/// which the closure is rebuilt from. `None` when the field's mark stays.
pub fn relinked(
    errors: &mut Vec<FieldError>,
    meta: &super::meta::TenantMeta,
    e: &EntityDef,
    f: &FieldDef,
) -> Option<Vec<(Arc<EntityDef>, FieldDef)>> {
    let old = e.field_by_key(f.key.as_str())?;
    if old.hierarchy == f.hierarchy {
        return None;
    }
    check_link(errors, "hierarchy", f);
    let mut changed = e.clone();
    if let Some(x) = changed.fields.iter_mut().find(|x| x.key == f.key) {
        x.hierarchy = f.hierarchy;
    }
    check_one_link(errors, "hierarchy", &changed);
    let changed = Arc::new(changed);
    let links = meta
        .entities
        .iter()
        .map(|x| if x.id == e.id { &changed } else { x })
        .filter_map(|x| link_of(x).map(|l| (x.clone(), l.clone())))
        .collect();
    Some(links)
}

/// Every `within` of `f` whose descendants are not loaded yet, with its root.
fn pending(f: &Filter) -> Vec<(&str, &Below)> {
    let mut out = Vec::new();
    fn walk<'a>(f: &'a Filter, out: &mut Vec<(&'a str, &'a Below)>) {
        match f {
            Filter::And(fs) | Filter::Or(fs) => fs.iter().for_each(|x| walk(x, out)),
            Filter::Not(x) => walk(x, out),
            Filter::Cond(_, Op::Within(root, below)) if !below.loaded() => {
                if let Some(r) = root.as_str() {
                    out.push((r, below));
                }
            }
            Filter::Cond(..) => {}
        }
    }
    walk(f, &mut out);
    out
}

/// Whether rule `f` has a `within` whose descendants are not loaded yet.
pub fn needs_loading(f: Option<&Filter>) -> bool {
    f.is_some_and(|f| !pending(f).is_empty())
}

/// The statement reading the descendants of the pending roots of `f` (`None`: nothing to load).
pub fn load_statement(d: Dialect, tenant_id: &str, f: Option<&Filter>) -> Option<Statement> {
    let roots: HashSet<&str> = pending(f?).into_iter().map(|(r, _)| r).collect();
    if roots.is_empty() {
        return None;
    }
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ancestor_id, descendant_id FROM record_closure WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" AND ancestor_id IN (");
    for (i, r) in roots.into_iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        buf.bind(r.to_owned());
    }
    buf.push(")");
    Some(buf.into_statement())
}

/// Hands the rows of `load_statement` to the pending `within`s of `f`.
pub fn fill(f: Option<&Filter>, rows: &[QueryResult]) -> Result<()> {
    let Some(f) = f else { return Ok(()) };
    let mut below: HashMap<String, HashSet<String>> = HashMap::new();
    for r in rows {
        let ancestor: String = r.try_get("", "ancestor_id")?;
        below.entry(ancestor).or_default().insert(r.try_get("", "descendant_id")?);
    }
    for (root, slot) in pending(f) {
        slot.fill(below.get(root).cloned().unwrap_or_default());
    }
    Ok(())
}

/// Loads what the `within`s of rule `f` need to be evaluated in memory, in `txn`: one
/// statement for all its roots, none when it has no `within` (or they are loaded).
pub async fn load(txn: &impl Exec, d: Dialect, tenant_id: &str, f: Option<&Filter>) -> Result<()> {
    if let Some(statement) = load_statement(d, tenant_id, f) {
        let rows = txn.query_all(statement).await?;
        fill(f, &rows)?;
    }
    Ok(())
}

/// The parent a record's `data` names through `link`.
fn parent_of<'a>(link: &FieldDef, data: &'a Map<String, Value>) -> Option<&'a str> {
    data.get(link.key.as_str()).and_then(Value::as_str)
}

/// Keeps the closure of record `id` of `e` (and everything below it) in step with its link:
/// `old` is its stored data before the write (`None` for a create), `new` after. No link, or
/// the same parent: no statement. Re-parenting a record under itself or its own descendant is
/// refused (`VALIDATION_FAILED` on the link field).
pub async fn relink(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    e: &EntityDef,
    id: &str,
    old: Option<&Map<String, Value>>,
    new: &Map<String, Value>,
) -> Result<()> {
    let Some(link) = link_of(e) else { return Ok(()) };
    let (before, after) = (old.and_then(|o| parent_of(link, o)), parent_of(link, new));
    if before == after {
        return Ok(());
    }
    if let Some(p) = after
        && old.is_some()
        && (p == id || is_below(txn, d, tenant_id, id, p).await?)
    {
        return Err(Error::Validation(vec![FieldError::new(
            &link.graphql_name,
            "would make the record its own ancestor (hierarchy links cannot form a cycle)",
        )]));
    }
    if before.is_some() {
        txn.execute(detach(d, tenant_id, id)).await?;
    }
    if let Some(p) = after {
        txn.execute(attach(d, tenant_id, id, p)).await?;
    }
    Ok(())
}

/// Whether `descendant` lies below `ancestor`.
async fn is_below(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    ancestor: &str,
    descendant: &str,
) -> Result<bool> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT 1 AS x FROM record_closure WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND ancestor_id = ").bind(ancestor.to_owned());
    buf.push(" AND descendant_id = ").bind(descendant.to_owned());
    Ok(txn.query_one(buf.into_statement()).await?.is_some())
}

/// `(SELECT descendant_id, depth FROM record_closure WHERE … ancestor_id = id UNION ALL id, 0)`:
/// `id` and everything below it, with depths from `id`.
fn push_subtree(buf: &mut SqlBuf, tenant_id: &str, id: &str) {
    buf.push("(SELECT descendant_id, depth FROM record_closure WHERE tenant_id = ")
        .bind(tenant_id.to_owned());
    buf.push(" AND ancestor_id = ").bind(id.to_owned());
    buf.push(" UNION ALL SELECT CAST(").bind(id.to_owned()).push(" AS VARCHAR(36)), 0)");
}

/// Removes the links between record `id`'s subtree and its ancestors (the subtree's own
/// links stay: it moves as a whole).
fn detach(d: Dialect, tenant_id: &str, id: &str) -> Statement {
    let mut buf = SqlBuf::new(d);
    buf.push("DELETE FROM record_closure WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND descendant_id IN (SELECT descendant_id FROM ");
    push_subtree(&mut buf, tenant_id, id);
    buf.push(" s) AND ancestor_id NOT IN (SELECT descendant_id FROM ");
    push_subtree(&mut buf, tenant_id, id);
    buf.push(" s)");
    buf.into_statement()
}

/// Links record `id`'s subtree under `parent` and every ancestor of `parent`.
fn attach(d: Dialect, tenant_id: &str, id: &str, parent: &str) -> Statement {
    let mut buf = SqlBuf::new(d);
    buf.push("INSERT INTO record_closure (tenant_id, ancestor_id, descendant_id, depth) SELECT ");
    buf.bind(tenant_id.to_owned());
    buf.push(", a.ancestor_id, s.descendant_id, a.depth + s.depth + 1 FROM ");
    buf.push("(SELECT ancestor_id, depth FROM record_closure WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND descendant_id = ").bind(parent.to_owned());
    buf.push(" UNION ALL SELECT CAST(").bind(parent.to_owned()).push(" AS VARCHAR(36)), 0) a, ");
    push_subtree(&mut buf, tenant_id, id);
    buf.push(" s");
    buf.into_statement()
}

/// Rebuilds the tenant's closure from the records of `links` (each entity with its link
/// field), all of them, soft-deleted ones included: after a field became or stopped being a
/// link. Parents are walked in memory; a cycle already in the data ends the walk.
pub async fn rebuild(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    links: &[(&EntityDef, &FieldDef)],
) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    buf.push("DELETE FROM record_closure WHERE tenant_id = ").bind(tenant_id.to_owned());
    txn.execute(buf.into_statement()).await?;
    let mut parent: HashMap<String, String> = HashMap::new();
    for (e, link) in links {
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT CAST(id AS VARCHAR(36)) AS id, ").push(&text_expr(d, &link.key));
        buf.push(" AS parent FROM records WHERE tenant_id = ").bind(tenant_id.to_owned());
        buf.push(" AND entity_id = ").bind(e.id.clone());
        for r in txn.query_all(buf.into_statement()).await? {
            if let Some(p) = r.try_get::<Option<String>>("", "parent")? {
                parent.insert(r.try_get("", "id")?, p);
            }
        }
    }
    let mut rows: Vec<(String, String, i32)> = Vec::new();
    for id in parent.keys() {
        let (mut at, mut depth, mut seen) = (id, 1, HashSet::from([id.as_str()]));
        while let Some(p) = parent.get(at) {
            if !seen.insert(p.as_str()) {
                break;
            }
            rows.push((p.clone(), id.clone(), depth));
            (at, depth) = (p, depth + 1);
        }
    }
    for chunk in rows.chunks(500) {
        let mut buf = SqlBuf::new(d);
        buf.push("INSERT INTO record_closure (tenant_id, ancestor_id, descendant_id, depth) VALUES ");
        for (i, (ancestor, descendant, depth)) in chunk.iter().enumerate() {
            buf.push(if i > 0 { ", (" } else { "(" }).bind(tenant_id.to_owned()).push(", ");
            buf.bind(ancestor.clone())
                .push(", ")
                .bind(descendant.clone())
                .push(", ")
                .bind(i64::from(*depth))
                .push(")");
        }
        txn.execute(buf.into_statement()).await?;
    }
    Ok(())
}

/// An aggregate's group key up the hierarchy (`groupByAncestor`): each record grouped by the
/// record of entity `entity_id` that its relation `field` points at or lies below (plants'
/// requisitions by company), read from the closure in the aggregate's own statement.
#[derive(Debug, Clone)]
pub struct AncestorGroup {
    pub field: FieldDef,
    pub entity_id: String,
    /// The key of the group in each row (the ancestor entity's name).
    pub name: String,
}

impl AncestorGroup {
    /// Groups `e`'s records by their relation `field` (its GraphQL name or key) up to
    /// `ancestor` (an entity name), checked: BAD_REQUEST when the field is no relation or the
    /// entity is unknown.
    pub fn of(
        e: &EntityDef,
        meta: &super::meta::TenantMeta,
        field: &str,
        ancestor: &str,
    ) -> Result<AncestorGroup> {
        let f = e
            .field_by_graphql(field)
            .or_else(|| e.field_by_key(field))
            .filter(|f| f.ty == super::meta::FieldType::Relation && f.is_stored())
            .ok_or_else(|| Error::BadRequest(format!("`{field}` is no relation of {}", e.label_plural)))?;
        let target = meta
            .entity_by_name(ancestor)
            .ok_or_else(|| Error::BadRequest(format!("no entity named `{ancestor}`")))?;
        Ok(AncestorGroup {
            field: f.clone(),
            entity_id: target.id.clone(),
            name: target.name_singular.clone(),
        })
    }

    /// The group's SQL expression: the field's own value when it points at the ancestor
    /// entity, else its nearest ancestor of that entity in the closure.
    pub fn expr(&self, d: Dialect) -> Result<String> {
        if self.field.related_entity_id.as_deref() == Some(self.entity_id.as_str()) {
            return Ok(text_expr(d, &self.field.key));
        }
        // The outer record's value, named as such: the lookup reads `records` itself too.
        let key = &self.field.key;
        let value = match d {
            Dialect::Postgres => format!("(records.data->>'{key}')"),
            Dialect::Sqlite => format!("json_extract(records.data, '$.{key}')"),
        };
        let entity = crate::sql_buf::uuid_literal(&self.entity_id, "entity")?;
        let join = match d {
            Dialect::Postgres => "a.id = CAST(rc.ancestor_id AS UUID)",
            Dialect::Sqlite => "a.id = rc.ancestor_id",
        };
        Ok(format!(
            "(SELECT rc.ancestor_id FROM record_closure rc JOIN records a ON a.tenant_id = rc.tenant_id AND {join} \
             WHERE rc.tenant_id = records.tenant_id AND rc.descendant_id = {value} AND a.entity_id = '{entity}' \
             ORDER BY rc.depth LIMIT 1)"
        ))
    }
}
