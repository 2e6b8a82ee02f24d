//! Tenant metadata as plain data: entity and field definitions, loaded once per metadata
//! version and shared (read-only) by the schema builder, validation and the store.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use super::field_key::FieldKey;
use super::formula::{self, Formula};
use super::lifecycle::Lifecycle;
use super::slot::{Slot, SlotKind};
use crate::models::{entity_def, field_def, tenant};
use crate::{Dialect, Error, Result};

/// The field types of shared/API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldType {
    Text,
    Textarea,
    Number,
    Currency,
    Boolean,
    Date,
    Datetime,
    Email,
    Phone,
    Url,
    Select,
    MultiSelect,
    Relation,
    File,
    Json,
}

impl FieldType {
    /// Every type, in the order of the public enum.
    pub const ALL: [FieldType; 15] = [
        FieldType::Text,
        FieldType::Textarea,
        FieldType::Number,
        FieldType::Currency,
        FieldType::Boolean,
        FieldType::Date,
        FieldType::Datetime,
        FieldType::Email,
        FieldType::Phone,
        FieldType::Url,
        FieldType::Select,
        FieldType::MultiSelect,
        FieldType::Relation,
        FieldType::File,
        FieldType::Json,
    ];

    /// The public enum value (`MULTI_SELECT`).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "TEXT",
            FieldType::Textarea => "TEXTAREA",
            FieldType::Number => "NUMBER",
            FieldType::Currency => "CURRENCY",
            FieldType::Boolean => "BOOLEAN",
            FieldType::Date => "DATE",
            FieldType::Datetime => "DATETIME",
            FieldType::Email => "EMAIL",
            FieldType::Phone => "PHONE",
            FieldType::Url => "URL",
            FieldType::Select => "SELECT",
            FieldType::MultiSelect => "MULTI_SELECT",
            FieldType::Relation => "RELATION",
            FieldType::File => "FILE",
            FieldType::Json => "JSON",
        }
    }

    pub fn parse(s: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// How a stored value of this type compares, is bound in SQL and is read back: the one map
    /// from field type to storage that comparisons, SQL expressions, filter operands and group
    /// values share (each matches `Stored` exhaustively).
    pub fn stored_as(self) -> Stored {
        match self {
            FieldType::Number => Stored::Float,
            FieldType::Currency => Stored::Decimal,
            FieldType::Boolean => Stored::Bool,
            FieldType::Datetime => Stored::Timestamp,
            // Dates (`YYYY-MM-DD`) order as text; the rest are texts, ids or JSON.
            FieldType::Text
            | FieldType::Textarea
            | FieldType::Date
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
            | FieldType::Select
            | FieldType::MultiSelect
            | FieldType::Relation
            | FieldType::File
            | FieldType::Json => Stored::Text,
        }
    }

    /// The slot kind that indexes a field of this type on `d`, if any (`indexes`): one map for
    /// every type.
    pub fn slot_kind(self, d: Dialect) -> Option<SlotKind> {
        match self {
            FieldType::Text
            | FieldType::Textarea
            | FieldType::Date
            | FieldType::Datetime
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
            | FieldType::Select
            | FieldType::Relation => Some(SlotKind::Text),
            FieldType::Number | FieldType::Currency => Some(SlotKind::Number),
            FieldType::Boolean => Some(SlotKind::Boolean),
            // SQLite has no index that answers containment of a JSON array.
            FieldType::MultiSelect => (d == Dialect::Postgres).then_some(SlotKind::Array),
            FieldType::File | FieldType::Json => None,
        }
    }

    /// Whether a field of this type may be `searchable` (full-text search, `search`): free
    /// text, and the chosen options of SELECT and MULTI_SELECT (their stored option values,
    /// which are what people type). Numbers, dates, flags, ids, files and JSON are found by
    /// filters instead. One map for every type.
    pub fn searchable(self) -> bool {
        match self {
            FieldType::Text
            | FieldType::Textarea
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
            | FieldType::Select
            | FieldType::MultiSelect => true,
            FieldType::Number
            | FieldType::Currency
            | FieldType::Boolean
            | FieldType::Date
            | FieldType::Datetime
            | FieldType::Relation
            | FieldType::File
            | FieldType::Json => false,
        }
    }

    /// Free text compared as strings (and searched by `search`).
    pub fn is_text_like(self) -> bool {
        matches!(
            self,
            FieldType::Text | FieldType::Textarea | FieldType::Email | FieldType::Phone | FieldType::Url
        )
    }

    /// Can appear in `orderBy` (and later `groupBy`).
    pub fn is_sortable(self) -> bool {
        !matches!(self, FieldType::Json | FieldType::File | FieldType::MultiSelect)
    }

    /// Has a filter input.
    pub fn is_filterable(self) -> bool {
        !matches!(self, FieldType::Json | FieldType::File)
    }
}

