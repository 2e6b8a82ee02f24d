//! The controllable clock: a time scanner (the one `serve` runs every `DATE_SCAN_MS`) driven
//! at chosen instants for one tenant, so tests move time forward by hours or days without
//! waiting. Runs it queues are executed by the shared server's workers as usual. Proves a
//! relative-date trigger 24 hours before an appointment three days out, and an hourly schedule
//! whose missed ticks collapse into one run. A scan at a chosen time takes no run in flight
//! away from its worker (leases run on the real clock).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};

use crate::fixtures::define_appointments;
use crate::harness::*;

/// A time scanner of the test database, limited to one tenant.
pub struct Clock {
    scanner: jobs::sweeper::TimeScanner,
    tenant_id: String,
}

impl Clock {
    pub async fn of(t: &TestTenant) -> Clock {
        let url = &database().url;
        let system = entity::Db::connect(url).await.expect("connect the scanner (system)");
        let db = if url.starts_with("postgres") {
            entity::Db::connect_as(url, Some(migration::APP_ROLE)).await.expect("connect the scanner (app)")
        } else {
            system.clone()
        };
        let scanner = jobs::sweeper::TimeScanner::new(system, db, std::time::Duration::from_secs(1));
        Clock { scanner, tenant_id: t.tenant_id.clone() }
    }

    /// Runs one scan as if it were `at`.
    pub async fn scan_at(&self, at: DateTime<Utc>) {
        self.scanner.pass_at(at, Some(&self.tenant_id)).await.expect("time scan");
    }
}

const RUNS: &str = "query($w: ID) { workflowRuns(workflowId: $w) { id status recordId } }";

async fn runs(t: &TestTenant, workflow: &str) -> Vec<Value> {
    t.data(RUNS, json!({"w": workflow})).await["workflowRuns"].as_array().cloned().unwrap_or_default()
}

/// The runs once `n` have succeeded (the server's worker executes them; up to `EFFECT_WAIT`).
#[track_caller]
fn succeeded<'a>(t: &'a TestTenant, workflow: &'a str, n: usize) -> impl Future<Output = Vec<Value>> + 'a {
    eventually(format!("{n} run(s) to succeed"), EFFECT_WAIT, async move || {
        let runs = runs(t, workflow).await;
        if runs.iter().filter(|r| r["status"] == "succeeded").count() >= n { Ok(runs) } else { Err(runs) }
    })
    .into_future()
}

#[tokio::test]
async fn a_reminder_fires_24_hours_before_an_appointment_three_days_out() {
    let t = tenant().await;
    let appointments = define_appointments(&t, vec![]).await;
    let definition = json!({
        "trigger": {"type": "relative_date", "entity": "appointment", "field": "starts_at", "offsetMinutes": -1440},
        "actions": [{"type": "update_fields", "values": {"reminder": "tomorrow: {{record.title}}"}}]
    });
    let id = t.create_workflow("timed", definition).await;
    let now = Utc::now();
    let stamp = |d: DateTime<Utc>| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let starts = now + Duration::days(3);
    let appt = str_of(
        &t.create(&appointments, json!({"title": "Check-up", "startsAt": stamp(starts)}), "").await["id"],
    );
    let clock = Clock::of(&t).await;
    // A day later: still two days out.
    clock.scan_at(now + Duration::days(1)).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(runs(&t, &id).await.is_empty());
    // Just past the moment 24 hours before: it fires, once, however often the scanner looks.
    clock.scan_at(starts - Duration::hours(24) + Duration::minutes(1)).await;
    clock.scan_at(starts - Duration::hours(23)).await;
    let done = succeeded(&t, &id, 1).await;
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["recordId"], json!(appt));
    assert_eq!(t.get(&appointments, &appt, "reminder").await["reminder"], json!("tomorrow: Check-up"));
}

