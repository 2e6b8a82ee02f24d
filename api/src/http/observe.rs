//! What every GraphQL operation leaves behind, over HTTP and over a socket alike: one `info`
//! log line (`graphql request`: request id, operation name and type, tenant, duration,
//! outcome code, whether a compiled plan answered) and one sample of the latency histogram
//! (`/metrics`). The line is one tracing event whose fields are borrowed: above `info` it is
//! neither formatted nor allocated. An internal error's cause has its own `error` line
//! (`errors`); this line only names its code.

use std::time::Instant;

use async_graphql::parser::types::OperationType;
use async_graphql::{Response, ServerError};

use crate::http::state::AppState;
use crate::schema::ctx::RequestId;

/// One answered (or refused) operation.
pub struct Answered<'a> {
    /// The operation's name (`None`: unnamed, or no document was read).
    pub name: Option<&'a str>,
    /// The operation's type (`None`: refused before its document was parsed).
    pub kind: Option<OperationType>,
    /// The caller's tenant (`None`: anonymous, or refused before the credential was read).
    pub tenant: Option<&'a str>,
    /// `OK`, or the first error's `extensions.code`.
    pub code: &'a str,
    /// Answered by a compiled plan rather than the executor.
    pub compiled: bool,
}

/// The outcome code of labelled errors (`errors::label` gave each one): `OK` when there are
/// none, else the first one's code.
pub fn code_of(errors: &[ServerError]) -> &str {
    let Some(first) = errors.first() else { return "OK" };
    match first.extensions.as_ref().and_then(|x| x.get("code")) {
        Some(async_graphql::Value::String(code)) => code,
        _ => entity::ErrorCode::Internal.as_str(),
    }
}

/// `code_of` a response.
pub fn response_code(r: &Response) -> &str {
    code_of(&r.errors)
}

/// Logs the operation's line and records its duration (since `started`) in the histogram of
/// its type; one refused before its type was known is logged only.
pub fn answered(state: &AppState, rid: &RequestId, started: Instant, a: Answered<'_>) {
    let elapsed = started.elapsed();
    if let Some(kind) = a.kind {
        state.metrics().request(kind, a.compiled, elapsed);
    }
    // Displayed, not debugged: `operation=ListHooks` in text, as the error lines write it.
    tracing::info!(
        request_id = %rid.0,
        operation = %a.name.unwrap_or("-"),
        operation_type = %a.kind.map_or("-", super::metrics::kind_name),
        tenant = a.tenant.map(tracing::field::display),
        // Whole microseconds, so the number prints short.
        duration_ms = elapsed.as_micros() as f64 / 1000.0,
        code = %a.code,
        compiled = a.compiled,
        "graphql request"
    );
}
