//! A deployment of several processes linked by Redis: two `serve` instances (workers off) and
//! one `worker`, on a database of their own and a Redis server of this test's (so it can be
//! killed without disturbing the other tests). A change made through one instance reaches a
//! subscriber on the other, a definition change is in force on the other instance as soon
//! as it hears of it (normally its very next request), a logout through one closes the session's socket on the other, and the
//! worker runs the workflow the change triggers. Each crossing is shown to have travelled
//! over Redis (the receiving instance's `alphery_peer_signals_total`). Then Redis is killed:
//! the instances fall back to polling the outbox, and no event is lost; once Redis is back,
//! they link again.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;
use crate::http::metric;
use crate::processes::{Scratch, free_port, ready_server, spawn};

/// A `redis-server` of this test alone, killed when dropped.
pub(crate) struct Redis {
    pub(crate) port: u16,
    child: Child,
}

impl Redis {
    pub(crate) async fn start(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (Debian package redis-server)");
        let redis = Redis { port, child };
        let client = redis::Client::open(redis.url()).expect("a Redis URL");
        eventually(
            format!("redis-server on {port} to answer"),
            Duration::from_secs(30),
            async || match client.get_multiplexed_async_connection().await {
                Ok(mut conn) => redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok(),
                Err(_) => false,
            },
        )
        .await;
        redis
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Once `processes` are subscribed, disconnects every pub/sub subscriber: they miss the
    /// messages published until they resubscribe (a second later), while their other
    /// connections stay.
    async fn drop_subscribers(&self, processes: &[&Proc]) {
        let client = redis::Client::open(self.url()).expect("a Redis URL");
        let mut conn = client.get_multiplexed_async_connection().await.expect("connect to Redis");
        eventually("every process to subscribe", Duration::from_secs(60), async || {
            let list: String = redis::cmd("CLIENT")
                .arg(&["LIST", "TYPE", "pubsub"])
                .query_async(&mut conn)
                .await
                .expect("CLIENT LIST TYPE pubsub");
            list.lines().count() >= processes.len()
        })
        .showing(processes)
        .await;
        let killed: usize = redis::cmd("CLIENT")
            .arg(&["KILL", "TYPE", "pubsub"])
            .query_async(&mut conn)
            .await
            .expect("CLIENT KILL TYPE pubsub");
        assert!(killed >= processes.len(), "{killed} subscribers dropped");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A metric of an instance (`0` when absent: the series appears with Redis only).
pub(crate) async fn peer_metric(api: &Api, series: &str) -> f64 {
    let text = api.get("/metrics", &[]).await.text;
    if text.lines().any(|l| l.starts_with(series)) { metric(&text, series) } else { 0.0 }
}

pub(crate) const RECEIVED: &str = "alphery_peer_signals_total{direction=\"received\"}";
pub(crate) const LINK_UP: &str = "alphery_peer_link_up";
const TICKET_CHANGED: &str = "subscription { ticketChanged { kind record { title note } } }";

fn tickets() -> Names {
    Names::new("ticket", "tickets")
}

/// The next `n` `ticketChanged` events of tickets titled one of `titles` (others, such as
/// the workflow's late answers to earlier tickets, are passed over), as (kind, title, note)
/// sorted by title and kind.
async fn changes(ws: &mut Ws, titles: &[&str], n: usize) -> Vec<(String, String, Value)> {
    let mut seen = Vec::new();
    while seen.len() < n {
        let event = ws.next_data("1").await["ticketChanged"].clone();
        let title = str_of(&event["record"]["title"]);
        if titles.contains(&title.as_str()) {
            seen.push((str_of(&event["kind"]), title, event["record"]["note"].clone()));
        }
    }
    seen.sort_by(|x, y| (&x.1, &x.0).cmp(&(&y.1, &y.0)));
    seen
}

fn created(title: &str) -> (String, String, Value) {
    ("CREATED".into(), title.into(), Value::Null)
}

/// The worker's answer to a new ticket.
fn answered(title: &str) -> (String, String, Value) {
    ("UPDATED".into(), title.into(), json!(format!("seen {title}")))
}

/// Waits until both instances say whether their Redis link is up.
pub(crate) async fn wait_link(a: &TestTenant, b: &TestTenant, up: bool, procs: &[&Proc]) {
    let want = if up { 1.0 } else { 0.0 };
    let what = format!("both instances' Redis link to be {}", if up { "up" } else { "down" });
    eventually(&what, Duration::from_secs(60), async || {
        peer_metric(&a.api, LINK_UP).await == want && peer_metric(&b.api, LINK_UP).await == want
    })
    .showing(procs)
    .await;
}

#[tokio::test]
async fn two_instances_and_a_worker_share_changes_definitions_and_logouts_over_redis() {
    let scratch = Scratch::new("instances").await;
    let (dir, url) = (scratch.dir.clone(), scratch.url.clone());
    let mut redis = Some(Redis::start(free_port()).await);
    let redis_port = redis.as_ref().map(|r| r.port).unwrap_or_default();
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let env = |port: u16| {
        vec![
            ("DATABASE_URL", url.clone()),
            ("DATA_DIR", dir.display().to_string()),
            ("JWT_SECRET", "crash-test-secret-crash-test-secret-0123".to_owned()),
            ("SEED_DEMO", "false".to_owned()),
            ("REDIS_URL", redis_url.clone()),
            ("BIND", format!("127.0.0.1:{port}")),
            ("WORKERS", "false".to_owned()),
            ("DATABASE_POOL", "4".to_owned()),
        ]
    };
    // The first instance migrates the database; the others start on it once it is ready.
    let (port_a, port_b) = (free_port(), free_port());
    let proc_a = spawn(&["serve"], &env(port_a));
    let server_a = ready_server("instance A", port_a, Duration::from_secs(120), &proc_a).await;
    let proc_b = spawn(&["serve"], &env(port_b));
    let server_b = ready_server("instance B", port_b, Duration::from_secs(120), &proc_b).await;
    let worker = spawn(&["worker"], &env(free_port()));
    let procs = [&proc_a, &proc_b, &worker];

    let a = tenant_on(server_a).await;
    let b = a.on(server_b);
    wait_link(&a, &b, true, &procs).await;
    a.define_entity("ticket", "tickets", plain_fields(&[("title", "TEXT"), ("note", "TEXT")])).await;
    // The worker (the only one running jobs) answers every new ticket with a note.
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "ticket"},
        "actions": [{"type": "update_fields", "values": {"note": "seen {{record.title}}"}}]
    });
    a.create_workflow("triage", definition).await;

