//! The session operations of shared/API.md: `signup`, `login` (with a TOTP code for a user
//! with two-factor sign-in on), `refreshToken`, `logout`.
//! Each is one transaction; refresh tokens rotate, and a rotated token presented again
//! revokes its whole session (it can only be a stolen copy). This is their API half: input
//! checks, password hashes and tokens; what is stored is `entity::features::users`.

use std::sync::LazyLock;

use chrono::Duration;
use entity::FieldError;
use entity::features::users::sessions::{self, NewSession, Opened, Refresh};
use entity::features::users::{accounts, signup::NewTenant};
use entity::models::{tenant, user};
use regex::Regex;

pub use entity::features::users::UserView;

use super::principal::Principal;
use super::{password, second_factor, tokens};
use crate::error::ApiError;
use crate::services::Services;

static SLUG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$").expect("static regex"));

/// What signup/login/refresh return.
#[derive(Debug, Clone)]
pub struct AuthPayload {
    pub access_token: String,
    pub refresh_token: String,
    pub user: UserView,
    pub tenant: tenant::Model,
}

/// `signup` input.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignupInput {
    pub tenant_name: String,
    pub tenant_slug: String,
    pub email: String,
    pub password: String,
    pub template: Option<String>,
}

/// `login` input.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginInput {
    pub tenant: String,
    pub email: String,
    pub password: String,
    /// A TOTP or recovery code, for a user with two-factor sign-in on (`second_factor`).
    #[serde(default)]
    pub totp_code: Option<String>,
}

const LOGIN_FAILED: &str = "invalid tenant, email or password";

/// A new session's first refresh token, and what the data layer stores of it.
pub(crate) fn new_session(state: &Services, tenant_id: &str) -> Result<(String, NewSession), ApiError> {
    let token = tokens::new_refresh_token(tenant_id)?;
    let ttl = Duration::seconds(state.config.refresh_token_ttl_secs as i64);
    let session = NewSession { refresh_hash: tokens::hash_refresh(&token), ttl };
    Ok((token, session))
}

/// The tokens and the user of a session just opened (or rotated).
pub(crate) fn payload(state: &Services, o: Opened, refresh_token: String) -> Result<AuthPayload, ApiError> {
    Ok(AuthPayload {
        access_token: state.keys.issue(&o.user.id, &o.tenant.id, &o.session.id)?,
        refresh_token,
        user: UserView::of(&o.user, o.role),
        tenant: o.tenant,
    })
}

