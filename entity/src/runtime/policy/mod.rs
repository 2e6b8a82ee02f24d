//! Access policies: a role's permissions JSON (shared/API.md § Permissions) parsed into what
//! each entity allows — actions, row scope (`all`/`own`), a `where` row predicate in the filter
//! language (with `$currentUser`, and `$user.<key>` for the caller's attributes), and per-field access (`none`/`read`/`write`) — plus the
//! `$admin` flag for platform administration. An action may carry its own scope and `where`
//! (`read_own`/`update_all` in `actions`, or `byAction`); a write must stay within the read
//! rule AND its action's. The row predicate becomes an ordinary `Filter`,
//! so it compiles to SQL for reads and evaluates in memory for events and write checks: one
//! rule language, two enforcers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::filter::{Filter, Op, Target};
use super::meta::{EntityDef, FieldDef, TenantMeta};
use super::record::Record;
use crate::{Error, Result};

/// The key of the wildcard entry.
pub const WILDCARD: &str = "*";
/// The key of an entry's per-action scopes.
pub const BY_ACTION: &str = "byAction";
/// The key of the platform-administration flag.
pub const ADMIN_KEY: &str = "$admin";
/// The key of the flag that lets a role call the AI gateway (`aiComplete`).
pub const AI_KEY: &str = "$ai";
/// The placeholder a `where` value may use for the caller's user id.
pub const CURRENT_USER: &str = "$currentUser";
/// The prefix of a placeholder for one of the caller's attributes: `"$user.plant"`.
pub const USER_PREFIX: &str = "$user.";
/// `$user.id`: the caller's user id (as `$currentUser`), so no attribute may take this key.
pub const USER_ID_KEY: &str = "id";
/// What `$currentUser` stands for while a `where` is checked at definition time: any user id
/// is a UUID, and an `id`/`owner`/RELATION operand must be one.
const PROBE_USER: &str = "00000000-0000-0000-0000-000000000000";

/// A user's attributes (`features::users::attributes`): key → value.
pub type Attributes = Map<String, Value>;

mod parse;
mod subject;

use parse::parse_inner;
pub use subject::Subject;
use subject::substitute;

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

    /// `update_own` → (update, own); `read` → (read, none).
    fn parse_scoped(s: &str) -> Option<(Action, Option<Scope>)> {
        let scoped = Scope::ALL.into_iter().find_map(|scope| {
            s.strip_suffix(scope.as_str())?
                .strip_suffix('_')
                .and_then(Action::parse)
                .map(|a| (a, Some(scope)))
        });
        scoped.or_else(|| Action::parse(s).map(|a| (a, None)))
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
    /// An action's own scope and `where`, where it differs from the entry's.
    pub by_action: BTreeMap<Action, ActionScope>,
}

/// The scope of one action (`byAction`, or an action written `update_own`): what it leaves
/// out (`None`) is the entry's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionScope {
    pub scope: Option<Scope>,
    pub row_where: Option<Value>,
}

impl EntityPolicy {
    fn full() -> EntityPolicy {
        EntityPolicy {
            actions: Action::ALL.into_iter().collect(),
            scope: Scope::All,
            row_where: None,
            fields: BTreeMap::new(),
            by_action: BTreeMap::new(),
        }
    }
}

/// A role's parsed permissions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Permissions {
    /// May administer the platform (definitions, users, roles, API keys, audit log).
    pub admin: bool,
    /// May call the AI gateway (`$ai`; administrators may as well).
    pub ai: bool,
    entries: BTreeMap<String, EntityPolicy>,
    /// The canonical JSON text: roles with equal text share a compiled schema.
    canonical: String,
}

impl Permissions {
    /// Everything (the owner role, and tools that act as the system).
    pub fn full() -> Permissions {
        let mut entries = BTreeMap::new();
        entries.insert(WILDCARD.to_owned(), EntityPolicy::full());
        Permissions::assemble(true, false, entries)
    }

