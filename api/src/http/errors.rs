//! The public face of a GraphQL response's errors, one for HTTP and WebSocket: every error
//! leaves with an `extensions.code` (the executor's own uncoded errors get theirs here), and an
//! internal one is logged with its cause, the request id and the operation name, and shown as a
//! bare `INTERNAL` carrying the request id.

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use async_graphql::{PathSegment, Request, ServerError};
use entity::ErrorCode;

use crate::error::InternalCause;
use crate::schema::ctx::RequestId;
use crate::schema::extension::SeenOperation;

/// What the log names of the operation a response answers: the `operationName` asked, else
/// the name of the document's operation, as the schema's extension noted it while parsing
/// (`SeenOperation`). Only a document that did not get that far is parsed again, and only
/// when an internal error is logged.
pub struct Operation {
    requested: Option<String>,
    query: String,
    seen: Arc<SeenOperation>,
}

impl Operation {
    /// The operation of `r`, noted as it runs: `r` carries the note in its data.
    pub fn of(r: &mut Request) -> Operation {
        let seen = Arc::new(SeenOperation::default());
        r.data.insert(seen.clone());
        Operation { requested: r.operation_name.clone(), query: r.query.clone(), seen }
    }

    /// A request that never got as far as a GraphQL document (an unreadable body).
    pub fn none() -> Operation {
        Operation { requested: None, query: String::new(), seen: Default::default() }
    }

    /// The operation's name for the request log: asked for, or as its document names it.
    pub fn logged_name(&self) -> Option<&str> {
        self.requested.as_deref().or_else(|| self.seen.get().and_then(|(_, name)| name))
    }

    /// The operation's type, once its document was parsed.
    pub fn kind(&self) -> Option<OperationType> {
        self.seen.get().map(|(ty, _)| ty)
    }

    fn name(&self) -> String {
        if let Some(name) = self.logged_name() {
            return name.to_owned();
        }
        if self.seen.get().is_some() {
            return "(anonymous)".to_owned();
        }
        let named = async_graphql::parser::parse_query(&self.query).ok().and_then(|doc| {
            let mut ops = doc.operations.iter();
            match (ops.next(), ops.next()) {
                (Some((name, _)), None) => name.map(|n| n.to_string()),
                _ => None,
            }
        });
        named.unwrap_or_else(|| "(anonymous)".to_owned())
    }
}

/// The one log line of an internal error.
pub fn log_internal(rid: &RequestId, operation: &Operation, path: &str, cause: &str) {
    tracing::error!(request_id = %rid.0, operation = %operation.name(), path = %path, cause = %cause, "internal error");
}

fn path_text(path: &[PathSegment]) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|s| match s {
            PathSegment::Field(f) => f.clone(),
            PathSegment::Index(i) => i.to_string(),
        })
        .collect();
    parts.join(".")
}

/// Gives `e` its public code. An error a resolver raised without one (it has a path) was not
/// meant for the client; it and every `INTERNAL` error are logged with their cause and shown
/// as `internal error` with the request id. `anonymous`: the caller sent no credential.
pub fn label(e: &mut ServerError, anonymous: bool, rid: &RequestId, operation: &Operation) {
    let ext = e.extensions.get_or_insert_with(Default::default);
    let code = match ext.get("code") {
        // A code outside the table is no code a client may see.
        Some(async_graphql::Value::String(c)) => ErrorCode::parse(c).unwrap_or(ErrorCode::Internal),
        _ if !e.path.is_empty() => ErrorCode::Internal,
        _ => {
            let root_unknown = e.message.starts_with("Unknown field")
                && ["\"Query\"", "\"Mutation\"", "\"Subscription\""].iter().any(|t| e.message.contains(t));
            let platform_op = root_unknown && {
                let name = e.message.split('"').nth(1).unwrap_or_default();
                entity::runtime::naming::platform_root_fields().contains(name)
            };
            let too_complex = e.message.starts_with("Query is nested too deep")
                || e.message.starts_with("Query is too complex")
                || e.message.starts_with("The recursion depth of the query");
            if anonymous && root_unknown {
                // Asking the public schema for a tenant operation means "sign in first".
                ErrorCode::Unauthenticated
            } else if platform_op {
                // A platform operation missing from this role's schema: the role may not run it.
                ErrorCode::Forbidden
            } else if too_complex {
                ErrorCode::QueryTooComplex
            } else {
                ErrorCode::BadRequest
            }
        }
    };
    ext.set("code", code.as_str());
    if !code.exposed() {
        ext.set("requestId", rid.0.clone());
        let cause = e.source::<InternalCause>().map_or(e.message.as_str(), |c| c.0.as_str());
        log_internal(rid, operation, &path_text(&e.path), cause);
        e.message = "internal error".into();
    }
}