/// Creates a tenant, its default roles, the owner user and a first session.
pub async fn signup(state: &Services, input: SignupInput) -> Result<AuthPayload, ApiError> {
    let mut errors = Vec::new();
    let name = input.tenant_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("tenantName", "must be 1 to 200 characters"));
    }
    if !SLUG.is_match(&input.tenant_slug) {
        errors.push(FieldError::new(
            "tenantSlug",
            "must be 3 to 63 lower-case letters, digits or dashes, not starting or ending with a dash",
        ));
    }
    let email = input.email.trim().to_lowercase();
    if !entity::runtime::value::is_email(&email) {
        errors.push(FieldError::new("email", "must be an email address"));
    }
    errors.extend(password::refusal("password", &input.password));
    let catalogue = entity::features::templates::catalogue(state.config.templates_dir.as_deref())?;
    let template = match input.template.as_deref() {
        Some(slug) => match catalogue.iter().find(|t| t.slug == slug) {
            Some(t) => Some(t),
            None => {
                let known: Vec<&str> = catalogue.iter().map(|t| t.slug.as_str()).collect();
                errors.push(FieldError::new(
                    "template",
                    format!("unknown template `{slug}` (available: {})", known.join(", ")),
                ));
                None
            }
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let password_hash = password::hash(&input.password).await?;
    let tenant_id = uuid::Uuid::new_v4().to_string();
    let (refresh_token, session) = new_session(state, &tenant_id)?;
    let txn = state.db.begin_tenant_write(&tenant_id).await?;
    let new = NewTenant {
        id: tenant_id,
        name: name.to_owned(),
        slug: input.tenant_slug.clone(),
        owner_email: email,
        password_hash,
    };
    let opened = entity::features::users::signup::signup(&txn, &state.db, new, template, session).await?;
    let slug = opened.tenant.slug.clone();
    let payload = payload(state, opened, refresh_token)?;
    txn.commit().await.map_err(ApiError::from)?;
    tracing::info!(tenant = %slug, "tenant signed up");
    Ok(payload)
}

/// The tenant with `slug` and its user with `email` (lower-cased), each when it exists.
pub async fn find_login(
    state: &Services,
    slug: &str,
    email: &str,
) -> Result<(Option<tenant::Model>, Option<user::Model>), ApiError> {
    let t = accounts::tenant_by_slug(&state.db.conn, slug.trim()).await?;
    let u = match &t {
        Some(t) => {
            let txn = state.db.begin_tenant_read(&t.id).await?;
            let u = accounts::by_email(&txn, &t.id, email).await?;
            txn.commit().await.map_err(ApiError::from)?;
            u
        }
        None => None,
    };
    Ok((t, u))
}

/// Checks credentials and opens a session. Every failure says the same thing.
pub async fn login(state: &Services, input: LoginInput) -> Result<AuthPayload, ApiError> {
    let email = input.email.trim().to_lowercase();
    let (t, u) = find_login(state, &input.tenant, &email).await?;
    let ok = password::verify(&input.password, u.as_ref().map(|u| u.password_hash.as_str())).await?;
    let Some(t) = t else { return Err(ApiError::Unauthenticated(LOGIN_FAILED.into())) };
    let Some(u) = u.filter(|u| ok && u.is_active) else {
        let txn = state.db.begin_tenant_write(&t.id).await?;
        sessions::login_failed(&txn, state.db.dialect, &t.id, &email).await?;
        txn.commit().await?;
        return Err(ApiError::Unauthenticated(LOGIN_FAILED.into()));
    };
    let (refresh_token, session) = new_session(state, &t.id)?;
    let txn = state.db.begin_tenant_write(&t.id).await?;
    if let Some(refused) = second_factor::refusal(state, &txn, &u, input.totp_code.as_deref()).await? {
        sessions::login_failed(&txn, state.db.dialect, &t.id, &email).await?;
        txn.commit().await?;
        return Err(refused);
    }
    let opened = sessions::login(&txn, state.db.dialect, &t, &u, session).await?;
    let payload = payload(state, opened, refresh_token)?;
    txn.commit().await.map_err(ApiError::from)?;
    Ok(payload)
}

/// Rotates a refresh token: the presented one dies, a new pair is issued.
pub async fn refresh(state: &Services, token: &str) -> Result<AuthPayload, ApiError> {
    let invalid = || ApiError::Unauthenticated("invalid refresh token".into());
    let hash = tokens::hash_refresh(token);
    let tenant_id = tokens::refresh_tenant(token).ok_or_else(invalid)?;
    let (refresh_token, next) = new_session(state, tenant_id)?;
    let txn = state.db.begin_tenant_write(tenant_id).await?;
    let refused = match sessions::rotate(&txn, state.db.dialect, tenant_id, &hash, next).await? {
        Refresh::Rotated(opened) => {
            txn.commit().await.map_err(ApiError::from)?;
            return payload(state, *opened, refresh_token);
        }
        Refresh::Unknown { revoked } => {
            // A rotated token seen again: its session was revoked, which must persist.
            if revoked {
                txn.commit().await.map_err(ApiError::from)?;
            }
            "invalid refresh token"
        }
        Refresh::Ended => "session revoked or expired",
        Refresh::UserInactive => "user is no longer active",
        Refresh::TenantGone => "tenant no longer exists",
    };
    Err(ApiError::Unauthenticated(refused.into()))
}

/// Revokes the caller's session now.
pub async fn logout(state: &Services, p: &Principal) -> Result<(), ApiError> {
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    sessions::logout(&txn, state.db.dialect, &p.tenant_id, &p.user_id, &p.session_id).await?;
    txn.commit().await?;
    Ok(())
}

/// Users of a tenant by id, with role names (for `createdBy`/`owner` and `me`).
pub async fn users_by_id(
    db: &entity::Db,
    tenant_id: &str,
    ids: &[String],
) -> Result<Vec<UserView>, ApiError> {
    let txn = db.begin_tenant_read(tenant_id).await?;
    let users = accounts::by_id(&txn, tenant_id, ids).await?;
    txn.commit().await?;
    Ok(users)
}
