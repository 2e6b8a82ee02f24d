//! TOTP two-factor sign-in for every signed-in user: `enrollTotp` (a new secret, pending, as
//! base32 and as an `otpauth://` URI for an authenticator app), `confirmTotp(code)` (the
//! first code turns it on and hands out single-use recovery codes, shown once),
//! `disableTotp(code)` (a current or recovery code turns it off), `regenerateRecoveryCodes`
//! (with a current code or the password: new codes, the old ones void at once), and for
//! administrators `resetUserTotp(userId)` (a user who lost both) and `unlockUserTotp(userId)`
//! (a second factor locked by wrong codes). `User.totpEnabled` says whether it is on;
//! `login` then needs `totpCode` (`auth::second_factor`). Secrets are sealed with the server
//! key (`auth::sealed`), recovery codes stored hashed (`entity::features::users::two_factor`).

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, Type, TypeRef,
};
use entity::FieldError;
use entity::features::users::profile::Me;
use entity::features::users::two_factor;
use entity::runtime::naming::{fields as f, types as t};

use super::profile::me;
use crate::admin::admin;
use crate::auth::principal::Principal;
use crate::auth::second_factor::{Check, context, locked_error, verify};
use crate::auth::{password, totp};
use crate::error::ApiError;
use crate::rate::{self, Action};
use crate::schema::args;
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot};
use crate::schema::values::{s, sync_field};
use crate::services::{Services, Txn};

/// A new secret, as `enrollTotp` answers it.
#[derive(Debug, Clone)]
struct Enrollment {
    secret: String,
    uri: String,
}

/// `TotpEnrollment`.
fn types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    vec![
        Object::new(t::TOTP_ENROLLMENT)
            .description("A new TOTP secret for an authenticator app; confirm it with `confirmTotp`.")
            .field(
                sync_field::<Enrollment>("secret", string(), |e| s(&e.secret))
                    .description("The secret, base32 (to type into an app)."),
            )
            .field(
                sync_field::<Enrollment>("uri", string(), |e| s(&e.uri))
                    .description("The `otpauth://totp/…` URI (to show as a QR code)."),
            )
            .into(),
    ]
}

/// The signed-in user (not an API key: a key has no second factor of its own), charged one
/// guess of a code from their budget of sign-in attempts.
async fn caller<'a>(c: &ResolverContext<'a>, guess: bool) -> async_graphql::Result<&'a Principal> {
    let p = ctx::principal(c)?;
    if p.api_key_id.is_some() {
        return Err(ApiError::Forbidden("an API key has no two-factor sign-in".into()).into());
    }
    if guess {
        ctx::attempt(c, Action::Login, &[&rate::account(&[&p.tenant_id, &p.user_id])]).await?;
    }
    Ok(p)
}

/// A refused code, as `VALIDATION_FAILED` on the `code` argument.
fn bad_code(message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError::new("code", message)])
}

/// `enrollTotp`.
fn enroll() -> Field {
    Field::new(f::ENROLL_TOTP, TypeRef::named_nn(t::TOTP_ENROLLMENT), |c| {
        FieldFuture::new(async move {
            let (state, p, actor) = (ctx::state(&c)?, caller(&c, false).await?, ctx::actor(&c)?);
            let secret = totp::new_secret()?;
            let sealed = state.sealer.seal(&secret, &context(&p.tenant_id, &p.user_id))?;
            let who = state
                .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                    two_factor::enroll(txn, state.db.dialect, &me(p, &actor), sealed).await
                })
                .await?;
            let secret = totp::base32(&secret);
            let uri = totp::otpauth_uri(&who.tenant_slug, &who.email, &secret);
            Ok(Some(FieldValue::owned_any(Enrollment { secret, uri })))
        })
    })
    .description(
        "Starts two-factor sign-in: a new secret for your authenticator app, pending until `confirmTotp`.",
    )
}

