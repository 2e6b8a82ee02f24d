//! Rate limits, on servers with low budgets (`harness::rate_limited_server`, in memory, and
//! `harness::redis_rate_servers`, two instances counting in one Redis): a user's or an API
//! key's GraphQL operations and its tenant's are charged their complexity, through the
//! executor and through compiled plans alike, and beyond the budget answer `RATE_LIMITED` with
//! HTTP 429 and `Retry-After` while other tenants go on; attempts of `login`, `signup`,
//! `refreshToken`, `acceptInvite` and inbound webhook deliveries are counted per client address
//! and account; instances sharing Redis share the budgets; `/metrics` counts the refusals.
//!
//! Budgets are fixed windows of a minute: a scenario that straddles a minute's end starts
//! over with fresh tenants (see `in_one_window`).

use std::future::Future;

use serde_json::json;

use crate::harness::*;
use crate::http::metric;

/// Complexity points of the operations below: async-graphql counts one per selected field.
const ROLES: u64 = 3; // roles { id name }
const CREATE_KEY: u64 = 2; // createApiKey { key }
const DEFINE: u64 = 2; // defineEntity { id }
const ME: u64 = 2; // me { id }
/// items, totalCount, nodes + 3 fields, pageInfo + 4 fields.
const HEAVY: u64 = 11;
const HEAVY_QUERY: &str = "{ items { totalCount nodes { id createdAt updatedAt } \
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
const ME_QUERY: &str = "{ me { id } }";

/// The current minute, as the server's windows count them.
fn minute() -> i64 {
    chrono::Utc::now().timestamp().div_euclid(60)
}

/// Runs `scenario` until one run fits in one minute (its counts are exact only then), at
/// most five times; returns that run's outcome.
async fn in_one_window<T, F: Future<Output = T>>(mut scenario: impl FnMut() -> F) -> T {
    for _ in 0..5 {
        let start = minute();
        let outcome = scenario().await;
        if minute() == start {
            return outcome;
        }
    }
    panic!("five runs in a row straddled a minute's end");
}

/// Asserts a whole request refused by a rate limit: 429, `Retry-After` in the minute,
/// `RATE_LIMITED` with the same `retryAfter`; returns the message.
fn expect_refused(response: &Response) -> String {
    assert_eq!(response.status, 429, "{}", response.text);
    response.expect_code("RATE_LIMITED");
    let header =
        response.header("retry-after").unwrap_or_else(|| panic!("no Retry-After: {}", response.text));
    let seconds: u64 = header.parse().expect("Retry-After in seconds");
    assert!((1..=60).contains(&seconds), "Retry-After {seconds}");
    let error = &response.errors()[0];
    let retry_after = error["extensions"]["retryAfter"].as_u64().expect("extensions.retryAfter");
    assert!(retry_after.abs_diff(seconds) <= 1, "retryAfter {retry_after} vs Retry-After {seconds}");
    str_of(&error["message"])
}

/// Sends `request` until it is refused (at most `max` times); returns how many passed and the
/// refusal. A passing request must satisfy `passed`.
async fn count_until_refused(
    max: u64,
    mut request: impl AsyncFnMut() -> Response,
    mut passed: impl FnMut(&Response),
) -> (u64, Response) {
    let mut n = 0;
    loop {
        let response = request().await;
        if response.status == 429 {
            return (n, response);
        }
        passed(&response);
        n += 1;
        assert!(n <= max, "still not refused after {max}: {}", response.text);
    }
}

fn ok(response: &Response) {
    response.data();
}

fn code(expected: &'static str) -> impl Fn(&Response) {
    move |response: &Response| {
        response.expect_code(expected);
    }
}

/// `{ me { id } }` passes on each server, in turn, the given number of times.
async fn spend_me(t: &TestTenant, times: u64) {
    for _ in 0..times {
        t.data(ME_QUERY, json!({})).await;
    }
}

struct Spent {
    owner_heavy: u64,
    owner_light: u64,
    owner_refusal: String,
    key_heavy: u64,
    key_refusal: String,
    compiled: bool,
    refused_before: f64,
    refused_after: f64,
}

