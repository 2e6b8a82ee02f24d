//! What `alphery` says when it cannot start, as a started process: a PostgreSQL database that
//! was never created is named with the `createdb` command that creates it, and a SQLite file
//! whose directory is missing with the `mkdir -p` (never `internal error` with the driver's
//! text); a port already taken is reported before any migration touches the database; and
//! `serve` with its workers off warns that jobs wait for an `alphery worker`. And what it says
//! when it does start: flags work after the subcommand and show in its help, every start
//! prints the demo login until its password changes, and `--env production` refuses weak
//! secrets and hides introspection and suggestions.

use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::harness::*;
use crate::processes::{Scratch, binary, free_port, log_line, process_env, ready_server, scratch_dir, spawn};

const SECRET: &str = "crash-test-secret-crash-test-secret-0123";

/// `alphery <subcommand>` on `url`, listening on `port`, its data in `dir`.
fn alphery(subcommand: &str, dir: &std::path::Path, url: &str, port: u16) -> Command {
    let mut cmd = Command::new(crate::processes::binary());
    cmd.arg(subcommand)
        .env("DATABASE_URL", url)
        .env("DATA_DIR", dir)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("JWT_SECRET", SECRET)
        .env("SEED_DEMO", "false")
        .env("WORKERS", "false")
        .env("LOG", "warn");
    cmd
}

/// Runs `cmd` until it exits (within 120 s, times the slowdown; killed otherwise) and returns
/// its exit status with everything it printed.
pub(crate) fn run_to_exit(cmd: &mut Command, what: &str) -> (ExitStatus, String) {
    let log = std::env::temp_dir().join(format!("alphery-exit-{}.log", uuid::Uuid::new_v4().simple()));
    let out = std::fs::File::create(&log).expect("a log file");
    let err = out.try_clone().expect("a second handle of the log file");
    let mut child = Proc(cmd.stdout(out).stderr(err).spawn().expect("start alphery"), log.clone());
    // Blocking, as its callers are: what the process printed is the last thing seen (`showing`
    // cannot borrow the process that the probe waits on).
    let status = eventually(format!("{what} to exit"), Duration::from_secs(120), || {
        child.0.try_wait().expect("wait for alphery").ok_or_else(|| Verbatim(child.output()))
    })
    .blocking();
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    (status, said)
}

/// Asserts a refused start that said `needles` in plain words.
fn assert_refused(status: ExitStatus, said: &str, needles: &[&str]) {
    assert!(!status.success(), "it started:\n{said}");
    for needle in needles {
        assert!(said.contains(needle), "`{needle}` not said:\n{said}");
    }
    for raw in ["internal error", "cause:", "at line"] {
        assert!(!said.contains(raw), "`{raw}` said:\n{said}");
    }
}

