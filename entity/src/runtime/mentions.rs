//! @mentions: a TEXT or TEXTAREA field marked `mentions` notifies the tenant users its text
//! names — `@asha@example.com` (the email address) or `@asha` (the address's part before `@`)
//! — when a create or update adds the mention. Written in the record write's transaction
//! (notification rows and their outbox events, `features::notifications`), so a mention is
//! announced exactly when the write commits, and once: a mention the field already held
//! before the update is not new. Unknown names are ignored, the writer is not told of their
//! own mention, and a user whose role may not read the record (its entity, the mentioning
//! field or, by the row rule, this record) is not told, so a mention leaks nothing.
//!
//! An entity with no such field, or a write that adds no mention, costs no statement.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::features::notifications::{self, Message};
use crate::features::users::attributes;
use crate::pipeline::Exec;
use crate::runtime::audit::Actor;
use crate::runtime::hierarchy;
use crate::runtime::meta::{EntityDef, FieldDef, TenantMeta};
use crate::runtime::policy::{Attributes, Permissions, Subject};
use crate::runtime::record::Record;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Result};

/// A record's stored values on one side of a change (`None`: no record there).
type Side<'a> = Option<&'a Map<String, Value>>;

/// Most distinct names one write may mention (the rest are ignored): bounds the lookup.
pub const MAX_MENTIONS: usize = 50;

/// Whether `c` may be part of a mentioned name or address.
fn name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@')
}

/// The names `text` mentions, lower-cased: each `@` at the start or after a character that
/// cannot be part of a name (so the `@` inside `a@b.com` starts none), up to the name's end,
/// without the sentence punctuation that may follow it.
pub fn mentioned(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == '@' && prev.is_none_or(|p| !name_char(p)) {
            let rest = &text[i + 1..];
            let end = rest.find(|x: char| !name_char(x)).unwrap_or(rest.len());
            let name = rest[..end].trim_end_matches(['.', '-', '_', '@']).to_lowercase();
            if !name.is_empty() && !name.starts_with('@') {
                out.insert(name);
            }
        }
        prev = Some(c);
    }
    out
}

/// The names a change adds to `entity`'s mention fields: in the field's text after the change
/// and not before it (by field, so a name moved to another field is new there).
pub fn added<'e>(
    entity: &'e EntityDef,
    before: Side<'_>,
    after: Side<'_>,
) -> Vec<(&'e FieldDef, BTreeSet<String>)> {
    let Some(after) = after else { return Vec::new() };
    let text = |data: Side<'_>, f: &FieldDef| {
        data.and_then(|d| d.get(f.key.as_str())).and_then(Value::as_str).map(mentioned).unwrap_or_default()
    };
    entity
        .fields
        .iter()
        .filter(|f| f.mentions)
        .filter_map(|f| {
            let new: BTreeSet<String> = text(Some(after), f).difference(&text(before, f)).cloned().collect();
            (!new.is_empty()).then_some((f, new))
        })
        .collect()
}

/// A user a mention may name: id, address, role permissions and attributes (`$user.<key>`).
struct Candidate {
    id: String,
    email: String,
    permissions: Permissions,
    attributes: Attributes,
}

impl Candidate {
    /// Whether `name` names this user: the whole address, or the part before its `@`.
    fn named(&self, name: &str) -> bool {
        let email = self.email.to_lowercase();
        email == name || email.split_once('@').is_some_and(|(local, _)| local == name)
    }

    /// Whether the user may read `field` of `record` (their row rule's `within`s loaded in
    /// `txn`: one statement per mentioned user whose rule has any, none otherwise).
    async fn reads(
        &self,
        txn: &impl Exec,
        (d, tenant_id): (Dialect, &str),
        (meta, entity, field): (&TenantMeta, &EntityDef, &FieldDef),
        record: &Record,
    ) -> Result<bool> {
        let p = &self.permissions;
        let rule = p.row_filter(entity, Subject::new(&self.id, &self.attributes));
        // A user who may not read the field is refused without the statement.
        if p.reads_field(meta, entity, field) {
            hierarchy::load(txn, d, tenant_id, rule.as_ref()).await?;
        }
        Ok(p.reads_record(meta, entity, Some(field), rule.as_ref(), record))
    }
}

