//! The API's error type; its codes are `entity::ErrorCode`, the one table of them. Internal
//! causes travel with the GraphQL error (`InternalCause`) to where its answer is labelled,
//! which logs them with the request id and operation (`schema::errors`) and never shows them.

use async_graphql::ErrorExtensions;
use entity::{ErrorCode, FieldError};

/// Errors of the API layer.
///
/// Deliberately not `Display`: async-graphql converts any `Display` type into an error
/// *without* `extensions.code`, so `?` on an `ApiError` must go through `From` below.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated(String),
    /// UNAUTHENTICATED with `extensions.reason` saying what to do next (`totp_required`: ask
    /// for the code; `reset_token_used`…), where the message alone would leave a client to
    /// parse words.
    Refused {
        message: String,
        reason: &'static str,
    },
    /// An access token past its expiry: UNAUTHENTICATED with `extensions.reason: "expired"`,
    /// so a client knows to refresh rather than to sign in again.
    TokenExpired,
    Forbidden(String),
    /// FORBIDDEN with `extensions.reason: "module_disabled"`: the work (a run, a webhook, an
    /// approval) belongs to a module an administrator switched off; it will be allowed again
    /// when the module is on.
    ModuleOff(String),
    NotFound(String),
    Validation(Vec<FieldError>),
    Conflict(String),
    BadRequest(String),
    /// The document is over a query limit (depth, complexity, aliases): refused before it ran.
    TooComplex(String),
    /// A rate limit's budget is spent (`rate`): `extensions.retryAfter` says in how many
    /// seconds it renews; over HTTP the request answers 429 with `Retry-After`.
    RateLimited {
        message: String,
        retry_after: u64,
    },
    Internal(String),
    /// BUDGET_EXCEEDED: the tenant's monthly AI budget is spent.
    BudgetExceeded(String),
    /// AI_PROVIDER_ERROR: the tenant's AI provider failed after the gateway's retries.
    AiProvider(String),
}

/// `extensions.reason` of [`ApiError::ModuleOff`].
pub const MODULE_DISABLED: &str = "module_disabled";

/// The cause of an internal error, carried as the `source` of the GraphQL error a client sees
/// as a bare `INTERNAL`. It is logged where the request id and operation are known (the
/// schema's extension labels every error of an answer, `schema::errors`), not where it arose:
/// a resolver knows neither, and its tracing span may be filtered out.
#[derive(Debug)]
pub struct InternalCause(pub String);

/// Crate error alias used by public functions (`server::start`).
pub type Error = ApiError;

