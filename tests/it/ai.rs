//! The AI gateway against a fake provider started inside the test, speaking both the OpenAI
//! chat-completions and the Anthropic messages formats: the API key is never readable back;
//! `aiComplete` sends only what the caller may read of its context record (the provider's
//! request is inspected), records usage and audits the call with the prompt masked; the
//! monthly budget refuses with BUDGET_EXCEEDED; a provider's 500s are retried, then reported as
//! AI_PROVIDER_ERROR; workflows' `ai_classify` and `ai_generate` write the model's answers.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::harness::*;

/// A request the fake provider got: path, headers (lower-case names) and JSON body.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

/// A fake model provider on 127.0.0.1: answers with `statuses` in turn (the last repeats) and,
/// on a 200, with `answer(request body)` in the format its path asks for; 100 tokens in, 20 out.
pub struct FakeProvider {
    pub base: String,
    pub calls: Arc<Mutex<Vec<Call>>>,
}

impl FakeProvider {
    pub async fn start(statuses: Vec<u16>, answer: fn(&Value) -> String) -> FakeProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake provider");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let log = calls.clone();
        tokio::spawn(async move {
            let mut served = 0;
            while let Ok((socket, _)) = listener.accept().await {
                let (read, mut write) = socket.into_split();
                let mut reader = BufReader::new(read);
                let mut start = String::new();
                if reader.read_line(&mut start).await.is_err() {
                    continue;
                }
                let path = start.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    let read = reader.read_line(&mut line).await.unwrap_or(0);
                    let line = line.trim_end();
                    if read == 0 || line.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        headers.push((name.trim().to_lowercase(), value.trim().to_owned()));
                    }
                }
                let length: usize = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut bytes = vec![0u8; length];
                let _ = reader.read_exact(&mut bytes).await;
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let status = statuses[served.min(statuses.len() - 1)];
                served += 1;
                let text = answer(&body);
                log.lock().expect("the provider's log").push(Call { path: path.clone(), headers, body });
                let reply = if status != 200 {
                    json!({"error": {"message": "overloaded"}})
                } else if path.ends_with("/v1/messages") {
                    json!({"content": [{"type": "text", "text": text}], "usage": {"input_tokens": 100, "output_tokens": 20}})
                } else {
                    json!({"choices": [{"message": {"role": "assistant", "content": text}}],
                           "usage": {"prompt_tokens": 100, "completion_tokens": 20}})
                }
                .to_string();
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                );
                let _ = write.write_all(response.as_bytes()).await;
            }
        });
        FakeProvider { base, calls }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("the provider's log").clone()
    }
}

/// Every text of a request body's messages (and Anthropic's `system`), joined.
pub fn sent_text(body: &Value) -> String {
    let mut text = body["system"].as_str().unwrap_or_default().to_owned();
    for m in body["messages"].as_array().cloned().unwrap_or_default() {
        text.push_str(m["content"].as_str().unwrap_or_default());
        text.push('\n');
    }
    text
}

pub const CONFIGURE: &str =
    "mutation($i: AiProviderInput!) { configureAiProvider(input: $i) { id name wireFormat model keyHint } }";
const COMPLETE: &str = "mutation($p: String!, $c: AiContextInput) { aiComplete(prompt: $p, context: $c) { text provider model tokensIn tokensOut costUsd contextFields } }";
const USAGE: &str = "{ aiUsage { feature model userId tokensIn tokensOut costUsd status error } }";

/// Configures `provider` as the tenant's (`openai` or `anthropic`) with key `key`, prices 3
/// and 15 USD per million tokens unless `prices` says otherwise.
pub async fn configure(
    t: &TestTenant,
    provider: &FakeProvider,
    format: &str,
    key: &str,
    prices: (f64, f64),
) -> Value {
    let base = if format == "openai" { format!("{}/v1", provider.base) } else { provider.base.clone() };
    let input = json!({"name": "main", "wireFormat": format, "baseUrl": base, "model": "test-model",
        "apiKey": key, "inputPrice": prices.0, "outputPrice": prices.1});
    t.data(CONFIGURE, json!({"i": input})).await["configureAiProvider"].clone()
}

fn fixed(_: &Value) -> String {
    "A careful answer.".into()
}

#[tokio::test]
async fn the_api_key_is_sealed_and_never_read_back() {
    let t = tenant().await;
    let provider = FakeProvider::start(vec![200], fixed).await;
    let key = "sk-live-TOPSECRET-4321";
    let saved = configure(&t, &provider, "openai", key, (3.0, 15.0)).await;
    assert_eq!(saved["keyHint"], json!("…4321"));
    let listed = t
        .gql(
            "{ aiProviders { id name wireFormat baseUrl model keyHint inputPrice outputPrice active } }",
            json!({}),
        )
        .await;
    assert!(!listed.to_string().contains("TOPSECRET"), "{listed}");
    assert_eq!(listed["data"]["aiProviders"][0]["keyHint"], json!("…4321"));
    let fields = t.type_fields("AiProvider").await.expect("the AiProvider type");
    assert!(!fields.iter().any(|f| f.to_lowercase().contains("apikey") && f != "keyHint"), "{fields:?}");
    let audit = t
        .gql("{ auditLog(filter: {action: \"ai_provider.configure\"}) { nodes { changes } } }", json!({}))
        .await;
    assert!(!audit.to_string().contains("TOPSECRET"), "{audit}");
    // The key still works: the provider gets it.
    t.data(COMPLETE, json!({"p": "Hello"})).await;
    assert_eq!(header(&provider.calls()[0].headers, "authorization"), format!("Bearer {key}"));
    // A member may neither configure nor list providers.
    let member = t.invite_auth("member").await;
    t.api.graphql(&member, "{ aiProviders { id } }", json!({})).await.expect_code("FORBIDDEN");
}

