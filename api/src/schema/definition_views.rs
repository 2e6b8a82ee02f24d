//! What the definition types (`EntityDefinition`, `FieldDefinition`) resolve from: a definition
//! with the metadata and languages it is shown in. Plain data, apart from the builders that read
//! it (`platform.rs`, `lifecycle.rs`), so that neither builder imports the other.

use std::sync::Arc;

use entity::runtime::i18n::Languages;
use entity::runtime::meta::{EntityDef, FieldDef, TenantMeta};

/// A definition as the API shows it, with the metadata it belongs to (to name relation targets).
#[derive(Clone)]
pub struct EntityDefView {
    pub def: Arc<EntityDef>,
    pub meta: Arc<TenantMeta>,
    /// The languages its labels are shown in (`schema::i18n`).
    pub langs: Arc<Languages>,
}

#[derive(Clone)]
pub struct FieldDefView {
    pub def: FieldDef,
    pub related_entity: Option<String>,
    pub langs: Arc<Languages>,
    /// A ROLLUP field's definition in its public form (`Rollup::public`).
    pub rollup: Option<serde_json::Value>,
}
