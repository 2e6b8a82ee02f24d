//! Exports (`GET /export/<entity>`): CSV and JSON Lines of what a list shows the caller (row
//! rule, filter), without the fields the caller's role may not read, refused without the
//! `export` action, audited with its row count, quoted as RFC 4180 says, and streamed whole and
//! in order for thousands of rows. As a job (`exportRecords`): progress and completion through
//! `exportChanged`, a download for its tenant (and requester) only.

use serde_json::{Value, json};

use crate::harness::*;

/// A tenant with deals (title, region, secret note) and a role `exporter` that reads and
/// exports North deals without their secret note, as its owner.
async fn with_deals() -> TestTenant {
    let t = tenant().await;
    t.define(entity(
        "deal",
        "deals",
        vec![
            field("title", "TEXT", json!({"required": true})),
            field("region", "SELECT", json!({"options": ["North", "South"]})),
            field("secret_note", "TEXT", json!({})),
            field("amount", "CURRENCY", json!({})),
        ],
        json!({}),
    ))
    .await;
    t.create_role(
        "exporter",
        json!({"deal": {"actions": ["read", "export"], "where": {"region": {"eq": "North"}},
                        "fields": {"secret_note": "none"}}}),
    )
    .await;
    t.create_role("reader", json!({"deal": {"actions": ["read"]}})).await;
    t
}

async fn create_deals(t: &TestTenant, inputs: Value) {
    let r = t
        .data("mutation($i: [CreateDealInput!]!) { createDeals(inputs: $i) { count } }", json!({"i": inputs}))
        .await;
    assert!(r["createDeals"]["count"].as_i64().is_some_and(|n| n > 0), "{r}");
}

fn bearer(auth: &Auth) -> String {
    match auth {
        Auth::Bearer(token) => format!("Bearer {token}"),
        other => panic!("not a bearer credential: {other:?}"),
    }
}

/// `GET /export/deal?<query>` as `auth`.
async fn export(t: &TestTenant, auth: &Auth, query: &str) -> Response {
    t.api.get(&format!("/export/deal?{query}"), &[("authorization", &bearer(auth))]).await
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[tokio::test]
async fn an_export_holds_only_the_rows_and_fields_the_member_may_read() {
    let t = with_deals().await;
    create_deals(
        &t,
        json!([
            {"title": "N1", "region": "North", "secretNote": "codeword", "amount": "10.50"},
            {"title": "S1", "region": "South", "secretNote": "codeword"},
            {"title": "N2", "region": "North", "secretNote": "codeword"},
        ]),
    )
    .await;
    let member = t.invite_auth("exporter").await;

    let csv = export(&t, &member, "format=csv").await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(csv.header("content-type").is_some_and(|c| c.starts_with("text/csv")));
    assert!(csv.header("content-disposition").is_some_and(|c| c.contains("attachment")));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines[0], "id,recordNumber,createdAt,updatedAt,owner,title,region,amount");
    assert_eq!(lines.len(), 3, "the two North deals: {}", csv.text);
    assert!(!csv.text.contains("codeword"), "{}", csv.text);
    assert!(lines.iter().any(|l| l.ends_with(",N1,North,10.50")), "{}", csv.text);

    let rows = jsonl(&export(&t, &member, "format=jsonl").await.text);
    assert_eq!(sorted(rows.iter().map(|r| str_of(&r["title"])).collect()), strings(&["N1", "N2"]));
    for row in &rows {
        assert!(row.get("secretNote").is_none(), "{row}");
    }

    // A filter narrows it; asking for the hidden field is as asking for one that does not exist.
    let filter = urlencode(&json!({"title": {"eq": "N2"}}).to_string());
    let rows = jsonl(&export(&t, &member, &format!("format=jsonl&fields=title&filter={filter}")).await.text);
    assert_eq!(rows, vec![json!({"title": "N2"})]);
    let hidden = export(&t, &member, "format=jsonl&fields=title,secretNote").await;
    assert_eq!(hidden.status, 400, "{}", hidden.text);
    hidden.expect_code("VALIDATION_FAILED");
}

#[tokio::test]
async fn a_role_without_export_is_forbidden_and_an_export_is_audited() {
    let t = with_deals().await;
    create_deals(&t, json!([{"title": "A"}, {"title": "B"}])).await;
    let reader = t.invite_auth("reader").await;
    let refused = export(&t, &reader, "format=csv").await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    refused.expect_code("FORBIDDEN");
    let anonymous = t.api.get("/export/deal?format=csv", &[]).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);

    let filter = json!({"title": {"in": ["A", "B"]}});
    let done =
        export(&t, &t.auth(), &format!("format=jsonl&filter={}", urlencode(&filter.to_string()))).await;
    assert_eq!(jsonl(&done.text).len(), 2);
    let log = "query($f: AuditFilter) { auditLog(filter: $f, first: 5) { nodes { objectType actorUserId changes } } }";
    // The body ends only once the entry is committed.
    let data = t.data(log, json!({"f": {"action": "record.export"}})).await;
    let entries = data["auditLog"]["nodes"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 1, "{data}");
    let entry = &entries[0];
    assert_eq!(entry["objectType"], json!("deal"));
    assert_eq!(entry["actorUserId"], json!(t.user_id));
    let changes = if entry["changes"].is_string() {
        serde_json::from_str(entry["changes"].as_str().unwrap_or_default()).unwrap_or(Value::Null)
    } else {
        entry["changes"].clone()
    };
    assert_eq!(
        (&changes["rows"], &changes["format"], &changes["filter"]),
        (&json!(2), &json!("jsonl"), &filter)
    );
}

