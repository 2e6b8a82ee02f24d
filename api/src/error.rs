//! The API's error type and its one table of public codes (shared/API.md § Errors). Internal
//! causes travel with the GraphQL error (`InternalCause`) to the transport, which logs them
//! with the request id and operation (`http::errors`) and never shows them.

use async_graphql::ErrorExtensions;
use entity::FieldError;

/// Errors of the API layer.
///
/// Deliberately not `Display`: async-graphql converts any `Display` type into an error
/// *without* `extensions.code`, so `?` on an `ApiError` must go through `From` below.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated(String),
    /// An access token past its expiry: UNAUTHENTICATED with `extensions.reason: "expired"`,
    /// so a client knows to refresh rather than to sign in again.
    TokenExpired,
    Forbidden(String),
    NotFound(String),
    Validation(Vec<FieldError>),
    Conflict(String),
    BadRequest(String),
    /// A rate limit's budget is spent (`rate`): `extensions.retryAfter` says in how many
    /// seconds it renews; over HTTP the request answers 429 with `Retry-After`.
    RateLimited {
        message: String,
        retry_after: u64,
    },
    Internal(String),
}

/// The cause of an internal error, carried as the `source` of the GraphQL error a client sees
/// as a bare `INTERNAL`. It is logged where the request id and operation are known (the
/// transport labels every error of a response), not where it arose: a resolver knows neither,
/// and its tracing span may be filtered out.
#[derive(Debug)]
pub struct InternalCause(pub String);

/// Crate error alias used by public functions (`server::start`).
pub type Error = ApiError;

impl ApiError {
    /// The public `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) | ApiError::TokenExpired => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Validation(_) => "VALIDATION_FAILED",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The message a client sees (internal causes are never part of it).
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::Conflict(m)
            | ApiError::BadRequest(m)
            | ApiError::RateLimited { message: m, .. } => m.clone(),
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
        let mut ext = async_graphql::ErrorExtensionValues::default();
        self.extend(&mut ext);
        e.extensions = Some(ext);
        e
    }

    /// `extensions`: the code, and what the code alone does not say.
    fn extend(&self, ext: &mut async_graphql::ErrorExtensionValues) {
        ext.set("code", self.code());
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
                    async_graphql::Value::Object(m)
                })
                .collect();
            ext.set("fields", async_graphql::Value::List(list));
        }
    }
}

impl From<entity::Error> for ApiError {
    fn from(e: entity::Error) -> Self {
        match e {
            entity::Error::NotFound(w) => ApiError::NotFound(w),
            entity::Error::Validation(f) => ApiError::Validation(f),
            entity::Error::Conflict(m) => ApiError::Conflict(m),
            e @ entity::Error::DefinitionsChanged => ApiError::Conflict(e.to_string()),
            entity::Error::Forbidden(m) => ApiError::Forbidden(m),
            entity::Error::BadRequest(m) => ApiError::BadRequest(m),
            e @ (entity::Error::Db(_) | entity::Error::Internal(_)) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
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
