//! In-app notifications: written (with an outbox event per recipient) inside the caller's
//! transaction, so a notification exists and is announced exactly when the change that caused
//! it commits. Read and marked per user.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::models::notification::{self, Column};
use crate::models::{role, user};
use crate::pipeline::Exec;
use crate::runtime::{outbox, time};
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Result};

/// One notification of one user: its row, which is also the payload of its outbox event.
pub use crate::models::notification::Model as Notification;

impl outbox::Event for Notification {
    const TOPIC: &'static str = "notification.created";
}

/// What to tell.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub title: &'a str,
    pub body: Option<&'a str>,
    pub link: Option<&'a str>,
}

/// The ids among `user_ids` that are active users of the tenant.
pub async fn existing_users(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_ids: &[String],
) -> Result<Vec<String>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    active_users(conn, tenant_id, user::Column::Id.is_in(user_ids)).await
}

/// The active users holding a role.
pub async fn users_with_role(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    role_id: &str,
) -> Result<Vec<String>> {
    active_users(conn, tenant_id, user::Column::RoleId.eq(role_id)).await
}

/// The ids of the tenant's active users that also meet `which`, in order.
async fn active_users(conn: &impl ConnectionTrait, tenant_id: &str, which: Expr) -> Result<Vec<String>> {
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::IsActive.eq(true))
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(which)
        .order_by_asc(user::Column::Id)
        .into_tuple()
        .all(conn)
        .await?)
}

/// The id of the tenant's role named `name`.
pub async fn role_id_by_name(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    name: &str,
) -> Result<Option<String>> {
    Ok(role::Entity::find()
        .select_only()
        .column(role::Column::Id)
        .filter(role::Column::TenantId.eq(tenant_id))
        .filter(role::Column::Name.eq(name))
        .into_tuple()
        .one(conn)
        .await?)
}

/// Stores one notification per recipient and announces each, inside `txn`.
pub async fn create(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    recipients: &[String],
    m: &Message<'_>,
) -> Result<Vec<Notification>> {
    write(txn, Dialect::of(txn), tenant_id, recipients, m).await
}

/// [`create`] in any transaction of the store, a record write's pipeline too
/// (`runtime::mentions`).
pub async fn write(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    recipients: &[String],
    m: &Message<'_>,
) -> Result<Vec<Notification>> {
    let now = time::now();
    let out: Vec<Notification> = recipients
        .iter()
        .map(|user_id| Notification {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant_id.to_owned(),
            user_id: user_id.clone(),
            title: m.title.to_owned(),
            body: m.body.map(str::to_owned),
            link: m.link.map(str::to_owned),
            created_at: now,
            read_at: None,
        })
        .collect();
    // Rows per INSERT: 7 parameters each, well below either database's limit per statement.
    for chunk in out.chunks(500) {
        let mut buf = SqlBuf::new(d);
        buf.push("INSERT INTO notifications (id, tenant_id, user_id, title, body, link, created_at) VALUES ");
        for (i, n) in chunk.iter().enumerate() {
            buf.push(if i == 0 { "(" } else { ", (" });
            buf.bind(n.id.clone()).push(", ").bind(n.tenant_id.clone()).push(", ").bind(n.user_id.clone());
            buf.push(", ")
                .bind(n.title.clone())
                .push(", ")
                .bind(n.body.clone())
                .push(", ")
                .bind(n.link.clone());
            buf.push(", ").bind_ts(n.created_at).push(")");
        }
        txn.execute(buf.into_statement()).await?;
    }
    for n in &out {
        outbox::write(txn, d, tenant_id, n).await?;
    }
    Ok(out)
}

/// A user's notifications, newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
    unread_only: bool,
    first: u64,
) -> Result<Vec<Notification>> {
    let mut q = notification::Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::UserId.eq(user_id));
    if unread_only {
        q = q.filter(Column::ReadAt.is_null());
    }
    Ok(q.order_by_desc(Column::CreatedAt).order_by_desc(Column::Id).limit(first).all(conn).await?)
}

/// How many unread notifications a user has.
pub async fn unread_count(conn: &impl ConnectionTrait, tenant_id: &str, user_id: &str) -> Result<i64> {
    let n = notification::Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ReadAt.is_null())
        .count(conn)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Marks a user's notifications read (`ids`: those; `None`: all). Returns how many changed.
pub async fn mark_read(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
    ids: Option<&[String]>,
) -> Result<u64> {
    let mut update = notification::Entity::update_many()
        .col_expr(Column::ReadAt, Expr::value(time::now()))
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ReadAt.is_null());
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(0);
        }
        update = update.filter(Column::Id.is_in(ids));
    }
    Ok(update.exec(conn).await?.rows_affected)
}