    // A change through A reaches a subscriber on B, over Redis; the worker's answer too.
    let mut ws = b.subscribe(TICKET_CHANGED, json!({})).await;
    let received = peer_metric(&b.api, RECEIVED).await;
    a.create(&tickets(), json!({"title": "Printer"}), "").await;
    assert_eq!(changes(&mut ws, &["Printer"], 2).await, vec![created("Printer"), answered("Printer")]);
    assert!(peer_metric(&b.api, RECEIVED).await > received, "B heard of A's commit over Redis");

    // A definition change through A is in force on B's very next request, even when B misses
    // the message: A set the tenant's stamp in Redis before its answer left, and B reads the
    // stamp on every request. (Without it, B would keep the old schema until its subscriber is
    // back and its outbox tailer reads the change; its credential cache alone, for
    // AUTH_CACHE_SECS.)
    let live = redis.as_ref().expect("Redis is running");
    live.drop_subscribers(&procs).await;
    a.add_field("ticket", field("priority", "TEXT", json!({}))).await;
    let on_b = b.create_raw(&tickets(), json!({"title": "Screen", "priority": "high"}), "priority").await;
    assert_eq!(on_b.body["data"]["createTicket"]["priority"], json!("high"), "{}", on_b.body);

    // A logout through A: the access token fails on B's very next request (again with the
    // message missed), and the session's socket on B closes.
    let (token, _) = a.new_session().await;
    let mut session_ws = Ws::connect(server_b).await;
    session_ws.init(json!({ "authorization": format!("Bearer {token}") })).await.expect_ack();
    b.api.graphql(&Auth::Bearer(token.clone()), "{ entities { nameSingular } }", json!({})).await.data();
    live.drop_subscribers(&procs).await;
    a.api.graphql(&Auth::Bearer(token.clone()), "mutation { logout }", json!({})).await.data();
    b.api
        .graphql(&Auth::Bearer(token), "{ entities { nameSingular } }", json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    assert_eq!(session_ws.expect_close(TIMEOUT).await, Some(4401));

    // Without Redis, the instances poll the outbox: nothing is lost, only slower.
    let mut ws = b.subscribe(TICKET_CHANGED, json!({})).await;
    drop(redis.take());
    wait_link(&a, &b, false, &procs).await;
    for title in ["Keyboard", "Mouse"] {
        a.create(&tickets(), json!({"title": title}), "").await;
    }
    assert_eq!(
        changes(&mut ws, &["Keyboard", "Mouse"], 4).await,
        vec![created("Keyboard"), answered("Keyboard"), created("Mouse"), answered("Mouse")]
    );

    // Redis back on its port: the instances link again and hear each other over it.
    let _redis = Redis::start(redis_port).await;
    wait_link(&a, &b, true, &procs).await;
    let received = peer_metric(&b.api, RECEIVED).await;
    a.create(&tickets(), json!({"title": "Cable"}), "").await;
    assert_eq!(changes(&mut ws, &["Cable"], 2).await, vec![created("Cable"), answered("Cable")]);
    assert!(peer_metric(&b.api, RECEIVED).await > received, "B hears A over Redis again");

    drop((ws, proc_a, proc_b, worker));
    scratch.remove().await;
}
