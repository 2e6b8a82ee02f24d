//! OpenID Connect sign-in per tenant in GraphQL: administrators configure the tenant's identity
//! providers (`configureOidcProvider`, `oidcProviders`, `deleteOidcProvider`; the client secret
//! is written, never read back), and anyone signs in through one with the public
//! `startOidcLogin` (the provider's authorization URL for the browser) and `completeOidcLogin`
//! (the code and state the provider sent back: the same tokens as `login`). The flow itself is
//! `crate::auth::oidc`.

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Type, TypeRef,
};
use entity::models::oidc_provider;
use entity::runtime::naming::{fields as f, types as t};

use crate::auth::oidc::{self, LoginStart, ProviderConfig};
use crate::error::ApiError;
use crate::rate::{self, Action};
use crate::schema::args::{self, arg_json};
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot, admin_types};
use crate::schema::values::{json, s, sync_field, ts};

/// `OidcProvider` and `ConfigureOidcProviderInput` (administrators' schemas only).
fn types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let strings = || TypeRef::named_nn_list_nn(TypeRef::STRING);
    let boolean = || TypeRef::named_nn(TypeRef::BOOLEAN);
    let time = || TypeRef::named_nn(t::DATE_TIME);
    type P = oidc_provider::Model;
    vec![
        Object::new(t::OIDC_PROVIDER)
            .description("An OpenID Connect identity provider users of this tenant sign in with. Its client secret is never shown.")
            .field(sync_field::<P>("key", string(), |p| s(&p.provider_key)))
            .field(sync_field::<P>("issuer", string(), |p| s(&p.issuer)))
            .field(sync_field::<P>("clientId", string(), |p| s(&p.client_id)))
            .field(sync_field::<P>("scopes", strings(), |p| json(&p.scopes)))
            .field(sync_field::<P>("defaultRole", string(), |p| s(&p.default_role)))
            .field(sync_field::<P>("allowSignup", boolean(), |p| Some(Value::from(p.allow_signup))))
            .field(sync_field::<P>("allowedEmailDomains", strings(), |p| json(&p.allowed_email_domains)))
            .field(
                sync_field::<P>("redirectUris", strings(), |p| json(&p.redirect_uris))
                    .description("The only URIs a login may come back to (`startOidcLogin(redirectUri)`)."),
            )
            .field(sync_field::<P>("createdAt", time(), |p| ts(&p.created_at)))
            .field(sync_field::<P>("updatedAt", time(), |p| ts(&p.updated_at)))
            .into(),
        InputObject::new(t::CONFIGURE_OIDC_PROVIDER_INPUT)
            .description("A provider to create, or the new configuration of the one with this key.")
            .field(InputValue::new("key", string()).description("The provider's name in this tenant (`google`, `okta`): lower-case letters, digits, `-`, `_`."))
            .field(InputValue::new("issuer", string()).description("The issuer URL; `{issuer}/.well-known/openid-configuration` must answer."))
            .field(InputValue::new("clientId", string()))
            .field(
                InputValue::new("clientSecret", TypeRef::named(TypeRef::STRING))
                    .description("Required for a new provider; left out, an update keeps the stored one. Stored sealed, never shown."),
            )
            .field(
                InputValue::new("scopes", TypeRef::named_nn_list(TypeRef::STRING))
                    .description("Scopes to ask for (default `openid email profile`; `openid` is always asked)."),
            )
            .field(
                InputValue::new("defaultRole", TypeRef::named(TypeRef::STRING))
                    .description("The role name of users created at first sign-in (default `member`; never `owner`)."),
            )
            .field(
                InputValue::new("allowSignup", TypeRef::named(TypeRef::BOOLEAN))
                    .description("Whether a verified email no user has creates a user (default false)."),
            )
            .field(
                InputValue::new("allowedEmailDomains", TypeRef::named_nn_list(TypeRef::STRING))
                    .description("Email domains new users may come from (default: any)."),
            )
            .field(
                InputValue::new("redirectUris", TypeRef::named_nn_list(TypeRef::STRING))
                    .description("The http(s) URIs a login may come back to, matched exactly (1 to 20). Required for a new provider; left out, an update keeps the stored list."),
            )
            .into(),
    ]
}

/// `OidcLoginStart`, in every schema (its operation is public).
fn public_types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    vec![
        Object::new(t::OIDC_LOGIN_START)
            .description("Where to send the browser to sign in, and the state to complete the login with.")
            .field(sync_field::<LoginStart>("authorizationUrl", string(), |l| s(&l.authorization_url)))
            .field(sync_field::<LoginStart>("state", string(), |l| s(&l.state)))
            .into(),
    ]
}

