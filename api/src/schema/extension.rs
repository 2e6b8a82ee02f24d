//! The one async-graphql extension every schema runs with (one, so each field pays for one
//! pass-through, not one per concern). As a document is parsed it goes through the document
//! cache (`parse_cache`), a request that may write stops sharing one read connection
//! (`entity::ReadScope`), and the alias limit (`limits`) applies. As a field resolves, an error
//! it raises gets the field's path: async-graphql's dynamic schemas leave resolver errors
//! without one, and the path is what tells a resolver's error (logged, shown as `INTERNAL`
//! when uncoded) from a request error (`http::errors`).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{PathSegment, QueryPathSegment, ServerResult, Value, Variables};

/// Installs the extension on a schema, with the alias limit.
pub struct Hooks {
    pub max_aliases: usize,
}

impl ExtensionFactory for Hooks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestHooks { max_aliases: self.max_aliases })
    }
}

/// The extension's instance for one request (or one subscription).
struct RequestHooks {
    max_aliases: usize,
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestHooks {
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
        super::limits::check_aliases(&doc, self.max_aliases)?;
        Ok(doc)
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
