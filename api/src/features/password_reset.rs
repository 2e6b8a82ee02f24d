//! Password reset by emailed one-time token: the public `requestPasswordReset(tenant, email)`
//! and `resetPassword(token, newPassword, totpCode)`. A request answers `true` at once, before
//! anything is looked up, whatever the address: the work (an active user's token and email,
//! in one transaction) goes on after the answer, so neither the answer nor its timing tells
//! whether the address has an account. The token carries its tenant (like a refresh token)
//! and is stored only hashed (`entity::features::users::password_reset`). Redeeming it is
//! `acceptInvite`'s shape: it signs in, after ending every older session of the user.

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};
use chrono::Duration;
use entity::features::users::password_reset::{self, Lookup, NewToken};
use entity::runtime::naming::{fields as f, types as t};

use crate::auth::service::{self, AuthPayload};
use crate::auth::{password, second_factor, tokens};
use crate::error::ApiError;
use crate::rate::{self, Action};
use crate::schema::args;
use crate::schema::ctx;
use crate::schema::feature::Declared;
use crate::services::{Services, Txn};

/// `extensions.reason` of a reset token that is unknown (never issued, or replaced by a newer
/// request).
pub const TOKEN_INVALID: &str = "reset_token_invalid";
/// `extensions.reason` of a reset token that already set a password.
pub const TOKEN_USED: &str = "reset_token_used";
/// `extensions.reason` of a reset token past its expiry.
pub const TOKEN_EXPIRED: &str = "reset_token_expired";

/// `requestPasswordReset(tenant, email)`.
fn request_password_reset() -> Field {
    Field::new(f::REQUEST_PASSWORD_RESET, TypeRef::named_nn(TypeRef::BOOLEAN), |c| {
        FieldFuture::new(async move {
            let tenant = args::string(&c, "tenant")?;
            let email = args::string(&c, "email")?.trim().to_lowercase();
            ctx::attempt(&c, Action::PasswordReset, &[&rate::account(&[&tenant, &email])]).await?;
            let state = ctx::state(&c)?.clone();
            tokio::spawn(async move {
                if let Err(e) = request(&state, &tenant, &email).await {
                    tracing::warn!(error = ?e, tenant = %tenant, "password reset request failed");
                }
            });
            Ok(Some(Value::from(true)))
        })
    })
    .argument(InputValue::new("tenant", TypeRef::named_nn(TypeRef::STRING)).description("The tenant's slug."))
    .argument(InputValue::new("email", TypeRef::named_nn(TypeRef::STRING)))
    .description(
        "Emails a one-time password reset token to the address if it has an active account in the tenant. \
         Always answers true: the answer does not say whether the account exists.",
    )
}

/// The work of a reset request, after the answer: for an active user of the tenant, a token
/// and its email (`password_reset::request`), in one transaction.
async fn request(state: &Services, slug: &str, email: &str) -> Result<(), ApiError> {
    let (Some(t), Some(u)) = service::find_login(state, slug, email).await? else { return Ok(()) };
    let token = tokens::new_refresh_token(&t.id)?;
    let ttl_secs = state.config.password_reset_ttl_secs;
    let link = state
        .config
        .public_url
        .as_deref()
        .map(|base| format!("Or open: {}/reset-password?token={token}\n\n", base.trim_end_matches('/')));
    let letter = |tenant_name: &str| {
        let body = format!(
            "Someone (hopefully you) asked to reset your password for {tenant_name} on Alphery OS.\n\n\
             Your one-time reset token (valid for {} minutes):\n\n{token}\n\n{}\
             Use it with: mutation {{ resetPassword(token: \"{token}\", newPassword: \"...\") {{ accessToken }} }}\n\n\
             If you did not ask for this, ignore this email: your password stays as it is.\n",
            ttl_secs.div_ceil(60),
            link.as_deref().unwrap_or_default(),
        );
        (format!("Reset your password for {tenant_name}"), body)
    };
    let new = NewToken { hash: tokens::hash_refresh(&token), ttl: Duration::seconds(ttl_secs as i64) };
    state
        .in_tenant(&t.id, Txn::Write, async |txn| {
            password_reset::request(txn, state.db.dialect, &t, &u, new, &letter).await
        })
        .await?;
    Ok(())
}

/// `resetPassword(token, newPassword, totpCode)`.
fn reset_password() -> Field {
    Field::new(f::RESET_PASSWORD, TypeRef::named_nn(t::AUTH_PAYLOAD), |c| {
        FieldFuture::new(async move {
            let token = args::string(&c, "token")?;
            ctx::attempt(&c, Action::PasswordReset, &[&token]).await?;
            let new = args::string(&c, "newPassword")?;
            let code = args::opt_string(&c, "totpCode")?;
            let payload = reset(ctx::state(&c)?, &token, &new, code.as_deref()).await?;
            Ok(Some(FieldValue::owned_any(payload)))
        })
    })
    .argument(InputValue::new("token", TypeRef::named_nn(TypeRef::STRING)))
    .argument(InputValue::new("newPassword", TypeRef::named_nn(TypeRef::STRING)))
    .argument(
        InputValue::new("totpCode", TypeRef::named(TypeRef::STRING))
            .description("A TOTP or recovery code: needed when two-factor sign-in is on for the account."),
    )
    .description(
        "Sets a new password with a token from `requestPasswordReset` (once) and signs in; every other \
         session of the user ends.",
    )
}

/// Redeems a reset token: checks the new password, the token, and the second factor of a user
/// with TOTP on, then sets the password and signs in, in one transaction.
async fn reset(
    state: &Services,
    token: &str,
    new_password: &str,
    totp_code: Option<&str>,
) -> Result<AuthPayload, ApiError> {
    let refused = |reason: &'static str, message: &str| ApiError::Refused { message: message.into(), reason };
    let invalid = || refused(TOKEN_INVALID, "invalid password reset token");
    let used = || refused(TOKEN_USED, "this password reset token was already used");
    let tenant_id = tokens::refresh_tenant(token).ok_or_else(invalid)?;
    if let Some(bad) = password::refusal("newPassword", new_password) {
        return Err(ApiError::Validation(vec![bad]));
    }
    let hash = password::hash(new_password).await?;
    let (refresh_token, session) = service::new_session(state, tenant_id)?;
    let txn = state.db.begin_tenant_write(tenant_id).await?;
    let (r, u) = match password_reset::lookup(&txn, tenant_id, &tokens::hash_refresh(token)).await? {
        Lookup::Valid(found) => *found,
        Lookup::Unknown => return Err(invalid()),
        Lookup::Used => return Err(used()),
        Lookup::Expired => return Err(refused(TOKEN_EXPIRED, "this password reset token has expired")),
    };
    if let Some(refusal) = second_factor::refusal(state, &txn, &u, totp_code).await? {
        // A wrong code counts towards the lockout (the token is not spent).
        txn.commit().await?;
        return Err(refusal);
    }
    let opened =
        password_reset::redeem(&txn, state.db.dialect, &r, u, hash, session).await?.ok_or_else(used)?;
    let payload = service::payload(state, opened, refresh_token)?;
    txn.commit().await?;
    Ok(payload)
}

/// The public `requestPasswordReset` and `resetPassword`.
pub static FEATURE: Declared =
    Declared { public_mutations: || vec![request_password_reset(), reset_password()], ..Declared::EMPTY };
