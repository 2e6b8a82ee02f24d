//! UID fields: identifiers that follow an item through its life (`SN-PUN-2603-00042K`), made
//! from a per-field pattern (`pattern`: prefix, a code from the record, date parts, a
//! sequence) and closed by an ISO 7064 MOD 37-2 check character (`check`). A create leaves a
//! UID field empty and gets the next UID, or gives one, which must fit the pattern and its
//! check character (`value::normalize` asks `validate`); afterwards the UID never changes
//! (`check_kept`). Generation and uniqueness live in the record store (`store::uids`); the
//! genealogy link a trace follows is a RELATION field to its own entity marked
//! `validation.genealogy` (`genealogy_link`).

use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::meta::{EntityDef, FieldDef, FieldType};
use crate::error::FieldError;

pub mod check;
pub mod pattern;

pub use pattern::{Part, Pattern, code_of};

/// The pattern of a UID field given none.
static DEFAULT: LazyLock<Pattern> = LazyLock::new(Pattern::default);

/// A UID field's pattern: its `validation.uid`, else an eight-digit sequence.
pub fn pattern_of(f: &FieldDef) -> &Pattern {
    f.validation.uid.as_ref().unwrap_or(&DEFAULT)
}

/// The UID fields of `entity` (stored ones: a formula is never a UID).
pub fn fields(entity: &EntityDef) -> impl Iterator<Item = &FieldDef> {
    entity.fields.iter().filter(|f| f.ty == FieldType::Uid && f.is_stored())
}

/// Whether `uid` is a UID of field `f`: `Err` says why not.
pub fn validate(f: &FieldDef, uid: &str) -> Result<(), String> {
    pattern_of(f).validate(uid)
}

/// An update's refusals: a UID is given or generated when its record is created and never
/// changes afterwards (neither to another value nor to none).
pub fn check_kept(entity: &EntityDef, old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<FieldError> {
    fields(entity)
        .filter(|f| old.get(f.key.as_str()) != new.get(f.key.as_str()))
        .map(|f| {
            FieldError::new(&f.graphql_name, "a UID is set when its record is created and never changes")
        })
        .collect()
}

/// The genealogy link of `entity`: its RELATION field to itself marked `validation.genealogy`.
pub fn genealogy_link(entity: &EntityDef) -> Option<&FieldDef> {
    entity.fields.iter().find(|f| {
        f.ty == FieldType::Relation
            && f.validation.genealogy == Some(true)
            && f.related_entity_id.as_deref() == Some(entity.id.as_str())
    })
}

/// Checks `validation.uid` and `validation.genealogy` against the field's type (the pattern
/// itself was checked when it was read).
pub fn check_validation(
    errors: &mut Vec<FieldError>,
    path: &str,
    ty: FieldType,
    val: &super::meta::Validation,
) {
    if val.uid.is_some() && ty != FieldType::Uid {
        errors.push(FieldError::new(path, "uid applies to UID fields"));
    }
    if val.genealogy.is_some() && ty != FieldType::Relation {
        errors.push(FieldError::new(path, "genealogy applies to RELATION fields"));
    }
}
