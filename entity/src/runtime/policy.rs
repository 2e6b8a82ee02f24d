//! Access policies: a role's permissions JSON (shared/API.md § Permissions) parsed into what
//! each entity allows — actions, row scope (`all`/`own`), a `where` row predicate in the filter
//! language (with `$currentUser`), and per-field access (`none`/`read`/`write`) — plus the
//! `$admin` flag for platform administration. The row predicate becomes an ordinary `Filter`,
//! so it compiles to SQL for reads and evaluates in memory for events and write checks: one
//! rule language, two enforcers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::filter::{Filter, Op, Target};
use super::meta::{EntityDef, FieldDef, TenantMeta};
use crate::{Error, FieldError, Result};

/// The key of the wildcard entry.
pub const WILDCARD: &str = "*";
/// The key of the platform-administration flag.
pub const ADMIN_KEY: &str = "$admin";
/// The placeholder a `where` value may use for the caller's user id.
pub const CURRENT_USER: &str = "$currentUser";
/// What `$currentUser` stands for while a `where` is checked at definition time: any user id
/// is a UUID, and an `id`/`owner`/RELATION operand must be one.
const PROBE_USER: &str = "00000000-0000-0000-0000-000000000000";

/// Record actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
    Export,
}

impl Action {
    pub const ALL: [Action; 5] =
        [Action::Create, Action::Read, Action::Update, Action::Delete, Action::Export];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Export => "export",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// What a role may do with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldAccess {
    /// Absent from the role's schema.
    None,
    /// Readable, not writable.
    Read,
    /// Readable and writable.
    Write,
}

impl FieldAccess {
    pub const ALL: [FieldAccess; 3] = [FieldAccess::None, FieldAccess::Read, FieldAccess::Write];

    /// The name in the permissions JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldAccess::None => "none",
            FieldAccess::Read => "read",
            FieldAccess::Write => "write",
        }
    }
}

/// Which records a role sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    All,
    /// Only records the caller owns.
    Own,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::All, Scope::Own];

    /// The name in the permissions JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Own => "own",
        }
    }
}

/// The policy of one entity entry.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityPolicy {
    pub actions: BTreeSet<Action>,
    pub scope: Scope,
    /// The `where` JSON as written (parsed per entity when applied).
    pub row_where: Option<Value>,
    /// Field key → access; fields not listed are writable.
    pub fields: BTreeMap<String, FieldAccess>,
}

impl EntityPolicy {
    fn full() -> EntityPolicy {
        EntityPolicy {
            actions: Action::ALL.into_iter().collect(),
            scope: Scope::All,
            row_where: None,
            fields: BTreeMap::new(),
        }
    }
}

/// A role's parsed permissions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Permissions {
    /// May administer the platform (definitions, users, roles, API keys, audit log).
    pub admin: bool,
    entries: BTreeMap<String, EntityPolicy>,
    /// The canonical JSON text: roles with equal text share a compiled schema.
    canonical: String,
}

impl Permissions {
    /// Everything (the owner role, and tools that act as the system).
    pub fn full() -> Permissions {
        let mut entries = BTreeMap::new();
        entries.insert(WILDCARD.to_owned(), EntityPolicy::full());
        Permissions::assemble(true, entries)
    }

    fn assemble(admin: bool, entries: BTreeMap<String, EntityPolicy>) -> Permissions {
        let mut p = Permissions { admin, entries, canonical: String::new() };
        p.canonical = p.to_json().to_string();
        p
    }

    /// Parses permissions JSON, checking it against the tenant's definitions. Every problem
    /// is reported, keyed by its JSON path (`permissions.deal.fields.margin`).
    pub fn parse(json: &Value, meta: &TenantMeta) -> Result<Permissions> {
        let mut errors = Vec::new();
        let p = parse_inner(json, Some(meta), &mut errors);
        if errors.is_empty() { Ok(p) } else { Err(Error::Validation(errors)) }
    }

