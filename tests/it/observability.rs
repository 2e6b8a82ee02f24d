//! What operators see: with `LOG_FORMAT=json` every line a server prints is a JSON object,
//! and each GraphQL operation (over HTTP, from a compiled plan, over a socket, refused) has
//! one `graphql request` line with its request id, name, type, tenant, duration and outcome
//! code; `LOG_FORMAT=bogus` refuses to start. `/metrics` has a latency histogram per
//! operation type that counts each operation (buckets cumulative, `+Inf` equal to the count),
//! the job queue's depth by kind (a workflow run parked at a long `wait` is a scheduled
//! `resume_workflow` job), and how long jobs ran by kind; a separate `alphery worker` serves
//! its own job metrics on `METRICS_BIND`. SIGTERM stops a server cleanly, its last log lines
//! written. An internal error is logged with its request id, operation and cause, and shown
//! as a bare `INTERNAL`.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::harness::*;
use crate::http::metric;
use crate::processes::{
    Scratch, binary, free_port, log_line, process_env, ready_server, spawn, spawn_logging,
};

/// The `graphql request` lines of a JSON log so far (every line must be JSON).
fn request_lines(log: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{text}")))
        .filter(|v| v["message"] == json!("graphql request"))
        .collect()
}

/// The request line of `operation` whose request id is `rid` (or any request id), waited for.
#[track_caller]
fn request_line<'a>(
    log: &'a std::path::Path,
    rid: Option<&'a str>,
    matches: impl Fn(&Value) -> bool + 'a,
) -> impl Future<Output = Value> + 'a {
    eventually(format!("a request line for {rid:?}"), TIMEOUT, async move || {
        let line = request_lines(log)
            .into_iter()
            .find(|l| rid.is_none_or(|rid| l["request_id"] == json!(rid)) && matches(l));
        line.ok_or_else(|| Verbatim(std::fs::read_to_string(log).unwrap_or_default()))
    })
    .into_future()
}

/// Asserts a request line's fields (`duration_ms` a number of milliseconds).
fn expect_line(line: &Value, operation: &str, kind: &str, tenant: Option<&str>, code: &str, compiled: bool) {
    assert_eq!(line["level"], json!("INFO"), "{line}");
    assert_eq!(line["operation"], json!(operation), "{line}");
    assert_eq!(line["operation_type"], json!(kind), "{line}");
    assert_eq!(line.get("tenant"), tenant.map(|t| json!(t)).as_ref(), "{line}");
    assert_eq!(line["code"], json!(code), "{line}");
    assert_eq!(line["compiled"], json!(compiled), "{line}");
    let ms = line["duration_ms"].as_f64().unwrap_or_else(|| panic!("duration_ms is not a number: {line}"));
    assert!((0.0..60_000.0).contains(&ms), "{line}");
}