#[tokio::test]
async fn an_hourly_schedule_runs_once_per_tick_and_collapses_missed_ones() {
    let t = tenant().await;
    let tasks = t.define_entity("task", "tasks", plain_fields(&[("title", "TEXT"), ("pings", "TEXT")])).await;
    let task = str_of(&t.create(&tasks, json!({"title": "Water plants"}), "").await["id"]);
    let definition = json!({
        "trigger": {"type": "schedule", "entity": "task", "cron": "0 * * * *", "timeZone": "Europe/Berlin"},
        "actions": [{"type": "update_fields", "values": {"pings": "pinged {{record.title}}"}}]
    });
    let id = t.create_workflow("timed", definition).await;
    let clock = Clock::of(&t).await;
    let now = Utc::now();
    // Within the current hour no tick has passed (unless the hour turns right now).
    let next_hour = (now + Duration::hours(1)).duration_trunc(Duration::hours(1)).expect("an hour");
    clock.scan_at(next_hour - Duration::seconds(1)).await;
    assert!(runs(&t, &id).await.is_empty());
    clock.scan_at(next_hour + Duration::seconds(1)).await;
    assert_eq!(succeeded(&t, &id, 1).await.len(), 1);
    // Five hours pass unobserved: one run for the latest tick, not five.
    clock.scan_at(next_hour + Duration::hours(5) + Duration::seconds(1)).await;
    let done = succeeded(&t, &id, 2).await;
    assert_eq!(done.len(), 2, "{done:?}");
    assert!(done.iter().all(|r| r["recordId"] == json!(task)));
    assert_eq!(t.get(&tasks, &task, "pings").await["pings"], json!("pinged Water plants"));
}

/// A local HTTP endpoint that holds every request until `release` is sent, then answers 200;
/// returns its URL and how many requests it has accepted.
async fn held_endpoint() -> (String, tokio::sync::watch::Sender<bool>, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the endpoint");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (release, released) = tokio::sync::watch::channel(false);
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut released = released.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = socket.read(&mut buf).await;
                let _ = released.wait_for(|r| *r).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, release, accepted)
}

/// Another tenant's scan as if it were two days later, while a run is busy with a webhook call:
/// the run is its worker's still (its lease is measured on the real clock), so the call is made
/// once and each action is logged once. (Measured on the scan's clock, the run looked silent
/// for two days and was handed to a second execution, which called the endpoint again.)
#[tokio::test]
async fn a_scan_at_a_later_time_leaves_runs_in_flight_to_their_worker() {
    let t = tenant().await;
    let orders =
        t.define_entity("order", "orders", plain_fields(&[("title", "TEXT"), ("synced", "TEXT")])).await;
    let (url, release, accepted) = held_endpoint().await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "order"},
        "actions": [
            {"type": "call_webhook", "url": url},
            {"type": "update_fields", "values": {"synced": "yes"}}
        ]
    });
    let id = t.create_workflow("timed", definition).await;
    let order = str_of(&t.create(&orders, json!({"title": "A-1"}), "").await["id"]);
    eventually("the run to call the endpoint", EFFECT_WAIT, async || accepted.load(Ordering::SeqCst) > 0)
        .await;
    let other = tenant().await;
    Clock::of(&other).await.scan_at(Utc::now() + Duration::days(2)).await;
    // Time for a wrongly requeued run to be resumed and call again (the relay and the worker
    // poll every 200 ms), before the first call is answered.
    tokio::time::sleep(SILENCE).await;
    release.send(true).expect("release the endpoint");
    let runs = succeeded(&t, &id, 1).await;
    let q = "query($w: ID) { workflowRuns(workflowId: $w) { status steps { position status } } }";
    let logged = t.data(q, json!({"w": id})).await["workflowRuns"].clone();
    assert_eq!(runs.len(), 1, "{logged}");
    assert_eq!(runs[0]["status"], json!("succeeded"), "{logged}");
    let positions: Vec<Value> =
        logged[0]["steps"].as_array().expect("steps").iter().map(|s| s["position"].clone()).collect();
    assert_eq!(positions, vec![json!(0), json!(1)], "{logged}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "the endpoint was called once: {logged}");
    assert_eq!(t.get(&orders, &order, "synced").await["synced"], json!("yes"));
}
