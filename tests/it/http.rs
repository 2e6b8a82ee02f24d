//! The HTTP transport: GET runs queries but never mutations (405), JSON-only POST bodies (415),
//! `application/graphql-response+json` status codes, batches, the operational endpoints
//! (`/healthz`, `/readyz`, `/metrics`; `/graphiql` has its own module), `x-request-id`, query
//! depth limits, and `extensions.code` on every error, an integer where an `ID` is expected,
//! and answers in selection order.

use serde_json::{Value, json};

use crate::fixtures::{contact, crm_tenant, deal};
use crate::harness::{Api, Auth, Response, TIMEOUT, TestTenant, WsEvent, member_order, str_of, tenant};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

async fn get_graphql(api: &Api, auth: &Auth, params: &[(&str, &str)]) -> Response {
    let request = api.http.get(api.url("/graphql")).query(params);
    api.send(Api::with_auth(request, auth)).await
}

async fn post_raw(api: &Api, auth: &Auth, content_type: Option<&str>, accept: &str, body: &str) -> Response {
    let mut request = Api::with_auth(api.http.post(api.url("/graphql")), auth)
        .header("accept", accept)
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    api.send(request).await
}

#[tokio::test]
async fn get_runs_queries() {
    let api = Api::shared();
    let anonymous = get_graphql(&api, &Auth::None, &[("query", "{ apiVersion }")]).await;
    assert!(!str_of(&anonymous.data()["apiVersion"]).is_empty());

    let t = tenant().await;
    let response = get_graphql(
        &t.api,
        &t.auth(),
        &[
            ("query", "query Me($n: String!) { me { email } __type(name: $n) { name } }"),
            ("variables", "{\"n\":\"User\"}"),
            ("operationName", "Me"),
        ],
    )
    .await;
    let data = response.data();
    assert_eq!(data["me"]["email"], json!(t.email));
    assert_eq!(data["__type"]["name"], json!("User"));
}

#[tokio::test]
async fn failing_get_never_runs_a_mutation() {
    let t = tenant().await;
    let anonymous = get_graphql(
        &t.api,
        &Auth::None,
        &[("query", "mutation { login(input: {tenant: \"x\", email: \"y@example.com\", password: \"zzzzzzzz\"}) { accessToken } }")],
    )
    .await;
    assert_eq!(anonymous.status, 405, "{}", anonymous.text);
    let logout = get_graphql(&t.api, &t.auth(), &[("query", "mutation { logout }")]).await;
    assert_eq!(logout.status, 405, "{}", logout.text);
    // The mutation really did not run: the session is alive.
    t.data("{ me { id } }", json!({})).await;
    // Also when the mutation hides behind an operation name.
    let named = get_graphql(
        &t.api,
        &t.auth(),
        &[("query", "query Q { me { id } } mutation M { logout }"), ("operationName", "M")],
    )
    .await;
    assert_eq!(named.status, 405, "{}", named.text);
    t.data("{ me { id } }", json!({})).await;
}

#[tokio::test]
async fn failing_post_without_json_content_type() {
    let api = Api::shared();
    let body = json!({ "query": "{ apiVersion }" }).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/mixed; boundary=x"),
        None,
    ] {
        let response = post_raw(&api, &Auth::None, content_type, "application/json", &body).await;
        assert_eq!(response.status, 415, "content type {content_type:?}: {}", response.text);
    }
    // `multipart/form-data` is the GraphQL multipart request spec (uploads): a body that is not
    // one is a bad request.
    let response =
        post_raw(&api, &Auth::None, Some("multipart/form-data; boundary=x"), "application/json", &body).await;
    assert_eq!(response.status, 400, "{}", response.text);
    response.expect_code("BAD_REQUEST");
    // The same body as JSON (with a charset parameter) is fine.
    let ok =
        post_raw(&api, &Auth::None, Some("application/json; charset=utf-8"), "application/json", &body).await;
    assert!(!str_of(&ok.data()["apiVersion"]).is_empty());
}

