//! `globalSearch` on the request's read connection: the statement and the reading of its rows
//! are the search module's (`search::query`); the store only runs it.

use super::Store;
use crate::Result;
use crate::runtime::search::query::{self, Hit, Scope};

impl Store<'_> {
    /// The `first` best records matching `q` across `scopes`, each with the fields that
    /// matched, a snippet of the best one and its rank.
    pub async fn global_search(&self, scopes: &[Scope<'_>], q: &str, first: u64) -> Result<Vec<Hit>> {
        let rows = query::rows_for(scopes, first);
        let Some(statement) = query::global_statement(self.db.dialect, self.tenant_id, scopes, q, rows)?
        else {
            return Ok(Vec::new());
        };
        let found = self.query_all(statement).await?;
        query::collect(&found, first as usize)
    }
}