/// A tenant on `rate_limited_server` whose owner creates an API key and an entity, then
/// spends its budget with heavy reads, then light ones; then the key spends what the tenant
/// has left.
async fn spend_a_tenants_budget() -> Spent {
    let server = rate_limited_server();
    let api = Api::new(server);
    let refused_before =
        metric(&api.get("/metrics", &[]).await.text, "alphery_graphql_errors_total{code=\"RATE_LIMITED\"}");
    let t = tenant_on(server).await;
    // Setup: ROLES + CREATE_KEY + DEFINE points of the owner's budget.
    let roles = t.data("{ roles { id name } }", json!({})).await;
    let admin = roles["roles"].as_array().expect("roles").iter().find(|r| r["name"] == "admin").cloned();
    let key = t
        .data(
            "mutation($r: ID!) { createApiKey(name: \"load\", roleId: $r) { key } }",
            json!({"r": str_of(&admin.expect("the admin role")["id"])}),
        )
        .await["createApiKey"]["key"]
        .clone();
    t.data(
        "mutation($i: EntityInput!) { defineEntity(input: $i) { id } }",
        json!({"i": entity("item", "items", vec![field("title", "TEXT", json!({}))], json!({}))}),
    )
    .await;
    let mut compiled = false;
    let (owner_heavy, refusal) = count_until_refused(
        50,
        async || t.request(HEAVY_QUERY, json!({})).await,
        |r: &Response| {
            ok(r);
            compiled |= r.header("x-alphery-plan").as_deref() == Some("compiled");
        },
    )
    .await;
    // The heavy read no longer fits; lighter operations that do still pass.
    expect_refused(&refusal);
    assert!(refusal.body.get("data").is_none(), "refused before execution: {}", refusal.text);
    let (owner_light, refusal) =
        count_until_refused(50, async || t.request(ME_QUERY, json!({})).await, ok).await;
    let owner_refusal = expect_refused(&refusal);
    assert!(refusal.body.get("data").is_none(), "refused before execution: {}", refusal.text);
    // The key has a budget of its own, but the tenant's is nearly spent.
    let key = Auth::ApiKey(str_of(&key));
    let (key_heavy, refusal) =
        count_until_refused(50, async || t.api.graphql(&key, HEAVY_QUERY, json!({})).await, ok).await;
    let key_refusal = expect_refused(&refusal);
    // Another tenant is not affected.
    let other = tenant_on(server).await;
    other.data(ME_QUERY, json!({})).await;
    let refused_after =
        metric(&api.get("/metrics", &[]).await.text, "alphery_graphql_errors_total{code=\"RATE_LIMITED\"}");
    Spent {
        owner_heavy,
        owner_light,
        owner_refusal,
        key_heavy,
        key_refusal,
        compiled: compiled && owner_heavy > 1,
        refused_before,
        refused_after,
    }
}

#[tokio::test]
async fn operations_are_charged_their_complexity_per_user_and_tenant_and_refused_beyond() {
    let spent = in_one_window(spend_a_tenants_budget).await;
    // The owner: setup, then heavy reads while they fit, then light ones in what is left.
    let setup = ROLES + CREATE_KEY + DEFINE;
    assert_eq!(spent.owner_heavy, (RATE_USER - setup) / HEAVY, "heavy reads that fit");
    let left = RATE_USER - setup - spent.owner_heavy * HEAVY;
    assert!((ME..HEAVY).contains(&left), "the test's budgets leave room for light operations only: {left}");
    assert_eq!(spent.owner_light, left / ME, "light operations that fit in what heavy ones left");
    assert!(spent.owner_refusal.contains("your operations"), "{}", spent.owner_refusal);
    // Heavy reads after the first ran as compiled plans, charged as much as the executor's.
    assert!(spent.compiled, "the repeated heavy read ran as a compiled plan");
    // The key, with its own budget untouched, is stopped by the tenant's.
    let tenant_spent = RATE_USER - left % ME;
    assert_eq!(spent.key_heavy, (RATE_TENANT - tenant_spent) / HEAVY, "the tenant's budget stops the key");
    assert!(spent.key_heavy * HEAVY < RATE_USER, "the key's own budget is not what stopped it");
    assert!(spent.key_refusal.contains("tenant"), "{}", spent.key_refusal);
    // Three refusals counted (other tests on this server may add theirs).
    assert!(
        spent.refused_after >= spent.refused_before + 3.0,
        "{} → {}",
        spent.refused_before,
        spent.refused_after
    );
}

/// One limited operation (`exhaust` runs it): its attempts fail in their `usual` way until the
/// budget of their account is spent, then are refused, while another account still passes.
struct Case {
    name: &'static str,
    usual: &'static str,
}