    /// Parses stored permissions at request time. Entries that no longer fit the definitions
    /// (a removed entity or field) are ignored rather than failing every request; a malformed
    /// document grants nothing.
    pub fn from_stored(json: &Value) -> Permissions {
        let mut errors = Vec::new();
        let p = parse_inner(json, None, &mut errors);
        if errors.is_empty() {
            p
        } else {
            tracing::warn!(?errors, "stored permissions are malformed; granting nothing");
            Permissions::assemble(false, BTreeMap::new())
        }
    }

    /// The canonical text (stable across key order), used as the schema cache key.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// The policy that applies to `e`: its own entry, else the wildcard, else none.
    pub fn entity(&self, e: &EntityDef) -> Option<&EntityPolicy> {
        self.entries.get(&e.name_singular).or_else(|| self.entries.get(WILDCARD))
    }

    /// Whether the role may perform `action` on `e`'s records.
    pub fn can(&self, e: &EntityDef, action: Action) -> bool {
        self.entity(e).is_some_and(|p| p.actions.contains(&action))
    }

    /// The role's access to field `f` of `e` (none when the entity is not readable).
    pub fn field(&self, e: &EntityDef, f: &FieldDef) -> FieldAccess {
        match self.entity(e) {
            Some(p) if p.actions.contains(&Action::Read) => {
                let access = p.fields.get(f.key.as_str()).copied().unwrap_or(FieldAccess::Write);
                let writes = p.actions.contains(&Action::Create) || p.actions.contains(&Action::Update);
                if access == FieldAccess::Write && !writes { FieldAccess::Read } else { access }
            }
            _ => FieldAccess::None,
        }
    }

    /// Whether the role may read everything formula field `f` of `e` reads — each field, each
    /// relation on the way and each entity it reaches — so its value can leak nothing the
    /// role's field access hides (`true` for any other field). A role that may not is not
    /// shown the formula at all: refusing it once in the schema, rather than nulling it per
    /// read, keeps SQL filters, sorts and aggregates on it out of that role's reach too.
    pub fn reads_formula(&self, meta: &TenantMeta, e: &EntityDef, f: &FieldDef) -> bool {
        let Some(expr) = f.formula.as_ref().and_then(|x| x.expr.as_ref()) else { return true };
        expr.reads().into_iter().all(|r| {
            let mut on = e;
            for hop in &r.via {
                let (Some(relation), Some(target)) =
                    (on.field_by_key(hop.key.as_str()), meta.entity_by_id(&hop.entity_id))
                else {
                    return false;
                };
                if self.field(on, relation) == FieldAccess::None || !self.can(target, Action::Read) {
                    return false;
                }
                on = &**target;
            }
            on.field_by_key(r.key.as_str()).is_some_and(|x| self.field(on, x) != FieldAccess::None)
        })
    }

    /// Whether the role reads field `f` of `e` at all: its access is not `none` and, for a
    /// relation, the role reads the target entity. Exactly the fields of the role's view of
    /// `e` (its GraphQL type, its exports); a formula only when it `reads_formula`.
    pub fn reads_field(&self, meta: &TenantMeta, e: &EntityDef, f: &FieldDef) -> bool {
        let target_ok = f.ty != super::meta::FieldType::Relation
            || f.related_entity_id
                .as_deref()
                .and_then(|t| meta.entity_by_id(t))
                .is_some_and(|t| self.can(t, Action::Read));
        target_ok && self.field(e, f) != FieldAccess::None && self.reads_formula(meta, e, f)
    }

