//! Sign-in through a tenant's OpenID Connect providers: the authorization code flow with PKCE
//! (S256). `start` remembers a login (the hash of its `state`, its nonce and PKCE verifier,
//! for ten minutes) and answers the provider's authorization URL; `complete` takes the login
//! back once, exchanges the code at the token endpoint, verifies the ID token (`id_token`) and
//! opens a session for the user it names (`entity::features::users::oidc::sign_in`), with the
//! same tokens as a password login. Administrators configure providers (`configure`): the
//! issuer's discovery document must answer, and the client secret is sealed before it is stored.
//! A login may only come back to one of the provider's `redirectUris` (exact match). The
//! protocol's HTTP is `provider`, which refuses non-public addresses unless the operator allows
//! them. Two first logins of one subject at once make one user: the loser of the race on the
//! unique keys signs in again and finds the winner's.

pub mod id_token;
pub mod provider;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use entity::FieldError;
use entity::features::users::oidc::{self, Claimed, PendingLogin, ProviderInput, Refusal};
use entity::models::{oidc_provider, tenant};
use entity::runtime::audit::Actor;
use sea_orm::EntityTrait;
use sha2::{Digest, Sha256};

use super::principal::Principal;
use super::service::{self, AuthPayload};
use super::tokens;
use crate::admin::admin;
use crate::error::ApiError;
use crate::services::{Services, Txn};

/// How long a started login may take to complete.
const LOGIN_TTL_MINUTES: i64 = 10;

/// `configureOidcProvider`'s input.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfig {
    pub key: String,
    pub issuer: String,
    pub client_id: String,
    /// Required for a new provider; left out, an update keeps the stored one.
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub default_role: Option<String>,
    pub allow_signup: Option<bool>,
    pub allowed_email_domains: Option<Vec<String>>,
    /// Required for a new provider; left out, an update keeps the stored list.
    pub redirect_uris: Option<Vec<String>>,
}

/// How many times a first sign-in is tried again after losing a race on a unique key.
const RACE_RETRIES: usize = 2;

/// What provider requests of this server may reach.
fn reach(state: &Services) -> provider::Reach {
    provider::Reach::of(state.config.oidc_allow_private_network)
}

/// A redirect URI in the one form it is stored and compared in: an http(s) URL without
/// fragment, as the URL parser writes it.
fn normal_redirect(uri: &str) -> Option<String> {
    reqwest::Url::parse(uri.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.fragment().is_none() && u.has_host())
        .map(|u| u.to_string())
}

/// The scopes asked for when the configuration names none.
const DEFAULT_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// The role of users a provider creates when the configuration names none.
const DEFAULT_ROLE: &str = "member";

/// Creates or updates a provider of the caller's tenant, once its discovery document answers.
pub async fn configure(
    state: &Services,
    p: &Principal,
    actor: &Actor,
    config: ProviderConfig,
) -> Result<oidc_provider::Model, ApiError> {
    let secret = config.client_secret.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let context = secret_context(&p.tenant_id, &config.key);
    let redirect_uris = match config.redirect_uris {
        Some(uris) => Some(
            uris.iter()
                .enumerate()
                .map(|(i, u)| {
                    normal_redirect(u).ok_or_else(|| {
                        ApiError::Validation(vec![FieldError::new(
                            format!("redirectUris[{i}]"),
                            "must be an http(s) URL without fragment",
                        )])
                    })
                })
                .collect::<Result<Vec<String>, ApiError>>()?,
        ),
        None => None,
    };
    let input = ProviderInput {
        key: config.key,
        issuer: config.issuer,
        client_id: config.client_id,
        client_secret_sealed: secret.map(|s| state.sealer.seal(s.as_bytes(), &context)).transpose()?,
        scopes: config.scopes.unwrap_or_else(|| DEFAULT_SCOPES.map(str::to_owned).to_vec()),
        default_role: config.default_role.unwrap_or_else(|| DEFAULT_ROLE.to_owned()),
        allow_signup: config.allow_signup.unwrap_or(false),
        allowed_email_domains: config.allowed_email_domains.unwrap_or_default(),
        redirect_uris,
    }
    .check()
    .map_err(ApiError::Validation)?;
    // A provider that cannot be discovered now is a configuration error, said at once.
    provider::known(&input.issuer, reach(state))
        .await
        .map_err(|e| ApiError::Validation(vec![FieldError::new("issuer", e.0)]))?;
    state
        .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
            oidc::configure(txn, state.db.dialect, &admin(p, actor), input).await
        })
        .await
}