/// `confirmTotp(code)`.
fn confirm() -> Field {
    Field::new(f::CONFIRM_TOTP, TypeRef::named_nn_list_nn(TypeRef::STRING), |c| {
        FieldFuture::new(async move {
            let (state, p, actor) = (ctx::state(&c)?, caller(&c, true).await?, ctx::actor(&c)?);
            let code = args::string(&c, "code")?;
            let codes = confirm_with(state, &me(p, &actor), &code).await?;
            Ok(Some(FieldValue::list(codes.into_iter().map(|c| FieldValue::value(Value::from(c))))))
        })
    })
    .argument(InputValue::new("code", TypeRef::named_nn(TypeRef::STRING)))
    .description(
        "Turns two-factor sign-in on with the first code of the app, and returns single-use recovery codes \
         (shown this once: keep them safe).",
    )
}

/// Checks `code` against the caller's pending secret and turns it on with new recovery codes.
async fn confirm_with(state: &Services, me: &Me<'_>, code: &str) -> Result<Vec<String>, ApiError> {
    let codes = totp::new_recovery_codes()?;
    let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_hash(c)).collect();
    state
        .in_tenant(me.tenant_id, Txn::Write, async |txn| {
            let pending = two_factor::find(txn, me.tenant_id, me.user_id).await?.filter(|t| !t.enabled);
            let Some(pending) = pending else {
                return Err(ApiError::Conflict(
                    "no pending two-factor enrolment: call enrollTotp first".into(),
                ));
            };
            let secret =
                state.sealer.open(&pending.secret, &context(me.tenant_id, me.user_id)).ok_or_else(|| {
                    ApiError::Conflict("the pending secret is unreadable: call enrollTotp again".into())
                })?;
            let step = totp::matching_step(&secret, code, totp::now_secs())
                .ok_or_else(|| bad_code("is not the current code of your authenticator app"))?;
            two_factor::confirm(txn, state.db.dialect, me, step, hashes).await?;
            Ok(())
        })
        .await?;
    Ok(codes)
}

/// Checks `code` for the caller and, when it passes, does `then` in the same transaction. A
/// wrong code is committed as counted before it is refused (`second_factor::verify`).
async fn with_code<T>(
    state: &Services,
    me: &Me<'_>,
    code: &str,
    then: impl AsyncFnOnce(&sea_orm::DatabaseTransaction) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let done = state
        .in_tenant(me.tenant_id, Txn::Write, async |txn| {
            let on = two_factor::find(txn, me.tenant_id, me.user_id).await?.is_some_and(|t| t.enabled);
            if !on {
                return Err(ApiError::Conflict("two-factor sign-in is not on".into()));
            }
            match verify(state, txn, me.tenant_id, me.user_id, code).await? {
                Check::Passed => Ok(Ok(then(txn).await?)),
                refused => Ok(Err(refused)),
            }
        })
        .await?;
    done.map_err(|refused| match refused {
        Check::Locked => locked_error(),
        _ => bad_code("is not a current, unused two-factor or recovery code"),
    })
}

/// `disableTotp(code)`.
fn disable() -> Field {
    Field::new(f::DISABLE_TOTP, TypeRef::named_nn(TypeRef::BOOLEAN), |c| {
        FieldFuture::new(async move {
            let (state, p, actor) = (ctx::state(&c)?, caller(&c, true).await?, ctx::actor(&c)?);
            let code = args::string(&c, "code")?;
            let me = me(p, &actor);
            with_code(state, &me, &code, async |txn| {
                Ok(two_factor::disable(txn, state.db.dialect, &me).await?)
            })
            .await?;
            Ok(Some(Value::from(true)))
        })
    })
    .argument(InputValue::new("code", TypeRef::named_nn(TypeRef::STRING)))
    .description("Turns two-factor sign-in off, with a current code of your app or a recovery code.")
}

