//! Query-shape limits beyond async-graphql's depth and complexity: the number of aliased
//! fields (alias amplification: one request asking the same expensive field hundreds of
//! times). Counted over the document with fragment spreads expanded, so a fragment used many
//! times counts every time. Exceeding it answers `QUERY_TOO_COMPLEX` before execution.
//! The same hook, having the parsed document at hand, stops a request that may write from
//! sharing one read connection (`entity::ReadScope`), and parses through the document cache
//! (`parse_cache`). Its validation hook charges the operation's complexity, as validation
//! measured it, to the caller's and the tenant's rate limits (`rate`): refused, it answers
//! `RATE_LIMITED` before execution. One extension, so resolvers pay for one pass-through per
//! field, not three.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{
    ErrorExtensionValues, Name, Positioned, ServerError, ServerResult, ValidationResult, Variables,
};

use crate::auth::Principal;
use crate::rate::{Measured, Prepaid};
use crate::state::AppState;

/// Installs the alias limit and the rate-limit charge on a schema.
pub struct QueryLimits(pub usize);

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimitsExtension(self.0))
    }
}

struct QueryLimitsExtension(usize);

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
impl Extension for QueryLimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = match super::parse_cache::get(query) {
            Some(doc) => doc,
            None => {
                let doc = next.run(ctx, query, variables).await?;
                super::parse_cache::put(query, &doc);
                doc
            }
        };
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
            && let (Some(state), Some(p)) = (ctx.data_opt::<AppState>(), ctx.data_opt::<Principal>())
        {
            state.limiter.operation(p, cost).await.map_err(|e| vec![e.to_server_error()])?;
        }
        Ok(result)
    }
}