#[tokio::test]
async fn a_missing_database_is_named_with_how_to_create_it() {
    let dir = scratch_dir("missing-db");
    // SQLite: a file in a directory that does not exist (it is not created behind one's back).
    let nowhere = dir.join("no").join("such");
    let url = format!("sqlite://{}?mode=rwc", nowhere.join("alphery.db").display());
    let missing_dir = format!("the directory {} does not exist", nowhere.display());
    let mkdir = format!("mkdir -p {}", nowhere.display());
    for subcommand in ["serve", "migrate"] {
        let (status, said) = run_to_exit(&mut alphery(subcommand, &dir, &url, free_port()), subcommand);
        assert_refused(status, &said, &[&missing_dir, &mkdir]);
    }
    assert!(!nowhere.exists());

    // PostgreSQL: a database nobody created.
    let shared = &database().url;
    if shared.starts_with("postgres") {
        let name = format!("alphery_missing_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let base = shared.rsplit_once('/').map(|(b, _)| b).expect("a database URL with a path");
        let url = format!("{base}/{name}");
        let missing = format!("the PostgreSQL database \"{name}\" does not exist on ");
        let createdb_tail = format!(" {name}) and start again");
        for subcommand in ["serve", "migrate"] {
            let (status, said) = run_to_exit(&mut alphery(subcommand, &dir, &url, free_port()), subcommand);
            assert_refused(status, &said, &[&missing, "(createdb -h ", &createdb_tail]);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_busy_port_is_reported_before_any_migration() {
    let scratch = Scratch::new("busy-port").await;
    let (dir, url) = (scratch.dir.clone(), scratch.url.clone());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("take a port");
    let port = taken.local_addr().expect("its address").port();
    let (status, said) = run_to_exit(&mut alphery("serve", &dir, &url, port), "serve on a taken port");
    let busy =
        format!("127.0.0.1:{port} is already in use: stop the other process listening there, or set BIND");
    assert_refused(status, &said, &[&busy]);
    drop(taken);
    // The database was not touched: no tables (PostgreSQL), no file (SQLite).
    if scratch.pg_name.is_some() {
        let db = sea_orm::Database::connect(url.as_str()).await.expect("connect to the test's database");
        let tables = db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
            ))
            .await
            .expect("count the tables")
            .and_then(|r| r.try_get::<i64>("", "n").ok());
        db.close().await.expect("close");
        scratch.remove().await;
        assert_eq!(tables, Some(0), "a migration ran:\n{said}");
    } else {
        let files: Vec<_> = std::fs::read_dir(&dir).expect("the scratch directory").flatten().collect();
        scratch.remove().await;
        assert!(files.is_empty(), "the database was created: {files:?}\n{said}");
    }
}

#[tokio::test]
async fn serve_with_workers_off_warns_that_jobs_wait_for_a_worker() {
    let scratch = Scratch::new("workers-off").await;
    let (dir, url) = (scratch.dir.clone(), scratch.url.clone());
    let port = free_port();
    let env = [
        ("DATABASE_URL", url),
        ("DATA_DIR", dir.display().to_string()),
        ("BIND", format!("127.0.0.1:{port}")),
        ("JWT_SECRET", SECRET.to_owned()),
        ("SEED_DEMO", "false".to_owned()),
    ];
    let server = spawn(&["serve", "--workers", "false"], &env);
    ready_server("the server without workers", port, Duration::from_secs(120), &server).await;
    let line = log_line(&server.1, &["workers are off", "an `alphery worker` process runs"]).await;
    assert!(line.contains("WARN"), "{line}");
    for job in ["workflow runs", "emails", "webhook deliveries", "same database and queue"] {
        assert!(line.contains(job), "`{job}` not said: {line}");
    }
    drop(server);
    scratch.remove().await;
}

#[tokio::test]
async fn flags_work_after_the_subcommand_and_show_in_its_help() {
    let help = Command::new(binary()).args(["serve", "--help"]).output().expect("run alphery serve --help");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success(), "{text}{}", String::from_utf8_lossy(&help.stderr));
    for flag in ["--bind", "--workers", "--database-url", "--schema-cache-mb", "--live-buffer"] {
        assert!(text.contains(flag), "{flag} missing from `alphery serve --help`:\n{text}");
    }
    // Every setting given as a flag after `serve`, none by environment.
    let scratch = Scratch::new("flags").await;
    let (dir, url) = (scratch.dir.clone(), scratch.url.clone());
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let data_dir = dir.display().to_string();
    let server = spawn(
        &[
            "serve",
            "--bind",
            &bind,
            "--database-url",
            &url,
            "--data-dir",
            &data_dir,
            "--seed-demo",
            "false",
            "--workers",
            "false",
            "--jwt-secret",
            "flags-test-secret-flags-test-secret-0123",
        ],
        &[],
    );
    let health = format!("http://{bind}/healthz");
    eventually("the server on the address given by --bind", Duration::from_secs(120), async || {
        reqwest::get(&health).await.is_ok_and(|r| r.status().is_success())
    })
    .showing(&[&server])
    .await;
    drop(server);
    scratch.remove().await;
}

/// Starts `alphery serve` on `url` with the demo seeding on, and returns it with what it
/// printed up to the blank line that ends its start-up text.
fn start_and_read(dir: &std::path::Path, url: &str, port: u16, n: usize) -> (Proc, String) {
    let err_path = dir.join(format!("serve-{n}.err"));
    let err = std::fs::File::create(&err_path).expect("a stderr file");
    let mut cmd = Command::new(binary());
    cmd.arg("serve").stdout(Stdio::piped()).stderr(err).env("LOG", "warn");
    let own = [("BIND", format!("127.0.0.1:{port}")), ("WORKERS", "false".to_owned())];
    for (k, v) in process_env(dir, url, &own) {
        cmd.env(k, v);
    }
    cmd.env("SEED_DEMO", "true");
    let mut child = cmd.spawn().expect("start alphery serve");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let proc = Proc(child, err_path.clone());
    let mut text = String::new();
    // Not `eventually`: a receive with a time limit, each line taken as it comes, not a poll.
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = line.is_empty() && text.contains("GraphQL:");
                text.push_str(&line);
                text.push('\n');
                if done {
                    return (proc, text);
                }
            }
            Err(_) => panic!(
                "no start-up text within 240 s; stdout so far:\n{text}\nstderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            ),
        }
    }
}

