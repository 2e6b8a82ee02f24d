//! OpenID Connect sign-in per tenant, in the data layer: the tenant's identity providers
//! (`configure`, `list`, `find`, `delete`), the logins under way between `startOidcLogin` and
//! `completeOidcLogin` (`begin`, `take`: single use, expiring), and the sign-in itself
//! (`sign_in`): the user a provider subject is linked to, else the active user with the
//! verified email (then linked), else a new user when the provider allows signup. The protocol
//! (discovery, tokens, signatures) and the client secret in clear are the API's business: this
//! module stores the secret only sealed, and takes only what a verified ID token said.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};

use super::sessions::{self, NewSession, Opened};
use super::{Admin, OWNER_ROLE, accounts};
use crate::models::{
    oidc_identity as identity, oidc_login as login, oidc_provider as provider, role, tenant, user,
};
use crate::runtime::time;
use crate::{Dialect, Error, FieldError, Result};

/// A provider's configuration as `configureOidcProvider` takes it, checked (`ProviderInput::check`).
#[derive(Debug, Clone)]
pub struct ProviderInput {
    pub key: String,
    pub issuer: String,
    pub client_id: String,
    /// Sealed by the API; `None` keeps the stored one (an update), and is refused for a new provider.
    pub client_secret_sealed: Option<String>,
    pub scopes: Vec<String>,
    pub default_role: String,
    pub allow_signup: bool,
    pub allowed_email_domains: Vec<String>,
    /// The redirect URIs a login may come back to (normalised by the API); `None` keeps the
    /// stored ones (an update), and is refused for a new provider.
    pub redirect_uris: Option<Vec<String>>,
}

/// Most redirect URIs a provider may allow.
pub const MAX_REDIRECT_URIS: usize = 20;

impl ProviderInput {
    /// Every member's problems, in one list: a key of 1 to 64 lower-case letters, digits,
    /// `-` or `_`; an http(s) issuer without query or fragment; a client id; scopes (with
    /// `openid` added when missing); email domains (lower-cased).
    pub fn check(mut self) -> std::result::Result<ProviderInput, Vec<FieldError>> {
        let mut errors = Vec::new();
        self.key = self.key.trim().to_owned();
        let key_ok = !self.key.is_empty()
            && self.key.len() <= 64
            && self
                .key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !key_ok {
            errors.push(FieldError::new("key", "must be 1 to 64 lower-case letters, digits, `-` or `_`"));
        }
        self.issuer = self.issuer.trim().trim_end_matches('/').to_owned();
        let scheme_ok = self.issuer.starts_with("https://") || self.issuer.starts_with("http://");
        if !scheme_ok || self.issuer.contains(['?', '#', ' ']) || self.issuer.len() > 2048 {
            errors.push(FieldError::new("issuer", "must be an http(s) URL without query or fragment"));
        }
        self.client_id = self.client_id.trim().to_owned();
        if self.client_id.is_empty() || self.client_id.len() > 512 {
            errors.push(FieldError::new("clientId", "must be 1 to 512 characters"));
        }
        if self.scopes.iter().any(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic() && b != b'"')) {
            errors.push(FieldError::new("scopes", "each scope must be a non-empty word"));
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            self.scopes.insert(0, "openid".into());
        }
        self.scopes.dedup();
        self.allowed_email_domains =
            self.allowed_email_domains.iter().map(|d| d.trim().to_lowercase()).collect();
        if self.allowed_email_domains.iter().any(|d| d.is_empty() || d.contains(['@', ' '])) {
            errors
                .push(FieldError::new("allowedEmailDomains", "each must be a domain such as `example.com`"));
        }
        if let Some(uris) = &mut self.redirect_uris {
            uris.dedup();
            if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS || uris.iter().any(|u| u.len() > 2048) {
                errors.push(FieldError::new(
                    "redirectUris",
                    format!("must list 1 to {MAX_REDIRECT_URIS} URLs of at most 2048 characters"),
                ));
            }
        }
        if errors.is_empty() { Ok(self) } else { Err(errors) }
    }
}

