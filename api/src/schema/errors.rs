//! The public face of a GraphQL response's errors, one for every schema and transport: every
//! error leaves with an `extensions.code` (the executor's own uncoded errors get theirs here),
//! and an internal one is logged with its cause, the request id and the operation name, and
//! shown as a bare `INTERNAL` carrying the request id. The schema's extension (`extension`)
//! labels every answer of the executor, over HTTP and sockets alike; the transport labels the
//! requests it refuses itself, before any executor ran, with the same `label`.

use std::sync::{Arc, OnceLock};

use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Name, PathSegment, Request, ServerError};
use entity::ErrorCode;

use super::ctx::RequestId;
use crate::error::{ApiError, InternalCause};

/// The operation a request runs, as its log line and latency histogram name it: the
/// `operationName` asked, else the name of the document's operation, as the schema's extension
/// notes it while parsing (`note`), so that what logs and times the request afterwards need
/// not parse it again. Only a document that did not get that far is parsed again, and only
/// when an internal error is logged. Its transport puts it in the request's data.
pub struct Operation {
    requested: Option<String>,
    query: String,
    /// The selected operation's type and name; empty while (or when) the document does not
    /// parse, or names no operation it has.
    seen: OnceLock<(OperationType, Option<Name>)>,
}

impl Operation {
    /// The operation of `r`, noted as it runs: `r` carries it in its data.
    pub fn of(r: &mut Request) -> Arc<Operation> {
        let operation = Arc::new(Operation {
            requested: r.operation_name.clone(),
            query: r.query.clone(),
            seen: OnceLock::new(),
        });
        r.data.insert(operation.clone());
        operation
    }

    /// A request that never got as far as a GraphQL document (an unreadable body).
    pub fn none() -> Operation {
        Operation { requested: None, query: String::new(), seen: OnceLock::new() }
    }

    /// Notes the operation of `doc` that `wanted` (the request's `operationName`) selects, as
    /// the executor will select it: the named one, else the document's only one.
    pub(super) fn note(&self, doc: &ExecutableDocument, wanted: Option<&str>) {
        let mut ops = doc.operations.iter();
        let selected = match wanted {
            Some(wanted) => ops.find(|(name, _)| name.is_some_and(|n| n.as_str() == wanted)),
            None => ops.next().filter(|_| doc.operations.iter().nth(1).is_none()),
        };
        if let Some((name, op)) = selected {
            let _ = self.seen.set((op.node.ty, name.cloned()));
        }
    }

    /// The operation's name for the request log: asked for, or as its document names it.
    pub fn logged_name(&self) -> Option<&str> {
        self.requested.as_deref().or_else(|| self.seen.get().and_then(|(_, name)| name.as_deref()))
    }

    /// The operation's type, once its document was parsed.
    pub fn kind(&self) -> Option<OperationType> {
        self.seen.get().map(|(ty, _)| *ty)
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
    let coded = e.extensions.as_ref().is_some_and(|x| x.get("code").is_some());
    // A data-layer error a resolver passed on with a bare `?`: async-graphql's blanket `From`
    // keeps it as the source but drops its code. It leaves as it would through `ApiError`;
    // an internal one stays uncoded, so that its cause (the message) is logged below.
    let recovered = match e.source::<entity::Error>() {
        Some(cause) if !coded => Some(ApiError::from(cause)).filter(|a| a.code().exposed()),
        _ => None,
    };
    let ext = e.extensions.get_or_insert_with(Default::default);
    if let Some(api) = recovered {
        api.extend(ext);
        e.message = api.message();
    }
    let code = match ext.get("code") {
        // A code outside the table is no code a client may see.
        Some(async_graphql::Value::String(c)) => ErrorCode::parse(c).unwrap_or(ErrorCode::Internal),
        _ if !e.path.is_empty() => ErrorCode::Internal,
        _ => request_error_code(&e.message, anonymous),
    };
    ext.set("code", code.as_str());
    if !code.exposed() {
        ext.set("requestId", rid.0.clone());
        let cause = e.source::<InternalCause>().map_or(e.message.as_str(), |c| c.0.as_str());
        log_internal(rid, operation, &path_text(&e.path), cause);
        e.message = "internal error".into();
    }
}

/// The code of an error the executor raised itself before anything ran (parse, validation,
/// variables, its query limits), which it leaves uncoded: read from its message.
fn request_error_code(message: &str, anonymous: bool) -> ErrorCode {
    let root_unknown = message.starts_with("Unknown field")
        && ["\"Query\"", "\"Mutation\"", "\"Subscription\""].iter().any(|t| message.contains(t));
    let platform_op = root_unknown && {
        let name = message.split('"').nth(1).unwrap_or_default();
        entity::runtime::naming::platform_root_fields().contains(name)
    };
    let too_complex = message.starts_with("Query is nested too deep")
        || message.starts_with("Query is too complex")
        || message.starts_with("The recursion depth of the query");
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

/// Whether a labelled error refused its request before anything ran: one with no path (a
/// resolver's error has one) and a code only such refusals carry — what `label` gives the
/// executor's own uncoded errors, and the query and rate limits' `QUERY_TOO_COMPLEX` and
/// `RATE_LIMITED`. (The `VALIDATION_FAILED` of an argument's NUL character, refused as the
/// request is prepared, is not one: its answer keeps `data: null`.)
pub fn refused_request(e: &ServerError) -> bool {
    let code = e.extensions.as_ref().and_then(|x| x.get("code"));
    e.path.is_empty()
        && matches!(
            code,
            Some(async_graphql::Value::String(c)) if matches!(
                ErrorCode::parse(c),
                Some(
                    ErrorCode::BadRequest
                        | ErrorCode::Unauthenticated
                        | ErrorCode::Forbidden
                        | ErrorCode::QueryTooComplex
                        | ErrorCode::RateLimited
                )
            )
        )
}

#[cfg(test)]
mod tests {
    use async_graphql::{Pos, Value};
    use entity::FieldError;

    use super::*;

    /// `err` as a resolver of `createDeal` raised it, labelled for a signed-in caller.
    fn labelled(err: async_graphql::Error) -> ServerError {
        let mut e = err.into_server_error(Pos::default());
        e.path = vec![PathSegment::Field("createDeal".into())];
        label(&mut e, false, &RequestId("r1".into()), &Operation::none());
        e
    }

    fn extension(e: &ServerError, key: &str) -> Option<Value> {
        e.extensions.as_ref().and_then(|x| x.get(key)).cloned()
    }

    #[test]
    fn a_data_layer_error_passed_on_with_a_bare_question_mark_keeps_its_code() {
        let e = labelled(entity::Error::NotFound("deal".into()).into());
        assert_eq!(extension(&e, "code"), Some(Value::from("NOT_FOUND")));
        assert_eq!(e.message, "deal not found");
        let invalid = entity::Error::Validation(vec![FieldError::new("title", "is required")]);
        let e = labelled(invalid.into());
        assert_eq!(extension(&e, "code"), Some(Value::from("VALIDATION_FAILED")));
        assert_eq!(e.message, "validation failed: title is required");
        let fields = format!("{:?}", extension(&e, "fields"));
        assert!(fields.contains("title") && fields.contains("is required"), "{fields}");
    }

    #[test]
    fn an_internal_data_layer_error_stays_masked() {
        let e = labelled(entity::Error::Internal("the disk is on fire".into()).into());
        assert_eq!(extension(&e, "code"), Some(Value::from("INTERNAL")));
        assert_eq!(extension(&e, "requestId"), Some(Value::from("r1")));
        assert_eq!(e.message, "internal error");
    }
}