/// The caller's tenant's providers.
pub async fn providers(state: &Services, p: &Principal) -> Result<Vec<oidc_provider::Model>, ApiError> {
    state.in_tenant(&p.tenant_id, Txn::Read, async |txn| oidc::list(txn, &p.tenant_id).await).await
}

/// Deletes a provider of the caller's tenant.
pub async fn delete(state: &Services, p: &Principal, actor: &Actor, key: &str) -> Result<(), ApiError> {
    state
        .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
            oidc::delete(txn, state.db.dialect, &admin(p, actor), key).await
        })
        .await
}

/// Where to send the browser, and the state that comes back with the code.
#[derive(Debug, Clone)]
pub struct LoginStart {
    pub authorization_url: String,
    pub state: String,
}

/// `n` random bytes, base64url.
fn random_text(n: usize) -> Result<String, ApiError> {
    Ok(URL_SAFE_NO_PAD.encode(tokens::random_bytes(n)?))
}

/// Starts a login at `tenant_slug`'s provider `key`, coming back to `redirect_uri`.
pub async fn start(
    state: &Services,
    tenant_slug: &str,
    key: &str,
    redirect_uri: &str,
) -> Result<LoginStart, ApiError> {
    let bad_redirect = |why: &str| ApiError::Validation(vec![FieldError::new("redirectUri", why.to_owned())]);
    let redirect = normal_redirect(redirect_uri)
        .ok_or_else(|| bad_redirect("must be an http(s) URL without fragment"))?;
    let unknown = || ApiError::NotFound("OIDC provider".into());
    let tenant = entity::features::users::accounts::tenant_by_slug(&state.db.conn, tenant_slug.trim())
        .await?
        .ok_or_else(unknown)?;
    let p = state
        .in_tenant(&tenant.id, Txn::Read, async |txn| oidc::find(txn, &tenant.id, key).await)
        .await?
        .ok_or_else(unknown)?;
    // Else the code (and the browser) could be sent to a page of whoever started the login.
    if !oidc::redirect_allowed(&p, &redirect) {
        return Err(bad_redirect("is not one of this provider's redirectUris"));
    }
    let known = provider::known(&p.issuer, reach(state))
        .await
        .map_err(|e| ApiError::BadRequest(format!("the identity provider cannot be reached: {}", e.0)))?;
    let login_state = tokens::new_refresh_token(&tenant.id)?;
    let (nonce, verifier) = (random_text(16)?, random_text(32)?);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let scopes: Vec<String> = serde_json::from_value(p.scopes.clone()).unwrap_or_default();
    let mut url = reqwest::Url::parse(&known.metadata.authorization_endpoint).map_err(|_| {
        ApiError::BadRequest("the identity provider's authorization endpoint is not a URL".into())
    })?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &p.client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", &scopes.join(" "))
        .append_pair("state", &login_state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let pending = PendingLogin {
        state_hash: tokens::hash_refresh(&login_state),
        provider_key: p.provider_key.clone(),
        nonce,
        code_verifier: verifier,
        redirect_uri: redirect,
        ttl: Duration::minutes(LOGIN_TTL_MINUTES),
    };
    state.in_tenant(&tenant.id, Txn::Write, async |txn| oidc::begin(txn, &tenant.id, pending).await).await?;
    Ok(LoginStart { authorization_url: url.to_string(), state: login_state })
}

/// Completes the login `login_state` with the provider's `code`: one attempt per state.
pub async fn complete(state: &Services, login_state: &str, code: &str) -> Result<AuthPayload, ApiError> {
    let refused = |why: &str| ApiError::Unauthenticated(why.to_owned());
    let invalid = || refused("invalid or expired login state");
    let tenant_id = tokens::refresh_tenant(login_state).ok_or_else(invalid)?;
    let hash = tokens::hash_refresh(login_state);
    // Taken in a transaction of its own: a state is spent even when what follows fails.
    let login =
        state.in_tenant(tenant_id, Txn::Write, async |txn| oidc::take(txn, tenant_id, &hash).await).await?;
    let login = login.ok_or_else(invalid)?;
    let (tenant, p) = state
        .in_tenant(tenant_id, Txn::Read, async |txn| {
            let tenant = tenant::Entity::find_by_id(tenant_id.to_owned()).one(txn).await?;
            Ok::<_, entity::Error>((tenant, oidc::find(txn, tenant_id, &login.provider_key).await?))
        })
        .await?;
    let (Some(tenant), Some(p)) = (tenant, p) else {
        return Err(refused("the login's identity provider is no longer configured"));
    };
    let provider_error =
        |e: provider::ProviderError| refused(&format!("the identity provider refused the login: {}", e.0));
    let known = provider::known(&p.issuer, reach(state)).await.map_err(provider_error)?;
    // Unreadable only when the server secret changed since it was sealed: say what cures it.
    let opened = state.sealer.open(&p.client_secret_sealed, &secret_context(&p.tenant_id, &p.provider_key));
    let client_secret = opened.and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
        refused("this provider's client secret no longer opens (the server secret changed): an administrator must enter it again")
    })?;
    let exchange = provider::Exchange {
        client_id: &p.client_id,
        client_secret: &client_secret,
        code,
        redirect_uri: &login.redirect_uri,
        code_verifier: &login.code_verifier,
    };
    let answer =
        provider::exchange(&known.metadata, &exchange, reach(state)).await.map_err(provider_error)?;
    let token =
        answer.id_token.ok_or_else(|| refused("the identity provider answered without an ID token"))?;
    let claims = id_token::verify(&token, &p.issuer, &p.client_id, &login.nonce, reach(state))
        .await
        .map_err(|e| match e {
            id_token::Refused::Token(why) => refused(why),
            id_token::Refused::Provider(e) => provider_error(e),
        })?;
    let who = Claimed {
        subject: claims.sub.clone(),
        email: claims.email.as_deref().map(|e| e.trim().to_lowercase()),
        email_verified: claims.email_verified(),
        name: claims.name.clone(),
    };
    let (refresh_token, session) = service::new_session(state, tenant_id)?;
    let mut retries = 0;
    let signed = loop {
        let txn = state.db.begin_tenant_write(tenant_id).await?;
        match oidc::sign_in(&txn, state.db.dialect, (&tenant, &p), &who, session.clone()).await {
            Ok(signed) => {
                // The session, or the refusal's audit entry.
                txn.commit().await?;
                break signed;
            }
            // Another first login of this subject (or email) inserted the user or the link
            // first (PostgreSQL; SQLite runs writers one at a time): signing in again finds it.
            Err(e) if e.is_unique_violation() && retries < RACE_RETRIES => {
                retries += 1;
                txn.rollback().await?;
            }
            Err(e) => return Err(e.into()),
        }
    };
    match signed {
        Ok(opened) => service::payload(state, opened, refresh_token),
        Err(refusal) => Err(refusal_error(refusal)),
    }
}

/// The error a client sees for a verified identity that does not sign in.
fn refusal_error(refusal: Refusal) -> ApiError {
    let forbidden = |why: &str| ApiError::Forbidden(why.to_owned());
    match refusal {
        Refusal::Inactive => ApiError::Unauthenticated("this user is deactivated".into()),
        Refusal::SignupClosed => {
            forbidden("no user has this email, and this provider does not sign new users up")
        }
        Refusal::DomainNotAllowed => forbidden("this provider does not sign up users of this email domain"),
        Refusal::EmailUnverified => {
            forbidden("the identity provider gave no verified email to find or create the user by")
        }
        Refusal::RoleGone => forbidden("this provider's default role no longer exists"),
    }
}

/// What a provider's sealed client secret is bound to: a sealed value copied onto another
/// provider's or tenant's row does not open.
fn secret_context(tenant_id: &str, provider_key: &str) -> String {
    format!("oidc-client-secret:{tenant_id}:{provider_key}")
}