/// Whether `redirect_uri` (normalised as the API normalises the allowed ones) is one provider
/// `p` allows a login to come back to: an exact match, as OAuth 2.0 Security BCP asks.
pub fn redirect_allowed(p: &provider::Model, redirect_uri: &str) -> bool {
    p.redirect_uris.as_array().is_some_and(|l| l.iter().any(|u| u.as_str() == Some(redirect_uri)))
}

/// Creates or updates the tenant's provider `input.key`.
pub async fn configure(
    conn: &impl ConnectionTrait,
    d: Dialect,
    admin: &Admin<'_>,
    input: ProviderInput,
) -> Result<provider::Model> {
    let default_role = role::Entity::find()
        .filter(role::Column::TenantId.eq(admin.tenant_id))
        .filter(role::Column::Name.eq(&input.default_role))
        .one(conn)
        .await?;
    match default_role {
        None => {
            return Err(Error::field("defaultRole", format!("no role is named `{}`", input.default_role)));
        }
        Some(r) if r.name == OWNER_ROLE => {
            return Err(Error::field("defaultRole", "new users cannot be owners"));
        }
        Some(_) => {}
    }
    let now = time::now();
    let existing = find(conn, admin.tenant_id, &input.key).await?;
    let creating = existing.is_none();
    let secret_changed = input.client_secret_sealed.is_some();
    let mut am: provider::ActiveModel = match existing {
        Some(p) => p.into(),
        None => provider::ActiveModel {
            tenant_id: Set(admin.tenant_id.to_owned()),
            provider_key: Set(input.key.clone()),
            created_at: Set(now),
            ..Default::default()
        },
    };
    match input.client_secret_sealed {
        Some(sealed) => am.client_secret_sealed = Set(sealed),
        None if creating => {
            return Err(Error::field("clientSecret", "is required for a new provider"));
        }
        None => {}
    }
    match &input.redirect_uris {
        Some(uris) => am.redirect_uris = Set(json!(uris)),
        None if creating => {
            return Err(Error::field("redirectUris", "is required for a new provider"));
        }
        None => {}
    }
    am.issuer = Set(input.issuer.clone());
    am.client_id = Set(input.client_id.clone());
    am.scopes = Set(json!(input.scopes));
    am.default_role = Set(input.default_role.clone());
    am.allow_signup = Set(input.allow_signup);
    am.allowed_email_domains = Set(json!(input.allowed_email_domains));
    am.updated_at = Set(now);
    let saved = if creating { am.insert(conn).await? } else { am.update(conn).await? };
    let changes = json!({
        "issuer": input.issuer, "clientId": input.client_id, "scopes": input.scopes,
        "defaultRole": input.default_role, "allowSignup": input.allow_signup,
        "allowedEmailDomains": input.allowed_email_domains, "clientSecretChanged": secret_changed,
        "redirectUris": input.redirect_uris,
    });
    admin.audit(conn, d, "oidc_provider.configure", ("oidc_provider", &input.key), changes).await?;
    Ok(saved)
}

/// The tenant's providers, by key.
pub async fn list(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Vec<provider::Model>> {
    Ok(provider::Entity::find()
        .filter(provider::Column::TenantId.eq(tenant_id))
        .order_by_asc(provider::Column::ProviderKey)
        .all(conn)
        .await?)
}

/// The tenant's provider `key`, if it has one.
pub async fn find(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    key: &str,
) -> Result<Option<provider::Model>> {
    Ok(provider::Entity::find_by_id((tenant_id.to_owned(), key.to_owned())).one(conn).await?)
}

/// Deletes the provider `key` with its subjects' links (its logins under way fail to complete).
pub async fn delete(conn: &impl ConnectionTrait, d: Dialect, admin: &Admin<'_>, key: &str) -> Result<()> {
    let gone =
        provider::Entity::delete_by_id((admin.tenant_id.to_owned(), key.to_owned())).exec(conn).await?;
    if gone.rows_affected == 0 {
        return Err(Error::NotFound("OIDC provider".into()));
    }
    identity::Entity::delete_many()
        .filter(identity::Column::TenantId.eq(admin.tenant_id))
        .filter(identity::Column::ProviderKey.eq(key))
        .exec(conn)
        .await?;
    admin.audit(conn, d, "oidc_provider.delete", ("oidc_provider", key), json!({})).await
}

/// A login to remember until it completes: the hash of its `state`, and what completing it needs.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub state_hash: String,
    pub provider_key: String,
    pub nonce: String,
    pub code_verifier: String,
    pub redirect_uri: String,
    pub ttl: Duration,
}

