//! The AI gateway (bring your own key): one call to the tenant's configured provider, for the
//! API (`aiComplete`) and the worker (workflows' `ai_generate` / `ai_classify`, Customer
//! Memory's model summary) alike. Before the call: the tenant must have an active provider and
//! budget left this month (`BUDGET_EXCEEDED` otherwise). The call: each attempt bounded by a
//! timeout, a 429, a 5xx or a failed connection retried with exponential backoff, then
//! `AI_PROVIDER_ERROR`; base URLs pass the same internal-address guard as webhooks. After it,
//! in one transaction: the usage row (tokens, estimated cost, user, feature, outcome) and an
//! audit entry whose prompt is masked (addresses, numbers, personal values).

pub mod wire;

use std::time::Duration;

use entity::features::ai::{self, Provider, Usage};
use entity::runtime::audit::{self, Actor, Entry};
use entity::{Db, Error, Result};
use serde_json::{Value, json};

use crate::context::backoff;
use wire::Reply;

/// Attempts of one call (the first and its retries).
pub const ATTEMPTS: i32 = 3;
/// The backoff base between attempts.
const RETRY_BASE: Duration = Duration::from_millis(200);
/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a masked prompt the audit entry keeps.
const AUDITED_PROMPT_CHARS: usize = 2000;

/// One question to the tenant's model.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub tenant_id: &'a str,
    /// Who asks (the audit entry and the usage row name them).
    pub actor: &'a Actor,
    /// What for: `complete`, `workflow`, `memory`.
    pub feature: &'a str,
    pub system: &'a str,
    pub prompt: &'a str,
    /// The values of personal fields in the prompt, masked in the audit entry.
    pub personal: &'a [String],
}

/// The model's answer and what it cost.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    pub provider: String,
    pub model: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_micros: i64,
}

/// The tenant's active provider, if it has one.
pub async fn provider(db: &Db, tenant_id: &str) -> Result<Option<Provider>> {
    let txn = db.begin_tenant_read(tenant_id).await?;
    let found = ai::active(&txn, tenant_id).await?;
    txn.commit().await?;
    Ok(found)
}

/// Asks the tenant's model `ask`; internal addresses are reachable only as `allow` says.
pub async fn complete(db: &Db, allow: &[String], ask: &Ask<'_>) -> Result<Answer> {
    let txn = db.begin_tenant_read(ask.tenant_id).await?;
    let found = ai::active(&txn, ask.tenant_id).await?;
    let budget = match &found {
        Some(_) => ai::check_budget(&txn, ask.tenant_id).await,
        None => Ok(()),
    };
    txn.commit().await?;
    let p = found.ok_or_else(|| {
        Error::BadRequest("no AI provider is configured for this tenant (configureAiProvider)".into())
    })?;
    budget?;
    let key = ai::open_key(db.sealer()?, &p)?;
    let outcome = call(&p, &key, allow, ask).await;
    let (reply, error) = match &outcome {
        Ok(r) => (r.clone(), None),
        Err(e) => (Reply { text: String::new(), tokens_in: 0, tokens_out: 0 }, Some(e.clone())),
    };
    let cost_micros = cost(&p, &reply);
    let usage = Usage {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: ask.tenant_id.to_owned(),
        provider_id: Some(p.id.clone()),
        user_id: ask.actor.user_id.clone(),
        feature: ask.feature.to_owned(),
        model: p.model.clone(),
        tokens_in: reply.tokens_in,
        tokens_out: reply.tokens_out,
        cost_micros,
        status: if error.is_none() { "ok" } else { "error" }.to_owned(),
        error: error.clone(),
        created_at: entity::runtime::time::now(),
    };
    let masked: String = ai::mask(ask.prompt, ask.personal).chars().take(AUDITED_PROMPT_CHARS).collect();
    let details = json!({
        "provider": p.name, "model": p.model, "feature": ask.feature, "status": usage.status,
        "tokensIn": reply.tokens_in, "tokensOut": reply.tokens_out, "costMicros": cost_micros,
        "prompt": masked, "error": error,
    });
    let txn = db.begin_tenant_write(ask.tenant_id).await?;
    ai::record_usage(&txn, usage).await?;
    let entry =
        Entry { action: "ai.call", object_type: "ai_provider", object_id: Some(&p.id), changes: details };
    audit::append(&txn, db.dialect, ask.tenant_id, ask.actor, &entry).await?;
    txn.commit().await?;
    let reply = outcome.map_err(Error::AiProvider)?;
    Ok(Answer {
        text: reply.text,
        provider: p.name,
        model: p.model,
        tokens_in: reply.tokens_in,
        tokens_out: reply.tokens_out,
        cost_micros,
    })
}

/// The estimated cost of `reply` at `p`'s prices (USD per million tokens), in micro-USD.
fn cost(p: &Provider, reply: &Reply) -> i64 {
    (reply.tokens_in as f64 * p.input_price + reply.tokens_out as f64 * p.output_price).round() as i64
}

/// Whether an answer with `status` may pass if asked again.
fn retryable(status: u16) -> bool {
    status == 429 || status >= 500
}

/// The request to `p`, attempted up to `ATTEMPTS` times; `Err` says why it failed for good.
async fn call(
    p: &Provider,
    key: &str,
    allow: &[String],
    ask: &Ask<'_>,
) -> std::result::Result<Reply, String> {
    let endpoint = wire::endpoint(&p.wire_format, &p.base_url);
    let (client, url) = crate::handlers::webhooks::pinned_client(&endpoint, allow, TIMEOUT).await?;
    let body = wire::body(&p.wire_format, &p.model, ask.system, ask.prompt);
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let mut request = client.post(url.clone()).header("content-type", "application/json");
        for (name, value) in wire::headers(&p.wire_format, key) {
            request = request.header(name, value);
        }
        match request.body(body.to_string()).send().await {
            Ok(response) if response.status().is_success() => {
                let answer: Value =
                    response.json().await.map_err(|e| format!("the provider's answer is not JSON: {e}"))?;
                return wire::reply(&p.wire_format, &answer);
            }
            Ok(response) if retryable(response.status().as_u16()) => {
                last = format!("the provider answered {}", response.status().as_u16());
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let text: String = response.text().await.unwrap_or_default().chars().take(300).collect();
                return Err(format!("the provider answered {status}: {text}"));
            }
            Err(e) => last = format!("the request to the provider failed: {e}"),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff(RETRY_BASE, attempt)).await;
        }
    }
    Err(format!("{last} (after {ATTEMPTS} attempts)"))
}
