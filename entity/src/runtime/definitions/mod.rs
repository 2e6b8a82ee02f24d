//! Changing a tenant's definitions: `defineEntity`, `updateEntity`, `addField`, `updateField`,
//! `removeField`, `deleteEntity`. Every change is validated against the whole proposed
//! metadata (identifiers, reserved names, every generated GraphQL name, relation targets,
//! existing data), then written in one transaction that bumps the tenant's metadata version
//! and records a `metadata.changed` outbox event.

use std::sync::Arc;

use sea_orm::DatabaseTransaction;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde_json::Value;

use super::audit::Actor;
use super::filter::{Filter, Op, Target};
use super::lifecycle::Lifecycle;
use super::meta::{EntityDef, FieldDef, FieldType, TenantMeta};
use super::naming;
use super::sql;
use crate::models::{entity_def, field_def};
use crate::sql_buf::SqlBuf;
use crate::{Db, Dialect, Error, FieldError, Result};

mod computed;
pub mod input;
mod storage;
mod stored;
mod validate;

#[cfg(test)]
pub(crate) use validate::blank_field;
pub use validate::{Conflict, name_conflicts};

use input::{EntityInput, FieldInput, UpdateEntityInput, UpdateFieldInput};
use stored::{
    field_summary, formula_json, input_summary, kept_option_labels, lifecycle_json, options_json, replace,
    validation_json,
};
use validate::{
    build_field, check_default, check_entity_labels, check_label, check_labels_json, check_mentions,
    check_option_labels, check_options, check_personal, check_prefix, check_searchable, formula_errors,
    parse_validation, refuse_computed,
};

/// Reports collisions of `proposed` against the input path that caused them: a field of the
/// entity being changed (`field_path(key)`), else `entity_path`.
fn conflicts_as_errors(
    errors: &mut Vec<FieldError>,
    entity: &str,
    entity_path: &str,
    field_path: impl Fn(&str) -> String,
    proposed: &[Arc<EntityDef>],
) {
    for c in name_conflicts(proposed) {
        let path = match &c.field {
            Some(key) if c.entity == entity => field_path(key),
            _ => entity_path.to_owned(),
        };
        errors.push(FieldError::new(path, c.message));
    }
}

/// The entity `defineEntity` would add to `meta` for `input`, checked against the whole
/// proposed metadata (identifiers, labels, relation targets, every generated GraphQL name),
/// every problem reported by its input path. Pure: nothing is read or written, so the schema
/// a definition yields can be built and tested without a database.
pub fn draft_entity(input: &EntityInput, meta: &TenantMeta) -> Result<EntityDef> {
    let mut errors = Vec::new();
    for (path, name) in [("nameSingular", &input.name_singular), ("namePlural", &input.name_plural)] {
        if !naming::is_identifier(name) {
            errors.push(FieldError::new(
                path,
                "must be a snake_case or camelCase identifier (a-z first, at most 63)",
            ));
        }
    }
    if naming::camel(&input.name_singular) == naming::camel(&input.name_plural) {
        errors.push(FieldError::new("namePlural", "must differ from nameSingular"));
    }
    check_label(&mut errors, "labelSingular", &input.label_singular);
    check_label(&mut errors, "labelPlural", &input.label_plural);
    check_prefix(&mut errors, input.record_number_prefix.as_deref());
    check_entity_labels(&mut errors, input.labels.as_ref());
    let id = uuid::Uuid::new_v4().to_string();
    let fields: Vec<FieldDef> = input
        .fields
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, f)| {
            build_field(&mut errors, &format!("fields[{i}]"), f, meta, (&input.name_singular, &id), i as i32)
        })
        .collect();
    let now = super::time::now();
    let entity = EntityDef {
        id: id.clone(),
        name_singular: input.name_singular.clone(),
        name_plural: input.name_plural.clone(),
        label_singular: input.label_singular.trim().to_owned(),
        label_plural: input.label_plural.trim().to_owned(),
        icon: input.icon.clone(),
        record_number_prefix: input.record_number_prefix.clone(),
        labels: input.labels.clone().filter(|v| !v.is_null()),
        fields,
        switched_off: false,
        scored: false,
        stock: None,
        created_at: now,
        updated_at: now,
    };
    if errors.is_empty() {
        let mut proposed = meta.entities.clone();
        proposed.push(Arc::new(entity.clone()));
        let index_of = |key: &str| {
            let i = input
                .fields
                .as_deref()
                .unwrap_or_default()
                .iter()
                .rposition(|f| f.key == key)
                .unwrap_or_default();
            format!("fields[{i}].key")
        };
        conflicts_as_errors(&mut errors, &entity.name_singular, "nameSingular", index_of, &proposed);
        let position =
            |key: &str| input.fields.as_deref().unwrap_or_default().iter().rposition(|f| f.key == key);
        formula_errors(&mut errors, &meta.entities, &proposed, |entity_id, key| {
            (entity_id == id)
                .then(|| format!("fields[{}].formula.expression", position(key).unwrap_or_default()))
        });
    }
    super::hierarchy::check_one_link(&mut errors, "fields", &entity);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(entity)
}