/// `regenerateRecoveryCodes(code | password)`.
fn regenerate() -> Field {
    Field::new(f::REGENERATE_RECOVERY_CODES, TypeRef::named_nn_list_nn(TypeRef::STRING), |c| {
        FieldFuture::new(async move {
            let (state, p, actor) = (ctx::state(&c)?, caller(&c, true).await?, ctx::actor(&c)?);
            let (code, pass) = (args::opt_string(&c, "code")?, args::opt_string(&c, "password")?);
            let me = me(p, &actor);
            let codes = totp::new_recovery_codes()?;
            let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_hash(c)).collect();
            let replace = async |txn: &sea_orm::DatabaseTransaction| {
                Ok::<(), ApiError>(two_factor::replace_recovery(txn, state.db.dialect, &me, hashes).await?)
            };
            match (code.as_deref().map(str::trim).filter(|c| !c.is_empty()), pass) {
                (Some(code), _) => with_code(state, &me, code, replace).await?,
                (None, Some(pass)) => {
                    let u = state
                        .in_tenant(me.tenant_id, Txn::Read, async |txn| {
                            entity::features::users::accounts::find(txn, me.tenant_id, me.user_id).await
                        })
                        .await?;
                    if !password::verify(&pass, Some(u.password_hash.as_str())).await? {
                        return Err(ApiError::Validation(vec![FieldError::new("password", "is not your password")])
                            .into());
                    }
                    state.in_tenant(me.tenant_id, Txn::Write, replace).await?;
                }
                (None, None) => {
                    return Err(ApiError::Validation(vec![FieldError::new(
                        "code",
                        "give a current two-factor code, or your `password`",
                    )])
                    .into());
                }
            }
            Ok(Some(FieldValue::list(codes.into_iter().map(|c| FieldValue::value(Value::from(c))))))
        })
    })
    .argument(InputValue::new("code", TypeRef::named(TypeRef::STRING)).description("A current code of your app (or a recovery code)."))
    .argument(InputValue::new("password", TypeRef::named(TypeRef::STRING)).description("Your password, instead of a code."))
    .description(
        "New single-use recovery codes (shown this once); every older one stops working at once. Needs a current \
         two-factor code or your password.",
    )
}

/// What an administrator does to one user's second factor.
#[derive(Clone, Copy)]
enum AdminAct {
    /// `unlockUserTotp`: forget the wrong codes; the second factor stays on.
    Unlock,
    /// `resetUserTotp`: turn the second factor off.
    Reset,
}

/// `unlockUserTotp(userId)` (administrators).
fn admin_unlock() -> Field {
    admin_field(
        f::UNLOCK_USER_TOTP,
        AdminAct::Unlock,
        "Unlocks a user's two-factor sign-in locked by too many wrong codes (`totp_locked`); it stays on.",
    )
}

/// `resetUserTotp(userId)` (administrators).
fn admin_reset() -> Field {
    admin_field(
        f::RESET_USER_TOTP,
        AdminAct::Reset,
        "Turns a user's two-factor sign-in off (lost device and recovery codes): they sign in with their \
         password alone, and may enrol again.",
    )
}

/// An administrator's `act` on the second factor of user `userId`, answered with the user.
fn admin_field(name: &str, act: AdminAct, description: &'static str) -> Field {
    Field::new(name, TypeRef::named_nn(t::USER), move |c| {
        FieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let (state, p, actor) = (ctx::state(&c)?, ctx::principal(&c)?, ctx::actor(&c)?);
            let user_id = args::string(&c, "userId")?;
            let d = state.db.dialect;
            let u = state
                .in_tenant(&p.tenant_id, Txn::Write, async |txn| match act {
                    AdminAct::Unlock => two_factor::admin_unlock(txn, d, &admin(p, &actor), &user_id).await,
                    AdminAct::Reset => two_factor::admin_reset(txn, d, &admin(p, &actor), &user_id).await,
                })
                .await?;
            Ok(Some(FieldValue::owned_any(u)))
        })
    })
    .argument(InputValue::new("userId", TypeRef::named_nn(TypeRef::ID)))
    .description(description)
}

/// `enrollTotp`, `confirmTotp`, `disableTotp`, `regenerateRecoveryCodes` for every signed-in
/// user; `resetUserTotp` and `unlockUserTotp` for administrators.
pub static FEATURE: Declared = Declared {
    mutations: &[
        (Slot::Lead, |_| vec![enroll(), confirm(), disable(), regenerate()]),
        (Slot::Admin, |_| vec![admin_reset(), admin_unlock()]),
    ],
    types: |_| types(),
    ..Declared::EMPTY
};
