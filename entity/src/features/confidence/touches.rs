//! What counts as a touch of a pipeline record besides its activities: an email the platform
//! sent about it (a workflow's `send_email` on the record: `emails.record_id`, status `sent`).
//! The record's last touch is the newest of the two (`newest`), and the factors say which it
//! was (`Touch`). A sent email's `EmailSent` event makes the job relay rescore the record
//! (`target`), as a record change does (`super::targets`).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::Db;
use crate::Result;
use crate::features::emails::EmailSent;
use crate::models::email::{self, Column};
use crate::runtime::meta::TenantMeta;

/// What the newest touch of a record was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Touch {
    /// An activity linked to the record was logged (also what a record never touched has).
    #[default]
    Activity,
    /// An email about the record was sent.
    Email,
}

impl Touch {
    /// What happened, for a factor's detail ("an email was sent 2.0 days ago").
    pub fn what(self) -> &'static str {
        match self {
            Touch::Activity => "an activity was logged",
            Touch::Email => "an email was sent",
        }
    }
}

/// When the newest email about record `record_id` was sent, up to `now` (one probe of the
/// index `(tenant_id, record_id, sent_at)`).
async fn last_email(
    db: &Db,
    tenant_id: &str,
    record_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let txn = db.begin_tenant_read(tenant_id).await?;
    let sent: Option<Option<DateTime<Utc>>> = email::Entity::find()
        .select_only()
        .column(Column::SentAt)
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::RecordId.eq(record_id))
        .filter(Column::Status.eq("sent"))
        .filter(Column::SentAt.lte(now))
        .order_by_desc(Column::SentAt)
        .limit(1)
        .into_tuple()
        .one(&txn)
        .await?;
    txn.commit().await?;
    Ok(sent.flatten())
}

/// The record's last touch at `now` and what it was: the newest of `activity` (when its
/// newest activity was logged) and the newest email sent about it.
pub async fn newest(
    db: &Db,
    tenant_id: &str,
    record_id: &str,
    activity: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(Option<DateTime<Utc>>, Touch)> {
    Ok(match last_email(db, tenant_id, record_id, now).await? {
        Some(sent) if activity.is_none_or(|a| sent > a) => (Some(sent), Touch::Email),
        _ => (activity, Touch::Activity),
    })
}

/// The record whose score the sent email `sent` may move: the one it is about, when it is a
/// record of the tenant's pipeline and the meter scores it (none otherwise).
pub fn target(meta: &TenantMeta, sent: &EmailSent) -> Option<String> {
    let pipeline = super::scored_pipeline(meta)?;
    (pipeline.id == sent.entity_id).then(|| sent.record_id.clone())
}
