//! The data layer's one error type, and the one table of public error codes (`ErrorCode`,
//! shared/API.md § Errors) that the API, its metrics and the tests all read. Each variant of
//! `Error` maps to exactly one code (`Error::code`), so the API layer never guesses what a
//! storage failure means.

use serde::Serialize;

/// A public `extensions.code`: every code the contract allows, each with the HTTP status of a
/// request refused with it before any operation ran and whether its message is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    ValidationFailed,
    Conflict,
    RateLimited,
    QueryTooComplex,
    BadRequest,
    Internal,
    /// The tenant's monthly AI budget is spent (the AI gateway refuses the call).
    BudgetExceeded,
    /// The tenant's AI provider failed (after the gateway's retries) or answered unusably.
    AiProviderError,
}

impl ErrorCode {
    /// Every code, in a fixed order (`index`).
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::ValidationFailed,
        ErrorCode::Conflict,
        ErrorCode::RateLimited,
        ErrorCode::QueryTooComplex,
        ErrorCode::BadRequest,
        ErrorCode::Internal,
        ErrorCode::BudgetExceeded,
        ErrorCode::AiProviderError,
    ];

    /// The code as clients read it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::ValidationFailed => "VALIDATION_FAILED",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::QueryTooComplex => "QUERY_TOO_COMPLEX",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::BudgetExceeded => "BUDGET_EXCEEDED",
            ErrorCode::AiProviderError => "AI_PROVIDER_ERROR",
        }
    }

    /// The code `text` names, if it is one.
    pub fn parse(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// The position of this code in `ALL` (a counter slot per code).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The HTTP status of a request refused with this code before any operation ran (errors
    /// of operations that ran answer 200 in their response; a transport may be more precise
    /// about a bad request: 405, 413, 415).
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::RateLimited => 429,
            ErrorCode::ValidationFailed | ErrorCode::QueryTooComplex | ErrorCode::BadRequest => 400,
            ErrorCode::Internal => 500,
            ErrorCode::BudgetExceeded => 402,
            ErrorCode::AiProviderError => 502,
        }
    }

    /// Whether a client sees the error's message; an internal error's cause is logged with the
    /// request id and the client reads `internal error`.
    pub const fn exposed(self) -> bool {
        !matches!(self, ErrorCode::Internal)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One bad input field, reported under `extensions.fields`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The GraphQL name of the field (or the input key of a platform operation).
    pub field: String,
    /// Why it was refused, written for a person.
    pub message: String,
    /// For a move its lifecycle refuses (`runtime::lifecycle`): from, to and what is allowed,
    /// shown beside `field` and `message`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub moved: Option<Box<Moved>>,
}

/// A refused move of a SELECT field with a lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    /// The value before (`None`: none yet).
    pub from: Option<String>,
    /// The value asked for (`None`: cleared).
    pub to: Option<String>,
    /// The values the caller may set instead.
    pub allowed: Vec<String>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), moved: None }
    }

    /// The error of a refused move.
    pub fn with_move(mut self, moved: Moved) -> Self {
        self.moved = Some(Box::new(moved));
        self
    }
}

/// Errors of the data layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record or definition does not exist for this tenant (or is outside the caller's view).
    #[error("{0} not found")]
    NotFound(String),
    /// One or more input fields are invalid; nothing was written.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// The write conflicts with existing state (duplicate slug, referenced entity…).
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request itself is malformed (bad cursor, contradictory arguments…).
    #[error("{0}")]
    BadRequest(String),
    /// The tenant's definitions changed while a write was checked against them (SQLSTATE
    /// `AL002`, `runtime::store::guards::push_definitions_guard`); nothing was written, and the write may
    /// be retried. A create retries once by itself.
    #[error("the tenant's definitions changed during this write; retry it")]
    DefinitionsChanged,
    /// A database failure. Never shown to clients.
    #[error("database error: {0}")]
    Db(sea_orm::DbErr),
    /// Any other internal failure. Never shown to clients.
    #[error("internal error: {0}")]
    Internal(String),
    /// The tenant's monthly AI budget is spent.
    #[error("{0}")]
    BudgetExceeded(String),
    /// The AI provider failed after the gateway's retries (or its answer was unusable).
    #[error("{0}")]
    AiProvider(String),
}

impl Error {
    /// The public `extensions.code` for this error (shared/API.md § Errors).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Validation(_) => ErrorCode::ValidationFailed,
            Error::Conflict(_) | Error::DefinitionsChanged => ErrorCode::Conflict,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::BadRequest(_) => ErrorCode::BadRequest,
            Error::Db(_) | Error::Internal(_) => ErrorCode::Internal,
            Error::BudgetExceeded(_) => ErrorCode::BudgetExceeded,
            Error::AiProvider(_) => ErrorCode::AiProviderError,
        }
    }

    /// The SQLSTATE of a database error, if this is one.
    pub fn sqlstate(&self) -> Option<String> {
        let Error::Db(
            sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
            | sea_orm::DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e)),
        ) = self
        else {
            return None;
        };
        match e.as_ref() {
            sea_orm::sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
            _ => None,
        }
    }

    /// Whether PostgreSQL aborted the transaction for a serialization failure or a deadlock:
    /// nothing was written, and the same write run again may well succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self.sqlstate().as_deref(), Some("40001" | "40P01"))
    }

    /// Whether this is a unique constraint's violation: a concurrent transaction inserted the
    /// same key first (and a retry will find its row).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::Db(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))))
    }

    /// A single-field validation error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }
}

/// The SQLSTATE of a definitions guard (`alphery_require_current_definitions`, migration 23).
pub const DEFINITIONS_GUARD_STATE: &str = "AL002";

impl From<sea_orm::DbErr> for Error {
    fn from(e: sea_orm::DbErr) -> Self {
        let e = Error::Db(e);
        if e.sqlstate().as_deref() == Some(DEFINITIONS_GUARD_STATE) { Error::DefinitionsChanged } else { e }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("json: {e}"))
    }
}

/// Result alias of the data layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_reads_back_and_has_its_slot() {
        for (i, c) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
            assert_eq!(c.index(), i);
        }
        assert_eq!(ErrorCode::parse("internal"), None);
    }
}