#[tokio::test]
async fn a_json_log_has_one_line_per_operation_with_its_name_tenant_duration_and_code() {
    let scratch = Scratch::new("jsonlog").await;
    let (dir, url) = (scratch.dir.clone(), scratch.url.clone());
    let port = free_port();
    let log = dir.join("serve.log");
    let own = [
        ("BIND", format!("127.0.0.1:{port}")),
        ("WORKERS", "false".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("LOG", "info".to_owned()),
        ("SQL_STATS_HEADER", "true".to_owned()),
    ];
    let mut process = spawn_logging(&["serve"], &process_env(&dir, &url, &own), &log);
    let server = ready_server("the server", port, Duration::from_secs(60), &process).await;
    // The sign-up is anonymous: its line has no tenant.
    let t = tenant_on(server).await;
    request_line(&log, None, |l| l["operation_type"] == json!("mutation") && l.get("tenant").is_none()).await;

    // A named query, answered by the executor.
    let ok = t.request("query ListHooks { webhooks { id } }", json!({})).await;
    assert!(ok.errors().is_empty(), "{}", ok.text);
    let rid = ok.header("x-request-id").expect("a request id");
    let line = request_line(&log, Some(&rid), |_| true).await;
    expect_line(&line, "ListHooks", "query", Some(&t.tenant_id), "OK", false);

    // A plain read the second time comes from its compiled plan, and says so.
    t.define(entity("note", "notes", vec![field("title", "TEXT", json!({}))], json!({}))).await;
    let read = "query Notes { notes { nodes { id title } } }";
    t.data(read, json!({})).await;
    let compiled = t.request(read, json!({})).await;
    assert_eq!(compiled.header("x-alphery-plan").as_deref(), Some("compiled"), "{}", compiled.text);
    let rid = compiled.header("x-request-id").expect("a request id");
    let line = request_line(&log, Some(&rid), |_| true).await;
    expect_line(&line, "Notes", "query", Some(&t.tenant_id), "OK", true);

    // A failing operation shows its code; one without a name shows `-`.
    let failed = t.request("query Broken { noSuchField }", json!({})).await;
    failed.expect_code("BAD_REQUEST");
    let rid = failed.header("x-request-id").expect("a request id");
    let line = request_line(&log, Some(&rid), |_| true).await;
    expect_line(&line, "Broken", "query", Some(&t.tenant_id), "BAD_REQUEST", false);
    let unnamed = t.request("{ noSuchField }", json!({})).await;
    unnamed.expect_code("BAD_REQUEST");
    let rid = unnamed.header("x-request-id").expect("a request id");
    let line = request_line(&log, Some(&rid), |_| true).await;
    expect_line(&line, "-", "query", Some(&t.tenant_id), "BAD_REQUEST", false);

    // A request refused before its document was read: no operation type, no tenant.
    let api = Api::new(server);
    let refused = api.graphql(&Auth::Bearer("not-a-token".into()), "{ apiVersion }", json!({})).await;
    refused.expect_code("UNAUTHENTICATED");
    let rid = refused.header("x-request-id").expect("a request id");
    let line = request_line(&log, Some(&rid), |_| true).await;
    expect_line(&line, "-", "-", None, "UNAUTHENTICATED", false);

    // A socket's operation has its line when it ends.
    let mut socket = t.ws().await;
    socket.subscribe("1", "query SocketHooks { webhooks { id } }", json!({})).await;
    socket.next_data("1").await;
    let line = request_line(&log, None, |l| l["operation"] == json!("SocketHooks")).await;
    expect_line(&line, "SocketHooks", "query", Some(&t.tenant_id), "OK", false);

    // Every line is JSON: the start-up notice too.
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let notice = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == json!("Alphery OS is running"))
        .unwrap_or_else(|| panic!("no start-up notice in:\n{text}"));
    assert_eq!(notice["graphql"], json!(format!("http://127.0.0.1:{port}/graphql")), "{notice}");
    request_lines(&log);

    // SIGTERM (a process manager's stop) ends the server cleanly, and every line it logged,
    // buffered off the request path, is written before it exits: the last is its goodbye.
    let answered = t.request("query LastWords { webhooks { id } }", json!({})).await;
    let rid = answered.header("x-request-id").expect("a request id");
    let status = Command::new("kill").args(["-TERM", &process.0.id().to_string()]).status();
    assert!(status.is_ok_and(|s| s.success()), "kill -TERM failed");
    // What the process printed is the last thing seen (`showing` cannot borrow the process
    // that the probe waits on).
    let exit = eventually("the server to exit after SIGTERM", TIMEOUT, async || {
        process.0.try_wait().expect("the server's status").ok_or_else(|| Verbatim(process.output()))
    })
    .await;
    assert!(exit.success(), "SIGTERM is a clean stop, not a failure: {exit}\n{}", process.output());
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect();
    let last_words = lines.iter().position(|l| l["request_id"] == json!(rid));
    let goodbye = lines.iter().position(|l| l["message"] == json!("shutting down"));
    assert!(
        last_words.is_some() && goodbye == Some(lines.len() - 1),
        "the request's line, then the goodbye, last:\n{text}"
    );
    assert!(last_words < goodbye, "{text}");
    drop(process);
    scratch.remove().await;
}

