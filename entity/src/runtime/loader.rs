//! Loading a tenant's definitions (`TenantMeta`) from the tables: every field's stored JSON
//! read back into plain data, then every formula resolved and checked against the whole set.
//! It lives apart from `meta` because it reads the computed-field engines (`formula`,
//! `rollup_fields`), which themselves read the definitions: `meta` stays the plain data they
//! all share. The CRM roles (`crm_roles`), the Daily Focus rules (`focus_rules`) and the Deal
//! Confidence weights are read with them.

use std::sync::Arc;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::crm_roles::CrmRoles;
use super::field_key::FieldKey;
use super::field_type::{FieldType, RelationKind};
use super::focus_rules::FocusRule;
use super::formula::{self, Formula};
use super::meta::{EntityDef, FieldDef, TenantMeta, Validation};
use super::rollup_fields::Rollup;
use super::slot::Slot;
use crate::models::{crm_role, entity_def, field_def, focus_rule, tenant};
use crate::{Error, Result};

impl TenantMeta {
    /// Loads a tenant's definitions in a read transaction of its own.
    pub async fn load_for(db: &crate::Db, tenant_id: &str) -> Result<TenantMeta> {
        let txn = db.begin_tenant_read(tenant_id).await?;
        let meta = TenantMeta::load(&txn, tenant_id).await?;
        txn.commit().await?;
        Ok(meta)
    }

    /// Loads a tenant's definitions from the database (inside the caller's transaction).
    pub async fn load<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<TenantMeta> {
        let t = tenant::Entity::find_by_id(tenant_id.to_owned())
            .one(conn)
            .await?
            .ok_or_else(|| Error::NotFound("tenant".into()))?;
        let entities = entity_def::Entity::find()
            .filter(entity_def::Column::TenantId.eq(tenant_id))
            .order_by_asc(entity_def::Column::CreatedAt)
            .order_by_asc(entity_def::Column::NameSingular)
            .all(conn)
            .await?;
        let fields = field_def::Entity::find()
            .filter(field_def::Column::TenantId.eq(tenant_id))
            .order_by_asc(field_def::Column::Position)
            .order_by_asc(field_def::Column::Key)
            .all(conn)
            .await?;
        let mut defs: Vec<EntityDef> = entities
            .into_iter()
            .map(|e| {
                Ok(EntityDef {
                    id: e.id,
                    name_singular: e.name_singular,
                    name_plural: e.name_plural,
                    label_singular: e.label_singular,
                    label_plural: e.label_plural,
                    icon: e.icon,
                    record_number_prefix: e.record_number_prefix,
                    labels: e.labels.filter(|v| !v.is_null()),
                    fields: Vec::new(),
                    switched_off: e.switched_off,
                    // Marked by `with_confidence` below.
                    scored: false,
                    stock: match e.stock {
                        Some(v) if !v.is_null() => Some(Arc::new(serde_json::from_value(v)?)),
                        _ => None,
                    },
                    created_at: e.created_at,
                    updated_at: e.updated_at,
                })
            })
            .collect::<Result<_>>()?;
        for f in fields {
            let Some(e) = defs.iter_mut().find(|e| e.id == f.entity_id) else { continue };
            e.fields.push(field_from_model(f)?);
        }
        let defs: Vec<Arc<EntityDef>> = defs.into_iter().map(Arc::new).collect();
        // Checked when defined; one that a later change broke evaluates to null.
        let (defs, broken) = formula::resolve_all(&defs, &formula::Clock::of(&t.id, &t.time_zone));
        for b in broken {
            tracing::warn!(tenant = %t.id, entity = %b.entity_id, field = %b.key, problem = %b.message, "formula does not check");
        }
        let crm = crm_roles(conn, tenant_id).await?;
        let focus = focus_rules(conn, tenant_id).await?;
        let confidence = crate::features::confidence::weights::stored(conn, tenant_id).await?;
        Ok(TenantMeta::new(t.id, t.metadata_version, defs)
            .in_zone(&t.time_zone)
            .with_crm(Arc::new(crm))
            .with_focus(Arc::new(focus))
            .with_confidence(confidence.map(Arc::new)))
    }
}

