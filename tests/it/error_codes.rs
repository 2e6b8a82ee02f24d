//! The public error codes come from one table, `entity::ErrorCode`: every code in it is produced
//! through the API by some test of this suite, `/metrics` counts exactly its codes, and a
//! produced error is counted under its code.

use serde_json::json;

use crate::harness::*;
use crate::http::metric;
use entity::ErrorCode;

/// The suite's sources, as text: where each code must be asserted of a real response.
fn suite_sources() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("it");
    let mut dirs = vec![root];
    let mut text = String::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("the suite's folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("error_codes.rs") {
                text.push_str(&std::fs::read_to_string(&path).expect("a test source"));
            }
        }
    }
    text
}

#[test]
fn every_code_of_the_table_is_produced_through_the_api_by_a_test() {
    let sources = suite_sources();
    let missing: Vec<&str> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !sources.contains(&format!("expect_code(\"{c}\")")))
        .collect();
    assert!(missing.is_empty(), "no test asserts a response coded {missing:?}");
}

#[tokio::test]
async fn metrics_count_errors_by_every_code_of_the_table_and_nothing_else() {
    let api = Api::shared();
    let t = tenant().await;
    let errors = "alphery_graphql_errors_total";
    let before = api.get("/metrics", &[]).await.text;
    let counted: Vec<&str> = before
        .lines()
        .filter_map(|l| l.strip_prefix(errors)?.strip_prefix("{code=\"")?.split('"').next())
        .collect();
    let table: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(counted, table, "{before}");

    let code = |text: &str| metric(text, &format!("{errors}{{code=\"NOT_FOUND\"}}"));
    t.define(entity("gizmo", "gizmos", vec![field("label", "TEXT", json!({}))], json!({}))).await;
    let gone = "mutation($id: ID!) { deleteGizmo(id: $id) { id } }";
    t.request(gone, json!({"id": uuid::Uuid::new_v4().to_string()})).await.expect_code("NOT_FOUND");
    let after = api.get("/metrics", &[]).await.text;
    assert!(code(&after) > code(&before), "{after}");
}
