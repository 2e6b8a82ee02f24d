//! The records an import's RELATION cells name (`cells::Target`), looked up among the live
//! records of each field's target entity the importer may read: by id as given (the create
//! then checks it exists, as for any input), by record number or by a unique field of the
//! target — one statement per relation column and kind of name for all the rows of a call,
//! never one per row. What was found (or why nothing was) is kept for the rest of the batch.

use std::collections::HashMap;

use sea_orm::DatabaseTransaction;
use serde_json::Value;

use super::cells::{self, Cell, Target};
use super::mapping;
use crate::Result;
use crate::runtime::audit::Actor;
use crate::runtime::filter::{Filter, Op, Target as On};
use crate::runtime::meta::{EntityDef, FieldDef, FieldType, TenantMeta};
use crate::runtime::policy::{Action, Attributes, Permissions, Subject};
use crate::runtime::store::Store;
use crate::runtime::value;

/// A relation cell's target as looked up: the record's id, or why there is none.
pub type Looked = std::result::Result<String, String>;

/// Who looks targets up, and where.
pub struct Finder<'f> {
    pub store: &'f Store<'f>,
    pub meta: &'f TenantMeta,
    pub permissions: &'f Permissions,
    /// The importer's attributes (`$user.<key>` in their row rules).
    pub attributes: &'f Attributes,
    pub actor: &'f Actor,
}

/// The targets of one statement: a relation column's, named one way (by record number, or by
/// one unique field of the target).
struct Group<'g> {
    target: &'g EntityDef,
    /// How the target is named: its record number, or a unique field.
    on: On,
    /// Each name as the cell gave it, its value as stored, and what to say when none matches.
    wanted: Vec<(Target, Value, String)>,
}

impl Finder<'_> {
    /// Looks up every one of `wanted` (a relation field and the target a cell names) not in
    /// `found` yet, and keeps the answers there, keyed by the field's key and the target.
    pub async fn look_up_all(
        &self,
        txn: &DatabaseTransaction,
        wanted: Vec<(&FieldDef, Target)>,
        found: &mut HashMap<(String, Target), Looked>,
    ) -> Result<()> {
        // By (relation field's key, the target's unique field's key or none for the number).
        let mut groups: Vec<((String, Option<String>), Group<'_>)> = Vec::new();
        for (f, t) in wanted {
            let key = (f.key.to_string(), t.clone());
            if found.contains_key(&key) {
                continue;
            }
            match self.named(f, &t) {
                Err(answer) => {
                    found.insert(key, answer);
                }
                Ok((target, on, v, missing)) => {
                    let by = match &on {
                        On::Field(k) => Some(k.key.to_string()),
                        _ => None,
                    };
                    let name = (f.key.to_string(), by);
                    match groups.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, g)) => {
                            if !g.wanted.iter().any(|(w, _, _)| *w == t) {
                                g.wanted.push((t, v, missing));
                            }
                        }
                        None => groups.push((name, Group { target, on, wanted: vec![(t, v, missing)] })),
                    }
                }
            }
        }
        for ((field, _), g) in groups {
            let values: Vec<Value> = g.wanted.iter().map(|(_, v, _)| v.clone()).collect();
            let limit = u64::try_from(values.len() * 2 + 1).unwrap_or(u64::MAX);
            let who = Subject { user_id: self.actor.user_id.as_deref(), attributes: self.attributes };
            let rule = self.permissions.row_filter(g.target, who);
            let among = within_rule(Filter::Cond(g.on.clone(), Op::In(values)), rule.as_ref());
            let records = self.store.find_in(txn, g.target, among, limit).await?;
            let label = &g.target.label_singular;
            for (t, v, missing) in g.wanted {
                let same = Filter::Cond(g.on.clone(), Op::Eq(v));
                let matching: Vec<&str> =
                    records.iter().filter(|r| same.matches(r)).map(|r| r.id.as_str()).collect();
                let answer = match matching.as_slice() {
                    [one] => Ok((*one).to_owned()),
                    [] => Err(missing),
                    _ => Err(format!("more than one {label} matches: name it by id")),
                };
                found.insert((field.clone(), t), answer);
            }
        }
        Ok(())
    }

    /// How target `t` of relation field `f` is looked up — the target entity, what names it,
    /// the value as stored and what to say when none matches — or the answer without a look-up.
    fn named(
        &self,
        f: &FieldDef,
        t: &Target,
    ) -> std::result::Result<(&EntityDef, On, Value, String), Looked> {
        let Some(target) = f.related_entity_id.as_deref().and_then(|id| self.meta.entity_by_id(id)) else {
            return Err(Err("its target entity no longer exists".into()));
        };
        let label = &target.label_singular;
        if !self.permissions.can(target, Action::Read) {
            return Err(Err(format!("your role may not read {}", target.label_plural)));
        }
        match t {
            Target::Id(id) => Err(Ok(id.clone())),
            Target::Number(n) => {
                Ok((target, On::RecordNumber, Value::String(n.clone()), format!("no {label} numbered {n}")))
            }
            Target::Unique { field, value } => {
                let Some(key) = mapping::field_named(&target.fields, field)
                    .filter(|k| k.unique && k.ty != FieldType::Relation)
                else {
                    return Err(Err(format!("`{field}` is no unique field of {label}")));
                };
                match value::normalize(key, &cell_input(key, value)) {
                    Ok(Some(v)) => Ok((
                        target,
                        On::Field(Box::new(key.clone())),
                        v,
                        format!("no {label} with {field} = {value}"),
                    )),
                    Ok(None) | Err(_) => Err(Err(format!("`{value}` is no valid {}", key.label))),
                }
            }
        }
    }
}

/// The input value a cell gives a (non-relation) field, as `cells::parse` reads it (the text
/// itself when it reads none: `value::normalize` then says what is wrong with it).
fn cell_input(f: &FieldDef, cell: &str) -> Value {
    match cells::parse(f, cell) {
        Ok(Cell::Value(v)) => v,
        Ok(Cell::Empty | Cell::Target(_)) | Err(_) => Value::String(cell.to_owned()),
    }
}

/// `f` within the row rule `rule`, if any.
pub fn within_rule(f: Filter, rule: Option<&Filter>) -> Filter {
    match rule {
        Some(r) => f.and(r.clone()),
        None => f,
    }
}
