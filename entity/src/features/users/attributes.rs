//! User attributes (issue 16.1): the key → value pairs an administrator sets on a user
//! (company, plant, department, region — any keys), which row rules read as `$user.<key>`
//! (`runtime::policy`). One JSON object per user in `user_attributes`; a credential reads it
//! in its own statement (`select_access` joins it), so a request pays nothing for it, and a
//! change writes the access signal that evicts cached credentials.

use std::collections::HashMap;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

use super::Admin;
use crate::models::user_attribute;
use crate::runtime::policy::{Attributes, USER_ID_KEY};
use crate::runtime::{naming, signals, time};
use crate::{Dialect, Error, FieldError, Result};

/// Most attributes one user carries.
pub const MAX_ATTRIBUTES: usize = 50;
/// Most items a list value holds.
pub const MAX_LIST: usize = 1000;

/// Checks an `attributes` argument: an object of identifier keys (not `id`, which `$user.id`
/// names), each a string, number or boolean, or a list of them. Every problem is reported,
/// keyed `attributes.<key>`.
pub fn check(v: &Value) -> Result<Attributes> {
    let Some(obj) = v.as_object() else {
        return Err(Error::Validation(vec![FieldError::new("attributes", "must be a JSON object")]));
    };
    let mut errors = Vec::new();
    if obj.len() > MAX_ATTRIBUTES {
        errors.push(FieldError::new("attributes", format!("at most {MAX_ATTRIBUTES} attributes")));
    }
    let scalar = |x: &Value| matches!(x, Value::String(_) | Value::Number(_) | Value::Bool(_));
    for (k, x) in obj {
        let path = format!("attributes.{k}");
        if !naming::is_identifier(k) {
            errors.push(FieldError::new(&path, "keys are snake_case or camelCase identifiers"));
        } else if k == USER_ID_KEY {
            errors.push(FieldError::new(&path, "`$user.id` is the user's id; choose another key"));
        }
        let fine = match x {
            Value::Array(items) => items.len() <= MAX_LIST && items.iter().all(scalar),
            other => scalar(other),
        };
        if !fine {
            errors.push(FieldError::new(
                &path,
                format!("must be a string, number or boolean, or a list of at most {MAX_LIST} of them"),
            ));
        }
    }
    if errors.is_empty() { Ok(obj.clone()) } else { Err(Error::Validation(errors)) }
}

/// The attributes of user `user_id` (empty when none were set).
pub async fn of_user(conn: &impl ConnectionTrait, tenant_id: &str, user_id: &str) -> Result<Attributes> {
    let mut found = of_users(conn, tenant_id, &[user_id.to_owned()]).await?;
    Ok(found.remove(user_id).unwrap_or_default())
}

/// The attributes of the tenant's users `user_ids`, in one statement: a list of users
/// (`users { attributes }`) reads them all at once, not one user at a time. A user without
/// any is absent.
pub async fn of_users(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_ids: &[String],
) -> Result<HashMap<String, Attributes>> {
    if user_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = user_attribute::Entity::find()
        .filter(user_attribute::Column::TenantId.eq(tenant_id))
        .filter(user_attribute::Column::UserId.is_in(user_ids.iter().cloned()))
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.user_id, from_stored(Some(r.attributes)))).collect())
}

/// The attributes of user `user_id` read in a transaction of their own (none without a user):
/// for work a worker does on a user's behalf (imports), which applies their row rules.
pub async fn load(db: &crate::Db, tenant_id: &str, user_id: Option<&str>) -> Result<Attributes> {
    let Some(user_id) = user_id else { return Ok(Attributes::new()) };
    let txn = db.begin_tenant_read(tenant_id).await?;
    let out = of_user(&txn, tenant_id, user_id).await?;
    txn.commit().await?;
    Ok(out)
}

/// Stored attributes as a map (anything but an object reads as none).
pub fn from_stored(v: Option<Value>) -> Attributes {
    match v {
        Some(Value::Object(m)) => m,
        _ => Attributes::new(),
    }
}

/// `setUserAttributes`: replaces user `user_id`'s attributes with `attributes` (checked by
/// `check`), audited, and tells every instance that the user's access changed (their cached
/// credentials carry the old ones).
pub async fn set(
    conn: &impl ConnectionTrait,
    d: Dialect,
    admin: &Admin<'_>,
    user_id: &str,
    attributes: Attributes,
) -> Result<Attributes> {
    let user = super::accounts::find(conn, admin.tenant_id, user_id).await?;
    let old = of_user(conn, admin.tenant_id, &user.id).await?;
    let row = user_attribute::ActiveModel {
        user_id: Set(user.id.clone()),
        tenant_id: Set(admin.tenant_id.to_owned()),
        attributes: Set(Value::Object(attributes.clone())),
        updated_at: Set(time::now()),
    };
    user_attribute::Entity::insert(row)
        .on_conflict(
            OnConflict::column(user_attribute::Column::UserId)
                .update_columns([user_attribute::Column::Attributes, user_attribute::Column::UpdatedAt])
                .to_owned(),
        )
        .exec(conn)
        .await?;
    let changes = json!({"attributes": {"old": old, "new": attributes}});
    admin.audit(conn, d, "user.attributes_set", ("user", &user.id), changes).await?;
    signals::access_changed(conn, d, admin.tenant_id, None, Some(&user.id)).await?;
    Ok(attributes)
}