/// What a field type's values are in storage (`FieldType::stored_as`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A JSON number, compared as a float.
    Float,
    /// A decimal string, compared exactly (`value::Decimal`; `numeric` on PostgreSQL).
    Decimal,
    /// A JSON boolean.
    Bool,
    /// A timestamp string (`time`), compared as a point in time.
    Timestamp,
    /// Anything else, compared as its text.
    Text,
}

/// How a RELATION field relates to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RelationKind {
    ManyToOne,
    OneToOne,
}

impl RelationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::ManyToOne => "MANY_TO_ONE",
            RelationKind::OneToOne => "ONE_TO_ONE",
        }
    }

    pub fn parse(s: &str) -> Option<RelationKind> {
        match s {
            "MANY_TO_ONE" => Some(RelationKind::ManyToOne),
            "ONE_TO_ONE" => Some(RelationKind::OneToOne),
            _ => None,
        }
    }
}

/// Value constraints of a field (`validation` JSON of FieldInput).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Validation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integer: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
}

/// One field of an entity.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub id: String,
    /// The key of the field's value in a record's `data` (the only form a key reaches SQL in).
    pub key: FieldKey,
    /// camelCased key, the name in GraphQL.
    pub graphql_name: String,
    pub label: String,
    pub ty: FieldType,
    pub required: bool,
    pub unique: bool,
    pub indexed: bool,
    /// The index slot the field holds while it is indexed or unique (`indexes`): records are
    /// written with its key from the moment it is assigned.
    pub slot: Option<Slot>,
    /// Every record of the entity carries the slot's key: queries may use the slot.
    pub slot_ready: bool,
    /// Found by full-text search: each record write keeps the field's search entry (`search`).
    pub searchable: bool,
    /// Every existing record has its entry (the back-fill finished): searches may use them.
    pub search_ready: bool,
    pub options: Vec<String>,
    pub related_entity_id: Option<String>,
    pub relation_kind: Option<RelationKind>,
    pub default: Option<serde_json::Value>,
    pub validation: Validation,
    /// Compiled `validation.pattern`, checked when the definition was saved.
    pub pattern: Option<Arc<regex::Regex>>,
    pub labels: Option<serde_json::Value>,
    /// A SELECT field's allowed moves between options (`lifecycle`).
    pub lifecycle: Option<Lifecycle>,
    /// Translations of a SELECT / MULTI_SELECT field's options: option → language code → label.
    pub option_labels: Option<serde_json::Value>,
    pub position: i32,
    /// A ROLLUP field's definition: its values are computed from a child entity's records
    /// (`rollup_fields`), and `ty` is the type of its result, which they are stored as.
    pub rollup: Option<Arc<super::rollup_fields::Rollup>>,
    /// A FORMULA field's expression (its `ty` is the result type): computed, never stored.
    pub formula: Option<Arc<Formula>>,
}

/// One runtime entity.
#[derive(Debug, Clone)]
pub struct EntityDef {
    pub id: String,
    pub name_singular: String,
    pub name_plural: String,
    pub label_singular: String,
    pub label_plural: String,
    pub icon: Option<String>,
    pub record_number_prefix: Option<String>,
    /// Translations: language code → `{singular, plural}`.
    pub labels: Option<serde_json::Value>,
    pub fields: Vec<FieldDef>,
    /// Switched off with the modules holding it: kept with its records, absent from the API
    /// (`TenantMeta::switched_on`).
    pub switched_off: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl FieldDef {
    /// The index slot queries may compare the field through: assigned and built.
    pub fn index_slot(&self) -> Option<Slot> {
        self.slot.filter(|_| self.slot_ready)
    }

    /// Whether searches read the field's entries: searchable, and back-filled.
    pub fn search_used(&self) -> bool {
        self.searchable && self.search_ready
    }

    /// The public field type: `FORMULA` or `ROLLUP` for a computed field (a rollup's values
    /// are stored as `ty`, a formula's computed as `ty`), else `ty`'s.
    pub fn type_name(&self) -> &'static str {
        match (&self.formula, &self.rollup) {
            (Some(_), _) => formula::TYPE_NAME,
            (None, Some(_)) => super::rollup_fields::TYPE_NAME,
            (None, None) => self.ty.as_str(),
        }
    }

    /// Computed by the engine (a ROLLUP's or a FORMULA's value): no input sets it.
    pub fn is_computed(&self) -> bool {
        self.rollup.is_some() || self.formula.is_some()
    }

    /// Whether records store a value of it (a formula's is computed at read time).
    pub fn is_stored(&self) -> bool {
        self.formula.is_none()
    }
}