#[tokio::test]
async fn csv_cells_with_commas_quotes_and_line_breaks_are_quoted() {
    let t = with_deals().await;
    create_deals(&t, json!([{"title": "a, \"b\"\nc"}, {"title": "plain"}])).await;
    let csv = export(&t, &t.auth(), "format=csv&fields=title").await;
    // Created in one transaction, the two may come in either order (same `createdAt`, then id).
    let quoted = "\"a, \"\"b\"\"\nc\"\r\n";
    let rows = [format!("title\r\n{quoted}plain\r\n"), format!("title\r\nplain\r\n{quoted}")];
    assert!(rows.contains(&csv.text), "{:?}", csv.text);
}

#[tokio::test]
async fn three_thousand_rows_stream_complete_and_in_order() {
    let t = with_deals().await;
    for batch in 0..3 {
        let inputs: Vec<Value> =
            (0..1000).map(|i| json!({"title": format!("T{:04}", batch * 1000 + i)})).collect();
        create_deals(&t, json!(inputs)).await;
    }
    let rows = jsonl(&export(&t, &t.auth(), "format=jsonl&fields=id,createdAt,title").await.text);
    assert_eq!(rows.len(), 3000);
    let mut titles: Vec<String> = rows.iter().map(|r| str_of(&r["title"])).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 3000, "every row once");
    for pair in rows.windows(2) {
        let key = |r: &Value| (str_of(&r["createdAt"]), str_of(&r["id"]));
        assert!(key(&pair[0]) < key(&pair[1]), "list order: {} then {}", pair[0], pair[1]);
    }
}

const EXPORT_CHANGED: &str = "subscription { exportChanged { id status rowsWritten downloadUrl } }";

#[tokio::test]
async fn an_export_job_reports_its_progress_and_serves_its_file_to_its_tenant_only() {
    let t = with_deals().await;
    for batch in 0..2 {
        let inputs: Vec<Value> = (0..600)
            .map(|i| json!({"title": format!("J{:04}", batch * 600 + i), "region": "North"}))
            .collect();
        create_deals(&t, json!(inputs)).await;
    }
    let mut socket = t.subscribe(EXPORT_CHANGED, json!({})).await;
    let job = t
        .data(
            "mutation { exportRecords(entity: \"deal\", format: JSONL, fields: [\"title\"]) { id status } }",
            json!({}),
        )
        .await["exportRecords"]
        .clone();
    let id = str_of(&job["id"]);
    let mut seen = Vec::new();
    loop {
        let event = socket.next_data("1").await["exportChanged"].clone();
        assert_eq!(event["id"], json!(id), "{event}");
        let (status, rows) = (str_of(&event["status"]), event["rowsWritten"].as_i64().unwrap_or(-1));
        seen.push((status.clone(), rows));
        if status == "done" {
            assert_eq!(rows, 1200);
            assert_eq!(event["downloadUrl"], json!(format!("/exports/{id}")));
            break;
        }
        assert_ne!(status, "failed", "{seen:?}");
    }
    assert!(seen.iter().any(|(s, rows)| s == "running" && *rows > 0 && *rows < 1200), "progress: {seen:?}");
    let polled =
        t.data("query($id: ID!) { exportJob(id: $id) { status rowsWritten } }", json!({"id": id})).await;
    assert_eq!(polled["exportJob"], json!({"status": "done", "rowsWritten": 1200}));

    let path = format!("/exports/{id}");
    let file = t.api.get(&path, &[("authorization", &bearer(&t.auth()))]).await;
    assert_eq!(file.status, 200, "{}", file.text);
    let rows = jsonl(&file.text);
    let titles = sorted(rows.iter().map(|r| str_of(&r["title"])).collect());
    assert_eq!(titles.len(), 1200);
    assert_eq!((titles[0].as_str(), titles[1199].as_str()), ("J0000", "J1199"));
    assert!(rows.iter().all(|r| r.as_object().is_some_and(|o| o.len() == 1)), "only the title column");

    // Another tenant, and a member who did not ask for it, find no such export.
    let other = tenant().await;
    let stranger = other.api.get(&path, &[("authorization", &bearer(&other.auth()))]).await;
    assert_eq!(stranger.status, 404, "{}", stranger.text);
    let member = t.invite_auth("exporter").await;
    assert_eq!(t.api.get(&path, &[("authorization", &bearer(&member))]).await.status, 404);
    let none = other.data("query($id: ID!) { exportJob(id: $id) { id } }", json!({"id": id})).await;
    assert_eq!(none["exportJob"], Value::Null);
}

#[tokio::test]
async fn an_export_job_is_refused_to_a_role_without_export() {
    let t = with_deals().await;
    let reader = t.invite_auth("reader").await;
    let r = t
        .api
        .graphql(&reader, "mutation { exportRecords(entity: \"deal\", format: CSV) { id } }", json!({}))
        .await;
    r.expect_code("FORBIDDEN");
}

/// Percent-encodes a query-string value.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
