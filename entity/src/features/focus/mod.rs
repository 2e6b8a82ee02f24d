//! Daily Focus: per role, rules over any entity (a filter that may hold placeholders, an
//! order, how many records to link, a title template and a badge), and for a caller and a day
//! the ordered list of missions they make ("Call 3 high-value leads"). This module checks and
//! stores the rules (`setFocusRules`, a template's `focusRules`); `placeholders` says what
//! `$today`, `$now`, `$me`… stand for; `eval` turns the rules into the caller's list through
//! their row rules and readable fields. The rules themselves are plain data of the engine
//! (`runtime::focus_rules`), loaded with the definitions.

pub mod eval;
pub mod placeholders;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::models::{focus_rule, role};
use crate::runtime::filter::Filter;
use crate::runtime::focus_rules::FocusRule;
use crate::runtime::meta::TenantMeta;
use crate::runtime::sql::parse_order;
use crate::runtime::{signals, time};
use crate::{Dialect, Error, FieldError, Result};
use placeholders::Clock;

/// How many records an item links when its rule does not say.
pub const DEFAULT_LIMIT: i64 = 5;
/// The most records one item links (its count covers every matching record).
pub const MAX_LIMIT: i64 = 50;
/// The most rules one role has (each costs a list's statements per `dailyFocus`).
pub const MAX_RULES: usize = 20;
/// The highest position a rule may take.
const MAX_POSITION: i64 = 10_000;
/// The longest title template and badge.
const MAX_TITLE: usize = 200;
const MAX_BADGE: usize = 40;
/// What a title template may hold besides text.
const TITLE_PLACEHOLDERS: [&str; 2] = ["{count}", "{entity}"];

/// A rule as an administrator (`FocusRuleInput`) or a template writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleInput {
    /// The entity's `nameSingular`.
    pub entity: String,
    /// The filter (`{}`: every record).
    #[serde(default)]
    pub filter: Option<Value>,
    #[serde(default)]
    pub order_by: Option<Value>,
    #[serde(default)]
    pub limit: Option<i64>,
    pub title: String,
    #[serde(default)]
    pub badge: Option<String>,
    /// Where its item stands among the caller's (default: its place in the list given).
    #[serde(default)]
    pub position: Option<i64>,
}

/// A template's rule: a rule for the role named `role` (every role when absent).
#[derive(Debug, Clone, Deserialize)]
pub struct TemplateRule {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(flatten)]
    pub rule: RuleInput,
}