impl ApiError {
    /// The public `extensions.code`.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Unauthenticated(_) | ApiError::Refused { .. } | ApiError::TokenExpired => {
                ErrorCode::Unauthenticated
            }
            ApiError::Forbidden(_) | ApiError::ModuleOff(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Validation(_) => ErrorCode::ValidationFailed,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::TooComplex(_) => ErrorCode::QueryTooComplex,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::Internal(_) => ErrorCode::Internal,
            ApiError::BudgetExceeded(_) => ErrorCode::BudgetExceeded,
            ApiError::AiProvider(_) => ErrorCode::AiProviderError,
        }
    }

    /// The HTTP status of a request refused with this error before any operation ran.
    pub fn http_status(&self) -> axum::http::StatusCode {
        axum::http::StatusCode::from_u16(self.code().http_status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The message a client sees (internal causes are never part of it).
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::ModuleOff(m)
            | ApiError::Conflict(m)
            | ApiError::BadRequest(m)
            | ApiError::TooComplex(m)
            | ApiError::BudgetExceeded(m)
            | ApiError::AiProvider(m)
            | ApiError::RateLimited { message: m, .. }
            | ApiError::Refused { message: m, .. } => m.clone(),
            ApiError::TokenExpired => "access token expired".into(),
            ApiError::NotFound(what) => format!("{what} not found"),
            ApiError::Validation(fields) => match fields.as_slice() {
                [one] => format!("validation failed: {} {}", one.field, one.message),
                _ => format!("validation failed on {} fields", fields.len()),
            },
            ApiError::Internal(_) => "internal error".into(),
        }
    }

    /// `extensions.reason`, where the code alone does not say what to do.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            ApiError::TokenExpired => Some("expired"),
            ApiError::Refused { reason, .. } => Some(reason),
            ApiError::ModuleOff(_) => Some(MODULE_DISABLED),
            _ => None,
        }
    }

    /// Seconds until a spent rate limit renews (`RateLimited` only).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The GraphQL error a client sees.
    pub fn to_graphql(&self) -> async_graphql::Error {
        let mut error = async_graphql::Error::new(self.message());
        if let ApiError::Internal(cause) = self {
            error.source = Some(std::sync::Arc::new(InternalCause(cause.clone())));
        }
        error.extend_with(|_, ext| self.extend(ext))
    }

    /// The same error raised outside a resolver (no path, no location).
    pub fn to_server_error(&self) -> async_graphql::ServerError {
        let mut e = async_graphql::ServerError::new(self.message(), None);
        if let ApiError::Internal(cause) = self {
            e.source = Some(std::sync::Arc::new(InternalCause(cause.clone())));
        }
        let mut ext = async_graphql::ErrorExtensionValues::default();
        self.extend(&mut ext);
        e.extensions = Some(ext);
        e
    }

    /// `extensions`: the code, and what the code alone does not say.
    pub(crate) fn extend(&self, ext: &mut async_graphql::ErrorExtensionValues) {
        ext.set("code", self.code().as_str());
        if let Some(reason) = self.reason() {
            ext.set("reason", reason);
        }
        if let Some(seconds) = self.retry_after() {
            ext.set("retryAfter", seconds);
        }
        if let ApiError::Validation(fields) = self {
            let list: Vec<async_graphql::Value> = fields
                .iter()
                .map(|f| {
                    let mut m = async_graphql::indexmap::IndexMap::new();
                    m.insert(async_graphql::Name::new("field"), async_graphql::Value::from(f.field.clone()));
                    m.insert(
                        async_graphql::Name::new("message"),
                        async_graphql::Value::from(f.message.clone()),
                    );
                    if let Some(moved) = &f.moved {
                        // A refused lifecycle move: what it was, and what is allowed instead.
                        let text =
                            |v: &Option<String>| v.clone().map_or(async_graphql::Value::Null, Into::into);
                        m.insert(async_graphql::Name::new("from"), text(&moved.from));
                        m.insert(async_graphql::Name::new("to"), text(&moved.to));
                        let allowed = moved.allowed.iter().cloned().map(async_graphql::Value::from).collect();
                        m.insert(async_graphql::Name::new("allowed"), async_graphql::Value::List(allowed));
                    }
                    async_graphql::Value::Object(m)
                })
                .collect();
            ext.set("fields", async_graphql::Value::List(list));
        }
    }
}

impl From<entity::Error> for ApiError {
    fn from(e: entity::Error) -> Self {
        ApiError::from(&e)
    }
}