/// Posts to an inbound webhook that does not exist.
async fn post_hook(api: &Api, workflow: &str) -> Response {
    let request = api
        .http
        .post(api.url(&format!("/hooks/workflows/{workflow}")))
        .header("content-type", "application/json")
        .body("{}");
    api.send(request).await
}

const ACCEPT: &str =
    "mutation($t: String!, $p: String!) { acceptInvite(token: $t, password: $p) { accessToken } }";

/// The attempts of `case` until refused, on a fresh account; then `other` must pass.
async fn exhaust(case: &Case) -> u64 {
    let server = rate_limited_server();
    let api = Api::new(server);
    let t = tenant_on(server).await;
    let fresh = unique_slug();
    let (n, refused) = match case.name {
        "login" => {
            let attempt = async || login(&api, &t.slug, &t.email, "not the password").await;
            let (n, refused) = count_until_refused(20, attempt, code(case.usual)).await;
            // The right password does not get through either, nor a forged client address
            // (this server does not trust X-Forwarded-For).
            expect_refused(&login(&api, &t.slug, &t.email, PASSWORD).await);
            let query = "mutation($t: String!, $e: String!, $p: String!) { login(input: {tenant: $t, email: $e, password: $p}) { accessToken } }";
            let forged = api
                .http
                .post(api.url("/graphql"))
                .header("x-forwarded-for", "203.0.113.9")
                .json(&json!({"query": query, "variables": {"t": t.slug, "e": t.email, "p": PASSWORD}}));
            expect_refused(&api.send(forged).await);
            // Another account, from the same address.
            let other = tenant_on(server).await;
            login(&api, &other.slug, &other.email, PASSWORD).await.data();
            (n, refused)
        }
        "signup" => {
            let attempt = async || {
                signup(&api, "Copycat", &t.slug, &format!("{}@example.com", unique_slug()), PASSWORD).await
            };
            let (n, refused) = count_until_refused(20, attempt, code(case.usual)).await;
            signup(&api, "Fresh", &fresh, &format!("owner@{fresh}.example.com"), PASSWORD).await.data();
            // The tenant's own signup was the first attempt on its slug.
            (n + 1, refused)
        }
        "refreshToken" => {
            let bad = format!("not-a-refresh-token-{fresh}");
            let (n, refused) =
                count_until_refused(20, async || refresh(&api, &bad).await, code(case.usual)).await;
            refresh(&api, &t.refresh_token).await.data();
            (n, refused)
        }
        "acceptInvite" => {
            let bad = format!("not-an-invitation-{fresh}");
            let attempt = async || api.graphql(&Auth::None, ACCEPT, json!({"t": bad, "p": PASSWORD})).await;
            let (n, refused) = count_until_refused(20, attempt, code(case.usual)).await;
            let invite = t.invite_user(&format!("invited@{}.example.com", t.slug), "member", "token").await;
            let token = str_of(&invite["token"]);
            api.graphql(&Auth::None, ACCEPT, json!({"t": token, "p": PASSWORD})).await.data();
            (n, refused)
        }
        "resetPassword" => {
            let bad = format!("{}.not-a-reset-token-{fresh}", t.tenant_id);
            let attempt = async || crate::password_reset::reset_password(&api, &bad, PASSWORD, None).await;
            let (n, refused) = count_until_refused(20, attempt, code(case.usual)).await;
            // Another token is another account.
            crate::password_reset::reset_password(&api, &format!("{bad}-2"), PASSWORD, None)
                .await
                .expect_code(case.usual);
            (n, refused)
        }
        "webhook" => {
            let workflow = uuid::Uuid::new_v4().to_string();
            let (n, refused) = count_until_refused(
                20,
                async || post_hook(&api, &workflow).await,
                |r: &Response| {
                    assert_eq!(r.status, 404, "{}", r.text);
                    r.expect_code(case.usual);
                },
            )
            .await;
            let other = post_hook(&api, &uuid::Uuid::new_v4().to_string()).await;
            assert_eq!(other.status, 404, "another workflow: {}", other.text);
            (n, refused)
        }
        other => panic!("no case {other}"),
    };
    let message = expect_refused(&refused);
    assert!(message.contains("your address"), "{message}");
    n
}

