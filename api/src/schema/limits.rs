//! Query-shape limits beyond async-graphql's depth and complexity: the number of aliased
//! fields (alias amplification: one request asking the same expensive field hundreds of
//! times). Counted over the document with fragment spreads expanded, so a fragment used many
//! times counts every time. Exceeding it answers `QUERY_TOO_COMPLEX` before execution.
//! The same hook, having the parsed document at hand, stops a request that may write from
//! sharing one read connection (`entity::ReadScope`), and parses through the document cache
//! (`parse_cache`): one extension, so resolvers pay for one pass-through per field, not two.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{ErrorExtensionValues, Name, Positioned, ServerError, ServerResult, Variables};

/// Installs the alias limit on a schema.
pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension(self.0))
    }
}

struct AliasLimitExtension(usize);

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
impl Extension for AliasLimitExtension {
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
}
