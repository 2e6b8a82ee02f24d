//! The shape of a tenant's schema: everything in its definitions and a role's permissions that
//! the compiled schema is built from, without what is the tenant's own (entity and field ids,
//! which relations name by id; when a definition was made). Tenants created from one template
//! and roles granting the same have one shape, so they share one compiled schema (`registry`).
//!
//! The shape is a SHA-256 of a canonical text: each entity's full definition as Rust prints
//! it, with ids replaced by the names they stand for. Printing the whole definition (not a
//! chosen list of its parts) means a part added to `EntityDef` or `FieldDef` later is in the
//! shape without anyone remembering to add it; only the parts erased here are left out, and
//! each of those is read per request from the tenant's own `SchemaAccess`. The registry takes
//! the shape of the definitions switched on (`TenantMeta::switched_on`), so which modules are
//! on is part of it: entities that are off are simply not there.

use std::fmt::Write as _;

use entity::runtime::meta::{EntityDef, TenantMeta};
use entity::runtime::policy::Permissions;
use sha2::{Digest, Sha256};

/// A schema's shape: tenants and roles with equal shapes are served by one compiled schema.
pub type Shape = [u8; 32];

/// The shape of `meta` as `permissions` see it.
pub fn of(meta: &TenantMeta, permissions: &Permissions) -> Shape {
    let mut text = String::with_capacity(16 * 1024);
    // The role's permissions name entities and fields by name already.
    text.push_str(permissions.canonical());
    // The CRM operations' types are the types of the entities playing its parts.
    let _ = write!(text, "\n{:?}", meta.crm);
    for e in &meta.entities {
        text.push('\n');
        let _ = write!(text, "{:?}", erased(meta, e));
    }
    Sha256::digest(text.as_bytes()).into()
}

/// `e` without what is the tenant's own: ids become the names they stand for.
fn erased(meta: &TenantMeta, e: &EntityDef) -> EntityDef {
    let mut e = e.clone();
    e.id = e.name_singular.clone();
    e.created_at = chrono::DateTime::UNIX_EPOCH;
    e.updated_at = chrono::DateTime::UNIX_EPOCH;
    for f in &mut e.fields {
        f.id = f.key.to_string();
        if let Some(target) = &f.related_entity_id {
            f.related_entity_id = Some(meta.entity_by_id(target).map_or_else(
                // A relation to an entity that is gone: its id is all there is to say.
                || format!("missing:{target}"),
                |t| t.name_singular.clone(),
            ));
        }
    }
    e
}
