//! GraphQL for the AI gateway (bring your own key). Administrators configure the tenant's
//! providers (`aiProviders`, `configureAiProvider`, `deleteAiProvider`: the API key goes in
//! and never comes out — only `keyHint`), its monthly budget (`aiBudget`, `setAiBudget`) and
//! read the usage log (`aiUsage`). `aiComplete(prompt, context)` asks the model for a role
//! with `$ai` (or an administrator); the record named in `context` is read as the caller
//! reads it — within the row rule, with only the fields the role may read — so nothing the
//! caller could not read reaches the provider. The call itself is `jobs::ai::complete`.

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Type, TypeRef,
};
use entity::FieldError;
use entity::features::ai::{self, Provider, ProviderInput, Usage};
use entity::features::workflows::text_of;
use entity::runtime::audit;
use entity::runtime::naming::ai::{fields as f, types as t};
use entity::runtime::naming::types as platform;
use jobs::ai::{Answer, Ask};
use serde_json::json;

use crate::error::ApiError;
use crate::schema::access::SchemaAccess;
use crate::schema::args::{self, arg_json};
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot, admin_types};
use crate::schema::resolvers::readable;
use crate::schema::values::{s, sync_field, ts};
use crate::services::Txn;

/// What the model is told before the caller's prompt.
const SYSTEM: &str = "You are the assistant of a business application. When a record is given, use it; \
                      do not invent values it does not hold.";

/// A float as a GraphQL value.
fn float(x: f64) -> Option<Value> {
    Some(Value::from(x))
}

/// The tenant's budget and this month's spending (micro-USD).
struct Budget {
    monthly: Option<i64>,
    spent: i64,
    month: String,
}

/// `aiComplete`'s answer, with the fields of the record it was given.
struct Completion {
    answer: Answer,
    context_fields: Vec<String>,
}

fn admin() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let int = || TypeRef::named_nn(TypeRef::INT);
    let number = || TypeRef::named_nn(TypeRef::FLOAT);
    vec![
        Object::new(t::AI_PROVIDER)
            .description("A model provider of the tenant (its API key is never shown).")
            .field(sync_field::<Provider>("id", TypeRef::named_nn(TypeRef::ID), |p| s(&p.id)))
            .field(sync_field::<Provider>("name", string(), |p| s(&p.name)))
            .field(sync_field::<Provider>("wireFormat", string(), |p| s(&p.wire_format)))
            .field(sync_field::<Provider>("baseUrl", string(), |p| s(&p.base_url)))
            .field(sync_field::<Provider>("model", string(), |p| s(&p.model)))
            .field(
                sync_field::<Provider>("keyHint", string(), |p| s(&p.key_hint))
                    .description("The API key's last four characters."),
            )
            .field(sync_field::<Provider>("inputPrice", number(), |p| float(p.input_price)))
            .field(sync_field::<Provider>("outputPrice", number(), |p| float(p.output_price)))
            .field(sync_field::<Provider>("active", TypeRef::named_nn(TypeRef::BOOLEAN), |p| {
                Some(Value::from(p.active))
            }))
            .field(sync_field::<Provider>("createdAt", TypeRef::named_nn(platform::DATE_TIME), |p| {
                ts(&p.created_at)
            }))
            .into(),
        InputObject::new(t::AI_PROVIDER_INPUT)
            .field(InputValue::new("name", string()))
            .field(InputValue::new("wireFormat", string()).description("`openai` (chat completions) or `anthropic` (messages)."))
            .field(InputValue::new("baseUrl", string()).description("e.g. `https://api.openai.com/v1` or `https://api.anthropic.com`."))
            .field(InputValue::new("model", string()))
            .field(InputValue::new("apiKey", string()).description("Sealed with the server key; never shown again."))
            .field(InputValue::new("inputPrice", TypeRef::named(TypeRef::FLOAT)).description("USD per million input tokens (cost estimates)."))
            .field(InputValue::new("outputPrice", TypeRef::named(TypeRef::FLOAT)).description("USD per million output tokens."))
            .into(),
        Object::new(t::AI_BUDGET)
            .field(
                sync_field::<Budget>("monthlyUsd", TypeRef::named(TypeRef::FLOAT), |b| b.monthly.and_then(|m| float(ai::usd(m))))
                    .description("The monthly budget (null: none); calls are refused with BUDGET_EXCEEDED once the month's usage reaches it."),
            )
            .field(sync_field::<Budget>("spentUsd", number(), |b| float(ai::usd(b.spent))))
            .field(sync_field::<Budget>("month", string(), |b| s(&b.month)).description("The month (UTC), `YYYY-MM`."))
            .into(),
        Object::new(t::AI_USAGE)
            .description("One call of the AI gateway.")
            .field(sync_field::<Usage>("id", TypeRef::named_nn(TypeRef::ID), |u| s(&u.id)))
            .field(sync_field::<Usage>("feature", string(), |u| s(&u.feature)))
            .field(sync_field::<Usage>("model", string(), |u| s(&u.model)))
            .field(sync_field::<Usage>("userId", TypeRef::named(TypeRef::ID), |u| u.user_id.as_deref().and_then(s)))
            .field(sync_field::<Usage>("tokensIn", int(), |u| Some(Value::from(u.tokens_in))))
            .field(sync_field::<Usage>("tokensOut", int(), |u| Some(Value::from(u.tokens_out))))
            .field(sync_field::<Usage>("costUsd", number(), |u| float(ai::usd(u.cost_micros))))
            .field(sync_field::<Usage>("status", string(), |u| s(&u.status)).description("`ok` or `error`."))
            .field(sync_field::<Usage>("error", TypeRef::named(TypeRef::STRING), |u| u.error.as_deref().and_then(s)))
            .field(sync_field::<Usage>("createdAt", TypeRef::named_nn(platform::DATE_TIME), |u| ts(&u.created_at)))
            .into(),
    ]
}

