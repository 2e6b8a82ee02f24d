//! Query-shape limits beyond async-graphql's depth and complexity: the number of aliased
//! fields (alias amplification: one request asking the same expensive field hundreds of
//! times). Counted over the document with fragment spreads expanded, so a fragment used many
//! times counts every time. Exceeding it answers `QUERY_TOO_COMPLEX` before execution.
//! The same hook, having the parsed document at hand, stops a request that may write from
//! sharing one read connection (`entity::ReadScope`). Before it, the request is parsed through
//! the document cache (`parse_cache`) and its arguments pass `inputs::prepare` (ID coercion,
//! no NUL character). One extension, so resolvers pay for one pass-through per field, not two.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{ErrorExtensionValues, Name, Positioned, Request, ServerError, ServerResult, Variables};

/// Installs the checks before execution on a schema: input preparation and the alias limit
/// (the most aliased fields a request may ask).
pub struct RequestChecks(pub usize);

impl ExtensionFactory for RequestChecks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestChecksExtension(self.0))
    }
}

struct RequestChecksExtension(usize);

/// Counts aliases under `set`, stopping once `limit` is passed; `depth` guards fragment cycles
/// (which validation rejects later anyway).
fn count(
    set: &SelectionSet,
    fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
    limit: usize,
    depth: usize,
) -> usize {
    if depth > 64 {
        return 0;
    }
    let mut n = 0;
    for item in &set.items {
        if n > limit {
            break;
        }
        n += match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some())
                    + count(&f.node.selection_set.node, fragments, limit, depth + 1)
            }
            Selection::InlineFragment(f) => count(&f.node.selection_set.node, fragments, limit, depth + 1),
            Selection::FragmentSpread(s) => fragments
                .get(&s.node.fragment_name.node)
                .map(|f| count(&f.node.selection_set.node, fragments, limit, depth + 1))
                .unwrap_or(0),
        };
    }
    n
}

/// A `QUERY_TOO_COMPLEX` error.
pub fn too_complex(message: String) -> ServerError {
    let mut e = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", "QUERY_TOO_COMPLEX");
    e.extensions = Some(ext);
    e
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestChecksExtension {
    /// Parses (through the cache) and prepares the arguments; the executor then takes the
    /// prepared document. A text that does not parse is left to the executor's own error.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
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
        let aliases: usize = doc
            .operations
            .iter()
            .map(|(_, op)| count(&op.node.selection_set.node, &doc.fragments, self.0, 0))
            .sum();
        if aliases > self.0 {
            return Err(too_complex(format!("the query uses more than {} aliases", self.0)));
        }
        Ok(doc)
    }
}
