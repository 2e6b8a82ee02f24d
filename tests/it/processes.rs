//! Separate processes: the server and the workers run as separate `alphery` processes on a
//! database of their own.
//!
//! A worker killed with SIGKILL in the middle of delivering an email (so the shared
//! test server's in-process workers cannot take the job). The first worker's SMTP relay is a
//! socket that accepts and never answers, so the worker is caught mid-delivery with the email
//! claimed (`sending`); it is killed, a new worker with a real SMTP server starts, takes the
//! abandoned claim back once its lease has passed, and the email arrives exactly once. Killed a
//! moment later, when the relay has the whole message but has not answered it, the worker
//! leaves what SMTP cannot settle: the email is sent again, and both copies carry the email's
//! one `Message-ID`. Likewise
//! a worker killed while a workflow run waits on a webhook call: the run, silent past its
//! lease, is continued by the next worker from the action it was in, and succeeds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::harness::*;

/// The `alphery` binary beside this test binary (`target/<profile>/alphery`).
pub(crate) fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let bin = dir.join("alphery");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p alphery-api --bin alphery`; tests/run.sh does)",
        bin.display()
    );
    bin
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// A database of this test alone: a new SQLite file, or a new PostgreSQL database.
async fn own_database(dir: &std::path::Path) -> (String, Option<String>) {
    let shared = &database().url;
    if !shared.starts_with("postgres") {
        return (format!("sqlite://{}?mode=rwc", dir.join("crash.db").display()), None);
    }
    let name = format!("alphery_crash_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let admin = sea_orm::Database::connect(shared.as_str()).await.expect("connect to PostgreSQL");
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create the database");
    let base = shared.rsplit_once('/').map(|(b, _)| b).expect("a database URL with a path");
    (format!("{base}/{name}"), Some(name))
}

async fn drop_database(name: &str) {
    if let Ok(admin) = sea_orm::Database::connect(database().url.as_str()).await {
        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }
}

/// `<tmp>/alphery-<label>-<uuid>/`, created: a scratch directory of one test.
pub(crate) fn scratch_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alphery-{label}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// A test's own scratch directory and database (`own_database`), for the processes it starts.
pub(crate) struct Scratch {
    pub dir: PathBuf,
    pub url: String,
    pub pg_name: Option<String>,
}

impl Scratch {
    /// A `scratch_dir` and a database of its own (a SQLite file in it, or a new PostgreSQL
    /// database).
    pub(crate) async fn new(label: &str) -> Scratch {
        let dir = scratch_dir(label);
        let (url, pg_name) = own_database(&dir).await;
        Scratch { dir, url, pg_name }
    }

    /// Drops the database and removes the directory; call it once the processes using them
    /// have stopped.
    pub(crate) async fn remove(self) {
        if let Some(name) = &self.pg_name {
            drop_database(name).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `alphery <args>` with `env`; its output goes to a log file in its `DATA_DIR`.
pub(crate) fn spawn(args: &[&str], env: &[(&str, String)]) -> Proc {
    let dir = env.iter().find(|(k, _)| *k == "DATA_DIR").map_or_else(std::env::temp_dir, |(_, v)| v.into());
    std::fs::create_dir_all(&dir).expect("the process's data dir");
    let name: String =
        args.first().map_or("serve", |a| a).chars().filter(char::is_ascii_alphanumeric).collect();
    spawn_logging(
        args,
        env,
        &dir.join(format!("{name}-{}.log", &uuid::Uuid::new_v4().simple().to_string()[..8])),
    )
}

/// `spawn`, what it prints (its log, at LOG=warn as in production) going to the file `log`.
pub(crate) fn spawn_logging(args: &[&str], env: &[(&str, String)], log: &std::path::Path) -> Proc {
    let out = std::fs::File::create(log).expect("a log file");
    let err = out.try_clone().expect("a second handle of the log file");
    let mut cmd = Command::new(binary());
    cmd.args(args).stdout(out).stderr(err).env("LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc(cmd.spawn().expect("start alphery"), log.to_path_buf())
}

/// The first line of the file `log` containing every one of `needles`, waited for.
#[track_caller]
pub(crate) fn log_line<'a>(
    log: &'a std::path::Path,
    needles: &'a [&str],
) -> impl Future<Output = String> + 'a {
    eventually(format!("a log line with {needles:?}"), TIMEOUT, async move || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let line = text.lines().find(|l| needles.iter().all(|n| l.contains(n))).map(str::to_owned);
        line.ok_or(Verbatim(text))
    })
    .into_future()
}

/// A peer that accepts connections and never says a word to the first `silent` of them: a
/// worker talking to it (SMTP or HTTP) waits in the middle of its job. Later connections get
/// an HTTP 200. Counts connections.
async fn silent_peer(silent: usize) -> (u16, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            if counter.fetch_add(1, Ordering::SeqCst) < silent {
                held.push(socket);
                continue;
            }
            let mut buf = [0u8; 8192];
            let _ = socket.read(&mut buf).await;
            let _ =
                socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        }
    });
    (port, accepted)
}

/// An SMTP relay that takes a whole message and then never answers the end of its data (the
/// `250` a sender waits for): a worker talking to it is caught between handing the message
/// over and learning that it was accepted. Returns its port and the text of every message it
/// received (headers and body, as sent after `DATA`), in order.
async fn mute_after_data() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let messages = received.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let messages = messages.clone();
            tokio::spawn(async move {
                let mut socket = BufReader::new(socket);
                let _ = socket.get_mut().write_all(b"220 mute relay ESMTP\r\n").await;
                let mut line = String::new();
                while socket.read_line(&mut line).await.is_ok_and(|n| n > 0) {
                    let reply: &[u8] = match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                        Some("DATA") => b"354 end with <CRLF>.<CRLF>\r\n",
                        Some("QUIT") => b"221 bye\r\n",
                        _ => b"250 OK\r\n",
                    };
                    let data = reply.starts_with(b"354");
                    let _ = socket.get_mut().write_all(reply).await;
                    line.clear();
                    if !data {
                        continue;
                    }
                    let mut message = String::new();
                    while socket.read_line(&mut line).await.is_ok_and(|n| n > 0) && line != ".\r\n" {
                        message.push_str(&line);
                        line.clear();
                    }
                    messages.lock().expect("the relay's messages").push(message);
                    // Keep the connection open and silent until the sender goes away.
                    let mut rest = Vec::new();
                    let _ = tokio::io::AsyncReadExt::read_to_end(&mut socket, &mut rest).await;
                    return;
                }
            });
        }
    });
    (port, received)
}

/// The `Message-ID` header of a message's text (folded header lines unfolded).
fn message_id_of(message: &str) -> Option<String> {
    let head =
        message.split("\r\n\r\n").next().unwrap_or_default().replace("\r\n ", " ").replace("\r\n\t", " ");
    head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("message-id").then(|| value.trim().to_owned())
    })
}

/// Defines a `patient` entity and a workflow that emails each new patient, then creates one;
/// returns the address the email goes to.
async fn queue_a_welcome_email(t: &TestTenant) -> String {
    t.define_entity("patient", "patients", plain_fields(&[("full_name", "TEXT"), ("email", "EMAIL")])).await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "patient"},
        "actions": [{"type": "send_email", "to": "{{record.email}}", "subject": "Welcome {{record.full_name}}", "body": "Hello"}]
    });
    t.create_workflow("welcome", definition).await;
    let address = format!("crash-{}@example.com", uuid::Uuid::new_v4().simple());
    t.create(&Names::new("patient", "patients"), json!({"fullName": "Kim", "email": address}), "").await;
    address
}

/// A server process and its own database; workers are started by the test.
struct Cluster {
    scratch: Option<Scratch>,
    server: Option<Proc>,
    t: TestTenant,
    extra: Vec<(&'static str, String)>,
}

impl Cluster {
    /// A cluster whose processes all get `extra` environment.
    async fn start(extra: &[(&'static str, String)]) -> Cluster {
        let scratch = Scratch::new("crash").await;
        let port = free_port();
        let mut own = vec![("BIND", format!("127.0.0.1:{port}")), ("WORKERS", "false".into())];
        own.extend(extra.iter().cloned());
        let env = process_env(&scratch.dir, &scratch.url, &own);
        let server_process = spawn(&["serve"], &env);
        let server = ready_server("the server", port, Duration::from_secs(60), &server_process).await;
        let t = tenant_on(server).await;
        Cluster { scratch: Some(scratch), server: Some(server_process), t, extra: extra.to_vec() }
    }

    fn worker(&self, smtp_port: u16) -> Proc {
        let mut env = self.extra.clone();
        env.push(("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")));
        let scratch = self.scratch.as_ref().expect("a running cluster's scratch");
        spawn(&["worker"], &process_env(&scratch.dir, &scratch.url, &env))
    }

    async fn stop(mut self) {
        self.server.take();
        if let Some(scratch) = self.scratch.take() {
            scratch.remove().await;
        }
    }
}

/// The environment of a server or worker process of the cluster.
pub(crate) fn process_env(
    dir: &std::path::Path,
    url: &str,
    extra: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("DATABASE_URL", url.to_owned()),
        ("DATA_DIR", dir.display().to_string()),
        ("JWT_SECRET", "crash-test-secret-crash-test-secret-0123".to_owned()),
        ("SEED_DEMO", "false".to_owned()),
        ("DATE_SCAN_MS", "200".to_owned()),
        // Long enough that a live worker's claim outlasts a loaded machine's pauses between
        // its claim and the test's kill; short enough that the next worker takes it back soon.
        ("EMAIL_LEASE_MS", Duration::from_secs(4).mul_f64(slowdown()).as_millis().to_string()),
        ("RETRY_BASE_MS", "200".to_owned()),
        ("WEBHOOK_ALLOW_HOSTS", "127.0.0.1/32".to_owned()),
        // Small pools: these processes share PostgreSQL's 100 connections with the test binary.
        ("DATABASE_POOL", "4".to_owned()),
    ];
    env.extend(extra.iter().cloned());
    env
}

/// The server process `proc` listening on `port`, once `/readyz` answers (it lives as long as
/// the test binary: `tenant_on` and `Api` take a `&'static Server`). `what` names it in a
/// timeout.
#[track_caller]
pub(crate) fn ready_server<'a>(
    what: &str,
    port: u16,
    within: Duration,
    proc: &'a Proc,
) -> impl Future<Output = &'static Server> + 'a {
    let server: &'static Server =
        Box::leak(Box::new(Server { addr: SocketAddr::from(([127, 0, 0, 1], port)) }));
    // The port listens from the start, before migrations: a request may wait, so each is
    // bounded and the wait's time limit holds.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("an HTTP client");
    let ready = eventually(format!("{what} to be ready"), within, async move || {
        http.get(server.url("/readyz")).send().await.is_ok_and(|r| r.status().is_success())
    })
    .showing(&[proc]);
    async move {
        ready.await;
        server
    }
}