/// The tenant's stored CRM roles (the default when it has none, or when what is stored no
/// longer parses — then the CRM operations find what they can by those names).
async fn crm_roles(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<CrmRoles> {
    let row = crm_role::Entity::find_by_id(tenant_id.to_owned()).one(conn).await?;
    Ok(row
        .and_then(|r| match serde_json::from_value(r.roles) {
            Ok(roles) => Some(roles),
            Err(e) => {
                tracing::warn!(tenant = %tenant_id, problem = %e, "stored CRM roles do not parse");
                None
            }
        })
        .unwrap_or_default())
}

/// The tenant's Daily Focus rules, by position (checked when stored; one that a later
/// definition change broke is skipped when evaluated).
async fn focus_rules(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Vec<FocusRule>> {
    let rows = focus_rule::Entity::find()
        .filter(focus_rule::Column::TenantId.eq(tenant_id))
        .order_by_asc(focus_rule::Column::Position)
        .order_by_asc(focus_rule::Column::Id)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| FocusRule {
            id: r.id,
            role_id: r.role_id,
            position: r.position,
            entity: r.entity,
            filter: r.filter,
            order_by: r.order_by,
            limit: u32::try_from(r.max_records).unwrap_or(0),
            title: r.title,
            badge: r.badge,
        })
        .collect())
}

fn field_from_model(f: field_def::Model) -> Result<FieldDef> {
    // Keys are spliced into JSON paths of SQL: refuse anything that is not an identifier even
    // if it somehow reached the table.
    let key = FieldKey::new(&f.key)
        .ok_or_else(|| Error::Internal(format!("invalid stored field key {:?}", f.key)))?;
    let source: Option<formula::Source> = match f.formula {
        Some(v) if !v.is_null() => Some(serde_json::from_value(v)?),
        _ => None,
    };
    let type_name = source.as_ref().map_or(f.field_type.as_str(), |s| s.result_type.as_str());
    let ty = FieldType::parse(type_name)
        .ok_or_else(|| Error::Internal(format!("unknown field type {}", f.field_type)))?;
    let validation: Validation = match f.validation {
        Some(v) if !v.is_null() => serde_json::from_value(v)?,
        _ => Validation::default(),
    };
    let pattern = match &validation.pattern {
        Some(p) => {
            Some(Arc::new(regex::Regex::new(p).map_err(|e| Error::Internal(format!("stored pattern: {e}")))?))
        }
        None => None,
    };
    let options = match f.options {
        Some(serde_json::Value::Array(items)) => {
            items.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
        }
        _ => Vec::new(),
    };
    Ok(FieldDef {
        graphql_name: super::naming::field_name(key.as_str()),
        id: f.id,
        key,
        label: f.label,
        ty,
        required: f.required,
        unique: f.is_unique,
        indexed: f.indexed,
        personal: f.personal,
        hierarchy: f.hierarchy,
        slot: f.index_slot.as_deref().and_then(Slot::parse),
        slot_ready: f.index_ready,
        searchable: f.searchable,
        search_ready: f.search_ready,
        mentions: f.mentions,
        options,
        related_entity_id: f.related_entity_id,
        relation_kind: f.relation_kind.as_deref().and_then(RelationKind::parse),
        default: f.default_value.filter(|v| !v.is_null()),
        validation,
        pattern,
        labels: f.labels.filter(|v| !v.is_null()),
        lifecycle: match f.lifecycle {
            Some(v) if !v.is_null() => Some(serde_json::from_value(v)?),
            _ => None,
        },
        option_labels: f.option_labels.filter(|v| !v.is_null()),
        position: f.position,
        rollup: Rollup::from_stored(f.rollup)?,
        formula: source.map(|s| Formula::unchecked(&s.expression)),
    })
}