#[tokio::test]
async fn an_unknown_log_format_refuses_to_start() {
    let out = Command::new(binary())
        .arg("serve")
        .env("LOG_FORMAT", "bogus")
        .env("BIND", format!("127.0.0.1:{}", free_port()))
        .env("DATABASE_URL", "sqlite::memory:")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run alphery");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started with LOG_FORMAT=bogus:\n{said}");
    for part in ["bogus", "--log-format", "text, json"] {
        assert!(said.contains(part), "{part:?} missing from: {said}");
    }
}

/// The series of histogram `name` in a Prometheus text: for each label set (without `le`),
/// its buckets in order (`le`, cumulative count), its sum and its count.
#[derive(Debug, Default)]
struct Series {
    buckets: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
}

fn histogram(text: &str, name: &str) -> BTreeMap<String, Series> {
    let mut out: BTreeMap<String, Series> = BTreeMap::new();
    assert!(text.contains(&format!("# TYPE {name} histogram\n")), "no histogram {name} in:\n{text}");
    for line in text.lines().filter(|l| l.starts_with(name)) {
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        let (metric, labels) =
            series.split_once('{').map_or((series, ""), |(m, l)| (m, l.trim_end_matches('}')));
        let mut le = None;
        let own: Vec<&str> = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .filter(|l| match l.strip_prefix("le=") {
                Some(v) => {
                    let v = v.trim_matches('"');
                    le = Some(if v == "+Inf" { f64::INFINITY } else { v.parse().expect("a bound") });
                    false
                }
                None => true,
            })
            .collect();
        let entry = out.entry(own.join(",")).or_default();
        match &metric[name.len()..] {
            "_bucket" => entry.buckets.push((le.expect("le on a bucket"), value)),
            "_sum" => entry.sum = Some(value),
            "_count" => entry.count = Some(value),
            other => panic!("unexpected sample {other} of {name}: {line}"),
        }
    }
    for (labels, s) in &out {
        let count = s.count.unwrap_or_else(|| panic!("{name}{{{labels}}} has no _count"));
        assert!(s.sum.is_some_and(|sum| sum >= 0.0), "{name}{{{labels}}}: {s:?}");
        assert!(s.buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "not cumulative: {s:?}");
        assert_eq!(s.buckets.last(), Some(&(f64::INFINITY, count)), "{name}{{{labels}}}: {s:?}");
    }
    out
}

/// The count of one series of a histogram.
fn count(text: &str, name: &str, labels: &str) -> f64 {
    histogram(text, name).get(labels).and_then(|s| s.count).unwrap_or_else(|| panic!("no {name}{{{labels}}}"))
}

