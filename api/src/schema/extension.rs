//! The one async-graphql extension every schema runs with (one, so each field pays for one
//! pass-through, not one per concern). A request is parsed through the document cache
//! (`parse_cache`) and its arguments prepared (`inputs`: IDs given as Int, NUL characters)
//! before anything runs. As its document is taken, a request that may write stops sharing one
//! read connection (`entity::ReadScope`), the alias limit (`limits`) applies, and the order of
//! the answer is read (`order`); every answer, over HTTP or a socket, is put in that order.
//! Validation's measure of the operation's complexity is charged to the caller's and the
//! tenant's rate limits (`rate`). As a field resolves, an error it raises gets the field's
//! path: async-graphql's dynamic schemas leave resolver errors without one, and the path is
//! what tells a resolver's error (logged, shown as `INTERNAL` when uncoded) from a request
//! error (`http::errors`). The operation the document selects is noted for the request's log
//! line and latency histogram (`SeenOperation`).

use std::sync::{Arc, OnceLock};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextResolve, NextSubscribe, NextValidation, ResolveInfo,
};
use async_graphql::futures_util::stream::{BoxStream, StreamExt};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{
    Name, PathSegment, QueryPathSegment, Request, Response, ServerError, ServerResult, ValidationResult,
    Value, Variables,
};

use super::order::Shape;
use crate::auth::principal::Principal;
use crate::rate::{Measured, Prepaid};
use crate::services::Services;

/// Installs the extension on a schema, with the alias limit.
pub struct Hooks {
    pub max_aliases: usize,
}

impl ExtensionFactory for Hooks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestHooks {
            max_aliases: self.max_aliases,
            operation: OnceLock::new(),
            shape: Arc::new(OnceLock::new()),
        })
    }
}

/// The extension's instance for one request (or one subscription).
struct RequestHooks {
    max_aliases: usize,
    /// The `operationName` of the request, which picks the document's operation.
    operation: OnceLock<Option<String>>,
    /// The order of the answer, read with the document (shared with a subscription's stream).
    shape: Arc<OnceLock<Shape>>,
}

/// The operation a request's document selects (its type, and its name when it has one),
/// noted as the document is parsed, so that what logs and times the request afterwards
/// need not parse it again. Put in a request's data by its caller; a request whose document
/// does not parse, or names no operation it has, leaves it empty.
#[derive(Default)]
pub struct SeenOperation(OnceLock<(OperationType, Option<Name>)>);

impl SeenOperation {
    /// The operation's type and name, once its document was parsed.
    pub fn get(&self) -> Option<(OperationType, Option<&str>)> {
        self.0.get().map(|(ty, name)| (*ty, name.as_deref()))
    }

    /// Notes the operation of `doc` that `wanted` (the request's `operationName`) selects, as
    /// the executor will select it: the named one, else the document's only one.
    fn note(&self, doc: &ExecutableDocument, wanted: Option<&str>) {
        let mut ops = doc.operations.iter();
        let selected = match wanted {
            Some(wanted) => ops.find(|(name, _)| name.is_some_and(|n| n.as_str() == wanted)),
            None => ops.next().filter(|_| doc.operations.iter().nth(1).is_none()),
        };
        if let Some((name, op)) = selected {
            let _ = self.0.set((op.node.ty, name.cloned()));
        }
    }
}

/// Puts `response` in the selection order of `shape`, when there is one.
fn in_order(shape: &OnceLock<Shape>, mut response: Response) -> Response {
    if let Some(shape) = shape.get() {
        shape.apply(&mut response.data);
    }
    response
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestHooks {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let _ = self.operation.set(request.operation_name.clone());
        // Parsed here (through the cache) so that the arguments pass `inputs::prepare` (ID
        // coercion, no NUL character) before anything runs; the executor then takes the
        // prepared document. A text that does not parse is left to the executor's own error.
        let parsed = super::parse_cache::get(&request.query).or_else(|| {
            let doc = async_graphql::parser::parse_query(&request.query).ok()?;
            super::parse_cache::put(&request.query, &doc);
            Some(doc)
        });
        if let Some(mut doc) = parsed {
            let operation = request.operation_name.clone();
            super::inputs::prepare(
                &ctx.schema_env.registry,
                &mut doc,
                &mut request.variables,
                operation.as_deref(),
            )?;
            request.set_parsed_query(doc);
        }
        next.run(ctx, request).await
    }
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if doc.operations.iter().any(|(_, op)| op.node.ty != OperationType::Query)
            && let Some(scope) = ctx.data_opt::<Arc<entity::ReadScope>>()
        {
            scope.disable();
        }
        super::limits::check_aliases(&doc, self.max_aliases)?;
        let operation = self.operation.get().and_then(Option::as_deref);
        if let Some(seen) = ctx.data_opt::<Arc<SeenOperation>>() {
            seen.note(&doc, operation);
        }
        if let Some(shape) = Shape::of(&doc, operation, variables) {
            let _ = self.shape.set(shape);
        }
        Ok(doc)
    }

    /// Charges the operation's complexity, as validation measured it, to the caller's and the
    /// tenant's rate limits (`rate`): refused, it answers `RATE_LIMITED` before execution.
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let cost = u64::try_from(result.complexity).unwrap_or(u64::MAX).max(1);
        if let Some(measured) = ctx.data_opt::<Arc<Measured>>() {
            measured.set(cost);
        }
        // Anonymous requests (the public schema) have no budget of their own; its sign-in
        // operations are limited per address and account by their resolvers.
        if ctx.data_opt::<Prepaid>().is_none()
            && let (Some(state), Some(p)) = (ctx.data_opt::<Services>(), ctx.data_opt::<Principal>())
        {
            state.limiter.operation(p, cost).await.map_err(|e| vec![e.to_server_error()])?;
        }
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        in_order(&self.shape, next.run(ctx, operation_name).await)
    }

    /// A socket's operations (subscriptions, and queries sent over it) answer through here.
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let shape = self.shape.clone();
        next.run(ctx, stream.map(move |r| in_order(&shape, r)).boxed())
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let node = info.path_node;
        next.run(ctx, info).await.map_err(|mut e| {
            // The innermost field an error passes is where it arose; outer ones keep its path.
            if e.path.is_empty() {
                let mut path: Vec<PathSegment> = std::iter::once(node)
                    .chain(node.parents())
                    .map(|n| match n.segment {
                        QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
                        QueryPathSegment::Index(i) => PathSegment::Index(i),
                    })
                    .collect();
                path.reverse();
                e.path = path;
            }
            e
        })
    }
}
