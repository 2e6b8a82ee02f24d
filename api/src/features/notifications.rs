//! In-app notifications (every user): `notifications`, `unreadNotificationCount`,
//! `markNotificationsRead` and the `notificationReceived` subscription; administrators also
//! have `sendNotification` (to users and/or everyone holding a role). Notifications are stored
//! and announced in the sending transaction (through the outbox), so a subscriber hears of
//! exactly the notifications that exist.

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, SubscriptionField,
    SubscriptionFieldFuture, Type, TypeRef,
};
use entity::FieldError;
use entity::features::notifications::{self, Message, Notification};
use entity::runtime::audit;
use entity::runtime::naming::{fields as f, types as t};
use futures_util::StreamExt;
use jobs::BusEvent;
use tokio_stream::wrappers::BroadcastStream;

use crate::error::ApiError;
use crate::schema::args::arg_json;
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot};
use crate::schema::values::{sync_field, ts};
use crate::services::Txn;

pub fn types() -> Vec<Type> {
    let opt = || TypeRef::named(TypeRef::STRING);
    vec![
        Object::new(t::NOTIFICATION)
            .field(sync_field::<Notification>("id", TypeRef::named_nn(TypeRef::ID), |n| {
                Some(Value::from(n.id.clone()))
            }))
            .field(sync_field::<Notification>("title", TypeRef::named_nn(TypeRef::STRING), |n| {
                Some(Value::from(n.title.clone()))
            }))
            .field(sync_field::<Notification>("body", opt(), |n| n.body.clone().map(Value::from)))
            .field(sync_field::<Notification>("link", opt(), |n| n.link.clone().map(Value::from)))
            .field(sync_field::<Notification>("createdAt", TypeRef::named_nn(t::DATE_TIME), |n| {
                ts(&n.created_at)
            }))
            .field(sync_field::<Notification>("readAt", TypeRef::named(t::DATE_TIME), |n| {
                n.read_at.as_ref().and_then(ts)
            }))
            .into(),
        InputObject::new(t::SEND_NOTIFICATION_INPUT)
            .field(InputValue::new("userIds", TypeRef::named_nn_list(TypeRef::ID)))
            .field(InputValue::new("roleId", TypeRef::named(TypeRef::ID)))
            .field(InputValue::new("title", TypeRef::named_nn(TypeRef::STRING)))
            .field(InputValue::new("body", opt()))
            .field(InputValue::new("link", opt()))
            .into(),
    ]
}

pub fn queries() -> Vec<Field> {
    vec![
        Field::new(f::NOTIFICATIONS, TypeRef::named_nn_list_nn(t::NOTIFICATION), |c| {
            FieldFuture::new(async move {
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let unread_only = c.args.get("unreadOnly").map(|v| v.boolean()).transpose()?.unwrap_or(false);
                let max = state.config.max_page_size;
                let first = match c.args.get("first") {
                    Some(v) => u64::try_from(v.i64()?).ok().filter(|n| *n <= max),
                    None => Some(state.config.default_page_size),
                }
                .ok_or_else(|| ApiError::BadRequest(format!("`first` must be between 0 and {max}")))?;
                let list = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                        notifications::list(txn, &p.tenant_id, &p.user_id, unread_only, first).await
                    })
                    .await?;
                Ok(Some(FieldValue::list(list.into_iter().map(FieldValue::owned_any))))
            })
        })
        .argument(InputValue::new("unreadOnly", TypeRef::named(TypeRef::BOOLEAN)))
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
        .description("Your notifications, newest first."),
        Field::new(f::UNREAD_NOTIFICATION_COUNT, TypeRef::named_nn(TypeRef::INT), |c| {
            FieldFuture::new(async move {
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let n = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                        notifications::unread_count(txn, &p.tenant_id, &p.user_id).await
                    })
                    .await?;
                Ok(Some(Value::from(n)))
            })
        }),
    ]
}

