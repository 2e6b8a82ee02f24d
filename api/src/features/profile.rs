//! Every signed-in user's own account: `updateProfile` (name, locale, time zone, avatar) and
//! `changePassword` (the current password proves it is them; every other session of theirs
//! ends, this one stays). The data layer is `entity::features::users::profile`; what stays here
//! is the API's part: checking the current password against its hash, hashing the new one.

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputObject, InputValue, Type, TypeRef};
use entity::FieldError;
use entity::features::users::profile::{self, Me, ProfileChanges};
use entity::runtime::audit::Actor;
use entity::runtime::naming::{fields as f, types as t};

use crate::auth::password;
use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::rate::{self, Action};
use crate::schema::args::{self, arg_json};
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot};
use crate::services::{Services, Txn};

/// The caller as the data layer's own-account functions take them.
pub(crate) fn me<'a>(p: &'a Principal, actor: &'a Actor) -> Me<'a> {
    Me { tenant_id: &p.tenant_id, user_id: &p.user_id, session_id: &p.session_id, actor }
}

/// `UpdateProfileInput`: every member optional; absent keeps, `null` or blank removes.
pub fn types() -> Vec<Type> {
    let opt = || TypeRef::named(TypeRef::STRING);
    vec![
        InputObject::new(t::UPDATE_PROFILE_INPUT)
            .description(
                "Your profile: a member left out stays as it is; `null` or a blank string removes it.",
            )
            .field(InputValue::new("name", opt()).description("Your display name (at most 200 characters)."))
            .field(
                InputValue::new("locale", opt())
                    .description("Your language, a BCP-47 tag such as `en` or `hi-IN`."),
            )
            .field(
                InputValue::new("timeZone", opt()).description("Your IANA time zone, e.g. `Asia/Kolkata`."),
            )
            .field(InputValue::new("avatar", opt()).description("Your picture, an http(s) URL."))
            .into(),
    ]
}

/// `updateProfile(input)`.
fn update_profile() -> Field {
    Field::new(f::UPDATE_PROFILE, TypeRef::named_nn(t::USER), |c| {
        FieldFuture::new(async move {
            let (state, p, actor) = (ctx::state(&c)?, ctx::principal(&c)?, ctx::actor(&c)?);
            let input = arg_json(&c, "input")?.unwrap_or_default();
            let changes = ProfileChanges::check(input.as_object().unwrap_or(&Default::default()))
                .map_err(ApiError::from)?;
            let u = state
                .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                    profile::update(txn, state.db.dialect, &me(p, &actor), changes).await
                })
                .await?;
            Ok(Some(FieldValue::owned_any(u)))
        })
    })
    .argument(InputValue::new("input", TypeRef::named_nn(t::UPDATE_PROFILE_INPUT)))
    .description("Edits your own profile: name, locale, time zone and avatar.")
}

/// `changePassword(currentPassword, newPassword)`.
fn change_password() -> Field {
    Field::new(f::CHANGE_PASSWORD, TypeRef::named_nn(TypeRef::BOOLEAN), |c| {
        FieldFuture::new(async move {
            let (state, p, actor) = (ctx::state(&c)?, ctx::principal(&c)?, ctx::actor(&c)?);
            if p.api_key_id.is_some() {
                return Err(ApiError::Forbidden("an API key cannot change a password".into()).into());
            }
            // Guesses of the current password share a budget like logins do.
            ctx::attempt(&c, Action::Login, &[&rate::account(&[&p.tenant_id, &p.user_id])]).await?;
            let current = args::string(&c, "currentPassword")?;
            let new = args::string(&c, "newPassword")?;
            change(state, &me(p, &actor), &current, &new).await?;
            Ok(Some(Value::from(true)))
        })
    })
    .argument(InputValue::new("currentPassword", TypeRef::named_nn(TypeRef::STRING)))
    .argument(InputValue::new("newPassword", TypeRef::named_nn(TypeRef::STRING)))
    .description(
        "Changes your password (the same rules as at signup). Every other session of yours ends; this one stays.",
    )
}

/// Checks the current password and the new one, then stores the new one's hash.
async fn change(state: &Services, me: &Me<'_>, current: &str, new: &str) -> Result<(), ApiError> {
    let stored =
        state.in_tenant(me.tenant_id, Txn::Read, async |txn| profile::password_hash(txn, me).await).await?;
    let mut errors = Vec::new();
    if !password::verify(current, stored.as_deref()).await? {
        errors.push(FieldError::new("currentPassword", "is not your current password"));
    }
    errors.extend(password::refusal("newPassword", new));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let hash = password::hash(new).await?;
    state
        .in_tenant(me.tenant_id, Txn::Write, async |txn| {
            profile::change_password(txn, state.db.dialect, me, hash).await
        })
        .await?;
    Ok(())
}

/// `updateProfile` and `changePassword`, for every signed-in user.
pub static FEATURE: Declared = Declared {
    mutations: &[(Slot::Lead, |_| vec![update_profile(), change_password()])],
    types: |_| types(),
    ..Declared::EMPTY
};
