//! The typed form of a role's permissions (`typed`): `rules: [PermissionRuleInput!]` and
//! `admin` on `RoleInput` / `UpdateRoleInput`, beside the `permissions` JSON (shared/API.md
//! § Permissions), which stays accepted as it is. The rules become exactly that document —
//! one entry per rule's entity, `fields` as the `{field: access}` map, enum values as their
//! JSON names — and the document is parsed and checked by `Permissions::parse` like any
//! other; its errors are renamed to the rule that caused them (`permissions.deal.where.x` →
//! `rules[0].where.x`).

use async_graphql::dynamic::{InputValue, Type, TypeRef};
use entity::FieldError;
use entity::runtime::naming::types as t;
use entity::runtime::policy::{ADMIN_KEY, Action, FieldAccess, Scope};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::schema::typed::{self, Form, Kind, opt, req};

/// `permissions` of a role input: the JSON form.
pub const PERMISSIONS_DOC: &str = "The permissions as JSON, keyed by entity name (`*`: every entity without \
     its own entry; `$admin`: platform administration), each entry {actions, scope?, where?, fields?}, e.g. \
     `{\"deal\": {\"actions\": [\"read\", \"update\"], \"scope\": \"own\", \"where\": {\"stage\": {\"eq\": \
     \"Won\"}}, \"fields\": {\"margin\": \"none\"}}, \"*\": {\"actions\": [\"read\"]}}`. Give this or the \
     typed `rules` (and `admin`), not both.";
/// `Role.permissions`.
pub const STORED_DOC: &str = "The permissions as JSON, keyed by entity name (`*`: every entity without its \
     own entry; `$admin`: platform administration): {actions, scope, where?, fields?} per entity, e.g. \
     `{\"deal\": {\"actions\": [\"read\"], \"scope\": \"own\"}}`.";
const RULES_DOC: &str = "The permissions, typed: one rule per entity (or `*`), replacing the role's \
     permissions. Give these (and `admin`) or `permissions`, not both.";
const ADMIN_DOC: &str = "With `rules`: whether the role administers the platform (definitions, users, \
     roles, API keys, the audit log). Default false.";
const WHERE_DOC: &str = "Only records matching this filter, written in the entity's filter language (as its \
     `…Filter` input; `\"$currentUser\"` stands for the caller's user id), e.g. `{\"region\": {\"eq\": \
     \"North\"}, \"owner\": {\"eq\": \"$currentUser\"}}`.";

/// The typed members of a role input.
const TYPED: &[&str] = &["rules", "admin"];

/// The input types and enums of the typed form.
pub fn types() -> Vec<Type> {
    let rule = [
        req(
            "entity",
            Kind::Text,
            "The entity's `nameSingular`, or `*` for every entity without its own rule.",
        ),
        req(
            "actions",
            Kind::Enums(t::PERMISSION_ACTION),
            "What the role may do with its records; any action requires READ.",
        ),
        opt(
            "scope",
            Kind::Enum(t::PERMISSION_SCOPE),
            "Which records: ALL (default) or OWN (those the caller owns).",
        ),
        opt("where", Kind::Json, WHERE_DOC),
    ];
    let rule =
        typed::input_object(t::PERMISSION_RULE_INPUT, "What a role may do with one entity's records.", &rule)
            .field(InputValue::new("fields", TypeRef::named_nn_list(t::FIELD_PERMISSION_INPUT)).description(
                "Per-field access; fields not listed are writable (readable without CREATE/UPDATE).",
            ));
    let field = [
        req("field", Kind::Text, "The field's key or GraphQL name."),
        req("access", Kind::Enum(t::FIELD_ACCESS), "NONE: absent from the role's schema; READ; WRITE."),
    ];
    vec![
        rule.into(),
        typed::input_object(t::FIELD_PERMISSION_INPUT, "A role's access to one field.", &field).into(),
        typed::enum_type(t::PERMISSION_ACTION, "A record action.", Action::ALL.map(Action::as_str)).into(),
        typed::enum_type(t::PERMISSION_SCOPE, "Which records a rule covers.", Scope::ALL.map(Scope::as_str))
            .into(),
        typed::enum_type(
            t::FIELD_ACCESS,
            "A role's access to a field.",
            FieldAccess::ALL.map(FieldAccess::as_str),
        )
        .into(),
    ]
}

/// The `rules` (list, typed) and `admin` members of a role input, documented.
pub fn input_fields() -> [InputValue; 2] {
    [
        InputValue::new("rules", TypeRef::named_nn_list(t::PERMISSION_RULE_INPUT)).description(RULES_DOC),
        InputValue::new("admin", TypeRef::named(TypeRef::BOOLEAN)).description(ADMIN_DOC),
    ]
}

/// The permissions JSON of `input` (a role input as JSON) — `permissions` as given, or the
/// document its `rules` and `admin` describe, or none (an update that keeps them; refused
/// when `required`) — with the renames of its error paths (`typed::rename_paths`).
pub fn permissions(
    input: &Map<String, Value>,
    required: bool,
) -> Result<(Option<Value>, typed::Renames), ApiError> {
    match typed::form(input, "permissions", TYPED, required)? {
        Form::Json => return Ok((input.get("permissions").cloned(), Vec::new())),
        Form::Neither => return Ok((None, Vec::new())),
        Form::Typed => {}
    }
    let Some(rules) = input.get("rules").and_then(Value::as_array) else {
        return Err(ApiError::Validation(vec![FieldError::new(
            "rules",
            "is required with `admin`: the rules replace the role's permissions",
        )]));
    };
    let mut doc = Map::new();
    if let Some(admin) = input.get("admin").filter(|v| !v.is_null()) {
        doc.insert(ADMIN_KEY.into(), admin.clone());
    }
    let (mut errors, mut renames) = (Vec::new(), Vec::new());
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("rules[{i}]");
        let entity = rule.get("entity").and_then(Value::as_str).unwrap_or_default();
        if entity == ADMIN_KEY || doc.contains_key(entity) {
            errors.push(FieldError::new(
                format!("{at}.entity"),
                if entity == ADMIN_KEY { "is not an entity (use `admin`)" } else { "has a rule already" },
            ));
            continue;
        }
        let from = format!("permissions.{entity}");
        let mut entry = Map::new();
        for key in ["actions", "scope", "where"] {
            if let Some(v) = rule.get(key).filter(|v| !v.is_null()) {
                entry.insert(key.into(), if key == "where" { v.clone() } else { typed::lower_enum(v) });
            }
        }
        if let Some(list) = rule.get("fields").and_then(Value::as_array) {
            let mut fields = Map::new();
            for (j, f) in list.iter().enumerate() {
                let name = f.get("field").and_then(Value::as_str).unwrap_or_default();
                let path = format!("{at}.fields[{j}].field");
                if fields.contains_key(name) {
                    errors.push(FieldError::new(path, "is named twice"));
                    continue;
                }
                fields.insert(name.to_owned(), f.get("access").map(typed::lower_enum).unwrap_or_default());
                renames.push((format!("{from}.fields.{name}"), path));
            }
            entry.insert("fields".into(), Value::Object(fields));
        }
        for key in ["actions", "scope", "where", "fields"] {
            renames.push((format!("{from}.{key}"), format!("{at}.{key}")));
        }
        renames.push((from, format!("{at}.entity")));
        doc.insert(entity.to_owned(), Value::Object(entry));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    renames.push(("permissions".into(), "rules".into()));
    Ok((Some(Value::Object(doc)), renames))
}
