//! Tenant metadata as plain data: entity and field definitions, loaded once per metadata
//! version and shared (read-only) by the schema builder, validation and the store.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::crm_roles::CrmRoles;
use super::field_key::FieldKey;
pub use super::field_type::{FieldType, RelationKind, Stored};
use super::focus_rules::FocusRule;
use super::formula::tree::{self as formula, Formula};
use super::lifecycle::def::Lifecycle;
use super::rollup_fields::def::{self as rollup, Rollup};
use super::slot::Slot;
use super::stock::def::StockConfig;
use crate::features::confidence::weights::Weight;
use crate::{Error, Result};

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
    /// A UID field's pattern (`uid::Pattern`, e.g. `SN-{plant.code:3}-{YY}{MM}-{SEQ:5}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<super::uid::pattern::Pattern>,
    /// Marks a RELATION field to its own entity as the genealogy link (component → assembly)
    /// that `traceUp` / `traceDown` follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genealogy: Option<bool>,
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
    /// Holds personal data (`personal`): its values in audit entries are sealed under the
    /// subject record's key, and erasing the subject clears it.
    pub personal: bool,
    /// A RELATION field linking a record to its parent in the tenant's hierarchy
    /// (`hierarchy`): each write that sets it keeps `record_closure`.
    pub hierarchy: bool,
    /// The index slot the field holds while it is indexed or unique (`indexes`): records are
    /// written with its key from the moment it is assigned.
    pub slot: Option<Slot>,
    /// Every record of the entity carries the slot's key: queries may use the slot.
    pub slot_ready: bool,
    /// Found by full-text search: each record write keeps the field's search entry (`search`).
    pub searchable: bool,
    /// Every existing record has its entry (the back-fill finished): searches may use them.
    pub search_ready: bool,
    /// `@name` / `@email` words a write adds to its text notify the users they name
    /// (`mentions`): TEXT and TEXTAREA fields only.
    pub mentions: bool,
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
    pub rollup: Option<Arc<Rollup>>,
    /// A FORMULA field's expression (its `ty` is the result type): computed, never stored.
    pub formula: Option<Arc<Formula>>,
}

/// One runtime entity (`Default`: an unnamed one with no fields, created at the epoch).
#[derive(Debug, Clone, Default)]
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
    /// Its changes may move a Deal Confidence score: the tenant turned the meter on and it is
    /// the pipeline or activity entity (`CrmRoles`; marked by `TenantMeta::with_confidence`), so
    /// its change events go to the job relay (`features::confidence`), known from the
    /// definitions without asking the database.
    pub scored: bool,
    /// What it is to the stock engine (`stock`): a movement ledger, a bill-of-materials line or
    /// a production order; `None` for every other entity.
    pub stock: Option<Arc<StockConfig>>,
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
            (None, Some(_)) => rollup::TYPE_NAME,
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
    /// The tenant's time zone (UID date parts are its local date).
    pub time_zone: chrono_tz::Tz,
    /// Entities ordered by creation (stable, so generated SDL is deterministic).
    pub entities: Vec<Arc<EntityDef>>,
    /// Which entities and fields play the CRM's parts (loaded with the definitions).
    pub crm: Arc<CrmRoles>,
    /// The Daily Focus rules, by position (loaded with the definitions).
    pub focus: Arc<Vec<FocusRule>>,
    /// The Deal Confidence weights the tenant set (over the seed's), loaded with the
    /// definitions; `None`: the meter is off (`with_confidence`).
    pub confidence: Option<Arc<Vec<Weight>>>,
    by_id: HashMap<String, usize>,
}

impl TenantMeta {
    pub fn new(tenant_id: String, version: i64, entities: Vec<Arc<EntityDef>>) -> Self {
        let by_id = entities.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect();
        TenantMeta {
            tenant_id,
            version,
            time_zone: chrono_tz::Tz::UTC,
            entities,
            crm: Arc::default(),
            focus: Arc::default(),
            confidence: None,
            by_id,
        }
    }

    /// The same metadata with the tenant's CRM roles.
    pub fn with_crm(mut self, crm: Arc<CrmRoles>) -> Self {
        self.crm = crm;
        self
    }

    /// The same metadata with the tenant's Daily Focus rules.
    pub fn with_focus(mut self, focus: Arc<Vec<FocusRule>>) -> Self {
        self.focus = focus;
        self
    }

    /// The same metadata with the tenant's confidence weights (`None`: it never set any) and,
    /// when it has them (the meter is on), the CRM's pipeline and activity entities marked
    /// `scored` (after `with_crm`).
    pub fn with_confidence(mut self, weights: Option<Arc<Vec<Weight>>>) -> Self {
        let parts = [Some(self.crm.pipeline.as_str()), self.crm.activity.as_deref()];
        for e in &mut self.entities {
            let scored = weights.is_some() && parts.contains(&Some(e.name_singular.as_str()));
            if e.scored != scored {
                Arc::make_mut(e).scored = scored;
            }
        }
        self.confidence = weights;
        self
    }

    /// The same definitions in time zone `zone` (an IANA name; UTC when unknown).
    pub fn in_zone(mut self, zone: &str) -> Self {
        self.time_zone = zone.parse().unwrap_or(chrono_tz::Tz::UTC);
        self
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
        let mut on = TenantMeta::new(self.tenant_id.clone(), self.version, entities)
            .with_crm(self.crm.clone())
            .with_focus(self.focus.clone())
            .with_confidence(self.confidence.clone());
        on.time_zone = self.time_zone;
        on
    }
}
