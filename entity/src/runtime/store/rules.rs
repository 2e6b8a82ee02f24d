//! Row rules made ready for evaluation in memory: a rule with `within` needs the descendants
//! of its roots (`hierarchy::load`) before `Filter::matches` can answer; a rule without one
//! costs nothing here.

use super::super::hierarchy;
use super::Store;
use crate::Result;
use crate::db::Reader;
use crate::runtime::filter::Filter;

impl<'a> Store<'a> {
    /// Loads what the `within`s of rule `row` need, on the read `txn`.
    pub(super) async fn load_rule(&self, txn: &mut Reader<'a>, row: Option<&Filter>) -> Result<()> {
        if let Some(statement) = hierarchy::load_statement(self.d(), self.tenant_id, row) {
            let rows = txn.query_all(statement).await?;
            hierarchy::fill(row, &rows)?;
        }
        Ok(())
    }

    /// Makes rule `row` ready to be evaluated in memory (`Filter::matches`) by a caller that
    /// holds records read elsewhere (relation batches, subscriptions, approvals): one read of
    /// its own, none for a rule without `within` (or one already loaded).
    pub async fn prepare_rule(&self, row: Option<&Filter>) -> Result<()> {
        if !hierarchy::needs_loading(row) {
            return Ok(());
        }
        let mut txn = self.reader().await?;
        self.load_rule(&mut txn, row).await?;
        txn.done().await
    }
}
