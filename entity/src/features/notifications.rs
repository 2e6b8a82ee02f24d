//! In-app notifications: written (with an outbox event per recipient) inside the caller's
//! transaction, so a notification exists and is announced exactly when the change that caused
//! it commits. Read and marked per user.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use serde::{Deserialize, Serialize};

use crate::runtime::outbox;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, Result};

/// One notification of one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub title: String,
    pub body: Option<String>,
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

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

fn from_row(r: &QueryResult, d: Dialect) -> Result<Notification> {
    Ok(Notification {
        id: r.try_get("", "id")?,
        tenant_id: r.try_get("", "tenant_id")?,
        user_id: r.try_get("", "user_id")?,
        title: r.try_get("", "title")?,
        body: r.try_get("", "body")?,
        link: r.try_get("", "link")?,
        created_at: crate::runtime::time::column(r, d, "created_at")?
            .ok_or_else(|| Error::Internal("notification without time".into()))?,
        read_at: crate::runtime::time::column(r, d, "read_at")?,
    })
}

/// The ids among `user_ids` that are active users of the tenant.
pub async fn existing_users(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    user_ids: &[String],
) -> Result<Vec<String>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT id FROM users WHERE is_active = ")
        .bind(true)
        .push(" AND tenant_id = ")
        .bind(tenant_id.to_owned());
    buf.push(" AND id IN (");
    for (i, id) in user_ids.iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        buf.bind(id.clone());
    }
    buf.push(") ORDER BY id");
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| Ok(r.try_get("", "id")?)).collect()
}

/// The active users holding a role.
pub async fn users_with_role(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    role_id: &str,
) -> Result<Vec<String>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT id FROM users WHERE is_active = ")
        .bind(true)
        .push(" AND tenant_id = ")
        .bind(tenant_id.to_owned());
    buf.push(" AND role_id = ").bind(role_id.to_owned()).push(" ORDER BY id");
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| Ok(r.try_get("", "id")?)).collect()
}

/// The id of the tenant's role named `name`.
pub async fn role_id_by_name(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    name: &str,
) -> Result<Option<String>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT id FROM roles WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND name = ").bind(name.to_owned());
    Ok(conn.query_one_raw(buf.into_statement()).await?.map(|r| r.try_get("", "id")).transpose()?)
}

/// Stores one notification per recipient and announces each, inside `txn`.
pub async fn create(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    recipients: &[String],
    m: &Message<'_>,
) -> Result<Vec<Notification>> {
    let now = crate::runtime::time::now();
    let mut out = Vec::with_capacity(recipients.len());
    for user_id in recipients {
        let n = Notification {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant_id.to_owned(),
            user_id: user_id.clone(),
            title: m.title.to_owned(),
            body: m.body.map(str::to_owned),
            link: m.link.map(str::to_owned),
            created_at: now,
            read_at: None,
        };
        let mut buf = SqlBuf::new(d);
        buf.push(
            "INSERT INTO notifications (id, tenant_id, user_id, title, body, link, created_at) VALUES (",
        );
        buf.bind(n.id.clone())
            .push(", ")
            .bind(n.tenant_id.clone())
            .push(", ")
            .bind(n.user_id.clone())
            .push(", ");
        buf.bind(n.title.clone()).push(", ").bind(n.body.clone()).push(", ").bind(n.link.clone()).push(", ");
        buf.bind_ts(now).push(")");
        txn.execute_raw(buf.into_statement()).await?;
        outbox::write(txn, d, tenant_id, &n).await?;
        out.push(n);
    }
    Ok(out)
}

/// A user's notifications, newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    user_id: &str,
    unread_only: bool,
    first: u64,
) -> Result<Vec<Notification>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT id, tenant_id, user_id, title, body, link, created_at, read_at FROM notifications WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" AND user_id = ").bind(user_id.to_owned());
    if unread_only {
        buf.push(" AND read_at IS NULL");
    }
    buf.push(" ORDER BY created_at DESC, id DESC LIMIT ").push(&first.to_string());
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| from_row(r, d)).collect()
}

/// How many unread notifications a user has.
pub async fn unread_count(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    user_id: &str,
) -> Result<i64> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT COUNT(*) AS n FROM notifications WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND user_id = ").bind(user_id.to_owned()).push(" AND read_at IS NULL");
    Ok(conn.query_one_raw(buf.into_statement()).await?.map(|r| r.try_get("", "n")).transpose()?.unwrap_or(0))
}

/// Marks a user's notifications read (`ids`: those; `None`: all). Returns how many changed.
pub async fn mark_read(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    user_id: &str,
    ids: Option<&[String]>,
) -> Result<u64> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE notifications SET read_at = ").bind_ts(crate::runtime::time::now());
    buf.push(" WHERE tenant_id = ")
        .bind(tenant_id.to_owned())
        .push(" AND user_id = ")
        .bind(user_id.to_owned());
    buf.push(" AND read_at IS NULL");
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(0);
        }
        buf.push(" AND id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                buf.push(", ");
            }
            buf.bind(id.clone());
        }
        buf.push(")");
    }
    Ok(conn.execute_raw(buf.into_statement()).await?.rows_affected())
}