/// Checks `rules` against the tenant's definitions: the entity exists, the filter parses for
/// it (every placeholder known), the order names sortable fields, the limit, title and badge
/// fit. Errors name `rules[i].<part>`.
pub fn validate(meta: &TenantMeta, rules: &[RuleInput]) -> Result<()> {
    let mut errors = Vec::new();
    if rules.len() > MAX_RULES {
        errors.push(FieldError::new("rules", format!("at most {MAX_RULES} rules per role")));
    }
    // Placeholders stand for a probe caller and day while a filter is checked.
    let probe = Clock {
        date: Clock::today(chrono_tz::UTC, Utc::now()),
        zone: chrono_tz::UTC,
        now: Utc::now(),
        user_id: "00000000-0000-0000-0000-000000000000".into(),
    };
    for (i, r) in rules.iter().enumerate() {
        let at = |part: &str| format!("rules[{i}].{part}");
        let Some(entity) = meta.entity_by_name(&r.entity) else {
            errors.push(FieldError::new(at("entity"), format!("no entity named `{}`", r.entity)));
            continue;
        };
        match r.filter.as_ref().map(|f| probe.substitute(f)).transpose() {
            Err(e) => errors.push(FieldError::new(at("filter"), e)),
            Ok(Some(f)) => {
                if let Err(Error::Validation(es)) = Filter::parse(entity, &f) {
                    errors.extend(es.into_iter().map(|e| FieldError::new(at(&e.field), e.message)));
                }
            }
            Ok(None) => {}
        }
        match &r.order_by {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                if let Err(e) = parse_order(entity, items) {
                    errors.push(FieldError::new(at("orderBy"), e.to_string()));
                }
            }
            Some(_) => errors.push(FieldError::new(at("orderBy"), "must be a list of {field, direction}")),
        }
        if !(1..=MAX_LIMIT).contains(&r.limit.unwrap_or(DEFAULT_LIMIT)) {
            errors.push(FieldError::new(at("limit"), format!("must be between 1 and {MAX_LIMIT}")));
        }
        if r.position.is_some_and(|p| !(0..=MAX_POSITION).contains(&p)) {
            errors.push(FieldError::new(at("position"), format!("must be between 0 and {MAX_POSITION}")));
        }
        if let Some(problem) = title_problem(&r.title) {
            errors.push(FieldError::new(at("title"), problem));
        }
        if r.badge.as_ref().is_some_and(|b| b.trim().is_empty() || b.chars().count() > MAX_BADGE) {
            errors.push(FieldError::new(at("badge"), format!("must be 1 to {MAX_BADGE} characters")));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
}

/// What is wrong with a title template, if anything.
fn title_problem(title: &str) -> Option<String> {
    if title.trim().is_empty() || title.chars().count() > MAX_TITLE {
        return Some(format!("must be 1 to {MAX_TITLE} characters"));
    }
    let mut rest = title;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        match TITLE_PLACEHOLDERS.iter().find(|p| tail.starts_with(*p)) {
            Some(p) => rest = &tail[p.len()..],
            None => return Some("may hold only {count} and {entity} in braces".into()),
        }
    }
    None
}

/// Replaces the rules of `role_id` (every role's when `None`) with `rules`, checked against
/// `meta` first, in the caller's transaction, and bumps the metadata version so every
/// instance reloads the definitions with them. The rules as stored.
pub async fn save(
    conn: &impl ConnectionTrait,
    d: Dialect,
    meta: &TenantMeta,
    role_id: Option<&str>,
    rules: &[RuleInput],
) -> Result<Vec<FocusRule>> {
    validate(meta, rules)?;
    let tenant_id = meta.tenant_id.as_str();
    let same_role = match role_id {
        Some(r) => Expr::col(focus_rule::Column::RoleId).eq(r),
        None => Expr::col(focus_rule::Column::RoleId).is_null(),
    };
    focus_rule::Entity::delete_many()
        .filter(focus_rule::Column::TenantId.eq(tenant_id))
        .filter(same_role)
        .exec(conn)
        .await?;
    let now = time::now();
    let mut stored = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        let rule = FocusRule {
            id: uuid::Uuid::new_v4().to_string(),
            role_id: role_id.map(str::to_owned),
            position: i32::try_from(r.position.unwrap_or(i as i64)).unwrap_or(i32::MAX),
            entity: r.entity.clone(),
            filter: r.filter.clone().filter(|f| !f.is_null()).unwrap_or_else(|| json!({})),
            order_by: r.order_by.clone().filter(|o| !o.is_null()).unwrap_or_else(|| json!([])),
            limit: u32::try_from(r.limit.unwrap_or(DEFAULT_LIMIT)).unwrap_or(1),
            title: r.title.trim().to_owned(),
            badge: r.badge.as_ref().map(|b| b.trim().to_owned()),
        };
        let row = focus_rule::ActiveModel {
            id: sea_orm::Set(rule.id.clone()),
            tenant_id: sea_orm::Set(tenant_id.to_owned()),
            role_id: sea_orm::Set(rule.role_id.clone()),
            position: sea_orm::Set(rule.position),
            entity: sea_orm::Set(rule.entity.clone()),
            filter: sea_orm::Set(rule.filter.clone()),
            order_by: sea_orm::Set(rule.order_by.clone()),
            max_records: sea_orm::Set(rule.limit as i32),
            title: sea_orm::Set(rule.title.clone()),
            badge: sea_orm::Set(rule.badge.clone()),
            created_at: sea_orm::Set(now),
        };
        focus_rule::Entity::insert(row).exec_without_returning(conn).await?;
        stored.push(rule);
    }
    signals::metadata_changed(conn, d, tenant_id).await?;
    stored.sort_by_key(|r| r.position);
    Ok(stored)
}

