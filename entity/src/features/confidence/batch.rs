//! Many records' current scores at once, for a page of pipeline records that shows its scores
//! (`confidence` on the pipeline's own type): one statement for the whole page, read as the
//! record store reads (on the request's connection when it has one), never one per record.

use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryTrait};

use super::Score;
use crate::Result;
use crate::models::confidence_score as row;
use crate::runtime::store::Store;

/// The current (`latest`) scores of the records `record_ids` of the store's tenant: one per
/// record scored, none for a record not scored yet; in one statement.
pub async fn latest_of(store: &Store<'_>, record_ids: &[String]) -> Result<Vec<Score>> {
    if record_ids.is_empty() {
        return Ok(Vec::new());
    }
    let statement = row::Entity::find()
        .filter(row::Column::TenantId.eq(store.tenant_id))
        .filter(row::Column::RecordId.is_in(record_ids.iter().map(String::as_str)))
        .filter(row::Column::Latest.eq(true))
        .build(store.db.backend());
    store
        .query_all(statement)
        .await?
        .iter()
        .map(|r| Score::try_from(row::Model::from_query_result(r, "")?))
        .collect()
}