fn header(headers: &[(String, String)], name: &str) -> String {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

#[tokio::test]
async fn a_completion_sends_only_readable_fields_and_records_usage_and_a_masked_audit() {
    let t = tenant().await;
    let clients = t
        .define_entity(
            "client",
            "clients",
            vec![
                field("name", "TEXT", json!({})),
                field("notes", "TEXTAREA", json!({})),
                field("salary", "TEXT", json!({})),
            ],
        )
        .await;
    let ada = t
        .create(
            &clients,
            json!({"name": "Ada Lovelace", "notes": "Likes analytical engines", "salary": "SALARY-98765"}),
            "",
        )
        .await;
    t.create_role(
        "sales",
        json!({"$ai": true, "client": {"actions": ["read"], "fields": {"salary": "none"}}}),
    )
    .await;
    let sales = t.invite("sales").await;
    let auth = Auth::Bearer(str_of(&sales["accessToken"]));
    let provider = FakeProvider::start(vec![200], fixed).await;
    configure(&t, &provider, "openai", "sk-abcd", (3.0, 15.0)).await;

    let vars =
        json!({"p": "Write a greeting to ada@example.com", "c": {"entity": "client", "id": ada["id"]}});
    let answer = t.api.graphql(&auth, COMPLETE, vars.clone()).await.data()["aiComplete"].clone();
    assert_eq!(answer["text"], json!("A careful answer."));
    assert_eq!((answer["tokensIn"].clone(), answer["tokensOut"].clone()), (json!(100), json!(20)));
    assert_eq!(answer["contextFields"], json!(["name", "notes"]));
    let calls = provider.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/v1/chat/completions");
    let sent = sent_text(&calls[0].body);
    assert!(sent.contains("Ada Lovelace") && sent.contains("analytical engines"), "{sent}");
    assert!(!sent.contains("SALARY-98765"), "the forbidden field reached the provider: {sent}");
    // The owner reads every field: the same question sends the salary.
    t.data(COMPLETE, vars).await;
    assert!(sent_text(&provider.calls()[1].body).contains("SALARY-98765"));

    let usage = t.data(USAGE, json!({})).await["aiUsage"].clone();
    let mine = usage.as_array().expect("usage").iter().find(|u| u["userId"] == sales["user"]["id"]).cloned();
    let mine = mine.unwrap_or_else(|| panic!("no usage row of the member: {usage}"));
    assert_eq!(mine["feature"], json!("complete"));
    assert_eq!(
        (mine["tokensIn"].clone(), mine["tokensOut"].clone(), mine["status"].clone()),
        (json!(100), json!(20), json!("ok"))
    );
    // 100 × 3 + 20 × 15 micro-USD.
    assert_eq!(mine["costUsd"], json!(0.0006));
    let audit = t
        .data("{ auditLog(filter: {action: \"ai.call\"}) { nodes { actorUserId changes } } }", json!({}))
        .await;
    let entries = audit["auditLog"]["nodes"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{audit}");
    let text = audit.to_string();
    assert!(text.contains("[email]") && !text.contains("ada@example.com"), "{text}");

    // A role without `$ai` has no aiComplete.
    let member = t.invite_auth("member").await;
    let bare = "mutation { aiComplete(prompt: \"Hi\") { text } }";
    t.api.graphql(&member, bare, json!({})).await.expect_code("FORBIDDEN");
}

#[tokio::test]
async fn the_monthly_budget_refuses_calls_once_spent() {
    let t = tenant().await;
    let provider = FakeProvider::start(vec![200], fixed).await;
    // 100 tokens in at 10,000 USD per million: one US dollar a call.
    configure(&t, &provider, "anthropic", "ak-zzzz", (10_000.0, 0.0)).await;
    let budget =
        t.data("mutation { setAiBudget(monthlyUsd: 1.5) { monthlyUsd spentUsd month } }", json!({})).await;
    assert_eq!(budget["setAiBudget"]["monthlyUsd"], json!(1.5));
    for _ in 0..2 {
        let answer = t.data(COMPLETE, json!({"p": "Hello"})).await["aiComplete"].clone();
        assert_eq!(answer["costUsd"], json!(1.0));
    }
    t.request(COMPLETE, json!({"p": "Hello"})).await.expect_code("BUDGET_EXCEEDED");
    assert_eq!(provider.calls().len(), 2, "a refused call never reaches the provider");
    let calls = provider.calls();
    assert_eq!(calls[0].path, "/v1/messages");
    assert_eq!(header(&calls[0].headers, "x-api-key"), "ak-zzzz");
    assert!(!header(&calls[0].headers, "anthropic-version").is_empty());
    assert_eq!(calls[0].body["model"], json!("test-model"));
    let spent = t.data("{ aiBudget { monthlyUsd spentUsd } }", json!({})).await;
    assert_eq!(spent["aiBudget"]["spentUsd"], json!(2.0));
    // Raised, the budget lets calls through again.
    t.data("mutation { setAiBudget(monthlyUsd: 5) { monthlyUsd } }", json!({})).await;
    t.data(COMPLETE, json!({"p": "Hello"})).await;
}

#[tokio::test]
async fn provider_failures_are_retried_then_reported() {
    let t = tenant().await;
    let flaky = FakeProvider::start(vec![503, 200], fixed).await;
    configure(&t, &flaky, "openai", "sk-one", (0.0, 0.0)).await;
    let answer = t.data(COMPLETE, json!({"p": "Hello"})).await["aiComplete"].clone();
    assert_eq!(answer["text"], json!("A careful answer."));
    assert_eq!(flaky.calls().len(), 2, "the 503 was retried");

    let down = FakeProvider::start(vec![500], fixed).await;
    configure(&t, &down, "openai", "sk-two", (0.0, 0.0)).await;
    let r = t.request(COMPLETE, json!({"p": "Hello"})).await;
    r.expect_code("AI_PROVIDER_ERROR");
    assert!(r.text.contains("500"), "{}", r.text);
    assert_eq!(down.calls().len(), 3, "three attempts");
    let usage = t.data(USAGE, json!({})).await["aiUsage"].clone();
    assert_eq!(usage[0]["status"], json!("error"), "{usage}");
    // No provider at all: a bad request, not an internal error.
    t.data(
        "mutation($id: ID!) { deleteAiProvider(id: $id) }",
        json!({"id": t.data("{ aiProviders { id } }", json!({})).await["aiProviders"][0]["id"]}),
    )
    .await;
    t.request(COMPLETE, json!({"p": "Hello"})).await.expect_code("BAD_REQUEST");
}

/// Classifies into `billing.` (any case, a trailing stop) when asked for options, `Weather`
/// for a record that says WEIRD, and writes a summary otherwise.
fn triage(body: &Value) -> String {
    let text = sent_text(body);
    if text.contains("WEIRD") && text.contains("options") {
        "Weather".into()
    } else if text.contains("options") {
        "billing.".into()
    } else {
        "The customer cannot pay the invoice.".into()
    }
}

#[tokio::test]
async fn workflows_classify_and_generate_with_the_model() {
    let t = tenant().await;
    let tickets = t
        .define_entity(
            "ticket",
            "tickets",
            vec![
                field("body", "TEXTAREA", json!({})),
                field("summary", "TEXTAREA", json!({})),
                field("category", "SELECT", json!({"options": ["Billing", "Technical", "Other"]})),
            ],
        )
        .await;
    let provider = FakeProvider::start(vec![200], triage).await;
    configure(&t, &provider, "anthropic", "ak-flow", (0.0, 0.0)).await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "ticket"},
        "actions": [
            {"type": "ai_classify", "prompt": "Ticket: {{record.body}}", "field": "category"},
            {"type": "ai_generate", "prompt": "Summarise: {{record.body}}", "field": "summary"},
        ]
    });
    let workflow = t.create_workflow("triage", definition).await;
    let ticket = t.create(&tickets, json!({"body": "I was charged twice on my invoice"}), "").await;
    let id = str_of(&ticket["id"]);
    let done = eventually("the ticket to be classified and summarised", EFFECT_WAIT, async || {
        let r = t.get(&tickets, &id, "category summary").await;
        if r["summary"].is_string() { Ok(r) } else { Err(r) }
    })
    .await;
    assert_eq!(done["category"], json!("Billing"));
    assert_eq!(done["summary"], json!("The customer cannot pay the invoice."));
    assert!(sent_text(&provider.calls()[0].body).contains("charged twice"), "the template was rendered");

    // An answer that is not an option fails the step and sets nothing.
    let weird = t.create(&tickets, json!({"body": "WEIRD request"}), "").await;
    let runs =
        "query($w: ID) { workflowRuns(workflowId: $w) { status recordId steps { action status error } } }";
    let failed = eventually("the weird ticket's run to fail", EFFECT_WAIT, async || {
        let all = t.data(runs, json!({"w": workflow})).await["workflowRuns"].clone();
        let run = all.as_array().and_then(|a| a.iter().find(|r| r["recordId"] == weird["id"]).cloned());
        match run {
            Some(r) if r["status"] == "failed" || r["status"] == "dead" => Ok(r),
            other => Err(other),
        }
    })
    .await;
    assert_eq!(failed["steps"][0]["action"], json!("ai_classify"));
    assert!(failed["steps"][0]["error"].as_str().unwrap_or_default().contains("not an option"), "{failed}");
    assert_eq!(t.get(&tickets, &str_of(&weird["id"]), "category").await["category"], Value::Null);
}
