//! A field's key as the one form in which a key reaches SQL text. Keys are written into JSON
//! paths and literals of statements (`data->>'k'`, `'$.k'`, an index slot's guard), not bound,
//! so each must be an identifier (`naming::is_identifier`: lowercase letter first, letters,
//! digits and single underscores): nothing in it then needs quoting. A `FieldKey` is made only
//! by checking that rule (`FieldKey::new`), every field definition carries one
//! (`FieldDef::key`), and the SQL that splices a key takes it as `&FieldKey` alone
//! (`SqlBuf::push_key`, `sql::text_expr`), so no unchecked text can be written there as a key.

use std::fmt;

use serde::Serialize;

use super::naming;

/// A field key checked to be an identifier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct FieldKey(String);

/// The key of a definition that is never stored nor written into SQL: a probe of how a type's
/// values validate, or a field input already refused with errors (`definitions::blank_field`).
const BLANK: &str = "blank";

impl FieldKey {
    /// `key` as a field key, when it is an identifier.
    pub fn new(key: &str) -> Option<FieldKey> {
        naming::is_identifier(key).then(|| FieldKey(key.to_owned()))
    }

    /// The key of a blank definition (`BLANK`, an identifier: see the tests).
    pub(crate) fn blank() -> FieldKey {
        FieldKey(BLANK.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for FieldKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for FieldKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for FieldKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<FieldKey> for String {
    fn from(key: FieldKey) -> String {
        key.0
    }
}

/// A key bound as a value (a parameter, not SQL text): stored in `field_defs`, compared with a
/// slot's key column.
impl From<FieldKey> for sea_orm::Value {
    fn from(key: FieldKey) -> sea_orm::Value {
        key.0.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_identifiers_are_keys() {
        assert_eq!(FieldKey::new("full_name").map(String::from).as_deref(), Some("full_name"));
        for bad in ["", "Name", "1st", "a b", "a'b", "a--b", "a.b", "x__y", "x_", "$.k"] {
            assert_eq!(FieldKey::new(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_blank_key_is_an_identifier() {
        assert_eq!(FieldKey::new(BLANK), Some(FieldKey::blank()));
    }
}