#[tokio::test]
async fn a_worker_killed_mid_delivery_still_delivers_the_email_exactly_once() {
    let c = Cluster::start(&[]).await;
    let (relay_port, accepted) = silent_peer(usize::MAX).await;
    let mut worker = c.worker(relay_port);
    let t = &c.t;
    let address = queue_a_welcome_email(t).await;

    // The worker has claimed the email and is stuck talking to the silent relay: kill it.
    eventually("the worker to reach the SMTP relay", Duration::from_secs(30), async || {
        accepted.load(Ordering::SeqCst) > 0
    })
    .showing(&[&worker])
    .await;
    let emails = "{ emails { status attempts to lastError } }";
    let claimed = t.data(emails, json!({})).await["emails"].clone();
    assert_eq!(claimed[0]["status"], json!("sending"), "{claimed}");
    worker.0.kill().expect("SIGKILL the worker");
    let _ = worker.0.wait();

    // A new worker, with a real SMTP server, takes the abandoned claim back after its lease.
    let worker2 = c.worker(smtp_sink().port);
    let got = smtp_sink().wait_for(&address, 1, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    // Give any duplicate the time to show up: there is none.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smtp_sink().messages_to(&address).len(), 1);
    let sent: Value = t.data(emails, json!({})).await["emails"][0].clone();
    assert_eq!(sent["status"], json!("sent"), "{sent}");
    assert_eq!(sent["attempts"], json!(2), "the killed attempt counts: {sent}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "the killed worker was the only one at the silent relay");
    drop(worker2);
    c.stop().await;
}

/// What SMTP cannot promise: a worker killed after the relay took the whole message but before
/// the relay's `250` reached it leaves the email claimed with no outcome, and after the lease
/// the next worker sends it again. What the product guarantees instead: both copies carry the same `Message-ID` (the email's own, also shown
/// as `messageId`), so a receiver can tell them apart, and the email ends `sent` with the lost
/// attempt counted.
#[tokio::test]
async fn a_worker_killed_before_the_relay_s_250_is_followed_by_a_second_copy_with_the_same_message_id() {
    // The first worker stays alive, waiting for the 250, until the test kills it: its own
    // scan must not take its claim back before that (the lease runs from the claim).
    let lease = Duration::from_secs(4).mul_f64(slowdown());
    let c = Cluster::start(&[("EMAIL_LEASE_MS", lease.as_millis().to_string())]).await;
    let (relay_port, received) = mute_after_data().await;
    let mut worker = c.worker(relay_port);
    let t = &c.t;
    let address = queue_a_welcome_email(t).await;
    let copies = || received.lock().expect("the relay's messages").clone();

    eventually("the mute relay to receive the whole message", Duration::from_secs(30), async || {
        !copies().is_empty()
    })
    .showing(&[&worker])
    .await;
    let emails = "{ emails { id status attempts lastError messageId } }";
    let claimed = t.data(emails, json!({})).await["emails"][0].clone();
    assert_eq!(claimed["status"], json!("sending"), "{claimed}\n{}", worker.output());
    worker.0.kill().expect("SIGKILL the worker");
    let _ = worker.0.wait();

    let worker2 = c.worker(smtp_sink().port);
    eventually("the email to be sent again", Duration::from_secs(60), async || {
        t.data(emails, json!({})).await["emails"][0]["status"] == json!("sent")
    })
    .showing(&[&worker2, &worker])
    .await;
    let logs = format!("{}\n{}", worker.output(), worker2.output());

    let sent = t.data(emails, json!({})).await["emails"][0].clone();
    let id = sent["id"].as_str().expect("the email's id");
    let message_id = format!("<{id}@alphery.local>");
    assert_eq!(sent["messageId"], json!(message_id), "{sent}\n{logs}");
    assert_eq!(sent["attempts"], json!(2), "the killed attempt counts: {sent}\n{logs}");
    assert_eq!(sent["lastError"], Value::Null, "{sent}\n{logs}");

    let first = copies();
    assert_eq!(first.len(), 1, "the killed worker handed the message over once: {first:?}\n{logs}");
    assert_eq!(message_id_of(&first[0]), Some(message_id.clone()), "{}\n{logs}", first[0]);
    // `sent` is recorded after the sink's 250, which it gives after recording the message:
    // every copy that will ever reach the sink is there.
    let second = smtp_sink().messages_to(&address);
    assert_eq!(second.len(), 1, "{second:?}\n{logs}");
    assert_eq!(second[0]["message_id"], json!(message_id), "{second:?}\n{logs}");
    drop(worker2);
    c.stop().await;
}

#[tokio::test]
async fn a_run_whose_worker_was_killed_is_continued_by_the_next_worker() {
    let c = Cluster::start(&[]).await;
    let (peer_port, accepted) = silent_peer(1).await;
    let mut worker = c.worker(smtp_sink().port);
    let t = &c.t;
    let orders =
        t.define_entity("order", "orders", plain_fields(&[("title", "TEXT"), ("synced", "TEXT")])).await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "order"},
        "actions": [
            {"type": "call_webhook", "url": format!("http://127.0.0.1:{peer_port}/sync")},
            {"type": "update_fields", "values": {"synced": "yes"}}
        ]
    });
    let workflow = t.create_workflow("sync", definition).await;
    let order = str_of(&t.create(&orders, json!({"title": "A-1"}), "").await["id"]);
    eventually("the run to reach the peer", Duration::from_secs(30), async || {
        accepted.load(Ordering::SeqCst) > 0
    })
    .showing(&[&worker])
    .await;
    worker.0.kill().expect("SIGKILL the worker");
    let _ = worker.0.wait();
    let runs = "query($w: ID) { workflowRuns(workflowId: $w) { status attempts steps { position status } } }";
    assert_eq!(t.data(runs, json!({"w": workflow})).await["workflowRuns"][0]["status"], json!("running"));
    let worker2 = c.worker(smtp_sink().port);
    eventually("the run to finish", Duration::from_secs(30), async || {
        t.data(runs, json!({"w": workflow})).await["workflowRuns"][0]["status"] == json!("succeeded")
    })
    .showing(&[&worker2])
    .await;
    assert_eq!(t.get(&orders, &order, "synced").await["synced"], json!("yes"));
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "the call was made again, once");
    let run = t.data(runs, json!({"w": workflow})).await["workflowRuns"][0].clone();
    assert_eq!(run["attempts"], json!(2), "the killed attempt counts: {run}");
    drop(worker2);
    c.stop().await;
}