impl EntityDef {
    /// The field with this GraphQL name.
    pub fn field_by_graphql(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.graphql_name == name)
    }

    pub fn field_by_key(&self, key: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// The reverse side of a relation, as it appears on the target type.
#[derive(Debug, Clone)]
pub struct ReverseRelation {
    /// GraphQL field name on the target (`deals`, `dealsByReferrer`, `passport`).
    pub name: String,
    /// The entity holding the RELATION field.
    pub source: Arc<EntityDef>,
    pub field: FieldDef,
    pub one_to_one: bool,
}

/// All definitions of one tenant at one metadata version.
#[derive(Debug, Clone)]
pub struct TenantMeta {
    pub tenant_id: String,
    pub version: i64,
    /// Entities ordered by creation (stable, so generated SDL is deterministic).
    pub entities: Vec<Arc<EntityDef>>,
    by_id: HashMap<String, usize>,
}

impl TenantMeta {
    pub fn new(tenant_id: String, version: i64, entities: Vec<Arc<EntityDef>>) -> Self {
        let by_id = entities.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect();
        TenantMeta { tenant_id, version, entities, by_id }
    }

    pub fn entity_by_id(&self, id: &str) -> Option<&Arc<EntityDef>> {
        self.by_id.get(id).map(|&i| &self.entities[i])
    }

    pub fn entity_by_name(&self, name_singular: &str) -> Option<&Arc<EntityDef>> {
        self.entities.iter().find(|e| e.name_singular == name_singular)
    }

    /// [`TenantMeta::entity_by_name`], or `NOT_FOUND` naming the entity asked for.
    pub fn entity_named(&self, name_singular: &str) -> Result<&Arc<EntityDef>> {
        self.entity_by_name(name_singular).ok_or_else(|| Error::NotFound(format!("entity `{name_singular}`")))
    }

    /// The reverse sides of the RELATION fields that point at `target_id` (from any entity,
    /// itself included), in definition order, with their GraphQL names on the target type.
    pub fn reverse_relations(&self, target_id: &str) -> Vec<ReverseRelation> {
        let mut out = Vec::new();
        for e in &self.entities {
            let mut seen_first = false;
            for f in &e.fields {
                if f.ty == FieldType::Relation && f.related_entity_id.as_deref() == Some(target_id) {
                    let one_to_one = f.relation_kind == Some(RelationKind::OneToOne);
                    let name = super::naming::reverse_field(
                        &e.name_singular,
                        &e.name_plural,
                        f.key.as_str(),
                        one_to_one,
                        !seen_first,
                    );
                    seen_first = true;
                    out.push(ReverseRelation { name, source: e.clone(), field: f.clone(), one_to_one });
                }
            }
        }
        out
    }

    /// The definitions the tenant's API is built from: the entities switched off left out, and
    /// with them every RELATION field pointing at one (hidden, not dropped: the records keep
    /// their values, and the field is back when its target is). What is left out changes the
    /// schema's shape, and switching bumps the metadata version, so every instance rebuilds.
    pub fn switched_on(&self) -> TenantMeta {
        let on = |id: &str| self.entity_by_id(id).is_some_and(|e| !e.switched_off);
        let entities = self
            .entities
            .iter()
            .filter(|e| !e.switched_off)
            .map(|e| {
                if e.fields.iter().all(|f| f.related_entity_id.as_deref().is_none_or(on)) {
                    return e.clone();
                }
                let mut e = (**e).clone();
                e.fields.retain(|f| f.related_entity_id.as_deref().is_none_or(on));
                Arc::new(e)
            })
            .collect();
        TenantMeta::new(self.tenant_id.clone(), self.version, entities)
    }

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
            .map(|e| EntityDef {
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
                created_at: e.created_at,
                updated_at: e.updated_at,
            })
            .collect();
        for f in fields {
            let Some(e) = defs.iter_mut().find(|e| e.id == f.entity_id) else { continue };
            e.fields.push(field_from_model(f)?);
        }
        let defs: Vec<Arc<EntityDef>> = defs.into_iter().map(Arc::new).collect();
        // Checked when defined; one that a later change broke evaluates to null.
        let (defs, broken) = formula::resolve_all(&defs);
        for b in broken {
            tracing::warn!(tenant = %t.id, entity = %b.entity_id, field = %b.key, problem = %b.message, "formula does not check");
        }
        Ok(TenantMeta::new(t.id, t.metadata_version, defs))
    }
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
        slot: f.index_slot.as_deref().and_then(Slot::parse),
        slot_ready: f.index_ready,
        searchable: f.searchable,
        search_ready: f.search_ready,
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
        rollup: super::rollup_fields::Rollup::from_stored(f.rollup)?,
        formula: source.map(|s| Formula::unchecked(&s.expression)),
    })
}