/// The tenant's active users some name of `names` may name, with their roles' permissions.
async fn candidates(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    names: &[&String],
) -> Result<Vec<Candidate>> {
    let mut buf = SqlBuf::new(d);
    // As text: a pipeline's rows come in PostgreSQL's text form, and SQLite keeps JSON as text.
    buf.push("SELECT u.id, u.email, CAST(r.permissions AS TEXT) AS permissions, CAST(a.attributes AS TEXT) AS attributes FROM users u JOIN roles r ON r.id = u.role_id LEFT JOIN user_attributes a ON a.user_id = u.id WHERE u.tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" AND u.is_active = ").bind(true).push(" AND (");
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            buf.push(" OR ");
        }
        if name.contains('@') {
            buf.push("lower(u.email) = ").bind((*name).clone());
        } else {
            // `_` is a LIKE wildcard: `named` keeps only exact local parts.
            buf.push("lower(u.email) LIKE ").bind(format!("{name}@%"));
        }
    }
    buf.push(")");
    let rows = txn.query_all(buf.into_statement()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let permissions: Value = serde_json::from_str(&row.try_get::<String>("", "permissions")?)?;
        let attributes = match row.try_get::<Option<String>>("", "attributes")? {
            Some(text) => Some(serde_json::from_str(&text)?),
            None => None,
        };
        out.push(Candidate {
            id: row.try_get("", "id")?,
            email: row.try_get("", "email")?,
            permissions: Permissions::from_stored(&permissions),
            attributes: attributes::from_stored(attributes),
        });
    }
    Ok(out)
}

/// Notifies, in `txn`, the users a change of `record` newly mentions (see the module doc).
#[allow(clippy::too_many_arguments)]
pub async fn notify(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    meta: &TenantMeta,
    entity: &EntityDef,
    record: &Record,
    (before, after): (Side<'_>, Side<'_>),
    actor: &Actor,
) -> Result<()> {
    let added = added(entity, before, after);
    if added.is_empty() {
        return Ok(());
    }
    let all: BTreeSet<&String> = added.iter().flat_map(|(_, names)| names).collect();
    let names: Vec<&String> = all.into_iter().take(MAX_MENTIONS).collect();
    let users = candidates(txn, d, tenant_id, &names).await?;
    let mut to: Vec<String> = Vec::new();
    for u in users.iter().filter(|u| actor.user_id.as_deref() != Some(u.id.as_str())) {
        for (field, new) in &added {
            if new.iter().any(|n| names.contains(&n) && u.named(n))
                && u.reads(txn, (d, tenant_id), (meta, entity, field), record).await?
            {
                to.push(u.id.clone());
                break;
            }
        }
    }
    to.sort();
    to.dedup();
    if to.is_empty() {
        return Ok(());
    }
    let label =
        format!("{} {}", entity.label_singular, record.record_number.as_deref().unwrap_or(&record.id));
    let title = format!("You were mentioned in {label}");
    // The first mentioning field's text, shortened, says what was written.
    let body: Option<String> = added
        .first()
        .and_then(|(f, _)| after.and_then(|a| a.get(f.key.as_str())).and_then(Value::as_str))
        .map(|t| t.chars().take(280).collect());
    let message = Message { title: &title, body: body.as_deref(), link: None };
    notifications::write(txn, d, tenant_id, &to, &message).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_mentioned_but_not_the_at_inside_an_address() {
        let got = mentioned("Hi @Asha, see @ravi.k@example.com. Mail ops@example.com or @bob_. @ @@x");
        let want: BTreeSet<String> =
            ["asha", "ravi.k@example.com", "bob"].into_iter().map(str::to_owned).collect();
        assert_eq!(got, want);
        assert!(mentioned("no mentions here").is_empty());
    }
}