/// By reference too: the labelling of an answer finds a data-layer error only as the `source`
/// of a GraphQL error (`schema::errors::label`).
impl From<&entity::Error> for ApiError {
    fn from(e: &entity::Error) -> Self {
        match e {
            entity::Error::NotFound(w) => ApiError::NotFound(w.clone()),
            entity::Error::Validation(f) => ApiError::Validation(f.clone()),
            entity::Error::Conflict(m) => ApiError::Conflict(m.clone()),
            entity::Error::DefinitionsChanged => ApiError::Conflict(e.to_string()),
            entity::Error::Forbidden(m) => ApiError::Forbidden(m.clone()),
            entity::Error::BadRequest(m) => ApiError::BadRequest(m.clone()),
            entity::Error::Db(_) | entity::Error::Internal(_) => ApiError::Internal(e.to_string()),
            entity::Error::BudgetExceeded(m) => ApiError::BudgetExceeded(m.clone()),
            entity::Error::AiProvider(m) => ApiError::AiProvider(m.clone()),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
}

/// A GraphQL error back as the API error it was made from (`to_graphql`): its code, reason,
/// retry time and fields read from its extensions, so that a resolver helper's error keeps its
/// code on the way through code that returns `ApiError`. An error without a known code — the
/// library's own — is internal, its message the cause.
impl From<async_graphql::Error> for ApiError {
    fn from(e: async_graphql::Error) -> Self {
        use async_graphql::Value;
        let ext = e.extensions.as_ref();
        let text = |key: &str| match ext.and_then(|x| x.get(key)) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let message = e.message;
        let code = text("code").as_deref().and_then(ErrorCode::parse);
        match code {
            Some(ErrorCode::Unauthenticated) if text("reason").as_deref() == Some("expired") => {
                ApiError::TokenExpired
            }
            Some(ErrorCode::Unauthenticated) => ApiError::Unauthenticated(message),
            Some(ErrorCode::Forbidden) if text("reason").as_deref() == Some(MODULE_DISABLED) => {
                ApiError::ModuleOff(message)
            }
            Some(ErrorCode::Forbidden) => ApiError::Forbidden(message),
            // `message` says "<what> not found".
            Some(ErrorCode::NotFound) => ApiError::NotFound(
                message.strip_suffix(" not found").map_or_else(|| message.clone(), str::to_owned),
            ),
            Some(ErrorCode::Conflict) => ApiError::Conflict(message),
            Some(ErrorCode::BadRequest) => ApiError::BadRequest(message),
            Some(ErrorCode::QueryTooComplex) => ApiError::TooComplex(message),
            Some(ErrorCode::BudgetExceeded) => ApiError::BudgetExceeded(message),
            Some(ErrorCode::AiProviderError) => ApiError::AiProvider(message),
            Some(ErrorCode::RateLimited) => {
                let retry_after = match ext.and_then(|x| x.get("retryAfter")) {
                    Some(Value::Number(n)) => n.as_u64().unwrap_or_default(),
                    _ => 0,
                };
                ApiError::RateLimited { message, retry_after }
            }
            Some(ErrorCode::ValidationFailed) => {
                let fields = match ext.and_then(|x| x.get("fields")) {
                    Some(Value::List(items)) => items
                        .iter()
                        .filter_map(|item| match item {
                            Value::Object(m) => match (m.get("field"), m.get("message")) {
                                (Some(Value::String(f)), Some(Value::String(msg))) => {
                                    let error = FieldError::new(f.clone(), msg.clone());
                                    Some(match moved_of(m) {
                                        Some(moved) => error.with_move(moved),
                                        None => error,
                                    })
                                }
                                _ => None,
                            },
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                ApiError::Validation(fields)
            }
            Some(ErrorCode::Internal) | None => {
                let cause =
                    e.source.as_ref().and_then(|s| s.downcast_ref::<InternalCause>()).map(|c| c.0.clone());
                ApiError::Internal(cause.unwrap_or(message))
            }
        }
    }
}

/// The refused lifecycle move an entry of `extensions.fields` carries, if any (`extend`).
fn moved_of(
    m: &async_graphql::indexmap::IndexMap<async_graphql::Name, async_graphql::Value>,
) -> Option<entity::Moved> {
    use async_graphql::Value;
    let text = |key: &str| match m.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let Some(Value::List(allowed)) = m.get("allowed") else { return None };
    let allowed = allowed
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    Some(entity::Moved { from: text("from"), to: text("to"), allowed })
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        e.to_graphql()
    }
}

/// Shorthand: `entity::Result` → GraphQL error.
pub fn gql(e: entity::Error) -> async_graphql::Error {
    ApiError::from(e).to_graphql()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_survives_the_trip_through_graphql() {
        let errors = [
            ApiError::Unauthenticated("who".into()),
            ApiError::TokenExpired,
            ApiError::Forbidden("no".into()),
            ApiError::ModuleOff("module `crm` is off".into()),
            ApiError::NotFound("deal".into()),
            ApiError::Validation(vec![FieldError::new("name", "is required")]),
            ApiError::Conflict("taken".into()),
            ApiError::BadRequest("bad".into()),
            ApiError::TooComplex("deep".into()),
            ApiError::RateLimited { message: "slow down".into(), retry_after: 7 },
            ApiError::Internal("the cause".into()),
        ];
        for e in errors {
            let back = ApiError::from(e.to_graphql());
            assert_eq!((back.code(), back.message()), (e.code(), e.message()), "{e:?}");
            assert_eq!((back.reason(), back.retry_after()), (e.reason(), e.retry_after()), "{e:?}");
            match (&e, &back) {
                (ApiError::Validation(a), ApiError::Validation(b)) => {
                    assert_eq!(
                        a.iter().map(|f| (&f.field, &f.message)).collect::<Vec<_>>(),
                        b.iter().map(|f| (&f.field, &f.message)).collect::<Vec<_>>()
                    );
                }
                (ApiError::Internal(a), ApiError::Internal(b)) => assert_eq!(a, b, "the cause travels"),
                _ => {}
            }
        }
        // The library's own error (no code) is internal.
        assert_eq!(ApiError::from(async_graphql::Error::new("boom")).code(), ErrorCode::Internal);
    }
}