/// `CONFLICT` while ROLLUP fields (`readers`) read `what`, which is to be removed.
fn refuse_while_read(readers: &[String], what: &str) -> Result<()> {
    if readers.is_empty() {
        return Ok(());
    }
    Err(Error::Conflict(format!(
        "{what} is read by the ROLLUP fields {}; remove those first",
        readers.join(", ")
    )))
}

/// Definition changes for one tenant, audited as `actor`.
pub struct Definitions<'a> {
    pub db: &'a Db,
    pub tenant_id: &'a str,
    pub actor: Actor,
}

impl<'a> Definitions<'a> {
    pub fn new(db: &'a Db, tenant_id: &'a str) -> Self {
        Definitions { db, tenant_id, actor: Actor::system() }
    }

    /// Records changes as done by `actor`.
    pub fn by(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    /// `defineEntity`: a new entity with its fields.
    pub async fn define_entity(&self, input: &EntityInput) -> Result<()> {
        let txn = self.db.begin_tenant_write(self.tenant_id).await?;
        self.define_entity_in(&txn, input).await?;
        txn.commit().await?;
        Ok(())
    }

    /// [`Definitions::define_entity`] inside a transaction the caller commits (a template
    /// defines all its entities in one).
    pub async fn define_entity_in(&self, txn: &DatabaseTransaction, input: &EntityInput) -> Result<()> {
        let meta = TenantMeta::load(txn, self.tenant_id).await?;
        let entity = draft_entity(input, &meta)?;
        let now = entity.created_at;
        entity_def::ActiveModel {
            id: Set(entity.id.clone()),
            tenant_id: Set(self.tenant_id.to_owned()),
            name_singular: Set(entity.name_singular.clone()),
            name_plural: Set(entity.name_plural.clone()),
            label_singular: Set(entity.label_singular.clone()),
            label_plural: Set(entity.label_plural.clone()),
            icon: Set(entity.icon.clone()),
            record_number_prefix: Set(entity.record_number_prefix.clone()),
            labels: Set(entity.labels.clone()),
            switched_off: Set(false),
            stock: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(txn)
        .await?;
        for f in &entity.fields {
            self.insert_field(txn, &entity.id, f).await?;
        }
        let details = serde_json::json!({ "input": serde_json::to_value(input_summary(input))? });
        self.bump(txn, "entity.define", &entity.id, details).await
    }

    /// `updateEntity`: labels, icon and record-number prefix.
    pub async fn update_entity(&self, name: &str, input: &UpdateEntityInput) -> Result<()> {
        let txn = self.db.begin_tenant_write(self.tenant_id).await?;
        let meta = TenantMeta::load(&txn, self.tenant_id).await?;
        let e = meta.entity_named(name)?;
        let mut errors = Vec::new();
        if let Some(l) = &input.label_singular {
            check_label(&mut errors, "labelSingular", l);
        }
        if let Some(l) = &input.label_plural {
            check_label(&mut errors, "labelPlural", l);
        }
        check_prefix(&mut errors, input.record_number_prefix.as_deref().filter(|p| !p.is_empty()));
        check_entity_labels(&mut errors, input.labels.as_ref());
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let mut am: entity_def::ActiveModel = entity_def::Entity::find_by_id(e.id.clone())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("entity `{name}`")))?
            .into();
        if let Some(l) = &input.label_singular {
            am.label_singular = Set(l.trim().to_owned());
        }
        if let Some(l) = &input.label_plural {
            am.label_plural = Set(l.trim().to_owned());
        }
        if let Some(i) = &input.icon {
            am.icon = Set(Some(i.clone()).filter(|i| !i.is_empty()));
        }
        if let Some(p) = &input.record_number_prefix {
            am.record_number_prefix = Set(Some(p.clone()).filter(|p| !p.is_empty()));
        }
        if let Some(l) = &input.labels {
            am.labels = Set(Some(l.clone()).filter(|v| !v.is_null()));
        }
        am.updated_at = Set(super::time::now());
        am.update(&txn).await?;
        let details = serde_json::json!({ "name": name, "input": {
            "labelSingular": input.label_singular, "labelPlural": input.label_plural,
            "icon": input.icon, "recordNumberPrefix": input.record_number_prefix, "labels": input.labels } });
        self.bump(&txn, "entity.update", &e.id, details).await?;
        txn.commit().await?;
        Ok(())
    }