    /// The row predicate for `e` and the calling user: `scope` and `where` ANDed, with
    /// `$currentUser` replaced. `None` means every record of the tenant.
    pub fn row_filter(&self, e: &EntityDef, user_id: Option<&str>) -> Option<Filter> {
        let Some(p) = self.entity(e) else { return Some(Filter::Or(vec![])) };
        let mut parts = Vec::new();
        if p.scope == Scope::Own {
            parts.push(match user_id {
                Some(u) => Filter::Cond(Target::Owner, Op::Eq(Value::String(u.to_owned()))),
                None => Filter::Or(vec![]),
            });
        }
        if let Some(w) = &p.row_where {
            match Filter::parse(e, &substitute(w, user_id)) {
                Ok(f) => parts.push(f),
                // The rule names a field that no longer exists: fail closed, not open.
                Err(err) => {
                    tracing::warn!(entity = %e.name_singular, error = ?err, "row rule no longer applies; denying");
                    return Some(Filter::Or(vec![]));
                }
            }
        }
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Filter::And(parts)),
        }
    }

    /// Back to JSON (canonical order).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if self.admin {
            m.insert(ADMIN_KEY.into(), Value::Bool(true));
        }
        for (k, p) in &self.entries {
            let mut e = Map::new();
            e.insert("actions".into(), p.actions.iter().map(|a| Value::from(a.as_str())).collect());
            e.insert("scope".into(), Value::from(p.scope.as_str()));
            if let Some(w) = &p.row_where {
                e.insert("where".into(), super::value::canonical_json(w));
            }
            if !p.fields.is_empty() {
                let fields: Map<String, Value> =
                    p.fields.iter().map(|(k, a)| (k.clone(), Value::from(a.as_str()))).collect();
                e.insert("fields".into(), Value::Object(fields));
            }
            m.insert(k.clone(), Value::Object(e));
        }
        Value::Object(m)
    }
}

/// Replaces `"$currentUser"` anywhere in a `where` document.
fn substitute(v: &Value, user_id: Option<&str>) -> Value {
    match v {
        Value::String(s) if s == CURRENT_USER => {
            user_id.map(|u| Value::String(u.to_owned())).unwrap_or(Value::Null)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, user_id)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), substitute(x, user_id))).collect())
        }
        other => other.clone(),
    }
}

fn parse_inner(json: &Value, meta: Option<&TenantMeta>, errors: &mut Vec<FieldError>) -> Permissions {
    let Some(obj) = json.as_object() else {
        errors.push(FieldError::new("permissions", "must be an object"));
        return Permissions::default();
    };
    let mut admin = false;
    let mut entries = BTreeMap::new();
    for (key, v) in obj {
        let path = format!("permissions.{key}");
        if key == ADMIN_KEY {
            match v.as_bool() {
                Some(b) => admin = b,
                None => errors.push(FieldError::new(&path, "must be true or false")),
            }
            continue;
        }
        let entity = match meta {
            Some(m) if key != WILDCARD => match m.entity_by_name(key) {
                Some(e) => Some(e.as_ref().clone()),
                None => {
                    errors.push(FieldError::new(&path, format!("no entity named `{key}`")));
                    continue;
                }
            },
            _ => None,
        };
        if let Some(p) = parse_entry(v, &path, entity.as_ref(), key == WILDCARD, errors) {
            entries.insert(key.clone(), p);
        }
    }
    Permissions::assemble(admin, entries)
}

/// A stand-in with no fields: a wildcard `where` may only use system fields.
fn system_only() -> EntityDef {
    EntityDef {
        id: String::new(),
        name_singular: WILDCARD.into(),
        name_plural: WILDCARD.into(),
        label_singular: String::new(),
        label_plural: String::new(),
        icon: None,
        record_number_prefix: None,
        labels: None,
        fields: Vec::new(),
        switched_off: false,
        stock: None,
        created_at: chrono::DateTime::UNIX_EPOCH,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    }
}

