//! The filter language of shared/API.md as an AST, parsed from the GraphQL filter input (or a
//! role's `where` JSON), compiled to SQL by `sql` and evaluated in memory by `Filter::matches`
//! (for subscription events). Row rules (`Filter::parse_rule`) may also use `within` (a
//! relation or id at or below a record in the tenant's hierarchy, `hierarchy`). Both enforcers use two-valued logic: a comparison never matches
//! a null value, so `not` and `neq` mean the same thing in SQL and in Rust.

use std::cmp::Ordering;

use serde_json::Value;

use super::meta::{EntityDef, FieldDef, FieldType};
use super::record::Record;
use super::value;
use crate::{Error, FieldError, Result};

/// What a condition looks at.
#[derive(Debug, Clone)]
pub enum Target {
    Id,
    CreatedAt,
    UpdatedAt,
    Owner,
    RecordNumber,
    Field(Box<FieldDef>),
}

impl Target {
    /// The type whose comparison rules apply.
    pub fn ty(&self) -> FieldType {
        match self {
            Target::Id | Target::Owner => FieldType::Relation,
            Target::CreatedAt | Target::UpdatedAt => FieldType::Datetime,
            Target::RecordNumber => FieldType::Text,
            Target::Field(f) => f.ty,
        }
    }

    /// The value of this target on a record (`None` = null).
    pub fn value_of(&self, r: &Record) -> Option<Value> {
        match self {
            Target::Id => Some(Value::String(r.id.clone())),
            Target::CreatedAt => Some(Value::String(super::time::format(&r.created_at))),
            Target::UpdatedAt => Some(Value::String(super::time::format(&r.updated_at))),
            Target::Owner => r.owner_id.clone().map(Value::String),
            Target::RecordNumber => r.record_number.clone().map(Value::String),
            Target::Field(f) => r.data.get(f.key.as_str()).filter(|v| !v.is_null()).cloned(),
        }
    }
}

/// One operator with its (already coerced) operand.
#[derive(Debug, Clone)]
pub enum Op {
    Eq(Value),
    Neq(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    Contains(String),
    StartsWith(String),
    Gt(Value),
    Gte(Value),
    Lt(Value),
    Lte(Value),
    IsNull(bool),
    ContainsAny(Vec<String>),
    ContainsAll(Vec<String>),
    /// The record id (a relation's, or the record's own) is the operand or lies below it in
    /// the tenant's hierarchy: in SQL an EXISTS on the closure, in memory the operand's
    /// descendants, loaded before (`hierarchy::load`). Only in row rules.
    Within(Value, Below),
}

/// The descendants of a `within` root, once loaded (`hierarchy::load`): shared by the clones
/// of one rule, so a rule is loaded once however often it is evaluated.
#[derive(Clone, Default)]
pub struct Below(std::sync::Arc<std::sync::OnceLock<std::collections::HashSet<String>>>);

impl Below {
    /// Whether `id` is the root's descendant. Not loaded: `false` (fail closed); every place
    /// that evaluates rules in memory loads them first.
    pub fn contains(&self, id: &str) -> bool {
        self.0.get().is_some_and(|s| s.contains(id))
    }

    /// Whether the descendants are loaded.
    pub fn loaded(&self) -> bool {
        self.0.get().is_some()
    }

    /// Sets the descendants (the first load wins).
    pub fn fill(&self, ids: std::collections::HashSet<String>) {
        let _ = self.0.set(ids);
    }
}

/// Sorted, so equal closures print alike (live subscriptions group by a rule's text).
impl std::fmt::Debug for Below {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.0.get().map(|s| s.iter().collect()).unwrap_or_default();
        ids.sort();
        f.debug_tuple("Below").field(&ids).finish()
    }
}

/// The operator of row rules only (`Op::Within`).
pub const WITHIN: &str = "within";