/// Remembers a login under way (and forgets the tenant's expired ones).
pub async fn begin(conn: &impl ConnectionTrait, tenant_id: &str, p: PendingLogin) -> Result<()> {
    let now = time::now();
    login::Entity::delete_many()
        .filter(login::Column::TenantId.eq(tenant_id))
        .filter(login::Column::ExpiresAt.lt(now))
        .exec(conn)
        .await?;
    login::ActiveModel {
        state_hash: Set(p.state_hash),
        tenant_id: Set(tenant_id.to_owned()),
        provider_key: Set(p.provider_key),
        nonce: Set(p.nonce),
        code_verifier: Set(p.code_verifier),
        redirect_uri: Set(p.redirect_uri),
        expires_at: Set(now + p.ttl),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The login under way whose state hashes to `state_hash`, forgotten as it is read: a state
/// completes at most once, even when two completions race (only the one whose delete took the
/// row gets it). `None` when there is none, or it expired.
pub async fn take(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    state_hash: &str,
) -> Result<Option<login::Model>> {
    let Some(found) = login::Entity::find_by_id(state_hash.to_owned())
        .filter(login::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let gone = login::Entity::delete_by_id(state_hash.to_owned()).exec(conn).await?;
    Ok(Some(found).filter(|l| gone.rows_affected == 1 && l.expires_at > Utc::now()))
}

/// Who a verified ID token says signed in.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub subject: String,
    /// Lower-cased.
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Why a verified identity does not sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The user it names is deactivated (or has a pending invitation).
    Inactive,
    /// No user has the email, and the provider does not create users.
    SignupClosed,
    /// No user has the email, and its domain is not one the provider may create users from.
    DomainNotAllowed,
    /// No link yet, and the provider did not say the email is verified (or gave none).
    EmailUnverified,
    /// The provider's default role is gone.
    RoleGone,
}

impl Refusal {
    fn reason(self) -> &'static str {
        match self {
            Refusal::Inactive => "user inactive",
            Refusal::SignupClosed => "signup not allowed",
            Refusal::DomainNotAllowed => "email domain not allowed",
            Refusal::EmailUnverified => "email not verified",
            Refusal::RoleGone => "default role missing",
        }
    }
}

/// Signs `who` in through provider `p` of tenant `t`: opens a session for the user the subject
/// is linked to, else for the active user with the verified email (linking the subject), else
/// for a new user with the provider's default role when it allows signup from the email's
/// domain. A refusal is audited (the caller commits it) and returned.
pub async fn sign_in(
    conn: &impl ConnectionTrait,
    d: Dialect,
    (t, p): (&tenant::Model, &provider::Model),
    who: &Claimed,
    new: NewSession,
) -> Result<std::result::Result<Opened, Refusal>> {
    let user = match linked(conn, p, &who.subject).await? {
        Some(u) => Ok(u),
        None => match (&who.email, who.email_verified) {
            (Some(email), true) => match super::accounts::by_email(conn, &t.id, email).await? {
                Some(u) => {
                    link(conn, d, p, &who.subject, &u.id).await?;
                    Ok(u)
                }
                None => create(conn, d, p, who, email).await?,
            },
            _ => Err(Refusal::EmailUnverified),
        },
    };
    let user = user.and_then(|u| if u.is_active { Ok(u) } else { Err(Refusal::Inactive) });
    let u = match user {
        Ok(u) => u,
        Err(refusal) => {
            let changes = json!({"provider": p.provider_key, "email": who.email, "reason": refusal.reason()});
            sessions::audit_auth(conn, d, &t.id, None, "auth.login_failed", changes).await?;
            return Ok(Err(refusal));
        }
    };
    let role = super::roles::name_of(conn, &u.role_id).await?;
    let session = sessions::open(conn, &u, new).await?;
    let changes = json!({"provider": p.provider_key});
    sessions::audit_auth(conn, d, &t.id, Some(&u.id), "auth.login", changes).await?;
    Ok(Ok(Opened { session, user: u, role, tenant: t.clone() }))
}

/// The user the provider's `subject` is linked to.
async fn linked(
    conn: &impl ConnectionTrait,
    p: &provider::Model,
    subject: &str,
) -> Result<Option<user::Model>> {
    let key = (p.tenant_id.clone(), p.provider_key.clone(), subject.to_owned());
    let Some(link) = identity::Entity::find_by_id(key).one(conn).await? else { return Ok(None) };
    super::accounts::find(conn, &p.tenant_id, &link.user_id).await.map(Some)
}

/// Links the provider's `subject` to `user_id` (audited as the user's).
async fn link(
    conn: &impl ConnectionTrait,
    d: Dialect,
    p: &provider::Model,
    subject: &str,
    user_id: &str,
) -> Result<()> {
    identity::ActiveModel {
        tenant_id: Set(p.tenant_id.clone()),
        provider_key: Set(p.provider_key.clone()),
        subject: Set(subject.to_owned()),
        user_id: Set(user_id.to_owned()),
        created_at: Set(time::now()),
    }
    .insert(conn)
    .await?;
    let changes = json!({"provider": p.provider_key, "subject": subject});
    audit_user(conn, d, &p.tenant_id, user_id, "user.oidc_link", changes).await
}

/// A new active user with the verified `email` and the provider's default role, linked to the
/// subject; or why the provider may not create one.
async fn create(
    conn: &impl ConnectionTrait,
    d: Dialect,
    p: &provider::Model,
    who: &Claimed,
    email: &str,
) -> Result<std::result::Result<user::Model, Refusal>> {
    if !p.allow_signup {
        return Ok(Err(Refusal::SignupClosed));
    }
    let domains: Vec<String> = serde_json::from_value(p.allowed_email_domains.clone()).unwrap_or_default();
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    if !domains.is_empty() && !domains.iter().any(|d| d == domain) {
        return Ok(Err(Refusal::DomainNotAllowed));
    }
    let role = role::Entity::find()
        .filter(role::Column::TenantId.eq(&p.tenant_id))
        .filter(role::Column::Name.eq(&p.default_role))
        .one(conn)
        .await?;
    let Some(role) = role.filter(|r| r.name != OWNER_ROLE) else { return Ok(Err(Refusal::RoleGone)) };
    let now: DateTime<Utc> = time::now();
    // Signs in through the provider only: no password can match `!oidc`.
    let mut u = accounts::new_user(&p.tenant_id, email, &role.id, "!oidc".into(), now);
    u.name = Set(who.name.clone().filter(|n| !n.trim().is_empty() && n.chars().count() <= 200));
    let u = u.insert(conn).await?;
    let changes = json!({"email": email, "role": role.name, "provider": p.provider_key});
    audit_user(conn, d, &p.tenant_id, &u.id, "user.oidc_signup", changes).await?;
    link(conn, d, p, &who.subject, &u.id).await?;
    Ok(Ok(u))
}

/// Appends an entry on user `user_id`, made by that user.
async fn audit_user(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    user_id: &str,
    action: &str,
    changes: Value,
) -> Result<()> {
    let actor = crate::runtime::audit::Actor::user(user_id, None);
    let entry =
        crate::runtime::audit::Entry { action, object_type: "user", object_id: Some(user_id), changes };
    crate::runtime::audit::append(conn, d, tenant_id, &actor, &entry).await
}