    /// `addField`.
    pub async fn add_field(&self, entity: &str, input: &FieldInput) -> Result<()> {
        let txn = self.db.begin_tenant_write(self.tenant_id).await?;
        self.add_field_in(&txn, entity, input).await?;
        txn.commit().await?;
        Ok(())
    }

    /// [`Definitions::add_field`] inside a transaction the caller commits.
    pub async fn add_field_in(
        &self,
        txn: &DatabaseTransaction,
        entity: &str,
        input: &FieldInput,
    ) -> Result<()> {
        let meta = TenantMeta::load(txn, self.tenant_id).await?;
        let e = meta.entity_named(entity)?;
        let mut errors = Vec::new();
        let position = e.fields.iter().map(|f| f.position + 1).max().unwrap_or(0);
        let field = build_field(&mut errors, "", input, &meta, (&e.name_singular, &e.id), position);
        if errors.is_empty() {
            let mut changed = (**e).clone();
            changed.fields.push(field.clone());
            super::hierarchy::check_one_link(&mut errors, "hierarchy", &changed);
            let proposed = replace(&meta, changed);
            // Every collision here is caused by the new field.
            conflicts_as_errors(&mut errors, "", "key", |_| "key".to_owned(), &proposed);
            formula_errors(&mut errors, &meta.entities, &proposed, |entity_id, key| {
                (entity_id == e.id && field.key == key).then(|| "formula.expression".to_owned())
            });
        }
        if field.required
            && errors.is_empty()
            && field.default.is_none()
            && self.live_count(txn, &e.id).await? > 0
        {
            errors.push(FieldError::new(
                "required",
                "existing records have no value: give a default or add it as optional",
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        self.insert_field(txn, &e.id, &field).await?;
        self.backfill_default(txn, &e.id, &field).await?;
        let details = serde_json::json!({ "entity": entity, "key": field.key, "type": field.ty.as_str() });
        self.bump(txn, "field.add", &field.id, details).await?;
        Ok(())
    }

    /// `updateField`: label, constraints, options, default, validation, labels. Tightening a
    /// constraint is refused while existing records break it.
    pub async fn update_field(&self, entity: &str, key: &str, input: &UpdateFieldInput) -> Result<()> {
        let txn = self.db.begin_tenant_write(self.tenant_id).await?;
        self.update_field_in(&txn, entity, key, input).await?;
        txn.commit().await?;
        Ok(())
    }

    /// [`Definitions::update_field`] inside a transaction the caller commits.
    pub async fn update_field_in(
        &self,
        txn: &DatabaseTransaction,
        entity: &str,
        key: &str,
        input: &UpdateFieldInput,
    ) -> Result<()> {
        let meta = TenantMeta::load(txn, self.tenant_id).await?;
        let e = meta.entity_named(entity)?;
        let old = e.field_by_key(key).ok_or_else(|| Error::NotFound(format!("field `{key}`")))?;
        let mut errors = Vec::new();
        if old.rollup.is_some() {
            super::rollup_fields::define::check_update(&mut errors, input);
        }
        let mut f = old.clone();
        if let Some(l) = &input.label {
            check_label(&mut errors, "label", l);
            f.label = l.trim().to_owned();
        }
        if input.options.is_some() {
            check_options(&mut errors, "options", f.ty, input.options.as_ref());
            f.options = input.options.clone().unwrap_or_default();
            // Translations of options the field no longer has go with them.
            f.option_labels = kept_option_labels(f.option_labels.take(), &f.options);
        }
        if input.option_labels.is_some() {
            let labels = input.option_labels.as_ref();
            check_option_labels(&mut errors, "optionLabels", f.ty, &f.options, labels);
            f.option_labels = input.option_labels.clone().filter(|v| !v.is_null());
        }
        if input.labels.is_some() {
            check_labels_json(&mut errors, "labels", input.labels.as_ref());
            f.labels = input.labels.clone().filter(|v| !v.is_null());
        }
        if input.validation.is_some() {
            let (v, p) = parse_validation(&mut errors, "validation", f.ty, input.validation.as_ref());
            f.validation = v;
            f.pattern = p;
        }
        if let Some(d) = &input.default {
            f.default = Some(d.clone()).filter(|v| !v.is_null());
        }
        f.required = input.required.unwrap_or(f.required);
        f.unique = input.unique.unwrap_or(f.unique);
        f.indexed = input.indexed.unwrap_or(f.indexed);
        computed::edit(&mut errors, &meta, e, old, &mut f, input);
        f.personal = input.personal.unwrap_or(f.personal);
        check_personal(&mut errors, "personal", &f);
        f.hierarchy = input.hierarchy.unwrap_or(f.hierarchy);
        let relinked = super::hierarchy::relinked(&mut errors, &meta, e, &f);
        f.searchable = input.searchable.unwrap_or(f.searchable);
        check_searchable(&mut errors, "searchable", &f);
        f.mentions = input.mentions.unwrap_or(f.mentions);
        check_mentions(&mut errors, "mentions", &f);
        if !f.is_stored() {
            refuse_computed(
                &mut errors,
                str::to_owned,
                [
                    ("required", f.required),
                    ("unique", f.unique),
                    ("indexed", f.indexed),
                    ("default", f.default.is_some()),
                    ("options", !f.options.is_empty()),
                ],
            );
        }
        if f.unique && matches!(f.ty, FieldType::Json | FieldType::File | FieldType::MultiSelect) {
            errors.push(FieldError::new("unique", "JSON, FILE and MULTI_SELECT fields cannot be unique"));
        }
        check_default(&mut errors, "default", &f);
        // A new lifecycle, or the kept one against the options and default as they now are.
        match &input.lifecycle {
            Some(l) => f.lifecycle = Lifecycle::parse(&mut errors, "lifecycle", &f, l),
            None => {
                if let Some(l) = &f.lifecycle {
                    l.check(&mut errors, "lifecycle", &f);
                }
            }
        }
        if errors.is_empty() {
            self.check_existing_data(txn, e, old, &f, &mut errors).await?;
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let mut am: field_def::ActiveModel = field_def::Entity::find_by_id(f.id.clone())
            .one(txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("field `{key}`")))?
            .into();
        am.label = Set(f.label.clone());
        am.required = Set(f.required);
        am.is_unique = Set(f.unique);
        am.indexed = Set(f.indexed);
        am.personal = Set(f.personal);
        am.hierarchy = Set(f.hierarchy);
        am.searchable = Set(f.searchable);
        am.mentions = Set(f.mentions);
        if f.searchable != old.searchable {
            // Marked: `bump` writes the entries (`search::assign`). Unmarked: they go now.
            am.search_ready = Set(false);
            if old.searchable {
                super::search::forget(txn, self.db.dialect, self.tenant_id, &e.id, Some(key)).await?;
            }
        }
        am.options = Set(options_json(&f));
        am.default_value = Set(f.default.clone());
        am.validation = Set(validation_json(&f.validation)?);
        am.labels = Set(f.labels.clone());
        am.lifecycle = Set(lifecycle_json(&f)?);
        am.option_labels = Set(f.option_labels.clone());
        am.formula = Set(formula_json(&f)?);
        am.rollup = Set(f.rollup.as_deref().map(serde_json::to_value).transpose()?);
        am.updated_at = Set(super::time::now());
        am.update(txn).await?;
        if let Some(links) = relinked {
            let links: Vec<_> = links.iter().map(|(e, f)| (&**e, f)).collect();
            super::hierarchy::rebuild(txn, self.db.dialect, self.tenant_id, &links).await?;
        }
        let details = serde_json::json!({ "entity": entity, "key": key, "old": field_summary(old), "new": field_summary(&f) });
        self.bump(txn, "field.update", &f.id, details).await?;
        Ok(())
    }

    /// Refuses a tightened constraint that stored records already break.
    async fn check_existing_data(
        &self,
        txn: &impl ConnectionTrait,
        e: &EntityDef,
        old: &FieldDef,
        new: &FieldDef,
        errors: &mut Vec<FieldError>,
    ) -> Result<()> {
        let target = Target::Field(Box::new(new.clone()));
        if new.required && !old.required {
            let n = self.count_where(txn, &e.id, &Filter::Cond(target.clone(), Op::IsNull(true))).await?;
            if n > 0 {
                errors.push(FieldError::new("required", format!("{n} records have no value")));
            }
        }
        let removed: Vec<Value> = old
            .options
            .iter()
            .filter(|o| !new.options.contains(o))
            .map(|o| Value::String(o.clone()))
            .collect();
        if !removed.is_empty() {
            let op = if new.ty == FieldType::MultiSelect {
                Op::ContainsAny(removed.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            } else {
                Op::In(removed)
            };
            let n = self.count_where(txn, &e.id, &Filter::Cond(target.clone(), op)).await?;
            if n > 0 {
                errors.push(FieldError::new("options", format!("{n} records use a removed option")));
            }
        }
        if new.unique && !old.unique {
            let expr = sql::target_expr(self.db.dialect, &target);
            let mut buf = SqlBuf::new(self.db.dialect);
            buf.push("SELECT COUNT(*) AS n FROM (SELECT ")
                .push(&expr)
                .push(" AS v FROM records WHERE tenant_id = ");
            buf.bind(self.tenant_id.to_owned()).push(" AND entity_id = ").bind(e.id.clone());
            buf.push(" AND deleted_at IS NULL AND ").push(&expr).push(" IS NOT NULL GROUP BY ").push(&expr);
            buf.push(" HAVING COUNT(*) > 1) dup");
            let n: i64 = txn
                .query_one_raw(buf.into_statement())
                .await?
                .map(|r| r.try_get("", "n"))
                .transpose()?
                .unwrap_or(0);
            if n > 0 {
                errors
                    .push(FieldError::new("unique", format!("{n} values are used by more than one record")));
            }
        }
        Ok(())
    }

    /// `removeField`: the definition and the field's stored values.
    pub async fn remove_field(&self, entity: &str, key: &str) -> Result<()> {
        let txn = self.db.begin_tenant_write(self.tenant_id).await?;
        let meta = TenantMeta::load(&txn, self.tenant_id).await?;
        let e = meta.entity_named(entity)?;
        let f = e.field_by_key(key).ok_or_else(|| Error::NotFound(format!("field `{key}`")))?;
        refuse_while_read(
            &super::rollup_fields::readers_of(&meta, &e.id, Some(key))?,
            &format!("`{entity}.{key}`"),
        )?;
        let mut changed = (**e).clone();
        changed.fields.retain(|x| x.id != f.id);
        let mut errors = Vec::new();
        formula_errors(&mut errors, &meta.entities, &replace(&meta, changed), |_, _| Some("key".to_owned()));
        if !errors.is_empty() {
            for x in &mut errors {
                x.message = format!("a formula would no longer check: {}", x.message);
            }
            return Err(Error::Validation(errors));
        }
        field_def::Entity::delete_by_id(f.id.clone()).exec(&txn).await?;
        let mut buf = SqlBuf::new(self.db.dialect);
        match self.db.dialect {
            Dialect::Postgres => buf.push("UPDATE records SET data = data - ").bind(f.key.clone()),
            Dialect::Sqlite => buf
                .push("UPDATE records SET data = json_remove(data, ")
                .bind(format!("$.{}", f.key))
                .push(")"),
        };
        // The field's index slot is free again: its key leaves the records with the value.
        if let Some(slot) = f.slot {
            buf.push(", ").push(&slot.key_column()).push(" = NULL");
        }
        buf.push(" WHERE tenant_id = ")
            .bind(self.tenant_id.to_owned())
            .push(" AND entity_id = ")
            .bind(e.id.clone());
        txn.execute_raw(buf.into_statement()).await?;
        if f.searchable {
            super::search::forget(&txn, self.db.dialect, self.tenant_id, &e.id, Some(key)).await?;
        }
        let details = serde_json::json!({ "entity": entity, "key": key });
        self.bump(&txn, "field.remove", &f.id, details).await?;
        txn.commit().await?;
        Ok(())
    }

    /// `deleteEntity`: the definition and all its records. Refused while another entity's
    /// RELATION field points at it.
    pub async fn delete_entity(&self, name: &str) -> Result<()> {
        let txn = self.db.begin_tenant_write(self.tenant_id).await?;
        let meta = TenantMeta::load(&txn, self.tenant_id).await?;
        let e = meta.entity_named(name)?;
        let referrers: Vec<String> = meta
            .reverse_relations(&e.id)
            .into_iter()
            .filter(|r| r.source.id != e.id)
            .map(|r| format!("{}.{}", r.source.name_singular, r.field.key))
            .collect();
        if !referrers.is_empty() {
            return Err(Error::Conflict(format!(
                "`{name}` is referenced by {}; remove those fields first",
                referrers.join(", ")
            )));
        }
        refuse_while_read(&super::rollup_fields::readers_of(&meta, &e.id, None)?, &format!("`{name}`"))?;
        for table in ["records", "record_counters", "record_uids", "uid_counters", "field_defs"] {
            let mut buf = SqlBuf::new(self.db.dialect);
            buf.push("DELETE FROM ").push(table).push(" WHERE tenant_id = ").bind(self.tenant_id.to_owned());
            buf.push(" AND entity_id = ").bind(e.id.clone());
            txn.execute_raw(buf.into_statement()).await?;
        }
        super::search::forget(&txn, self.db.dialect, self.tenant_id, &e.id, None).await?;
        entity_def::Entity::delete_by_id(e.id.clone()).exec(&txn).await?;
        self.bump(&txn, "entity.delete", &e.id, serde_json::json!({ "name": name })).await?;
        txn.commit().await?;
        Ok(())
    }
}