#[tokio::test]
async fn jobs_run_through_redis_when_the_queue_lives_there() {
    let redis_url =
        std::env::var("ALPHERY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let queue = format!("alphery.it.{}", uuid::Uuid::new_v4().simple());
    let extra = [
        ("QUEUE_STORAGE", "redis".to_owned()),
        ("REDIS_URL", redis_url.clone()),
        ("QUEUE_NAME", queue.clone()),
    ];
    let c = Cluster::start(&extra).await;
    let ready: Value =
        reqwest::get(c.t.api.url("/readyz")).await.expect("readyz").json().await.expect("json");
    assert_eq!(ready["redis"], json!("ok"), "{ready}");
    let _worker = c.worker(smtp_sink().port);
    let t = &c.t;
    t.define(entity("lead", "leads", vec![field("email", "EMAIL", json!({}))], json!({}))).await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "lead"},
        "actions": [{"type": "send_email", "to": "{{record.email}}", "subject": "Hi", "body": "via Redis"}]
    });
    t.create_workflow("hello", definition).await;
    let address = format!("redis-{}@example.com", uuid::Uuid::new_v4().simple());
    t.create(&Names::new("lead", "leads"), json!({"email": address}), "").await;
    let got = smtp_sink().wait_for(&address, 1, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    // The jobs went through Redis: the queue's keys are there.
    let client = redis::Client::open(redis_url.as_str()).expect("redis client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to Redis");
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{queue}*")).query_async(&mut conn).await.expect("KEYS");
    assert!(!keys.is_empty(), "no Redis keys for queue {queue}");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.expect("DEL");
    }
    drop(_worker);
    c.stop().await;
}