#[tokio::test]
async fn every_start_prints_the_demo_login_until_its_password_changes() {
    let scratch = Scratch::new("startup").await;
    let (dir, url) = (scratch.dir.clone(), scratch.url.clone());
    let port = free_port();
    let hint = "Demo login: tenant `demo`, email `demo@alphery.local`, password `alphery-demo`";

    // The first start seeds the demo and says how to sign in; so does the next one.
    let (first, text) = start_and_read(&dir, &url, port, 1);
    assert!(text.contains(hint), "the first start:\n{text}");
    drop(first);
    let (second, text) = start_and_read(&dir, &url, port, 2);
    assert!(text.contains(hint), "a later start:\n{text}");

    // Once the demo user's password is another, no start prints the old one.
    let server = ready_server("the second start", port, Duration::from_secs(60), &second).await;
    let api = Api::new(server);
    // GraphiQL opens with that login, and running it gives a token.
    let page = api.get("/graphiql", &[]).await;
    let query = str_of(&crate::graphiql::settings(&page.text)["defaultQuery"]);
    for line in [r#"tenant: "demo""#, r#"email: "demo@alphery.local""#, r#"password: "alphery-demo""#] {
        assert!(query.contains(line), "{line} in {query}");
    }
    let login = api.graphql(&Auth::None, &query, json!({})).await;
    assert!(login.data()["login"]["accessToken"].as_str().is_some_and(|t| !t.is_empty()), "{}", login.text);
    let slug = unique_slug();
    signup(&api, "Other", &slug, &format!("owner@{slug}.example.com"), PASSWORD).await.data();
    drop(second);
    let db = sea_orm::Database::connect(url.as_str()).await.expect("connect to the test's database");
    let changed = db
        .execute_unprepared(&format!(
            "UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE email = 'owner@{slug}.example.com') \
             WHERE email = 'demo@alphery.local'"
        ))
        .await
        .expect("change the demo password");
    assert_eq!(changed.rows_affected(), 1);
    db.close().await.expect("close");
    let (third, text) = start_and_read(&dir, &url, port, 3);
    assert!(!text.contains("Demo login") && !text.contains("`alphery-demo`"), "after the change:\n{text}");
    let server = ready_server("the third start", port, Duration::from_secs(60), &third).await;
    let page = Api::new(server).get("/graphiql", &[]).await;
    let query = str_of(&crate::graphiql::settings(&page.text)["defaultQuery"]);
    assert!(!query.contains("alphery-demo") && query.contains("login(input:"), "after the change: {query}");
    drop(third);
    scratch.remove().await;
}

/// Runs `alphery serve --env production` with `secret` and expects it to refuse to start;
/// returns what it said.
fn refused_start(dir: &std::path::Path, url: &str, secret: Option<&str>) -> String {
    let mut cmd = Command::new(binary());
    cmd.args(["serve", "--env", "production"])
        .env("DATABASE_URL", url)
        .env("DATA_DIR", dir)
        .env("BIND", format!("127.0.0.1:{}", free_port()))
        .env("WORKERS", "false")
        .env("SEED_DEMO", "false")
        .env("LOG", "warn")
        .env_remove("JWT_SECRET");
    if let Some(secret) = secret {
        cmd.env("JWT_SECRET", secret);
    }
    let what = format!("`serve --env production` with {secret:?}");
    let (status, said) = crate::startup::run_to_exit(&mut cmd, &what);
    assert!(!status.success(), "{what} started:\n{said}");
    said
}

#[tokio::test]
async fn production_refuses_weak_secrets_and_hides_introspection_and_suggestions() {
    let scratch = Scratch::new("prod").await;
    let (dir, url) = (scratch.dir.clone(), scratch.url.clone());
    // No secret (a generated one is for development), a secret published in this repository,
    // and a monotonous one: no start, and it says why.
    for secret in [None, Some("crash-test-secret-crash-test-secret-0123"), Some(&*"ab".repeat(20))] {
        let said = refused_start(&dir, &url, secret);
        assert!(said.contains("JWT_SECRET"), "{secret:?}: {said}");
    }

    // A random secret starts; introspection and field suggestions are off.
    let port = free_port();
    let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let env = [
        ("DATABASE_URL", url.clone()),
        ("DATA_DIR", dir.display().to_string()),
        ("BIND", format!("127.0.0.1:{port}")),
        ("WORKERS", "false".to_owned()),
        ("SEED_DEMO", "false".to_owned()),
        ("JWT_SECRET", secret),
    ];
    let production = spawn(&["serve", "--env", "production"], &env);
    let server = ready_server("the production server", port, Duration::from_secs(120), &production).await;
    let t = tenant_on(server).await;
    let introspection = t.request("{ __schema { queryType { name } } }", json!({})).await;
    assert!(!introspection.errors().is_empty(), "introspection answered: {}", introspection.text);
    assert_eq!(introspection.body["data"], Value::Null, "{}", introspection.text);
    let misspelt = "{ apiVersio }";
    let quiet = t.request(misspelt, json!({})).await;
    quiet.expect_code("BAD_REQUEST");
    assert!(!quiet.text.contains("Did you mean"), "a suggestion in production: {}", quiet.text);
    // The development server (the shared one) does both.
    let dev = tenant().await;
    assert!(dev.request(misspelt, json!({})).await.text.contains("Did you mean"));
    dev.data("{ __schema { queryType { name } } }", json!({})).await;
    drop(production);
    scratch.remove().await;
}
