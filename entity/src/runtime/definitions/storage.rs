//! The writes every definition change shares: counting the records a change would affect,
//! storing a field, back-filling a new field's default, and bumping the tenant's metadata
//! version (with its audit entry and the change event that drops cached schemas).

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::Value;

use super::Definitions;
use super::stored::{formula_json, lifecycle_json, options_json, validation_json};
use crate::models::field_def;
use crate::runtime::audit;
use crate::runtime::filter::Filter;
use crate::runtime::meta::FieldDef;
use crate::runtime::sql;
use crate::runtime::{signals, value};
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, Result};

impl Definitions<'_> {
    pub(super) async fn live_count(&self, txn: &impl ConnectionTrait, entity_id: &str) -> Result<i64> {
        self.count_where(txn, entity_id, &Filter::And(vec![])).await
    }

    pub(super) async fn count_where(
        &self,
        txn: &impl ConnectionTrait,
        entity_id: &str,
        f: &Filter,
    ) -> Result<i64> {
        let mut buf = SqlBuf::new(self.db.dialect);
        buf.push("SELECT COUNT(*) AS n FROM records WHERE ");
        sql::push_scope_for(&mut buf, self.tenant_id, entity_id, f.targets())?;
        buf.push(" AND ");
        sql::compile(&mut buf, f)?;
        Ok(txn
            .query_one_raw(buf.into_statement())
            .await?
            .map(|r| r.try_get("", "n"))
            .transpose()?
            .unwrap_or(0))
    }

    pub(super) async fn insert_field(
        &self,
        txn: &impl ConnectionTrait,
        entity_id: &str,
        f: &FieldDef,
    ) -> Result<()> {
        let now = crate::runtime::time::now();
        field_def::ActiveModel {
            id: Set(f.id.clone()),
            tenant_id: Set(self.tenant_id.to_owned()),
            entity_id: Set(entity_id.to_owned()),
            key: Set(f.key.to_string()),
            label: Set(f.label.clone()),
            // A formula is stored as FORMULA (its result type is in its source); a rollup as its
            // result type, marked by its `rollup` column (`meta::field_from_model` reads both).
            field_type: Set(if f.formula.is_some() { f.type_name() } else { f.ty.as_str() }.to_owned()),
            required: Set(f.required),
            is_unique: Set(f.unique),
            indexed: Set(f.indexed),
            personal: Set(f.personal),
            hierarchy: Set(f.hierarchy),
            index_slot: Set(None),
            index_ready: Set(false),
            searchable: Set(f.searchable),
            search_ready: Set(false),
            mentions: Set(f.mentions),
            options: Set(options_json(f)),
            related_entity_id: Set(f.related_entity_id.clone()),
            relation_kind: Set(f.relation_kind.map(|k| k.as_str().to_owned())),
            default_value: Set(f.default.clone()),
            validation: Set(validation_json(&f.validation)?),
            labels: Set(f.labels.clone()),
            lifecycle: Set(lifecycle_json(f)?),
            option_labels: Set(f.option_labels.clone()),
            formula: Set(formula_json(f)?),
            position: Set(f.position),
            rollup: Set(f.rollup.as_deref().map(serde_json::to_value).transpose()?),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(txn)
        .await?;
        Ok(())
    }

    /// A required field added with a default gives existing records that value, so the
    /// non-null GraphQL field never meets a record without one.
    pub(super) async fn backfill_default(
        &self,
        txn: &impl ConnectionTrait,
        entity_id: &str,
        f: &FieldDef,
    ) -> Result<()> {
        let Some(default) = f.default.as_ref().filter(|_| f.required) else { return Ok(()) };
        let Some(stored) = value::normalize(f, default).map_err(|m| Error::field("default", m))? else {
            return Ok(());
        };
        let mut buf = SqlBuf::new(self.db.dialect);
        match self.db.dialect {
            Dialect::Postgres => {
                let patch = serde_json::json!({ f.key.clone(): stored }).to_string();
                buf.push("UPDATE records SET data = data || CAST(").bind(patch).push(" AS JSONB)");
            }
            Dialect::Sqlite => {
                buf.push("UPDATE records SET data = json_set(data, ").bind(format!("$.{}", f.key));
                buf.push(", json(").bind(stored.to_string()).push("))");
            }
        }
        buf.push(" WHERE tenant_id = ")
            .bind(self.tenant_id.to_owned())
            .push(" AND entity_id = ")
            .bind(entity_id.to_owned());
        txn.execute_raw(buf.into_statement()).await?;
        Ok(())
    }

    /// Bumps the tenant's metadata version, records the change for subscribers, and audits it.
    pub(super) async fn bump(
        &self,
        txn: &impl ConnectionTrait,
        action: &str,
        object_id: &str,
        details: Value,
    ) -> Result<()> {
        let entry =
            audit::Entry { action, object_type: "definition", object_id: Some(object_id), changes: details };
        audit::append(txn, self.db.dialect, self.tenant_id, &self.actor, &entry).await?;
        // First: the tenant row's update makes the change wait for creates checked against the
        // definitions before it (`store::guards::push_definitions_guard`), so `assign` sees their records.
        signals::metadata_changed(txn, self.db.dialect, self.tenant_id).await?;
        // Fields may have been marked or unmarked `indexed`, or gone with their slots.
        crate::runtime::indexes::assign(txn, self.db.dialect, self.tenant_id).await?;
        // Fields may have been marked `searchable`: their entries for existing records.
        crate::runtime::search::assign(txn, self.db.dialect, self.tenant_id).await?;
        // A rollup field may have come, or records been rewritten under one: its values, before
        // the cells are rebuilt from them.
        crate::runtime::rollup_fields::backfill(txn, self.db.dialect, self.tenant_id).await?;
        // Fields may have come, gone or changed type, and records been rewritten.
        crate::runtime::rollups::rebuild_tenant(txn, self.db.dialect, self.tenant_id).await
    }
}