/// Most distinct items a `containsAny` takes: PostgreSQL tests each on its own (`@>`, which an
/// indexed field's GIN index serves, item by item), so a row costs one test per item; an `in`
/// list, unlike it, is one parameter of any length (`sql::push_in_list`).
pub const MAX_ANY_ITEMS: usize = 1000;

/// A filter expression.
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Cond(Target, Op),
}

impl Filter {
    /// Every target the filter tests.
    pub fn targets(&self) -> Vec<&Target> {
        let mut out = Vec::new();
        self.collect_targets(&mut out);
        out
    }

    fn collect_targets<'a>(&'a self, out: &mut Vec<&'a Target>) {
        match self {
            Filter::And(fs) | Filter::Or(fs) => fs.iter().for_each(|f| f.collect_targets(out)),
            Filter::Not(f) => f.collect_targets(out),
            Filter::Cond(t, _) => out.push(t),
        }
    }
}

/// Operators allowed per type (shared/API.md § Filter operators).
pub fn operators(ty: FieldType) -> &'static [&'static str] {
    match ty {
        FieldType::Text
        | FieldType::Textarea
        | FieldType::Email
        | FieldType::Phone
        | FieldType::Url
        | FieldType::Uid => &["eq", "neq", "in", "notIn", "contains", "startsWith", "isNull"],
        FieldType::Number | FieldType::Currency | FieldType::Date | FieldType::Datetime => {
            &["eq", "neq", "gt", "gte", "lt", "lte", "in", "isNull"]
        }
        FieldType::Boolean => &["eq", "isNull"],
        FieldType::Select => &["eq", "neq", "in", "notIn", "isNull"],
        FieldType::MultiSelect => &["containsAny", "containsAll", "isNull"],
        FieldType::Relation => &["eq", "in", "isNull"],
        FieldType::File | FieldType::Json => &[],
    }
}

impl Filter {
    /// Parses a filter object (`{"amount": {"gt": "10"}, "or": [...]}`) for `entity`. Keys are
    /// GraphQL field names (a field's key is accepted too, for permission JSON).
    pub fn parse(entity: &EntityDef, v: &Value) -> Result<Filter> {
        Filter::parse_as(entity, v, false)
    }

    /// Parses a role's row rule: a filter that may also use `within` on relations and `id`.
    pub fn parse_rule(entity: &EntityDef, v: &Value) -> Result<Filter> {
        Filter::parse_as(entity, v, true)
    }

    fn parse_as(entity: &EntityDef, v: &Value, rule: bool) -> Result<Filter> {
        let mut errors = Vec::new();
        let f = parse_object(Parsing { entity, rule }, v, "filter", &mut errors);
        if errors.is_empty() { Ok(f) } else { Err(Error::Validation(errors)) }
    }

    /// ANDs two filters.
    pub fn and(self, other: Filter) -> Filter {
        Filter::And(vec![self, other])
    }

    /// Evaluates the filter on a record, with the same semantics as the compiled SQL.
    pub fn matches(&self, r: &Record) -> bool {
        match self {
            Filter::And(fs) => fs.iter().all(|f| f.matches(r)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(r)),
            Filter::Not(f) => !f.matches(r),
            Filter::Cond(t, op) => eval(t, op, t.value_of(r).as_ref()),
        }
    }
}

/// What a filter is parsed against: the entity, and whether it is a row rule (`within`).
#[derive(Clone, Copy)]
struct Parsing<'a> {
    entity: &'a EntityDef,
    rule: bool,
}

