//! A record's 360° view: the record, and for every entity related to it (a RELATION field
//! pointing at its entity, one level) the number of its records linked through that field and
//! the latest of them, each read within the caller's row rule and view. A fixed number of
//! statements per relation field — a count and a page — however many records are linked.

use serde_json::json;

use super::timeline::Related;
use crate::Result;
use crate::runtime::filter::{Filter, Target};
use crate::runtime::meta::FieldType;
use crate::runtime::record::Record;
use crate::runtime::sql::{Direction, SortKey};
use crate::runtime::store::{ListArgs, Store};

/// The most related records a group shows.
pub const MAX_LATEST: u64 = 50;

/// The records of one entity linked to the record through one of its RELATION fields.
pub struct Group {
    /// The related entity (`nameSingular`) and its field's GraphQL name.
    pub entity: String,
    pub field: String,
    pub count: i64,
    /// Newest first, at most the `latest` asked for.
    pub latest: Vec<Record>,
}

/// The groups of `record` (of entity id `record.entity_id`), `latest` records each (capped at
/// [`MAX_LATEST`]), in the order of `related` and its fields.
pub async fn groups(
    store: &Store<'_>,
    record: &Record,
    related: &[Related<'_>],
    latest: u64,
) -> Result<Vec<Group>> {
    let latest = latest.min(MAX_LATEST);
    let target = record.entity_id.as_str();
    let mut out = Vec::new();
    for r in related {
        let links = r
            .view
            .fields
            .iter()
            .filter(|f| f.ty == FieldType::Relation && f.related_entity_id.as_deref() == Some(target));
        for link in links {
            let filter = Filter::parse(r.view, &json!({ link.graphql_name.clone(): {"eq": record.id} }))?;
            let args = ListArgs {
                filter: Some(filter),
                order: vec![SortKey { target: Target::CreatedAt, direction: Direction::Desc }],
                first: Some(latest),
                with_total: true,
                ..ListArgs::default()
            }
            .restrict(r.row);
            let page = store.list(r.view, &args, latest).await?;
            out.push(Group {
                entity: r.view.name_singular.clone(),
                field: link.graphql_name.clone(),
                count: page.total.unwrap_or(0),
                latest: page.records,
            });
        }
    }
    Ok(out)
}
