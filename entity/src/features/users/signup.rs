//! Signup: a new tenant with its default roles (`roles::default_roles`), its owner, optionally
//! an industry template's definitions, and the owner's first session — one transaction.

use sea_orm::{ActiveModelTrait, DatabaseTransaction, Set};
use serde_json::json;

use super::OWNER_ROLE;
use super::accounts;
use super::roles::{self, NewRole};
use super::sessions::{self, NewSession, Opened};
use crate::features::templates::{self, Template};
use crate::models::tenant;
use crate::runtime::audit::Actor;
use crate::runtime::time;
use crate::{Db, Error, Result};

/// A tenant to create, with its owner (inputs checked by the caller).
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub id: String,
    pub name: String,
    pub slug: String,
    /// The owner's email (lower-case) and password hash.
    pub owner_email: String,
    pub password_hash: String,
}

/// Creates the tenant `new` (in `txn`, a write transaction of that tenant), with `template`
/// applied when given, and opens the owner's first session.
pub async fn signup(
    txn: &DatabaseTransaction,
    db: &Db,
    new: NewTenant,
    template: Option<&Template>,
    session: NewSession,
) -> Result<Opened> {
    if accounts::tenant_by_slug(txn, &new.slug).await?.is_some() {
        return Err(Error::Conflict(format!("the tenant slug `{}` is taken", new.slug)));
    }
    let now = time::now();
    let t = tenant::ActiveModel {
        id: Set(new.id),
        name: Set(new.name),
        slug: Set(new.slug),
        time_zone: Set("UTC".into()),
        metadata_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let mut owner_role = String::new();
    for (name, description, permissions) in roles::default_roles() {
        let new = NewRole { name, description: Some(description.into()), permissions };
        let r = roles::insert(txn, &t.id, new, true, now).await?;
        if name == OWNER_ROLE {
            owner_role = r.id;
        }
    }
    let u =
        accounts::new_user(&t.id, &new.owner_email, &owner_role, new.password_hash, now).insert(txn).await?;
    if let Some(tpl) = template {
        let actor = Actor::user(&u.id, None);
        templates::apply_in(txn, db, &t.id, tpl, &actor, false).await?;
    }
    let s = sessions::open(txn, &u, session).await?;
    let changes = json!({"slug": t.slug, "email": u.email});
    sessions::audit_auth(txn, db.dialect, &t.id, Some(&u.id), "tenant.signup", changes).await?;
    Ok(Opened { session: s, user: u, role: OWNER_ROLE.into(), tenant: t })
}
