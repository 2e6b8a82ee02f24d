//! The request's side of label translation: gathers what `entity::runtime::i18n::Languages`
//! resolves from — a field's `lang` argument, the request's `Accept-Language` (a socket's
//! `connection_init` payload), the caller's locale and the tenant's default language — so
//! every resolver that shows a label asks here and nowhere else.
//!
//! The locale and the tenant default are read once per request (one read transaction, on
//! the first label shown) and kept in the request's [`RequestLanguage`]. On a socket the
//! request is each operation, not the connection (`RequestLanguage::for_operation`): a
//! subscription's labels follow its own `extensions.lang` (else the connection's language), and
//! the user's locale as it is when the subscription starts — a locale changed by
//! `updateProfile` reaches the next operation of an open socket. A running subscription keeps
//! the language it started with, so the events of one subscription never change language
//! midway.

use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dynamic::ResolverContext;
use entity::models::{tenant, user};
use entity::runtime::i18n::{Languages, Sources};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::OnceCell;

use super::{args, ctx};
use crate::error::ApiError;
use crate::services::Txn;

/// Longest `Accept-Language` value read (a header is client input).
const MAX_HEADER: usize = 512;

/// What the transport knows of a request's language, in its data (HTTP request or socket).
#[derive(Default)]
pub struct RequestLanguage {
    accept: Option<String>,
    /// The caller's locale and the tenant's default language, once read.
    defaults: OnceCell<(Option<String>, Option<String>)>,
}

impl RequestLanguage {
    /// From an `Accept-Language` value (an over-long one is ignored).
    pub fn new(accept: Option<&str>) -> RequestLanguage {
        let accept = accept.map(str::trim).filter(|a| !a.is_empty() && a.len() <= MAX_HEADER);
        RequestLanguage { accept: accept.map(str::to_owned), defaults: OnceCell::new() }
    }

    /// Whether it names a language.
    pub fn asks(&self) -> bool {
        self.accept.is_some()
    }

    /// The language it names, as given.
    pub fn accept(&self) -> Option<&str> {
        self.accept.as_deref()
    }

    /// From a `connection_init` payload: `acceptLanguage`, `Accept-Language` or `lang`, at
    /// its top or under `headers` (as clients send headers there).
    pub fn from_payload(payload: &serde_json::Value) -> RequestLanguage {
        fn pick(o: &serde_json::Value) -> Option<&str> {
            LANGUAGE_KEYS.iter().find_map(|k| o.get(*k).and_then(serde_json::Value::as_str))
        }
        RequestLanguage::new(pick(payload).or_else(|| payload.get("headers").and_then(pick)))
    }

    /// One operation of a socket: its own `extensions` (`lang`, `acceptLanguage` or
    /// `Accept-Language`) when they name a language, else the connection's (`connection`),
    /// with the caller's locale and tenant default read afresh.
    pub fn for_operation(
        extensions: &std::collections::HashMap<String, async_graphql::Value>,
        connection: Option<&str>,
    ) -> RequestLanguage {
        let own = LANGUAGE_KEYS.iter().find_map(|k| match extensions.get(*k) {
            Some(async_graphql::Value::String(s)) => Some(s.as_str()),
            _ => None,
        });
        let own = RequestLanguage::new(own);
        if own.asks() { own } else { RequestLanguage::new(connection) }
    }
}

/// Where a socket's messages name a language.
const LANGUAGE_KEYS: [&str; 4] = ["acceptLanguage", "Accept-Language", "accept-language", "lang"];

/// The caller's locale and their tenant's default language, read once per request.
async fn defaults(c: &Context<'_>) -> Result<(Option<String>, Option<String>), ApiError> {
    let Some(p) = c.data_opt::<crate::auth::principal::Principal>() else { return Ok((None, None)) };
    let read = async || -> Result<_, ApiError> {
        let state = ctx::state(c)?;
        state
            .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                let locale = user::Entity::find_by_id(p.user_id.clone())
                    .filter(user::Column::TenantId.eq(&p.tenant_id))
                    .one(txn)
                    .await?
                    .and_then(|u| u.locale);
                let default = tenant::Entity::find_by_id(p.tenant_id.clone())
                    .one(txn)
                    .await?
                    .and_then(|t| t.default_language);
                Ok::<_, sea_orm::DbErr>((locale, default))
            })
            .await
    };
    match c.data_opt::<RequestLanguage>() {
        Some(r) => r.defaults.get_or_try_init(read).await.cloned(),
        None => read().await,
    }
}

/// The languages labels are shown in for this field: its own `lang` argument first, then the
/// request's `Accept-Language`, the caller's locale, the tenant's default, English.
pub async fn languages(c: &ResolverContext<'_>) -> Result<Arc<Languages>, ApiError> {
    let explicit = args::opt_string(c, "lang")?;
    let (locale, default) = defaults(c).await?;
    let accept = c.data_opt::<RequestLanguage>().and_then(|r| r.accept.as_deref());
    Ok(Arc::new(Languages::resolve(&Sources {
        explicit: explicit.as_deref(),
        accept_language: accept,
        user_locale: locale.as_deref(),
        tenant_default: default.as_deref(),
    })))
}

/// A nested field's languages: its own `lang` argument when given, else its parent's.
pub async fn own_or(c: &ResolverContext<'_>, parent: &Arc<Languages>) -> Result<Arc<Languages>, ApiError> {
    if args::opt_string(c, "lang")?.is_some() { languages(c).await } else { Ok(parent.clone()) }
}

/// The `lang` argument of a field that shows labels.
pub fn lang_arg() -> async_graphql::dynamic::InputValue {
    use async_graphql::dynamic::{InputValue, TypeRef};
    InputValue::new("lang", TypeRef::named(TypeRef::STRING)).description(
        "The language of the labels (`hi`, `bn-IN`): first this, then the `Accept-Language` header, your \
         locale and the tenant's default language; a label without a translation shows its base (English) text.",
    )
}
