//! Query-shape limits beyond async-graphql's depth and complexity: the number of aliased
//! fields (alias amplification: one request asking the same expensive field hundreds of
//! times). Counted over the document with fragment spreads expanded, so a fragment used many
//! times counts every time. Exceeding it answers `QUERY_TOO_COMPLEX` before execution (checked
//! by the schema's extension, `extension`, as the document is parsed).

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{Name, Positioned, ServerError, ServerResult};

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
    crate::error::ApiError::TooComplex(message).to_server_error()
}

/// Refuses a document using more than `limit` aliases.
pub fn check_aliases(doc: &ExecutableDocument, limit: usize) -> ServerResult<()> {
    let aliases: usize = doc
        .operations
        .iter()
        .map(|(_, op)| count(&op.node.selection_set.node, &doc.fragments, limit, 0))
        .sum();
    if aliases > limit {
        return Err(too_complex(format!("the query uses more than {limit} aliases")));
    }
    Ok(())
}