#[tokio::test]
async fn the_first_start_seeds_a_crm_demo_with_months_of_history() {
    let c = Cluster::start(&[("SEED_DEMO", "true".to_owned())]).await;
    let login = "mutation { login(input: {tenant: \"demo\", email: \"demo@alphery.local\", password: \"alphery-demo\"}) { accessToken } }";
    let token = str_of(&c.t.api.graphql(&Auth::None, login, json!({})).await.data()["login"]["accessToken"]);
    let demo = Auth::Bearer(token);
    let q = "{ accounts { totalCount } contacts { totalCount } leads { totalCount } deals { totalCount } \
             activities { totalCount } products { totalCount } \
             dealsAggregate(groupByDate: {field: CREATED_AT, bucket: MONTH}) { group count } \
             dashboards { key widgets { type data } } }";
    let d = c.t.api.graphql(&demo, q, json!({})).await.data();
    let total: i64 = ["accounts", "contacts", "leads", "deals", "activities", "products"]
        .iter()
        .map(|k| d[*k]["totalCount"].as_i64().unwrap_or(0))
        .sum();
    assert!(total >= 300, "a few hundred records: {total}");
    let months = d["dealsAggregate"].as_array().map(Vec::len).unwrap_or(0);
    assert!(months >= 5, "deals spread over months: {}", d["dealsAggregate"]);
    let sales =
        d["dashboards"].as_array().into_iter().flatten().find(|b| b["key"] == json!("sales")).cloned();
    let stages = sales.expect("the sales dashboard")["widgets"][0]["data"]["stages"].clone();
    let in_pipeline: i64 =
        stages.as_array().into_iter().flatten().map(|s| s["count"].as_i64().unwrap_or(0)).sum();
    assert_eq!(in_pipeline, d["deals"]["totalCount"].as_i64().unwrap_or(-1));
    c.stop().await;
}