fn parse_object(at: Parsing<'_>, v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Filter {
    let entity = at.entity;
    let Some(obj) = v.as_object() else {
        errors.push(FieldError::new(path, "must be an object"));
        return Filter::And(vec![]);
    };
    let mut parts = Vec::new();
    for (k, v) in obj {
        let here = format!("{path}.{k}");
        match k.as_str() {
            "and" | "or" => {
                let items: Vec<Filter> = match v.as_array() {
                    Some(items) => items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| parse_object(at, item, &format!("{here}[{i}]"), errors))
                        .collect(),
                    None if v.is_null() => continue,
                    None => {
                        errors.push(FieldError::new(&here, "must be a list of filters"));
                        continue;
                    }
                };
                parts.push(if k == "and" { Filter::And(items) } else { Filter::Or(items) });
            }
            "not" => {
                if !v.is_null() {
                    parts.push(Filter::Not(Box::new(parse_object(at, v, &here, errors))));
                }
            }
            _ => {
                let target = match k.as_str() {
                    "id" => Some(Target::Id),
                    "createdAt" => Some(Target::CreatedAt),
                    "updatedAt" => Some(Target::UpdatedAt),
                    "owner" => Some(Target::Owner),
                    "recordNumber" => Some(Target::RecordNumber),
                    name => entity
                        .field_by_graphql(name)
                        .or_else(|| entity.field_by_key(name))
                        .filter(|f| f.ty.is_filterable())
                        .cloned()
                        .map(|f| Target::Field(Box::new(f))),
                };
                let Some(target) = target else {
                    errors.push(FieldError::new(&here, "unknown or unfilterable field"));
                    continue;
                };
                if v.is_null() {
                    continue;
                }
                parse_ops(&target, at.rule, v, &here, &mut parts, errors);
            }
        }
    }
    if parts.len() == 1 { parts.remove(0) } else { Filter::And(parts) }
}

fn parse_ops(
    t: &Target,
    rule: bool,
    v: &Value,
    path: &str,
    parts: &mut Vec<Filter>,
    errors: &mut Vec<FieldError>,
) {
    let Some(ops) = v.as_object() else {
        errors.push(FieldError::new(path, "must be an object of operators"));
        return;
    };
    let allowed: &[&str] = match t {
        Target::Id | Target::Owner => &["eq", "in", "isNull"],
        Target::CreatedAt | Target::UpdatedAt => operators(FieldType::Datetime),
        Target::RecordNumber => operators(FieldType::Text),
        Target::Field(f) => operators(f.ty),
    };
    let coerce = |v: &Value| -> std::result::Result<Value, String> {
        match t {
            Target::Field(f) => value::operand(f, v),
            Target::CreatedAt | Target::UpdatedAt => v
                .as_str()
                .and_then(super::time::parse)
                .map(|ts| Value::String(super::time::format(&ts)))
                .ok_or_else(|| "must be an RFC 3339 date-time".into()),
            Target::Id | Target::Owner => value::id_operand(v),
            Target::RecordNumber => {
                v.as_str().map(|s| Value::String(s.to_owned())).ok_or_else(|| "must be a string".into())
            }
        }
    };
    for (name, operand) in ops {
        let here = format!("{path}.{name}");
        let within = rule && name == WITHIN && t.ty() == FieldType::Relation && !matches!(t, Target::Owner);
        if !allowed.contains(&name.as_str()) && !within {
            errors.push(FieldError::new(&here, "operator not supported for this field type"));
            continue;
        }
        if operand.is_null() {
            continue;
        }
        if value::has_nul(operand) {
            errors.push(FieldError::new(&here, value::NO_NUL));
            continue;
        }
        let list = |errors: &mut Vec<FieldError>| -> Option<Vec<Value>> {
            let Some(items) = operand.as_array() else {
                errors.push(FieldError::new(&here, "must be a list"));
                return None;
            };
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match coerce(item) {
                    Ok(v) => out.push(v),
                    Err(m) => {
                        errors.push(FieldError::new(&here, m));
                        return None;
                    }
                }
            }
            Some(out)
        };
        let strings = |errors: &mut Vec<FieldError>| -> Option<Vec<String>> {
            let items = operand.as_array().map(|a| a.iter().map(|i| i.as_str().map(str::to_owned)).collect());
            match items {
                Some(Some(v)) => Some(v),
                _ => {
                    errors.push(FieldError::new(&here, "must be a list of strings"));
                    None
                }
            }
        };
        let any_items = |errors: &mut Vec<FieldError>| -> Option<Vec<String>> {
            let items = strings(errors)?;
            let distinct: std::collections::HashSet<&String> = items.iter().collect();
            if distinct.len() > MAX_ANY_ITEMS {
                errors.push(FieldError::new(&here, format!("takes at most {MAX_ANY_ITEMS} distinct items")));
                return None;
            }
            Some(items)
        };
        let op = match name.as_str() {
            "in" => list(errors).map(Op::In),
            "notIn" => list(errors).map(Op::NotIn),
            "containsAny" => any_items(errors).map(Op::ContainsAny),
            "containsAll" => strings(errors).map(Op::ContainsAll),
            "isNull" => match operand.as_bool() {
                Some(b) => Some(Op::IsNull(b)),
                None => {
                    errors.push(FieldError::new(&here, "must be true or false"));
                    None
                }
            },
            "contains" | "startsWith" => match operand.as_str() {
                Some(s) if name == "contains" => Some(Op::Contains(s.to_owned())),
                Some(s) => Some(Op::StartsWith(s.to_owned())),
                None => {
                    errors.push(FieldError::new(&here, "must be a string"));
                    None
                }
            },
            _ => match coerce(operand) {
                Ok(v) => Some(match name.as_str() {
                    WITHIN => Op::Within(v, Below::default()),
                    "eq" => Op::Eq(v),
                    "neq" => Op::Neq(v),
                    "gt" => Op::Gt(v),
                    "gte" => Op::Gte(v),
                    "lt" => Op::Lt(v),
                    _ => Op::Lte(v),
                }),
                Err(m) => {
                    errors.push(FieldError::new(&here, m));
                    None
                }
            },
        };
        if let Some(op) = op {
            parts.push(Filter::Cond(t.clone(), op));
        }
    }
}