/// `oidcProviders`.
fn providers() -> Field {
    Field::new(f::OIDC_PROVIDERS, TypeRef::named_nn_list_nn(t::OIDC_PROVIDER), |c| {
        FieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let list = oidc::providers(ctx::state(&c)?, ctx::principal(&c)?).await?;
            Ok(Some(FieldValue::list(list.into_iter().map(FieldValue::owned_any))))
        })
    })
    .description("This tenant's OpenID Connect providers.")
}

/// `configureOidcProvider(input)` and `deleteOidcProvider(key)`.
fn mutations() -> Vec<Field> {
    vec![
        Field::new(f::CONFIGURE_OIDC_PROVIDER, TypeRef::named_nn(t::OIDC_PROVIDER), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let input = arg_json(&c, "input")?.unwrap_or_default();
                let config: ProviderConfig = serde_json::from_value(input)
                    .map_err(|e| ApiError::BadRequest(format!("input: {e}")).to_graphql())?;
                let (state, p, actor) = (ctx::state(&c)?, ctx::principal(&c)?, ctx::actor(&c)?);
                let saved = oidc::configure(state, p, &actor, config).await?;
                Ok(Some(FieldValue::owned_any(saved)))
            })
        })
        .argument(InputValue::new("input", TypeRef::named_nn(t::CONFIGURE_OIDC_PROVIDER_INPUT)))
        .description("Creates or updates an OpenID Connect provider; its discovery document must answer."),
        Field::new(f::DELETE_OIDC_PROVIDER, TypeRef::named_nn(TypeRef::BOOLEAN), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p, actor) = (ctx::state(&c)?, ctx::principal(&c)?, ctx::actor(&c)?);
                oidc::delete(state, p, &actor, &args::string(&c, "key")?).await?;
                Ok(Some(Value::from(true)))
            })
        })
        .argument(InputValue::new("key", TypeRef::named_nn(TypeRef::STRING)))
        .description("Deletes a provider and its users' links to it (the users stay)."),
    ]
}

/// The public `startOidcLogin` and `completeOidcLogin`, charged to the login budgets.
fn public_mutations() -> Vec<Field> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    vec![
        Field::new(f::START_OIDC_LOGIN, TypeRef::named_nn(t::OIDC_LOGIN_START), |c| {
            FieldFuture::new(async move {
                let (tenant, provider) = (args::string(&c, "tenant")?, args::string(&c, "provider")?);
                ctx::attempt(&c, Action::Login, &[&rate::account(&[&tenant, "oidc", &provider])]).await?;
                let start = oidc::start(ctx::state(&c)?, &tenant, &provider, &args::string(&c, "redirectUri")?).await?;
                Ok(Some(FieldValue::owned_any(start)))
            })
        })
        .argument(InputValue::new("tenant", string()).description("The tenant's slug."))
        .argument(InputValue::new("provider", string()).description("The provider's key."))
        .argument(InputValue::new("redirectUri", string()).description("Where the provider sends the browser back with `code` and `state`: one of the provider's `redirectUris` (else VALIDATION_FAILED)."))
        .description("Starts signing in with a tenant's OpenID Connect provider: send the browser to `authorizationUrl`."),
        Field::new(f::COMPLETE_OIDC_LOGIN, TypeRef::named_nn(t::AUTH_PAYLOAD), |c| {
            FieldFuture::new(async move {
                let login_state = args::string(&c, "state")?;
                ctx::attempt(&c, Action::Login, &[&login_state]).await?;
                let payload = oidc::complete(ctx::state(&c)?, &login_state, &args::string(&c, "code")?).await?;
                Ok(Some(FieldValue::owned_any(payload)))
            })
        })
        .argument(InputValue::new("state", string()))
        .argument(InputValue::new("code", string()))
        .description("Completes an OpenID Connect sign-in with the `state` and `code` the provider sent back (each state once)."),
    ]
}

/// Providers (administrators) and the public OpenID Connect sign-in.
pub static FEATURE: Declared = Declared {
    public_mutations,
    public_types,
    queries: &[(Slot::Admin, |_| vec![providers()])],
    mutations: &[(Slot::Admin, |_| mutations())],
    types: |a| admin_types(a, types),
    ..Declared::EMPTY
};
