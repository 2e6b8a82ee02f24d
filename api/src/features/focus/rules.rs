//! `focusRules(role)` (every role: the rules a role's list is made from — its own and every
//! role's; a non-administrator asks only about their own role, and sees only the rules over
//! entities they read) and `setFocusRules(role, rules)` (administrators: the rules of one
//! role, or every role's when `role` is null, replaced at once — checked against the
//! definitions, stored, audited, and the metadata version bumped so every instance evaluates
//! the new rules).

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, ResolverContext, TypeRef};
use entity::features::focus::{self, RuleInput};
use entity::features::users::roles;
use entity::runtime::audit;
use entity::runtime::focus_rules::FocusRule;
use entity::runtime::meta::TenantMeta;
use entity::runtime::naming::focus::{fields as f, types as t};

use crate::error::{ApiError, gql};
use crate::schema::args::{self, arg_json};
use crate::schema::ctx;

fn listed(rules: Vec<FocusRule>) -> FieldValue<'static> {
    FieldValue::list(rules.into_iter().map(FieldValue::owned_any))
}

/// The `role` argument: the caller's own role when absent for `focusRules`.
fn role_arg(c: &ResolverContext<'_>) -> Result<Option<String>, ApiError> {
    args::opt_string(c, "role")
}

/// `focusRules(role)`.
pub(super) fn query() -> Field {
    Field::new(f::FOCUS_RULES, TypeRef::named_nn_list_nn(t::FOCUS_RULE), |c| {
        FieldFuture::new(async move {
            let p = ctx::principal(&c)?;
            let role = role_arg(&c)?.unwrap_or_else(|| p.role_id.clone());
            if role != p.role_id && !p.permissions.admin {
                return Err(ApiError::Forbidden(
                    "only administrators read another role's focus rules".into(),
                )
                .into());
            }
            let access = ctx::access(&c)?;
            // A non-administrator sees only the rules over entities they read.
            let shown = |r: &&FocusRule| {
                p.permissions.admin || access.entities.iter().any(|a| a.full.name_singular == r.entity)
            };
            let rules =
                access.meta.focus.iter().filter(|r| r.applies_to(&role)).filter(shown).cloned().collect();
            Ok(Some(listed(rules)))
        })
    })
    .argument(
        InputValue::new("role", TypeRef::named(TypeRef::ID))
            .description("The role (default: yours; another role's for administrators only)."),
    )
    .description("The focus rules a role's Daily Focus is made from: its own and every role's, by position.")
}

/// `setFocusRules(role, rules)`: administrators only.
pub(super) fn mutation() -> Field {
    Field::new(f::SET_FOCUS_RULES, TypeRef::named_nn_list_nn(t::FOCUS_RULE), |c| {
        FieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
            let role = role_arg(&c)?;
            let input = arg_json(&c, "rules")?.unwrap_or_default();
            let rules: Vec<RuleInput> =
                serde_json::from_value(input).map_err(|e| ApiError::BadRequest(format!("rules: {e}")))?;
            let txn = state.db.begin_tenant_write(&p.tenant_id).await.map_err(gql)?;
            if let Some(role) = &role {
                roles::find(&txn, &p.tenant_id, role).await.map_err(gql)?;
            }
            // Checked against the definitions as they are in this transaction.
            let meta = TenantMeta::load(&txn, &p.tenant_id).await.map_err(gql)?;
            let stored =
                focus::save(&txn, state.db.dialect, &meta, role.as_deref(), &rules).await.map_err(gql)?;
            let entry = audit::Entry {
                action: "focus.rules",
                object_type: "role",
                object_id: role.as_deref(),
                changes: serde_json::to_value(&stored).map_err(|e| ApiError::Internal(e.to_string()))?,
            };
            audit::append(&txn, state.db.dialect, &p.tenant_id, &ctx::actor(&c)?, &entry)
                .await
                .map_err(gql)?;
            txn.commit().await.map_err(ApiError::from)?;
            Ok(Some(listed(stored)))
        })
    })
    .argument(
        InputValue::new("role", TypeRef::named(TypeRef::ID))
            .description("The role whose rules these are (null: the rules of every role)."),
    )
    .argument(
        InputValue::new("rules", TypeRef::named_nn_list_nn(t::FOCUS_RULE_INPUT))
            .description("The rules, in order: they replace the role's (an empty list removes them)."),
    )
    .description(
        "Replaces a role's Daily Focus rules (administrators); checked against the entities and fields.",
    )
}