fn parse_entry(
    v: &Value,
    path: &str,
    entity: Option<&EntityDef>,
    wildcard: bool,
    errors: &mut Vec<FieldError>,
) -> Option<EntityPolicy> {
    let Some(o) = v.as_object() else {
        errors.push(FieldError::new(path, "must be an object"));
        return None;
    };
    for k in o.keys() {
        if !["actions", "scope", "where", "fields"].contains(&k.as_str()) {
            errors
                .push(FieldError::new(format!("{path}.{k}"), "unknown key (actions, scope, where, fields)"));
        }
    }
    let mut actions = BTreeSet::new();
    match o.get("actions").and_then(Value::as_array) {
        Some(list) => {
            for a in list {
                match a.as_str().and_then(Action::parse) {
                    Some(a) => {
                        actions.insert(a);
                    }
                    None => errors.push(FieldError::new(
                        format!("{path}.actions"),
                        format!("unknown action {a} (create, read, update, delete, export)"),
                    )),
                }
            }
        }
        None => errors.push(FieldError::new(format!("{path}.actions"), "must be a list of actions")),
    }
    if !actions.is_empty() && !actions.contains(&Action::Read) {
        // Writing records one cannot read would leak them through mutation results.
        errors.push(FieldError::new(format!("{path}.actions"), "any action requires read"));
    }
    let given = o.get("scope").and_then(Value::as_str);
    let scope = match given.map(|s| (s, Scope::ALL.into_iter().find(|x| x.as_str() == s))) {
        None => Scope::All,
        Some((_, Some(scope))) => scope,
        Some((other, None)) => {
            errors.push(FieldError::new(
                format!("{path}.scope"),
                format!("unknown scope `{other}` (all, own)"),
            ));
            Scope::All
        }
    };
    let row_where = o.get("where").filter(|w| !w.is_null()).cloned();
    if let Some(w) = &row_where {
        let probe_owned;
        let probe = match entity {
            Some(e) => Some(e),
            None if wildcard => {
                probe_owned = system_only();
                Some(&probe_owned)
            }
            None => None,
        };
        if let Some(e) = probe
            && let Err(Error::Validation(errs)) = Filter::parse(e, &substitute(w, Some(PROBE_USER)))
        {
            for fe in errs {
                errors.push(FieldError::new(
                    format!("{path}.where{}", fe.field.trim_start_matches("filter")),
                    fe.message,
                ));
            }
        }
    }
    let mut fields = BTreeMap::new();
    if let Some(fv) = o.get("fields") {
        match fv.as_object() {
            Some(fm) => {
                for (k, a) in fm {
                    let access = match FieldAccess::ALL.into_iter().find(|x| Some(x.as_str()) == a.as_str()) {
                        Some(access) => access,
                        None => {
                            errors.push(FieldError::new(
                                format!("{path}.fields.{k}"),
                                "must be none, read or write",
                            ));
                            continue;
                        }
                    };
                    if wildcard {
                        errors.push(FieldError::new(
                            format!("{path}.fields"),
                            "the wildcard entry cannot name fields",
                        ));
                        break;
                    }
                    if let Some(e) = entity
                        && e.field_by_key(k).is_none()
                        && e.field_by_graphql(k).is_none()
                    {
                        errors.push(FieldError::new(format!("{path}.fields.{k}"), "no such field"));
                        continue;
                    }
                    let key = entity
                        .and_then(|e| e.field_by_graphql(k).or_else(|| e.field_by_key(k)))
                        .map(|f| f.key.to_string())
                        .unwrap_or_else(|| k.clone());
                    fields.insert(key, access);
                }
            }
            None => errors.push(FieldError::new(format!("{path}.fields"), "must be an object")),
        }
    }
    Some(EntityPolicy { actions, scope, row_where, fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_ignores_key_order() {
        let a = Permissions::from_stored(&serde_json::json!({
            "deal": {"actions": ["read", "create"], "where": {"b": {"eq": 1}, "a": {"eq": 2}}},
            "contact": {"actions": ["read"]}
        }));
        let b = Permissions::from_stored(&serde_json::json!({
            "contact": {"scope": "all", "actions": ["read"]},
            "deal": {"where": {"a": {"eq": 2}, "b": {"eq": 1}}, "actions": ["create", "read"]}
        }));
        assert_eq!(a.canonical(), b.canonical());
        assert_ne!(a.canonical(), Permissions::full().canonical());
    }

    #[test]
    fn malformed_stored_permissions_grant_nothing() {
        let p = Permissions::from_stored(&serde_json::json!({"deal": {"actions": "all"}}));
        assert!(!p.admin);
        assert_eq!(p.canonical(), "{}");
    }
}