fn caller_types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let int = || TypeRef::named_nn(TypeRef::INT);
    vec![
        Object::new(t::AI_COMPLETION)
            .field(sync_field::<Completion>("text", string(), |c| s(&c.answer.text)))
            .field(sync_field::<Completion>("provider", string(), |c| s(&c.answer.provider)))
            .field(sync_field::<Completion>("model", string(), |c| s(&c.answer.model)))
            .field(sync_field::<Completion>("tokensIn", int(), |c| Some(Value::from(c.answer.tokens_in))))
            .field(sync_field::<Completion>("tokensOut", int(), |c| Some(Value::from(c.answer.tokens_out))))
            .field(sync_field::<Completion>("costUsd", TypeRef::named_nn(TypeRef::FLOAT), |c| {
                float(ai::usd(c.answer.cost_micros))
            }))
            .field(
                sync_field::<Completion>("contextFields", TypeRef::named_nn_list_nn(TypeRef::STRING), |c| {
                    Some(Value::List(c.context_fields.iter().cloned().map(Value::from).collect()))
                })
                .description("The fields of the context record that were sent (those the caller may read)."),
            )
            .into(),
        InputObject::new(t::AI_CONTEXT_INPUT)
            .description("A record to give the model, read as the caller reads it.")
            .field(InputValue::new("entity", string()).description("The entity's `nameSingular`."))
            .field(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
            .into(),
    ]
}

/// Whether the role may call the gateway.
fn may_ask(access: &SchemaAccess) -> bool {
    access.permissions.admin || access.permissions.ai
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Input {
    name: String,
    wire_format: String,
    base_url: String,
    model: String,
    api_key: String,
    input_price: Option<f64>,
    output_price: Option<f64>,
}

async fn audit_admin(
    c: &ResolverContext<'_>,
    txn: &sea_orm::DatabaseTransaction,
    entry: audit::Entry<'_>,
) -> Result<(), ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    audit::append(txn, state.db.dialect, &p.tenant_id, &ctx::actor(c)?, &entry).await?;
    Ok(())
}

