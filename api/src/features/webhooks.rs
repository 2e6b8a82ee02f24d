//! GraphQL for outgoing webhooks (administrators): `webhooks`, `webhookDeliveries`,
//! `createWebhook` (returns the signing secret once), `rotateWebhookSecret` (a new secret;
//! the previous one stays valid, so two sign every delivery until the next rotation) and
//! `deleteWebhook`; `webhookDeliveryChanged` pushes each change of a delivery's status. URLs
//! to internal addresses are refused unless allowed (SSRF).

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, SubscriptionField,
    SubscriptionFieldFuture, Type, TypeRef,
};
use entity::FieldError;
use entity::features::webhooks::{self as wh, Delivery, Webhook};
use entity::runtime::audit;
use entity::runtime::naming::{fields as f, types as t};
use jobs::BusEvent;

use crate::error::ApiError;
use crate::schema::args::{self, arg_json};
use crate::schema::feature::{Declared, Slot, admin_only, admin_types};
use crate::schema::values::{json, parent, s, sync_field, ts};
use crate::schema::{ctx, news};
use crate::services::Txn;

/// A webhook with the secret to show once.
struct WithSecret(Webhook, String);

pub fn types() -> Vec<Type> {
    let id = || TypeRef::named_nn(TypeRef::ID);
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let strings = || TypeRef::named_nn_list_nn(TypeRef::STRING);
    vec![
        Object::new(t::WEBHOOK)
            .field(sync_field::<Webhook>("id", id(), |w| s(&w.id)))
            .field(sync_field::<Webhook>("url", string(), |w| s(&w.url)))
            .field(sync_field::<Webhook>("description", TypeRef::named(TypeRef::STRING), |w| {
                w.description.as_deref().and_then(s)
            }))
            .field(sync_field::<Webhook>("events", strings(), |w| {
                Some(Value::List(w.events.iter().cloned().map(Value::from).collect()))
            }))
            .field(sync_field::<Webhook>("active", TypeRef::named_nn(TypeRef::BOOLEAN), |w| {
                Some(Value::from(w.active))
            }))
            .field(sync_field::<Webhook>("secretIds", strings(), |w| {
                Some(Value::List(w.secrets.iter().map(|x| Value::from(x.id.clone())).collect()))
            }))
            .field(sync_field::<Webhook>("createdAt", TypeRef::named_nn(t::DATE_TIME), |w| ts(&w.created_at)))
            .into(),
        Object::new(t::WEBHOOK_PAYLOAD)
            .field(Field::new("webhook", TypeRef::named_nn(t::WEBHOOK), |c| {
                FieldFuture::new(async move {
                    Ok(Some(FieldValue::owned_any(parent::<WithSecret>(&c)?.0.clone())))
                })
            }))
            .field(sync_field::<WithSecret>("secret", string(), |w| s(&w.1)))
            .into(),
        Object::new(t::WEBHOOK_DELIVERY)
            .field(sync_field::<Delivery>("id", id(), |d| s(&d.id)))
            .field(sync_field::<Delivery>("eventId", string(), |d| s(&d.event_key)))
            .field(sync_field::<Delivery>("eventType", string(), |d| s(&d.event_type)))
            .field(sync_field::<Delivery>("status", string(), |d| s(&d.status)))
            .field(sync_field::<Delivery>("attempts", TypeRef::named_nn(TypeRef::INT), |d| {
                Some(Value::from(d.attempts))
            }))
            .field(sync_field::<Delivery>("responseStatus", TypeRef::named(TypeRef::INT), |d| {
                d.response_status.map(Value::from)
            }))
            .field(sync_field::<Delivery>("lastError", TypeRef::named(TypeRef::STRING), |d| {
                d.last_error.as_deref().and_then(s)
            }))
            .field(sync_field::<Delivery>("payload", TypeRef::named_nn(t::JSON), |d| json(&d.payload)).description(
                "The JSON body sent: `{id, type, tenantId, occurredAt, data: {record, changedFields}}`.",
            ))
            .field(sync_field::<Delivery>(
                "createdAt",
                TypeRef::named_nn(t::DATE_TIME),
                |d| ts(&d.created_at),
            ))
            .field(sync_field::<Delivery>("deliveredAt", TypeRef::named(t::DATE_TIME), |d| {
                d.delivered_at.as_ref().and_then(ts)
            }))
            .into(),
        InputObject::new(t::WEBHOOK_INPUT)
            .field(InputValue::new("url", string()))
            .field(InputValue::new("events", strings()))
            .field(InputValue::new("description", TypeRef::named(TypeRef::STRING)))
            .into(),
    ]
}

async fn audit_change(
    c: &ResolverContext<'_>,
    txn: &sea_orm::DatabaseTransaction,
    action: &str,
    id: &str,
) -> Result<(), ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let entry =
        audit::Entry { action, object_type: "webhook", object_id: Some(id), changes: serde_json::json!({}) };
    audit::append(txn, state.db.dialect, &p.tenant_id, &ctx::actor(c)?, &entry).await?;
    Ok(())
}

#[derive(serde::Deserialize)]
struct Input {
    url: String,
    events: Vec<String>,
    description: Option<String>,
}