/// `markNotificationsRead` for everyone; `sendNotification` when `admin`.
pub fn mutations(admin: bool) -> Vec<Field> {
    let mut out = vec![
        Field::new(f::MARK_NOTIFICATIONS_READ, TypeRef::named_nn(TypeRef::INT), |c| {
            FieldFuture::new(async move {
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let ids: Option<Vec<String>> = arg_json(&c, "ids")?
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(|e| ApiError::BadRequest(format!("ids: {e}")))?;
                let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
                let n = notifications::mark_read(&txn, &p.tenant_id, &p.user_id, ids.as_deref())
                    .await
                    .map_err(ApiError::from)?;
                txn.commit().await.map_err(ApiError::from)?;
                Ok(Some(Value::from(n)))
            })
        })
        .argument(InputValue::new("ids", TypeRef::named_nn_list(TypeRef::ID)))
        .description("Marks your notifications read (all of them when `ids` is omitted); returns how many."),
    ];
    if admin {
        out.push(
            Field::new(f::SEND_NOTIFICATION, TypeRef::named_nn(TypeRef::INT), |c| {
                FieldFuture::new(async move {
                    ctx::require_admin(&c)?;
                    Ok(Some(Value::from(send(&c).await?)))
                })
            })
            .argument(InputValue::new("input", TypeRef::named_nn(t::SEND_NOTIFICATION_INPUT)))
            .description(
                "Notifies users (and/or every user holding a role); returns how many were notified.",
            ),
        );
    }
    out
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendInput {
    user_ids: Option<Vec<String>>,
    role_id: Option<String>,
    title: String,
    body: Option<String>,
    link: Option<String>,
}

async fn send(c: &async_graphql::dynamic::ResolverContext<'_>) -> Result<usize, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let input: SendInput = serde_json::from_value(arg_json(c, "input")?.unwrap_or_default())
        .map_err(|e| ApiError::BadRequest(format!("input: {e}")))?;
    let mut errors = Vec::new();
    if input.title.trim().is_empty() || input.title.chars().count() > 300 {
        errors.push(FieldError::new("title", "must be 1 to 300 characters"));
    }
    if input.user_ids.as_ref().is_none_or(Vec::is_empty) && input.role_id.is_none() {
        errors.push(FieldError::new("userIds", "name at least one user or a role"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let d = state.db.dialect;
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let asked = input.user_ids.clone().unwrap_or_default();
    let mut recipients = notifications::existing_users(&txn, &p.tenant_id, &asked).await?;
    if recipients.len() < asked.iter().collect::<std::collections::BTreeSet<_>>().len() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "userIds",
            "not every id is an active user of this tenant",
        )]));
    }
    if let Some(role) = &input.role_id {
        recipients.extend(notifications::users_with_role(&txn, &p.tenant_id, role).await?);
    }
    recipients.sort();
    recipients.dedup();
    let message =
        Message { title: input.title.trim(), body: input.body.as_deref(), link: input.link.as_deref() };
    let sent = notifications::create(&txn, &p.tenant_id, &recipients, &message).await?;
    let entry = audit::Entry {
        action: "notification.send",
        object_type: "notification",
        object_id: None,
        changes: serde_json::json!({"title": message.title, "recipients": recipients}),
    };
    audit::append(&txn, d, &p.tenant_id, &ctx::actor(c)?, &entry).await?;
    txn.commit().await?;
    Ok(sent.len())
}

/// `notificationReceived`: the caller's new notifications, as they are committed.
pub fn subscription() -> SubscriptionField {
    SubscriptionField::new(f::NOTIFICATION_RECEIVED, TypeRef::named_nn(t::NOTIFICATION), |c| {
        SubscriptionFieldFuture::new(async move {
            let p = ctx::principal(&c)?;
            let (tenant_id, user_id) = (p.tenant_id.clone(), p.user_id.clone());
            let rx = ctx::state(&c)?.live.control();
            ctx::listening(&c);
            let stream = BroadcastStream::new(rx).filter_map(move |item| {
                let out = match item {
                    Ok(BusEvent::Notification(n)) if n.tenant_id == tenant_id && n.user_id == user_id => {
                        Some(Ok(FieldValue::owned_any((*n).clone())))
                    }
                    _ => None,
                };
                std::future::ready(out)
            });
            Ok(stream)
        })
    })
    .description("Your new notifications, live.")
}

/// In-app notifications: every role reads and marks its own; administrators also send.
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Member, |_| queries())],
    mutations: &[(Slot::Member, |a| mutations(a.permissions.admin))],
    subscriptions: |_| vec![subscription()],
    types: |_| types(),
    ..Declared::EMPTY
};
