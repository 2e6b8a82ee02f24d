//! A large import whose worker is killed mid-way: a server and its workers as separate
//! `alphery` processes on a database of their own (`processes`), so the kill hits a real
//! worker in the middle of its batches. The import stays `RUNNING` at its last committed batch;
//! a new worker takes it over once its lease has passed and goes on from there. Every good row
//! is written exactly once (the count and the sum of a column match the file) and the three
//! bad rows are reported by row and field.
//!
//! Rows: 100,000 by default (the "done when"), `ALPHERY_IMPORT_ROWS` to say otherwise;
//! the import's batched writes (one statement per kind of look-up or write for many rows) keep
//! that within minutes on a loaded two-core machine. `bench/import.sh` measures the same
//! import against a server of its own. The time this run took is printed, never asserted.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{IMPORT, count, define_items, finished, item_problems, items_csv, problems, start};
use crate::harness::*;
use crate::processes::{Scratch, free_port, process_env, ready_server, spawn};

/// Rows of the large import.
fn rows() -> usize {
    std::env::var("ALPHERY_IMPORT_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000).max(1000)
}

#[tokio::test]
async fn a_large_import_survives_its_worker_killed_mid_way_and_writes_each_good_row_once() {
    let scratch = Scratch::new("import").await;
    let port = free_port();
    // A hundred commit points (at the default size) to be killed between.
    let batch = [("IMPORT_BATCH_ROWS", "1000".to_owned())];
    let mut own = vec![("BIND", format!("127.0.0.1:{port}")), ("WORKERS", "false".to_owned())];
    own.extend(batch.iter().cloned());
    let server_process = spawn(&["serve"], &process_env(&scratch.dir, &scratch.url, &own));
    let server = ready_server("the server", port, Duration::from_secs(60), &server_process).await;
    let t = tenant_on(server).await;
    let items = define_items(&t).await;
    let n = rows();
    let bad = [n / 10, n / 2, n - 1];
    let csv = items_csv(n, bad);
    let worker_env = process_env(&scratch.dir, &scratch.url, &batch);
    let mut worker = spawn(&["worker"], &worker_env);

    let began = Instant::now();
    let id = start(&t, "item", &csv, json!({"w": false})).await;
    let progress = |i: &serde_json::Value| i["processedRows"].as_i64().unwrap_or_default();
    eventually("the first batches to commit", EFFECT_WAIT, async || {
        progress(&t.data(IMPORT, json!({"id": id})).await["import"]) > 0
    })
    .showing(&[&worker, &server_process])
    .await;
    worker.0.kill().expect("SIGKILL the worker");
    let _ = worker.0.wait();
    let at_kill = t.data(IMPORT, json!({"id": id})).await["import"].clone();
    assert_eq!(at_kill["status"], json!("RUNNING"), "killed mid-import: {at_kill}");
    assert!(progress(&at_kill) < n as i64, "killed before the end: {at_kill}");

    let worker2 = spawn(&["worker"], &worker_env);
    let within = Duration::from_secs(120 + n as u64 / 200);
    let done = finished(&t, &id, within).await;
    eprintln!(
        "imports::large: {n} rows on {} in {:.1} s (a worker killed after {} rows, taken over after its lease)",
        if scratch.url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" },
        began.elapsed().as_secs_f64(),
        progress(&at_kill),
    );
    let good = n as i64 - 3;
    assert_eq!(
        (&done["status"], &done["processedRows"], &done["createdCount"], &done["errorCount"]),
        (&json!("DONE"), &json!(n), &json!(good), &json!(3)),
        "{done}\n{}",
        worker2.output()
    );
    assert_eq!(problems(&done), item_problems(bad), "{done}");
    assert_eq!(count(&t, &items).await, good, "each good row once");
    let sum =
        t.data("{ itemsAggregate { sum { qty } } }", json!({})).await["itemsAggregate"][0]["sum"]["qty"]
            .as_f64()
            .expect("a sum");
    let expected = (n * (n + 1) / 2 - bad.iter().sum::<usize>()) as f64;
    assert_eq!(sum, expected, "the quantities of exactly the good rows");
    drop(worker2);
    drop(server_process);
    scratch.remove().await;
}