async fn create(c: &ResolverContext<'_>) -> Result<WithSecret, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let input: Input = serde_json::from_value(arg_json(c, "input")?.unwrap_or_default())
        .map_err(|e| ApiError::BadRequest(format!("input: {e}")))?;
    let mut errors = Vec::new();
    if let Err(e) = jobs::handlers::webhooks::resolve(&input.url, &state.config.webhook_allow_hosts).await {
        errors.push(FieldError::new("url", e));
    }
    let valid_pattern =
        |e: &String| e == "*" || e.split('.').count() == 2 && !e.starts_with('.') && !e.ends_with('.');
    if input.events.is_empty() || !input.events.iter().all(valid_pattern) {
        errors.push(FieldError::new("events", "event types like `deal.created`, `deal.*` or `*`"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let secret = wh::new_secret();
    let w = Webhook {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: p.tenant_id.clone(),
        url: input.url,
        description: input.description,
        events: input.events,
        secrets: vec![secret.clone()],
        active: true,
        created_at: entity::runtime::time::now(),
    };
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    wh::save(&txn, &w, true).await?;
    audit_change(c, &txn, "webhook.create", &w.id).await?;
    txn.commit().await?;
    Ok(WithSecret(w, secret.secret))
}

async fn rotate(c: &ResolverContext<'_>) -> Result<WithSecret, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let id = args::string(c, "id")?;
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let mut w =
        wh::get(&txn, &p.tenant_id, &id).await?.ok_or_else(|| ApiError::NotFound("webhook".into()))?;
    let secret = wh::rotate(&mut w.secrets);
    wh::save(&txn, &w, false).await?;
    audit_change(c, &txn, "webhook.rotate_secret", &w.id).await?;
    txn.commit().await?;
    Ok(WithSecret(w, secret.secret))
}

pub fn queries() -> Vec<Field> {
    vec![
        Field::new(f::WEBHOOKS, TypeRef::named_nn_list_nn(t::WEBHOOK), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let list = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                        wh::list(txn, Some(&p.tenant_id), false).await
                    })
                    .await?;
                Ok(Some(FieldValue::list(list.into_iter().map(FieldValue::owned_any))))
            })
        }),
        Field::new(f::WEBHOOK_DELIVERIES, TypeRef::named_nn_list_nn(t::WEBHOOK_DELIVERY), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let id = args::string(&c, "webhookId")?;
                let first = args::log_page_size(&c, state.config.max_page_size)?;
                let list = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                        wh::deliveries(txn, &p.tenant_id, &id, first).await
                    })
                    .await?;
                Ok(Some(FieldValue::list(list.into_iter().map(FieldValue::owned_any))))
            })
        })
        .argument(InputValue::new("webhookId", TypeRef::named_nn(TypeRef::ID)))
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
        .description("Deliveries of a webhook, newest first."),
    ]
}

pub fn mutations() -> Vec<Field> {
    let id = || InputValue::new("id", TypeRef::named_nn(TypeRef::ID));
    vec![
        Field::new(f::CREATE_WEBHOOK, TypeRef::named_nn(t::WEBHOOK_PAYLOAD), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                Ok(Some(FieldValue::owned_any(create(&c).await?)))
            })
        })
        .argument(InputValue::new("input", TypeRef::named_nn(t::WEBHOOK_INPUT)))
        .description("Subscribes a URL to event types; the signing secret is shown only here."),
        Field::new(f::ROTATE_WEBHOOK_SECRET, TypeRef::named_nn(t::WEBHOOK_PAYLOAD), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                Ok(Some(FieldValue::owned_any(rotate(&c).await?)))
            })
        })
        .argument(id())
        .description("Adds a new signing secret; deliveries carry both until the next rotation."),
        crate::schema::deletion::field(f::DELETE_WEBHOOK, "webhook", |txn, t, id| {
            Box::pin(wh::delete(txn, t, id))
        }),
    ]
}

/// `webhookDeliveryChanged(webhookId)`: the tenant's deliveries (of one webhook, when given)
/// each time their status changes, as the change left them.
pub fn subscription() -> SubscriptionField {
    SubscriptionField::new(f::WEBHOOK_DELIVERY_CHANGED, TypeRef::named_nn(t::WEBHOOK_DELIVERY), |c| {
        SubscriptionFieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let webhook = args::opt_string(&c, "webhookId")?;
            news::stream(
                &c,
                |e| match e {
                    BusEvent::WebhookDelivery(d) => Some(d.clone()),
                    _ => None,
                },
                move |state, p, d| {
                    let webhook = webhook.clone();
                    async move {
                        let found = state
                            .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                                wh::get_delivery(txn, &p.tenant_id, &d.delivery_id).await
                            })
                            .await?;
                        let shown = found
                            .filter(|row| webhook.as_deref().is_none_or(|w| w == row.webhook_id))
                            // The status the change gave it, even if a later one has committed since.
                            .map(|row| Delivery { status: d.status.clone(), ..row });
                        Ok(shown.map(FieldValue::owned_any))
                    }
                },
            )
        })
    })
    .argument(InputValue::new("webhookId", TypeRef::named(TypeRef::ID)))
    .description(
        "Webhook deliveries (of one webhook with `webhookId`) each time their status changes (pending, \
         sending, retrying, delivered, dead) (administrators).",
    )
}

/// Outgoing webhooks and their deliveries (administrators).
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Admin, |_| queries())],
    mutations: &[(Slot::Admin, |_| mutations())],
    subscriptions: |a| admin_only(a, || vec![subscription()]),
    types: |a| admin_types(a, types),
    ..Declared::EMPTY
};