/// Many runs (40) resumed from a `wait` by two worker processes whose lease (`EMAIL_LEASE_MS`, the
/// silence after which a `running` run counts as abandoned) is far shorter than a step on a
/// loaded machine, and whose scanner looks every 50 ms: live workers are overtaken all the
/// time, yet every action of every run happens once — each run logs positions 0..4 exactly
/// once, and each `create_record` made one record.
#[tokio::test]
async fn runs_taken_over_mid_run_still_run_each_action_once() {
    // Far shorter than a step on a loaded machine: live workers are taken over all the time
    // (before the claims, 3 of 5 runs of this test logged some action twice, on either backend).
    let extra = [("EMAIL_LEASE_MS", "100".to_owned()), ("DATE_SCAN_MS", "50".to_owned())];
    let c = Cluster::start(&extra).await;
    let workers = [c.worker(smtp_sink().port), c.worker(smtp_sink().port)];
    let t = &c.t;
    t.define_entity("deal", "deals", plain_fields(&[("title", "TEXT"), ("note", "TEXT")])).await;
    t.define(entity("entry", "entries", vec![field("title", "TEXT", json!({}))], json!({}))).await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "deal"},
        "actions": [
            {"type": "wait", "seconds": 1},
            {"type": "create_record", "entity": "entry", "values": {"title": "{{record.title}}"}},
            {"type": "update_fields", "values": {"note": "seen"}},
            {"type": "create_record", "entity": "entry", "values": {"title": "{{record.title}}"}},
            {"type": "update_fields", "values": {"note": "done"}}
        ]
    });
    let workflow = t.create_workflow("ledger", definition).await;
    const RUNS: usize = 40;
    let deals = Names::new("deal", "deals");
    for i in 0..RUNS {
        t.create(&deals, json!({"title": format!("D-{i}")}), "").await;
    }
    let query = "query($w: ID) { workflowRuns(workflowId: $w, first: 100) { id status recordId attempts steps { position attempt status } } }";
    let procs: Vec<&Proc> = workers.iter().collect();
    let runs = eventually("every run to finish", EFFECT_WAIT * 4, async || {
        let runs = t.data(query, json!({"w": workflow})).await["workflowRuns"].clone();
        let finished = runs.as_array().is_some_and(|r| {
            r.len() == RUNS
                && r.iter().all(|x| {
                    !["running", "waiting", "retrying", "queued"]
                        .contains(&x["status"].as_str().unwrap_or(""))
                })
        });
        // Past the time limit, the statuses tell which runs were still going.
        if finished { Ok(runs) } else { Err(pluck_str(&runs, "status")) }
    })
    .showing(&procs)
    .await;
    for run in runs.as_array().expect("runs") {
        assert_eq!(run["status"], json!("succeeded"), "{run}");
        let positions: Vec<i64> =
            run["steps"].as_array().expect("steps").iter().filter_map(|s| s["position"].as_i64()).collect();
        assert_eq!(positions, vec![0, 1, 2, 3, 4], "each action once: {run}");
    }
    let entries = t.list(&Names::new("entry", "entries"), "first: 500", json!({}), "title").await;
    let mut per_title: std::collections::BTreeMap<String, usize> = Default::default();
    for e in entries["nodes"].as_array().expect("entries") {
        *per_title.entry(str_of(&e["title"])).or_default() += 1;
    }
    assert_eq!(per_title.len(), RUNS, "{per_title:?}");
    assert!(per_title.values().all(|n| *n == 2), "two entries per run: {per_title:?}");
    drop(workers);
    c.stop().await;
}
