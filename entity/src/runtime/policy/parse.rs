//! Parsing a role's permissions JSON (shared/API.md § Permissions) into `Permissions`,
//! checked against the tenant's definitions when it is saved: actions (with per-action scopes,
//! `read_own`/`update_all` and `byAction`), scope, `where` and field access.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::subject::{probe_value, substitute};
use super::{
    ADMIN_KEY, AI_KEY, Action, ActionScope, BY_ACTION, EntityPolicy, FieldAccess, Permissions, Scope,
    WILDCARD,
};
use crate::runtime::filter::Filter;
use crate::runtime::meta::{EntityDef, TenantMeta};
use crate::{Error, FieldError};

pub(super) fn parse_inner(
    json: &Value,
    meta: Option<&TenantMeta>,
    errors: &mut Vec<FieldError>,
) -> Permissions {
    let Some(obj) = json.as_object() else {
        errors.push(FieldError::new("permissions", "must be an object"));
        return Permissions::default();
    };
    let (mut admin, mut ai) = (false, false);
    let mut entries = BTreeMap::new();
    for (key, v) in obj {
        let path = format!("permissions.{key}");
        if key == ADMIN_KEY || key == AI_KEY {
            let flag = if key == ADMIN_KEY { &mut admin } else { &mut ai };
            match v.as_bool() {
                Some(b) => *flag = b,
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
    Permissions::assemble(admin, ai, entries)
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
        scored: false,
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
        if !["actions", "scope", "where", "fields", BY_ACTION].contains(&k.as_str()) {
            errors.push(FieldError::new(
                format!("{path}.{k}"),
                "unknown key (actions, scope, where, fields, byAction)",
            ));
        }
    }
    let mut actions = BTreeSet::new();
    let mut by_action: BTreeMap<Action, ActionScope> = BTreeMap::new();
    match o.get("actions").and_then(Value::as_array) {
        Some(list) => {
            for a in list {
                match a.as_str().and_then(Action::parse_scoped) {
                    Some((a, scope)) => {
                        actions.insert(a);
                        if scope.is_some() {
                            by_action.entry(a).or_default().scope = scope;
                        }
                    }
                    None => errors.push(FieldError::new(
                        format!("{path}.actions"),
                        format!(
                            "unknown action {a} (create, read, update, delete, export; `_own` or `_all` after one scopes it)"
                        ),
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
    let scope = parse_scope(o.get("scope"), &format!("{path}.scope"), errors).unwrap_or(Scope::All);
    let probe_owned;
    let probe = match entity {
        Some(e) => Some(e),
        None if wildcard => {
            probe_owned = system_only();
            Some(&probe_owned)
        }
        None => None,
    };
    let row_where = parse_where(o.get("where"), &format!("{path}.where"), probe, errors);
    if let Some(by) = o.get(BY_ACTION) {
        let here = format!("{path}.{BY_ACTION}");
        let Some(by) = by.as_object() else {
            errors.push(FieldError::new(&here, "must be an object of actions"));
            return None;
        };
        for (name, v) in by {
            let at = format!("{here}.{name}");
            let Some(action) = Action::parse(name).filter(|a| actions.contains(a)) else {
                errors.push(FieldError::new(&at, "not an action this entry grants"));
                continue;
            };
            let Some(v) = v.as_object() else {
                errors.push(FieldError::new(&at, "must be an object with scope and/or where"));
                continue;
            };
            if let Some(k) = v.keys().find(|k| !["scope", "where"].contains(&k.as_str())) {
                errors.push(FieldError::new(format!("{at}.{k}"), "unknown key (scope, where)"));
            }
            let own = by_action.entry(action).or_default();
            if let Some(s) = parse_scope(v.get("scope"), &format!("{at}.scope"), errors) {
                own.scope = Some(s);
            }
            own.row_where = parse_where(v.get("where"), &format!("{at}.where"), probe, errors);
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
    Some(EntityPolicy { actions, scope, row_where, fields, by_action })
}

/// A `scope` value (`None` when absent or unknown, the latter reported at `path`).
fn parse_scope(v: Option<&Value>, path: &str, errors: &mut Vec<FieldError>) -> Option<Scope> {
    let given = v.filter(|v| !v.is_null())?;
    let found = given.as_str().and_then(|s| Scope::ALL.into_iter().find(|x| x.as_str() == s));
    if found.is_none() {
        let shown = given.as_str().map_or_else(|| given.to_string(), |s| format!("`{s}`"));
        errors.push(FieldError::new(path, format!("unknown scope {shown} (all, own)")));
    }
    found
}

/// A `where` value, checked against `probe` (the entity, or the system fields of the
/// wildcard) with its placeholders stood in for (`probe_value`); errors keyed under `path`.
fn parse_where(
    v: Option<&Value>,
    path: &str,
    probe: Option<&EntityDef>,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let w = v.filter(|w| !w.is_null())?;
    if let Some(e) = probe
        && let Some(checked) = substitute(w, &probe_value)
        && let Err(Error::Validation(errs)) = Filter::parse_rule(e, &checked)
    {
        for fe in errs {
            errors.push(FieldError::new(
                format!("{path}{}", fe.field.trim_start_matches("filter")),
                fe.message,
            ));
        }
    }
    Some(w.clone())
}