fn eval(t: &Target, op: &Op, v: Option<&Value>) -> bool {
    if let Op::IsNull(want) = op {
        return v.is_none() == *want;
    }
    let Some(v) = v else { return false };
    let ty = t.ty();
    let cmp = |o: &Value| value::compare(ty, v, o);
    match op {
        Op::Eq(o) => cmp(o) == Some(Ordering::Equal),
        Op::Neq(o) => cmp(o).is_some_and(|c| c != Ordering::Equal),
        Op::In(list) => list.iter().any(|o| cmp(o) == Some(Ordering::Equal)),
        Op::NotIn(list) => list.iter().all(|o| cmp(o).is_some_and(|c| c != Ordering::Equal)),
        Op::Gt(o) => cmp(o) == Some(Ordering::Greater),
        Op::Gte(o) => matches!(cmp(o), Some(Ordering::Greater | Ordering::Equal)),
        Op::Lt(o) => cmp(o) == Some(Ordering::Less),
        Op::Lte(o) => matches!(cmp(o), Some(Ordering::Less | Ordering::Equal)),
        Op::Contains(s) => v.as_str().is_some_and(|x| fold(x).contains(&fold(s))),
        Op::StartsWith(s) => v.as_str().is_some_and(|x| fold(x).starts_with(&fold(s))),
        Op::ContainsAny(items) => {
            let have = strings_of(v);
            items.iter().any(|i| have.contains(&i.as_str()))
        }
        Op::ContainsAll(items) => {
            let have = strings_of(v);
            items.iter().all(|i| have.contains(&i.as_str()))
        }
        Op::Within(root, below) => {
            cmp(root) == Some(Ordering::Equal) || v.as_str().is_some_and(|id| below.contains(id))
        }
        Op::IsNull(_) => false,
    }
}

/// Case folding shared with the SQL side: ASCII only, because SQLite's `LIKE` folds only ASCII.
pub fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn strings_of(v: &Value) -> Vec<&str> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}