async fn configure(c: &ResolverContext<'_>) -> Result<Provider, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let input: Input = serde_json::from_value(arg_json(c, "input")?.unwrap_or_default())
        .map_err(|e| ApiError::BadRequest(format!("input: {e}")))?;
    let input = ProviderInput {
        name: input.name,
        wire_format: input.wire_format,
        base_url: input.base_url,
        model: input.model,
        api_key: input.api_key,
        input_price: input.input_price.unwrap_or(0.0),
        output_price: input.output_price.unwrap_or(0.0),
    };
    let mut errors = ai::check(&input);
    let endpoint = jobs::ai::wire::endpoint(&input.wire_format, &input.base_url);
    if let Err(e) = jobs::handlers::webhooks::resolve(&endpoint, &state.config.webhook_allow_hosts).await {
        errors.push(FieldError::new("baseUrl", e));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let saved = ai::configure(&txn, state.db.sealer()?, &p.tenant_id, &input).await?;
    let changes = json!({"name": saved.name, "wireFormat": saved.wire_format, "baseUrl": saved.base_url,
        "model": saved.model, "keyHint": saved.key_hint});
    let entry = audit::Entry {
        action: "ai_provider.configure",
        object_type: "ai_provider",
        object_id: Some(&saved.id),
        changes,
    };
    audit_admin(c, &txn, entry).await?;
    txn.commit().await?;
    Ok(saved)
}

async fn budget(c: &ResolverContext<'_>) -> Result<Budget, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let now = entity::runtime::time::now();
    let (monthly, spent) = state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
            Ok::<_, entity::Error>((
                ai::budget(txn, &p.tenant_id).await?,
                ai::spent(txn, &p.tenant_id, ai::month_start(now)).await?,
            ))
        })
        .await?;
    Ok(Budget { monthly, spent, month: now.format("%Y-%m").to_string() })
}

async fn set_budget(c: &ResolverContext<'_>) -> Result<Budget, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let usd = c.args.get("monthlyUsd").filter(|v| !v.is_null()).map(|v| v.f64()).transpose()?;
    if usd.is_some_and(|u| !u.is_finite() || u < 0.0) {
        return Err(ApiError::Validation(vec![FieldError::new("monthlyUsd", "0 or more (null: no budget)")]));
    }
    let micros = usd.map(|u| (u * 1e6).round() as i64);
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    ai::set_budget(&txn, &p.tenant_id, micros).await?;
    let entry = audit::Entry {
        action: "ai_budget.set",
        object_type: "ai_budget",
        object_id: None,
        changes: json!({"monthlyUsd": usd}),
    };
    audit_admin(c, &txn, entry).await?;
    txn.commit().await?;
    budget(c).await
}

#[derive(serde::Deserialize)]
struct Context {
    entity: String,
    id: String,
}

/// The lines describing the context record as the caller reads it, the GraphQL names of the
/// fields they show, and the values of its personal fields among them (masked in the audit).
async fn context(
    c: &ResolverContext<'_>,
    given: Context,
) -> Result<(String, Vec<String>, Vec<String>), ApiError> {
    let (a, record) = readable(c, &given.entity, &given.id).await?;
    let (mut lines, mut shown, mut personal) =
        (format!("The {} record {}:\n", a.full.name_singular, record.id), Vec::new(), Vec::new());
    // The role's view holds only the fields it may read: the others never reach the prompt.
    for field in &a.view.fields {
        let Some(value) = record.data.get(field.key.as_str()).filter(|v| !v.is_null()) else { continue };
        let text = text_of(value);
        lines.push_str(&format!("- {}: {}\n", field.label, text));
        shown.push(field.graphql_name.clone());
        if field.personal {
            personal.push(text);
        }
    }
    Ok((lines, shown, personal))
}