    fn assemble(admin: bool, ai: bool, entries: BTreeMap<String, EntityPolicy>) -> Permissions {
        let mut p = Permissions { admin, ai, entries, canonical: String::new() };
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
            Permissions::assemble(false, false, BTreeMap::new())
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

    /// Whether the role reads `record` of `e` — with `field`, that field of it: the entity is
    /// readable, the field too (`reads_field`, which holds only where the entity is), and the
    /// record is within `row`, the reader's read rule for `e` (`row_filter`, its `within`s
    /// loaded: `hierarchy::load`). The one check for whoever is shown a record, or a value of
    /// one, that was read on someone else's behalf: a mention's notification, a Customer
    /// Memory fact, an approval request.
    pub fn reads_record(
        &self,
        meta: &TenantMeta,
        e: &EntityDef,
        field: Option<&FieldDef>,
        row: Option<&Filter>,
        record: &Record,
    ) -> bool {
        let readable = match field {
            Some(f) => self.reads_field(meta, e, f),
            None => self.can(e, Action::Read),
        };
        readable && row.is_none_or(|f| f.matches(record))
    }

    /// The row predicate of reads of `e` for the calling user: `scope` and `where` ANDed,
    /// with `$currentUser` and `$user.<key>` replaced. `None` means every record of the tenant.
    /// A rule naming an attribute the user lacks matches nothing (never everything).
    pub fn row_filter(&self, e: &EntityDef, who: Subject<'_>) -> Option<Filter> {
        self.action_rule(e, who, Action::Read)
    }

    /// The row predicate a write of `action` on `e` must stay within: the read rule AND the
    /// action's own (a write never reaches a record the caller cannot read: its result would
    /// show it). Without a scope of its own, the read rule alone.
    pub fn write_rule(&self, e: &EntityDef, who: Subject<'_>, action: Action) -> Option<Filter> {
        let read = self.row_filter(e, who);
        if !self.narrows(e, action) {
            return read;
        }
        match (read, self.action_rule(e, who, action)) {
            (Some(r), Some(a)) => Some(r.and(a)),
            (r, a) => r.or(a),
        }
    }

    /// Whether `action` on `e` has a scope of its own besides the read rule's.
    pub fn narrows(&self, e: &EntityDef, action: Action) -> bool {
        action != Action::Read && self.entity(e).is_some_and(|p| p.by_action.contains_key(&action))
    }

    /// The rule of one action: its own scope and `where`, else the entry's.
    fn action_rule(&self, e: &EntityDef, who: Subject<'_>, action: Action) -> Option<Filter> {
        let Some(p) = self.entity(e) else { return Some(Filter::Or(vec![])) };
        let own = p.by_action.get(&action);
        let scope = own.and_then(|o| o.scope).unwrap_or(p.scope);
        let row_where = own.and_then(|o| o.row_where.as_ref()).or(p.row_where.as_ref());
        let mut parts = Vec::new();
        if scope == Scope::Own {
            parts.push(match who.user_id {
                Some(u) => Filter::Cond(Target::Owner, Op::Eq(Value::String(u.to_owned()))),
                None => Filter::Or(vec![]),
            });
        }
        if let Some(w) = row_where {
            let Some(w) = substitute(w, &|s| who.resolve(s)) else {
                return Some(Filter::Or(vec![]));
            };
            match Filter::parse_rule(e, &w) {
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
        if self.ai {
            m.insert(AI_KEY.into(), Value::Bool(true));
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
            if !p.by_action.is_empty() {
                let by: Map<String, Value> = p
                    .by_action
                    .iter()
                    .map(|(a, s)| {
                        let mut o = Map::new();
                        if let Some(scope) = s.scope {
                            o.insert("scope".into(), Value::from(scope.as_str()));
                        }
                        if let Some(w) = &s.row_where {
                            o.insert("where".into(), super::value::canonical_json(w));
                        }
                        (a.as_str().to_owned(), Value::Object(o))
                    })
                    .collect();
                e.insert(BY_ACTION.into(), Value::Object(by));
            }
            m.insert(k.clone(), Value::Object(e));
        }
        Value::Object(m)
    }
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