#[tokio::test]
async fn sign_in_attempts_and_webhook_deliveries_are_limited_per_address_and_account() {
    let cases = [
        Case { name: "login", usual: "UNAUTHENTICATED" },
        Case { name: "signup", usual: "CONFLICT" },
        Case { name: "refreshToken", usual: "UNAUTHENTICATED" },
        Case { name: "acceptInvite", usual: "UNAUTHENTICATED" },
        Case { name: "resetPassword", usual: "UNAUTHENTICATED" },
        Case { name: "webhook", usual: "NOT_FOUND" },
    ];
    for case in &cases {
        let passed = in_one_window(|| exhaust(case)).await;
        let limit = if case.name == "webhook" { RATE_WEBHOOK } else { RATE_AUTH };
        assert_eq!(passed, limit, "{}: attempts before the refusal", case.name);
    }
}

/// A login attempt through `api` as the client address `from` (the servers trust
/// `X-Forwarded-For`).
async fn login_from(api: &Api, from: &str, t: &TestTenant) -> Response {
    let query = "mutation($t: String!, $e: String!, $p: String!) { login(input: {tenant: $t, email: $e, password: $p}) { accessToken } }";
    let request =
        api.http.post(api.url("/graphql")).header("x-forwarded-for", format!("192.0.2.1, {from}")).json(
            &json!({"query": query, "variables": {"t": t.slug, "e": t.email, "p": "not the password"}}),
        );
    api.send(request).await
}

/// What the two instances answered once one user's budget and one account's attempts were
/// spent across them.
struct Shared {
    operation_a: Response,
    operation_b: Response,
    /// The same user's operation over a websocket, as the server's message.
    socket: WsEvent,
    login_a: Response,
    login_b: Response,
    /// A login attempt on the same account from another address.
    elsewhere: Response,
}

async fn share_budgets() -> Shared {
    let (a, b) = redis_rate_servers();
    let on_a = tenant_on(a).await;
    let on_b = on_a.on(b);
    // The user's budget: half through each instance, then neither has any left.
    spend_me(&on_a, RATE_USER / ME / 2).await;
    spend_me(&on_b, RATE_USER / ME - RATE_USER / ME / 2).await;
    let operation_a = on_a.request(ME_QUERY, json!({})).await;
    let operation_b = on_b.request(ME_QUERY, json!({})).await;
    let mut ws = on_b.ws().await;
    ws.subscribe("1", ME_QUERY, json!({})).await;
    let socket = ws.recv(TIMEOUT).await;
    // One account's login attempts from one (forwarded) address: some on each instance.
    let from = "198.51.100.7";
    for i in 0..RATE_AUTH {
        let api = if i % 2 == 0 { &on_a.api } else { &on_b.api };
        login_from(api, from, &on_a).await.expect_code("UNAUTHENTICATED");
    }
    let login_a = login_from(&on_a.api, from, &on_a).await;
    let login_b = login_from(&on_b.api, from, &on_a).await;
    // Another client address has a budget of its own.
    let elsewhere = login_from(&on_b.api, "198.51.100.8", &on_a).await;
    Shared { operation_a, operation_b, socket, login_a, login_b, elsewhere }
}

#[tokio::test]
async fn instances_sharing_redis_share_the_budgets() {
    let shared = in_one_window(share_budgets).await;
    assert!(expect_refused(&shared.operation_a).contains("your operations"), "{}", shared.operation_a.text);
    assert!(expect_refused(&shared.operation_b).contains("your operations"), "{}", shared.operation_b.text);
    assert!(expect_refused(&shared.login_a).contains("login attempts"), "{}", shared.login_a.text);
    assert!(expect_refused(&shared.login_b).contains("login attempts"), "{}", shared.login_b.text);
    shared.elsewhere.expect_code("UNAUTHENTICATED");
    // Over a websocket the refusal is the operation's error.
    let WsEvent::Message(message) = &shared.socket else {
        panic!("expected a message, got {:?}", shared.socket)
    };
    let errors = if message["type"] == "error" { &message["payload"] } else { &message["payload"]["errors"] };
    assert_eq!(errors[0]["extensions"]["code"], json!("RATE_LIMITED"), "{message}");
    assert!(errors[0]["extensions"]["retryAfter"].as_u64().is_some(), "{message}");
    let (a, _) = redis_rate_servers();
    let text = Api::new(a).get("/metrics", &[]).await.text;
    assert_eq!(metric(&text, "alphery_rate_limit_redis_up"), 1.0, "counting in Redis");
}