#[tokio::test]
async fn metrics_have_request_latency_by_operation_type_and_the_job_queue() {
    let api = Api::shared();
    let t = tenant().await;
    t.define(entity("lead", "leads", vec![field("title", "TEXT", json!({}))], json!({}))).await;
    let leads = Names::new("lead", "leads");
    let before = api.get("/metrics", &[]).await.text;
    let requests = "alphery_request_duration_seconds";
    let queries = |text: &str| {
        count(text, requests, "operation=\"query\",path=\"executor\"")
            + count(text, requests, "operation=\"query\",path=\"compiled\"")
    };
    let mutations = |text: &str| count(text, requests, "operation=\"mutation\",path=\"executor\"");
    let subscriptions = |text: &str| count(text, requests, "operation=\"subscription\",path=\"executor\"");
    for _ in 0..3 {
        t.data("query Leads { leads { nodes { id } } }", json!({})).await;
    }
    t.create(&leads, json!({"title": "first"}), "").await;
    let mut socket = t.ws().await;
    socket.subscribe("s", "subscription { leadChanged { record { id } } }", json!({})).await;
    socket.send(json!({"id": "s", "type": "complete"})).await;
    let mut after = String::new();
    eventually("the subscription's sample", TIMEOUT, async || {
        after = api.get("/metrics", &[]).await.text;
        subscriptions(&after) > subscriptions(&before)
    })
    .await;
    assert!(queries(&after) - queries(&before) >= 3.0, "{after}");
    assert!(mutations(&after) - mutations(&before) >= 1.0, "{after}");
    assert!(!after.contains("operation=\"mutation\",path=\"compiled\""), "only queries are compiled");

    // A workflow run parked at a long wait: its resume is a scheduled job in the one queue
    // (which of the test binary's servers' workers ran the workflow is left open, so its
    // timing is checked on a worker of its own, below).
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "lead"},
        "actions": [{"type": "wait", "seconds": 600}]
    });
    let workflow = t.create_workflow("Later", definition).await;
    t.create(&leads, json!({"title": "second"}), "").await;
    let runs = "query($w: ID) { workflowRuns(workflowId: $w) { status } }";
    eventually("the run to park", EFFECT_WAIT, async || {
        t.data(runs, json!({"w": workflow})).await["workflowRuns"][0]["status"] == json!("waiting")
    })
    .await;
    let scheduled = "alphery_jobs_queued{kind=\"resume_workflow\",state=\"scheduled\"}";
    let mut text = String::new();
    eventually("the resume job in the queue", EFFECT_WAIT, async || {
        text = api.get("/metrics", &[]).await.text;
        metric(&text, scheduled) >= 1.0
    })
    .await;
    let series = histogram(&text, "alphery_job_duration_seconds");
    for kind in jobs::queue::Job::KINDS {
        assert!(series.contains_key(&format!("kind=\"{kind}\"")), "{kind}: {text}");
        metric(&text, &format!("alphery_jobs_queued{{kind=\"{kind}\",state=\"ready\"}}"));
    }
    t.data(
        "mutation($id: ID!) { setWorkflowActive(id: $id, active: false) { active } }",
        json!({"id": workflow}),
    )
    .await;
}

#[tokio::test]
async fn a_separate_worker_serves_its_job_metrics_on_metrics_bind() {
    let scratch = Scratch::new("workermetrics").await;
    let (dir, url) = (scratch.dir.clone(), scratch.url.clone());
    let (port, metrics_port) = (free_port(), free_port());
    let serve_env = [("BIND", format!("127.0.0.1:{port}")), ("WORKERS", "false".to_owned())];
    let serve = spawn(&["serve"], &process_env(&dir, &url, &serve_env));
    // The worker starts once the server has migrated the database.
    let server = ready_server("the server", port, Duration::from_secs(60), &serve).await;
    let worker_env = [("METRICS_BIND", format!("127.0.0.1:{metrics_port}"))];
    let worker = spawn(&["worker"], &process_env(&dir, &url, &worker_env));
    let t = tenant_on(server).await;
    t.define(entity("lead", "leads", vec![field("note", "TEXT", json!({}))], json!({}))).await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "lead"},
        "actions": [{"type": "update_fields", "values": {"note": "stamped"}}]
    });
    t.create_workflow("Stamp", definition).await;
    let leads = Names::new("lead", "leads");
    let id = str_of(&t.create(&leads, json!({}), "").await["id"]);
    eventually("the worker to run the workflow", EFFECT_WAIT, async || {
        t.get(&leads, &id, "note").await["note"] == json!("stamped")
    })
    .showing(&[&serve, &worker])
    .await;
    let http = reqwest::Client::new();
    let ran = "kind=\"record_changed\"";
    let mut text = String::new();
    eventually("the worker's metrics", TIMEOUT, async || {
        let scraped = http.get(format!("http://127.0.0.1:{metrics_port}/metrics")).send().await;
        text = match scraped {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => return false,
        };
        text.contains("alphery_job_duration_seconds")
            && count(&text, "alphery_job_duration_seconds", ran) >= 1.0
    })
    .showing(&[&worker])
    .await;
    let timed = &histogram(&text, "alphery_job_duration_seconds")["kind=\"record_changed\""];
    assert!(timed.sum.is_some_and(|s| s > 0.0 && s < 60.0 * timed.count.unwrap_or(0.0)), "{text}");
    metric(&text, "alphery_jobs_queued{kind=\"record_changed\",state=\"ready\"}");
    // The server runs no worker: it times no job, and counts the shared queue all the same.
    let served = Api::new(server).get("/metrics", &[]).await.text;
    assert_eq!(count(&served, "alphery_job_duration_seconds", ran), 0.0, "{served}");
    metric(&served, "alphery_jobs_queued{kind=\"record_changed\",state=\"ready\"}");
    drop((serve, worker));
    scratch.remove().await;
}