/// A template's rules of one role (named; `None`: every role's), each positioned as stored.
pub struct RoleRules {
    pub role: Option<String>,
    /// The index in the template's list of the group's first rule (where errors point).
    pub first: usize,
    pub rules: Vec<RuleInput>,
}

/// A template's rules grouped by role, each group in the template's order, a rule without a
/// position taking its index in the template's list.
pub fn by_role(rules: &[TemplateRule]) -> Vec<RoleRules> {
    let mut groups: Vec<RoleRules> = Vec::new();
    for (i, t) in rules.iter().enumerate() {
        let mut rule = t.rule.clone();
        rule.position = Some(rule.position.unwrap_or(i as i64));
        match groups.iter_mut().find(|g| g.role == t.role) {
            Some(g) => g.rules.push(rule),
            None => groups.push(RoleRules { role: t.role.clone(), first: i, rules: vec![rule] }),
        }
    }
    groups
}

/// What a role's rules amount to, to compare a template's (`inputs`) with a tenant's
/// (`stored`): each rule as `save` stores it, by position.
fn shape(mut rules: Vec<Value>) -> Value {
    rules.sort_by_key(|r| (r["position"].as_i64(), r["title"].as_str().map(str::to_owned)));
    Value::Array(rules)
}

/// The compared shape of rules a template gives a role (`by_role`).
pub fn inputs_shape(rules: &[RuleInput]) -> Value {
    shape(
        rules
            .iter()
            .map(|r| {
                json!({"position": r.position, "entity": r.entity,
                       "filter": r.filter.clone().filter(|f| !f.is_null()).unwrap_or_else(|| json!({})),
                       "orderBy": r.order_by.clone().filter(|o| !o.is_null()).unwrap_or_else(|| json!([])),
                       "limit": r.limit.unwrap_or(DEFAULT_LIMIT), "title": r.title.trim(),
                       "badge": r.badge.as_deref().map(str::trim)})
            })
            .collect(),
    )
}

/// The compared shape of the rules a tenant stores for a role.
pub fn stored_shape<'a>(rules: impl Iterator<Item = &'a FocusRule>) -> Value {
    shape(
        rules
            .map(|r| {
                json!({"position": r.position, "entity": r.entity, "filter": r.filter,
                       "orderBy": r.order_by, "limit": r.limit, "title": r.title, "badge": r.badge})
            })
            .collect(),
    )
}

/// Stores a template's rules (after its roles exist): each role's rules replace that role's,
/// a role named that the tenant lacks is an error on `focusRules[i].role`.
pub async fn save_template_rules(
    conn: &impl ConnectionTrait,
    d: Dialect,
    meta: &TenantMeta,
    rules: &[TemplateRule],
) -> Result<()> {
    let roles = role::Entity::find().filter(role::Column::TenantId.eq(&meta.tenant_id)).all(conn).await?;
    for group in by_role(rules) {
        let role_id = match &group.role {
            None => None,
            Some(name) => {
                Some(roles.iter().find(|r| &r.name == name).map(|r| r.id.clone()).ok_or_else(|| {
                    Error::Validation(vec![FieldError::new(
                        format!("focusRules[{}].role", group.first),
                        format!("no role named `{name}`"),
                    )])
                })?)
            }
        };
        save(conn, d, meta, role_id.as_deref(), &group.rules).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_templates_hold_only_their_placeholders() {
        assert_eq!(title_problem("Call {count} high-value {entity}"), None);
        assert_eq!(title_problem("Review contracts"), None);
        assert!(title_problem("Call {n} leads").is_some());
        assert!(title_problem("Call {count leads").is_some());
        assert!(title_problem("  ").is_some());
    }
}