async fn complete(c: &ResolverContext<'_>) -> Result<Completion, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    if !(p.permissions.admin || p.permissions.ai) {
        return Err(ApiError::Forbidden("aiComplete needs a role with `$ai` or an administrator".into()));
    }
    let prompt = args::string(c, "prompt")?;
    if prompt.trim().is_empty() {
        return Err(ApiError::Validation(vec![FieldError::new("prompt", "is required")]));
    }
    let given: Option<Context> = arg_json(c, "context")?
        .filter(|v| !v.is_null())
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("context: {e}")))?;
    let (prompt, context_fields, personal) = match given {
        Some(given) => {
            let (lines, shown, personal) = context(c, given).await?;
            (format!("{prompt}\n\n{lines}"), shown, personal)
        }
        None => (prompt, Vec::new(), Vec::new()),
    };
    let actor = ctx::actor(c)?;
    let ask = Ask {
        tenant_id: &p.tenant_id,
        actor: &actor,
        feature: "complete",
        system: SYSTEM,
        prompt: &prompt,
        personal: &personal,
    };
    let answer = jobs::ai::complete(&state.db, &state.config.webhook_allow_hosts, &ask).await?;
    Ok(Completion { answer, context_fields })
}

fn admin_queries() -> Vec<Field> {
    vec![
        Field::new(f::AI_PROVIDERS, TypeRef::named_nn_list_nn(t::AI_PROVIDER), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let list = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| ai::list(txn, &p.tenant_id).await)
                    .await?;
                Ok(Some(FieldValue::list(list.into_iter().map(FieldValue::owned_any))))
            })
        })
        .description("The tenant's AI providers (the oldest active one answers)."),
        Field::new(f::AI_BUDGET, TypeRef::named_nn(t::AI_BUDGET), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                Ok(Some(FieldValue::owned_any(budget(&c).await?)))
            })
        })
        .description("The monthly AI budget and what this month has spent."),
        Field::new(f::AI_USAGE, TypeRef::named_nn_list_nn(t::AI_USAGE), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let first = args::log_page_size(&c, state.config.max_page_size)?;
                let list = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| ai::usage(txn, &p.tenant_id, first).await)
                    .await?;
                Ok(Some(FieldValue::list(list.into_iter().map(FieldValue::owned_any))))
            })
        })
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
        .description("The AI gateway's calls, newest first: tokens, estimated cost, user and feature."),
    ]
}

fn admin_mutations() -> Vec<Field> {
    vec![
        Field::new(f::CONFIGURE_AI_PROVIDER, TypeRef::named_nn(t::AI_PROVIDER), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                Ok(Some(FieldValue::owned_any(configure(&c).await?)))
            })
        })
        .argument(InputValue::new("input", TypeRef::named_nn(t::AI_PROVIDER_INPUT)))
        .description("Adds a provider, or replaces the one of the same name (a new key, model or URL)."),
        crate::schema::deletion::field(f::DELETE_AI_PROVIDER, "ai_provider", |txn, t, id| {
            Box::pin(ai::delete(txn, t, id))
        }),
        Field::new(f::SET_AI_BUDGET, TypeRef::named_nn(t::AI_BUDGET), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                Ok(Some(FieldValue::owned_any(set_budget(&c).await?)))
            })
        })
        .argument(InputValue::new("monthlyUsd", TypeRef::named(TypeRef::FLOAT)))
        .description("Sets the monthly AI budget in USD (null: no budget)."),
    ]
}

fn caller_mutations(access: &SchemaAccess) -> Vec<Field> {
    if !may_ask(access) {
        return Vec::new();
    }
    vec![
        Field::new(f::AI_COMPLETE, TypeRef::named_nn(t::AI_COMPLETION), |c| {
            FieldFuture::new(async move { Ok(Some(FieldValue::owned_any(complete(&c).await?))) })
        })
        .argument(InputValue::new("prompt", TypeRef::named_nn(TypeRef::STRING)))
        .argument(InputValue::new("context", TypeRef::named(t::AI_CONTEXT_INPUT)))
        .description(
            "Asks the tenant's AI provider; `context` adds a record as the caller reads it (only readable fields). \
             BUDGET_EXCEEDED when the month's budget is spent, AI_PROVIDER_ERROR when the provider fails after retries.",
        ),
    ]
}

/// The AI gateway: administration, and `aiComplete` for roles with `$ai`.
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Admin, |_| admin_queries())],
    mutations: &[(Slot::Admin, |_| admin_mutations()), (Slot::Member, caller_mutations)],
    types: |a| {
        let mut types = admin_types(a, admin);
        if may_ask(a) {
            types.extend(caller_types());
        }
        types
    },
    ..Declared::EMPTY
};