/// An internal error (the store broken under the running server: a table renamed away)
/// answers a bare `INTERNAL` with the request id, and its log line names the request id, the
/// operation and the cause, over HTTP and over a socket alike. At LOG=warn the request's
/// tracing span is filtered out, so the line has to carry these itself (the fuzzing's lines
/// named no request).
#[tokio::test]
async fn an_internal_error_is_logged_with_its_request_id_and_operation() {
    let scratch = Scratch::new("internal").await;
    let (dir, url) = (scratch.dir.clone(), scratch.url.clone());
    let port = free_port();
    let log = dir.join("serve.log");
    let own = [("BIND", format!("127.0.0.1:{port}")), ("WORKERS", "false".to_owned())];
    let process = spawn_logging(&["serve"], &process_env(&dir, &url, &own), &log);
    let server = ready_server("the server", port, Duration::from_secs(60), &process).await;
    let t = tenant_on(server).await;
    t.data("{ webhooks { id } }", json!({})).await;
    let db = sea_orm::Database::connect(url.as_str()).await.expect("connect to the test's database");
    db.execute_unprepared("ALTER TABLE webhooks RENAME TO webhooks_gone").await.expect("rename");
    db.close().await.expect("close");

    for (query, operation) in
        [("query ListHooks { webhooks { id } }", "ListHooks"), ("{ webhooks { id } }", "(anonymous)")]
    {
        let response = t.request(query, json!({})).await;
        response.expect_code("INTERNAL");
        let error = &response.errors()[0];
        assert_eq!(error["message"], json!("internal error"), "{}", response.text);
        let rid = str_of(&error["extensions"]["requestId"]);
        assert_eq!(response.header("x-request-id"), Some(rid.clone()));
        assert!(!response.text.contains("webhooks_gone"), "{}", response.text);
        let line = log_line(&log, &["internal error", &format!("request_id={rid}")]).await;
        for part in [&format!("operation={operation}"), "path=webhooks", "cause=", "webhooks"] {
            assert!(line.contains(part), "{part:?} missing from the log line: {line}");
        }
    }
    // Over a socket: masked alike, and logged with the socket's request id.
    let mut socket = t.ws().await;
    socket.subscribe("1", "query SocketHooks { webhooks { id } }", json!({})).await;
    let error = match socket.recv(TIMEOUT).await {
        WsEvent::Message(m) if m["type"] == "next" => m["payload"]["errors"][0].clone(),
        other => panic!("expected the answer, got {other:?}"),
    };
    assert_eq!(error["message"], json!("internal error"), "{error}");
    assert_eq!(error["extensions"]["code"], json!("INTERNAL"), "{error}");
    let rid = str_of(&error["extensions"]["requestId"]);
    let line = log_line(&log, &["internal error", &format!("request_id={rid}")]).await;
    assert!(line.contains("operation=SocketHooks") && line.contains("path=webhooks"), "{line}");
    drop(process);
    scratch.remove().await;
}