#[tokio::test]
async fn graphql_response_json_status_codes() {
    let t = tenant().await;
    let (api, auth) = (&t.api, &t.auth());
    let cases = [
        ("syntax error", json!({ "query": "{ apiVersion " })),
        ("unknown field", json!({ "query": "{ me { idX } }" })),
        ("bad variable", json!({ "query": "query($n: Int!) { apiVersion }", "variables": { "n": "x" } })),
        ("missing variable", json!({ "query": "query($n: Int!) { apiVersion }" })),
    ];
    for (case, body) in cases {
        let strict =
            post_raw(api, auth, Some("application/json"), GRAPHQL_RESPONSE_JSON, &body.to_string()).await;
        assert_eq!(strict.status, 400, "{case}: {}", strict.text);
        assert!(
            strict.header("content-type").is_some_and(|c| c.starts_with(GRAPHQL_RESPONSE_JSON)),
            "{case}: content type {:?}",
            strict.header("content-type")
        );
        strict.expect_code("BAD_REQUEST");
        assert!(strict.body.get("data").is_none(), "{case}: a request error has no `data`: {}", strict.text);

        let legacy =
            post_raw(api, auth, Some("application/json"), "application/json", &body.to_string()).await;
        assert_eq!(legacy.status, 200, "{case}: {}", legacy.text);
        assert!(
            legacy.header("content-type").is_some_and(|c| c.starts_with("application/json")),
            "{case}: content type {:?}",
            legacy.header("content-type")
        );
        legacy.expect_code("BAD_REQUEST");
        assert!(legacy.body.get("data").is_none(), "{case}: {}", legacy.text);
    }
    // An error while executing is not a request error: 200, with the `data` it produced (null
    // here: the mutation field is non-null).
    let during = post_raw(
        api,
        auth,
        Some("application/json"),
        GRAPHQL_RESPONSE_JSON,
        &json!({ "query": "mutation { updateField(entity: \"ghost\", key: \"x\", input: {label: \"y\"}) { id } }" })
            .to_string(),
    )
    .await;
    assert_eq!(during.status, 200, "{}", during.text);
    assert_eq!(during.body.get("data"), Some(&Value::Null), "{}", during.text);
    during.expect_code("NOT_FOUND");
    let ok = post_raw(
        api,
        auth,
        Some("application/json"),
        GRAPHQL_RESPONSE_JSON,
        &json!({ "query": "{ apiVersion }" }).to_string(),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(ok.header("content-type").is_some_and(|c| c.starts_with(GRAPHQL_RESPONSE_JSON)));
}

#[tokio::test]
async fn batched_requests() {
    let t = tenant().await;
    let response = t
        .api
        .post_json(
            &t.auth(),
            &json!([
                { "query": "{ me { email } }" },
                { "query": "query($n: String!) { __type(name: $n) { name } }", "variables": { "n": "Tenant" } },
            ]),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    let results = response.body.as_array().expect("a batch answers an array");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["data"]["me"]["email"], json!(t.email));
    assert_eq!(results[1]["data"]["__type"]["name"], json!("Tenant"));
}

#[tokio::test]
async fn operational_endpoints() {
    let api = Api::shared();
    let health = api.get("/healthz", &[]).await;
    assert_eq!(health.status, 200, "{}", health.text);
    let ready = api.get("/readyz", &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    let metrics = api.get("/metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.header("content-type").is_some_and(|c| c.starts_with("text/plain")));
    assert!(metrics.text.contains("# TYPE"), "Prometheus text format: {}", metrics.text);
    let missing = api.get("/no-such-path", &[]).await;
    assert_eq!(missing.status, 404);
}

/// The value of an unlabelled metric in a Prometheus text exposition.
pub(crate) fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

#[tokio::test]
async fn schema_cache_metrics_count_lookups_builds_and_build_time() {
    let api = Api::shared();
    let before = api.get("/metrics", &[]).await.text;
    // A new tenant's first request compiles its schema; its second is served from the cache.
    let t = tenant().await;
    t.data("{ apiVersion }", json!({})).await;
    t.data("{ apiVersion }", json!({})).await;
    let after = api.get("/metrics", &[]).await.text;
    let grew = |name: &str| metric(&after, name) - metric(&before, name);
    assert!(grew("alphery_schema_lookups_total") >= 2.0, "{after}");
    assert!(grew("alphery_schema_builds_total") >= 1.0, "{after}");
    assert!(grew("alphery_schema_build_seconds_total") > 0.0, "{after}");
    assert!(metric(&after, "alphery_schema_lookups_total") >= metric(&after, "alphery_schema_builds_total"));
}

#[tokio::test]
async fn request_ids() {
    let api = Api::shared();
    let body = json!({ "query": "{ apiVersion }" });
    let generated = api.post_json(&Auth::None, &body).await;
    let first = generated.header("x-request-id").expect("x-request-id on a GraphQL response");
    assert!(!first.is_empty());
    let second = api.post_json(&Auth::None, &body).await.header("x-request-id").expect("x-request-id");
    assert_ne!(first, second, "generated ids are unique");

    let echoed =
        api.send(api.http.post(api.url("/graphql")).header("x-request-id", "req-abc-123").json(&body)).await;
    assert_eq!(echoed.header("x-request-id").as_deref(), Some("req-abc-123"));

    let insane = "x".repeat(1000);
    let replaced = api
        .send(api.http.post(api.url("/graphql")).header("x-request-id", insane.as_str()).json(&body))
        .await;
    let id = replaced.header("x-request-id").expect("x-request-id");
    assert!(!id.is_empty() && id != insane);

    // Also on errors and other endpoints.
    let unauthorized = api
        .send(Api::with_auth(api.http.post(api.url("/graphql")).json(&body), &Auth::Bearer("bad".into())))
        .await;
    assert_eq!(unauthorized.status, 401);
    assert!(unauthorized.header("x-request-id").is_some());
    let unsupported = post_raw(&api, &Auth::None, Some("text/plain"), "application/json", "{}").await;
    assert!(unsupported.header("x-request-id").is_some());
    assert!(api.get("/healthz", &[]).await.header("x-request-id").is_some());
}

#[tokio::test]
async fn failing_overly_deep_query() {
    let t = tenant().await;
    let depth = 60;
    let query = format!("{{ __type(name: \"User\") {} {} }}", "{ ofType ".repeat(depth), "}".repeat(depth));
    t.request(&query, json!({})).await.expect_code("QUERY_TOO_COMPLEX");
}

async fn all_error_responses(t: &TestTenant) -> Vec<(&'static str, Response)> {
    let api = &t.api;
    let missing = uuid::Uuid::new_v4().to_string();
    vec![
        ("syntax", t.request("{ me { id ", json!({})).await),
        ("unknown field", t.request("{ nope }", json!({})).await),
        ("unauthenticated", api.graphql(&Auth::None, "{ me { id } }", json!({})).await),
        ("bad token", api.graphql(&Auth::Bearer("bad".into()), "{ me { id } }", json!({})).await),
        (
            "validation",
            t.request(
                "mutation { defineEntity(input: {nameSingular: \"X\", namePlural: \"Xs\", labelSingular: \"X\", labelPlural: \"Xs\"}) { id } }",
                json!({}),
            )
            .await,
        ),
        (
            "not found",
            t.request(
                "mutation($u: ID!) { updateField(entity: \"ghost\", key: \"x\", input: {label: \"y\"}) { id } revokeSessions(userId: $u) }",
                json!({ "u": missing }),
            )
            .await,
        ),
        ("login", api.graphql(&Auth::None, "mutation { login(input: {tenant: \"nope\", email: \"a@b.co\", password: \"wrong-password\"}) { accessToken } }", json!({})).await),
    ]
}

#[tokio::test]
async fn every_error_has_a_code() {
    let t = tenant().await;
    for (case, response) in all_error_responses(&t).await {
        assert!(!response.errors().is_empty(), "{case}: expected errors, got {}", response.text);
        response.assert_every_error_has_code();
        for error in response.errors() {
            let message = str_of(&error["message"]).to_lowercase();
            for leak in ["select ", "sqlx", "panicked", "stack backtrace", "sqlite", "postgres"] {
                assert!(!message.contains(leak), "{case}: error message leaks {leak:?}: {message}");
            }
        }
    }
}

/// `type { kind name ofType … }` down to the named type: (named kind, named type, is a list).
fn named(ty: &Value) -> (String, String, bool) {
    let (mut t, mut list) = (ty, false);
    while t["ofType"].is_object() {
        list |= t["kind"] == "LIST";
        t = &t["ofType"];
    }
    (str_of(&t["kind"]), str_of(&t["name"]), list)
}

/// A literal for a required argument that is not an `ID`, or `None` when the test cannot write
/// one (an input object with required fields).
fn filler(kind: &str, name: &str, types: &[Value]) -> Option<String> {
    match (kind, name) {
        ("SCALAR", "Int" | "Float") => Some("1".into()),
        ("SCALAR", "Boolean") => Some("false".into()),
        ("SCALAR", _) => Some("\"x\"".into()),
        ("ENUM", _) => {
            let ty = types.iter().find(|t| t["name"] == name)?;
            Some(str_of(&ty["enumValues"][0]["name"]))
        }
        ("INPUT_OBJECT", _) => {
            let ty = types.iter().find(|t| t["name"] == name)?;
            let required = ty["inputFields"].as_array()?.iter().any(|f| f["type"]["kind"] == "NON_NULL");
            (!required).then(|| "{}".into())
        }
        _ => None,
    }
}

/// An integer where an `ID` is expected is its decimal string (the spec's input coercion):
/// every root operation taking an `ID` argument answers `5` exactly as it answers `"5"`, and
/// never `INTERNAL` (it was "internal: not a string").
#[tokio::test]
async fn integer_ids_answer_as_their_decimal_strings_never_internal() {
    let t = crm_tenant().await;
    let schema = t
        .data(
            "{ __schema { types { name kind enumValues { name } inputFields { name type { kind } } } \
             queryType { fields { name type { ...T } args { name type { ...T } } } } \
             mutationType { fields { name type { ...T } args { name type { ...T } } } } } } \
             fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }",
            json!({}),
        )
        .await;
    let types = schema["__schema"]["types"].as_array().expect("types").clone();
    let mut tried = Vec::new();
    for (root, op) in [("queryType", "query"), ("mutationType", "mutation")] {
        'fields: for field in schema["__schema"][root]["fields"].as_array().expect("fields") {
            let mut args = Vec::new();
            let mut has_id = false;
            for arg in field["args"].as_array().expect("args") {
                let (kind, name, list) = named(&arg["type"]);
                let value = if name == "ID" {
                    has_id = true;
                    if list { "[{ID}]".to_owned() } else { "{ID}".to_owned() }
                } else if arg["type"]["kind"] == "NON_NULL" {
                    match filler(&kind, &name, &types) {
                        Some(v) => v,
                        None => continue 'fields,
                    }
                } else {
                    continue;
                };
                args.push(format!("{}: {value}", str_of(&arg["name"])));
            }
            if !has_id {
                continue;
            }
            let name = str_of(&field["name"]);
            let selection = if named(&field["type"]).0 == "OBJECT" { " { __typename }" } else { "" };
            let query = format!("{op} {{ {name}({}){selection} }}", args.join(", "));
            let as_int = t.request(&query.replace("{ID}", "5"), json!({})).await;
            let as_string = t.request(&query.replace("{ID}", "\"5\""), json!({})).await;
            let codes: Vec<Value> = as_int.errors().iter().map(|e| e["extensions"]["code"].clone()).collect();
            assert!(codes.iter().all(|c| c.is_string() && c != "INTERNAL"), "{name}: {}", as_int.text);
            assert_eq!(as_int.text, as_string.text, "{name}: 5 and \"5\" answer alike");
            tried.push(name);
        }
    }
    for expected in ["deal", "updateDeal", "decideApproval", "rotateWebhookSecret", "webhookDeliveries"] {
        assert!(tried.iter().any(|n| n == expected), "{expected} was not tried: {tried:?}");
    }
}

/// Root fields and aliases in an order neither alphabetical nor the schema's, some read from
/// the database and some not, and records whose relation (read through a loader, so it
/// finishes last) is selected before their plain fields.
const IN_ORDER: &str = "query InOrder { zeta: deals(first: 5) { totalCount nodes { contact { fullName } title } } \
    me { email } apiVersion alpha: contacts(first: 1) { totalCount nodes { company { name } fullName } } \
    entities { nameSingular } again: apiVersion __typename }";
const IN_ORDER_ROOTS: [&str; 7] = ["zeta", "me", "apiVersion", "alpha", "entities", "again", "__typename"];

/// Asserts the order of `IN_ORDER`'s answer `text`, at the top of `data` (under `path`).
fn assert_in_order(text: &str, path: &[&str]) {
    let at = |rest: &[&str]| member_order(text, &[path, rest].concat());
    assert_eq!(at(&[]), IN_ORDER_ROOTS, "{text}");
    assert_eq!(at(&["zeta"]), ["totalCount", "nodes"], "{text}");
    assert_eq!(at(&["zeta", "nodes", "0"]), ["contact", "title"], "{text}");
    assert_eq!(at(&["alpha", "nodes", "0"]), ["company", "fullName"], "{text}");
}

/// An object's fields come in the order its selection set names them (GraphQL spec,
/// "Serialized Map Ordering"), on every run: the executor used to write them as they finished.
#[tokio::test]
async fn answers_follow_the_selection_order() {
    let t = crm_tenant().await;
    let ann = t.create(&contact(), json!({ "fullName": "Ann" }), "").await;
    t.create(&deal(), json!({ "title": "D1", "contact": str_of(&ann["id"]) }), "").await;
    for _ in 0..8 {
        let r = t.request(IN_ORDER, json!({})).await;
        r.data();
        assert_in_order(&r.text, &["data"]);
    }
    // A mutation's roots run one after the other; what each returns is ordered too.
    let mutation = "mutation { second: createContact(input: {fullName: \"Bo\"}) { company { name } fullName } \
                    first: createDeal(input: {title: \"D2\"}) { referrer { id } title id } }";
    for _ in 0..4 {
        let r = t.request(mutation, json!({})).await;
        r.data();
        assert_eq!(member_order(&r.text, &["data"]), ["second", "first"], "{}", r.text);
        assert_eq!(member_order(&r.text, &["data", "second"]), ["company", "fullName"], "{}", r.text);
        assert_eq!(member_order(&r.text, &["data", "first"]), ["referrer", "title", "id"], "{}", r.text);
    }
    // Over a socket: a query, and a subscription's events.
    let mut socket = t.ws().await;
    for id in ["q1", "q2", "q3"] {
        socket.subscribe(id, IN_ORDER, json!({})).await;
        assert_in_order(&socket.next_text(id).await, &["payload", "data"]);
        match socket.recv(TIMEOUT).await {
            WsEvent::Message(m) if m == json!({ "id": id, "type": "complete" }) => {}
            other => panic!("expected {id} to complete, got {other:?}"),
        }
    }
    let changes = "subscription { dealChanged { record { contact { fullName } title } kind } }";
    socket.subscribe("s", changes, json!({})).await;
    socket.settle().await;
    t.create(&deal(), json!({ "title": "D3", "contact": str_of(&ann["id"]) }), "").await;
    let event = socket.next_text("s").await;
    assert_eq!(member_order(&event, &["payload", "data", "dealChanged"]), ["record", "kind"], "{event}");
    let record = member_order(&event, &["payload", "data", "dealChanged", "record"]);
    assert_eq!(record, ["contact", "title"], "{event}");
}
