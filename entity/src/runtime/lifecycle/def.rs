//! A SELECT field's lifecycle as plain data, as `field_defs.lifecycle` stores it. `meta` holds
//! it in a field's definition; `lifecycle` checks it and the writes against it. It imports
//! nothing of the definitions (`meta`), which hold it.

use serde::{Deserialize, Deserializer, Serialize};

/// A SELECT field's lifecycle (`lifecycle` of `FieldInput`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lifecycle {
    /// The values a record may be created with (empty: any option).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub initial: Vec<String>,
    /// The allowed moves.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub transitions: Vec<Transition>,
}

/// One allowed move between two options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transition {
    pub from: String,
    pub to: String,
    /// The roles (by name) that may make it; empty: anyone who may update the field.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub roles: Vec<String>,
}

/// GraphQL inputs send absent lists as `null`: the same as empty.
fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl Transition {
    /// `role` may make this move.
    pub(super) fn may(&self, role: &str) -> bool {
        self.roles.is_empty() || self.roles.iter().any(|r| r == role)
    }
}
