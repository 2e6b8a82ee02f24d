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
//! error. Every answer's errors, over HTTP or a socket, leave labelled (`errors::label`: their
//! public code; an internal one logged and masked), for the caller, request id and operation
//! the transport put in the request's data. The operation the document selects is noted
//! there for the request's log line and latency histogram (`errors::Operation`).

use std::any::{Any, TypeId};
use std::sync::{Arc, OnceLock};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest, NextResolve, NextSubscribe, NextValidation, ResolveInfo,
};
use async_graphql::futures_util::stream::{BoxStream, StreamExt};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{
    Data, PathSegment, QueryPathSegment, Request, Response, ServerError, ServerResult, ValidationResult,
    Value, Variables,
};

use super::ctx::RequestId;
use super::errors::{self, Operation};
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
            audience: Arc::new(OnceLock::new()),
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
    /// For whom the answer's errors are labelled, read as the request is prepared (shared with
    /// a subscription's stream).
    audience: Arc<OnceLock<Audience>>,
}

/// What labelling a request's errors needs of it (`errors::label`), from the data its
/// transport gave it: whether the caller is anonymous, the request id, and the operation.
struct Audience {
    /// The caller sent no credential: the request's data holds no `Principal`.
    anonymous: bool,
    rid: RequestId,
    operation: Arc<Operation>,
}

impl Audience {
    /// Read from `data` (the request's own), else from what `ctx` holds (a socket's data, which
    /// its operations share). Data without a transport's entries (a schema run directly) is
    /// labelled as an anonymous request's, with an empty request id.
    fn of(data: Option<&Data>, ctx: &ExtensionContext<'_>) -> Audience {
        fn find<'a, T: Any + Send + Sync>(
            data: Option<&'a Data>,
            ctx: &ExtensionContext<'a>,
        ) -> Option<&'a T> {
            let own = data.and_then(|d| d.get(&TypeId::of::<T>())).and_then(|d| d.downcast_ref::<T>());
            own.or_else(|| ctx.data_opt::<T>())
        }
        Audience {
            anonymous: find::<Principal>(data, ctx).is_none(),
            rid: find::<RequestId>(data, ctx).cloned().unwrap_or_else(|| RequestId(String::new())),
            operation: find::<Arc<Operation>>(data, ctx)
                .cloned()
                .unwrap_or_else(|| Arc::new(Operation::none())),
        }
    }

    /// Labels every error of `response`.
    fn label(&self, response: &mut Response) {
        for e in &mut response.errors {
            errors::label(e, self.anonymous, &self.rid, &self.operation);
        }
    }
}

/// A tenant scheduled for deletion is read-only: a mutation is refused (FORBIDDEN) unless each
/// of its root fields is one it still answers (`gdpr::tenant::ALLOWED_WHILE_DELETING`: the
/// cancellation, the exports, logout, the deletion itself).
fn refuse_writes_while_deleting(doc: &ExecutableDocument) -> ServerResult<()> {
    use async_graphql::parser::types::Selection;
    let allowed = |s: &Selection| match s {
        Selection::Field(f) => {
            entity::features::gdpr::tenant::ALLOWED_WHILE_DELETING.contains(&f.node.name.node.as_str())
        }
        Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
    };
    let writes = doc.operations.iter().filter(|(_, op)| op.node.ty == OperationType::Mutation);
    for (_, op) in writes {
        if !op.node.selection_set.node.items.iter().all(|s| allowed(&s.node)) {
            let why = "the tenant is scheduled for deletion and read-only until then; its owner may cancel the \
                       deletion (cancelTenantDeletion)";
            return Err(crate::error::ApiError::Forbidden(why.into()).to_server_error());
        }
    }
    Ok(())
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
    /// A query's or mutation's answer, whatever stage it failed at, leaves labelled here.
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        if !response.errors.is_empty() {
            match self.audience.get() {
                Some(audience) => audience.label(&mut response),
                None => Audience::of(None, ctx).label(&mut response),
            }
        }
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let _ = self.operation.set(request.operation_name.clone());
        // Read now: the request's data is out of reach of `request` and `subscribe`, which
        // label its answers, and of every later step should this one refuse it.
        let _ = self.audience.set(Audience::of(Some(&request.data), ctx));
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
        if ctx.data_opt::<Principal>().is_some_and(|p| p.tenant_deleting) {
            refuse_writes_while_deleting(&doc)?;
        }
        let operation = self.operation.get().and_then(Option::as_deref);
        if let Some(noted) = ctx.data_opt::<Arc<Operation>>() {
            noted.note(&doc, operation);
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

    /// A socket's operations (subscriptions, and queries sent over it) answer through here,
    /// each answer labelled as a request's is (`request`).
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let (shape, audience) = (self.shape.clone(), self.audience.clone());
        // For an answer given before the request was prepared (a schema without subscriptions).
        let unprepared = Audience::of(None, ctx);
        let answers = stream.map(move |mut r| {
            if !r.errors.is_empty() {
                audience.get().unwrap_or(&unprepared).label(&mut r);
            }
            in_order(&shape, r)
        });
        next.run(ctx, answers.boxed())
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
