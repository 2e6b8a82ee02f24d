//! What `alphery` says when it cannot start, as a started process: a PostgreSQL database that
//! was never created is named with the `createdb` command that creates it, and a SQLite file
//! whose directory is missing with the `mkdir -p` (never `internal error` with the driver's
//! text); a port already taken is reported before any migration touches the database; and
//! `serve` with its workers off warns that jobs wait for an `alphery worker`.

use std::process::{Command, ExitStatus};
use std::time::Duration;

use sea_orm::ConnectionTrait;

use crate::harness::{Proc, Verbatim, database, eventually};
use crate::processes::{drop_database, free_port, log_line, own_database, ready_server, spawn};

const SECRET: &str = "crash-test-secret-crash-test-secret-0123";

/// A scratch directory of one test.
fn scratch(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("alphery-{what}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

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
    let dir = scratch("missing-db");
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
    let dir = scratch("busy-port");
    let (url, pg_name) = own_database(&dir).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("take a port");
    let port = taken.local_addr().expect("its address").port();
    let (status, said) = run_to_exit(&mut alphery("serve", &dir, &url, port), "serve on a taken port");
    let busy =
        format!("127.0.0.1:{port} is already in use: stop the other process listening there, or set BIND");
    assert_refused(status, &said, &[&busy]);
    drop(taken);
    // The database was not touched: no tables (PostgreSQL), no file (SQLite).
    match pg_name {
        Some(name) => {
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
            drop_database(&name).await;
            assert_eq!(tables, Some(0), "a migration ran:\n{said}");
        }
        None => {
            let files: Vec<_> = std::fs::read_dir(&dir).expect("the scratch directory").flatten().collect();
            assert!(files.is_empty(), "the database was created: {files:?}\n{said}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn serve_with_workers_off_warns_that_jobs_wait_for_a_worker() {
    let dir = scratch("workers-off");
    let (url, pg_name) = own_database(&dir).await;
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
    if let Some(name) = pg_name {
        drop_database(&name).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
