//! The data layer's one error type. Each variant maps to exactly one public error code
//! (`Error::code`), so the API layer never guesses what a storage failure means.

use serde::Serialize;

/// One bad input field, reported under `extensions.fields`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The GraphQL name of the field (or the input key of a platform operation).
    pub field: String,
    /// Why it was refused, written for a person.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
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
}

impl Error {
    /// The public `extensions.code` for this error (shared/API.md § Errors).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "NOT_FOUND",
            Error::Validation(_) => "VALIDATION_FAILED",
            Error::Conflict(_) | Error::DefinitionsChanged => "CONFLICT",
            Error::Forbidden(_) => "FORBIDDEN",
            Error::BadRequest(_) => "BAD_REQUEST",
            Error::Db(_) | Error::Internal(_) => "INTERNAL",
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
