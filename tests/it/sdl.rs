//! SDL snapshots: `tenantSchemaSdl` of fixture tenants (CRM, hospital) compared with
//! `tests/snapshots/<name>.graphql`, and that of an empty tenant with the project's
//! `schema.graphql` (what `alphery export-schema` prints, checked against the binary in CI), so
//! the one file a new tenant's schema is described by is never kept twice. The fixtures are
//! deterministic, so the SDL must be identical on SQLite and PostgreSQL.
//!
//! These stay plain SDL files rather than insta `.snap` files (which `responses` uses for JSON):
//! `schema.graphql` is the public artifact that code generators and CI read as SDL, and insta's
//! header would break it. They are updated the way insta snapshots are, though: `INSTA_UPDATE=
//! always` (or `UPDATE_SNAPSHOTS=1`) rewrites them, then the git diff is the review.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::fixtures::{crm_entities, define_all, hospital_entities, hospital_tenant};
use crate::harness::{TestTenant, field, str_of, tenant};

/// The snapshot of `name`: `schema.graphql` for the empty tenant.
fn snapshot_path(name: &str) -> PathBuf {
    let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match name {
        "empty" => tests.join("..").join("schema.graphql"),
        _ => tests.join("snapshots").join(format!("{name}.graphql")),
    }
}

async fn sdl_of(t: &TestTenant) -> String {
    let sdl = str_of(&t.data("{ tenantSchemaSdl }", json!({})).await["tenantSchemaSdl"]);
    // Nothing tenant-specific may leak into generated code.
    assert!(!sdl.contains(&t.slug), "the SDL mentions the tenant slug");
    assert!(!sdl.contains(&t.tenant_id), "the SDL mentions the tenant id");
    sdl
}

/// Whether file snapshots are rewritten instead of compared: `INSTA_UPDATE=always`, as for the
/// insta snapshots, so that one command updates every snapshot of the suite, or the older
/// `UPDATE_SNAPSHOTS=1`. Any other value compares (CI sets neither).
fn updating() -> bool {
    let set = |name: &str, value: &str| std::env::var(name).is_ok_and(|v| v == value);
    set("INSTA_UPDATE", "always") || set("UPDATE_SNAPSHOTS", "1")
}

/// Compares `actual` with the file at `path` byte for byte, or writes it when `updating()`. A
/// mismatch fails and leaves the actual text in the temporary directory, never in the tree (like
/// insta under CI, which writes no `.snap.new`), naming the first line that differs.
fn assert_file_snapshot(path: &Path, actual: &str) {
    if updating() {
        std::fs::create_dir_all(path.parent().expect("snapshots dir")).expect("create snapshots dir");
        std::fs::write(path, actual).expect("write snapshot");
        eprintln!("updated snapshot {}", path.display());
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|_| {
        panic!("missing snapshot {}; run with INSTA_UPDATE=always to create it", path.display())
    });
    if expected == actual {
        return;
    }
    let file_name = path.file_name().expect("a snapshot file").to_string_lossy();
    let actual_path = std::env::temp_dir().join(format!("alphery-snapshot-{file_name}.actual"));
    std::fs::write(&actual_path, actual).expect("write the actual text");
    let first_difference =
        expected.lines().zip(actual.lines()).enumerate().find(|(_, (e, a))| e != a).map_or_else(
            || format!("line counts differ: {} vs {}", expected.lines().count(), actual.lines().count()),
            |(i, (e, a))| format!("line {}:\n  snapshot: {e}\n  actual:   {a}", i + 1),
        );
    panic!(
        "{} differs ({first_difference}); actual written to {}; \
         run with INSTA_UPDATE=always and review the git diff if the change is intended",
        path.display(),
        actual_path.display()
    );
}

fn assert_contains_all(sdl: &str, needles: &[&str]) {
    for needle in needles {
        assert!(sdl.contains(needle), "SDL lacks {needle:?}");
    }
}

/// The SDL of a new tenant with `entities` defined, asserting that it is snapshot `name` and
/// contains every one of `needles`.
async fn assert_sdl_with(entities: Vec<Value>, name: &str, needles: &[&str]) -> String {
    let t = tenant().await;
    define_all(&t, entities).await;
    let sdl = sdl_of(&t).await;
    assert_file_snapshot(&snapshot_path(name), &sdl);
    assert_contains_all(&sdl, needles);
    sdl
}

/// `schema.graphql` at the repository root is "the SDL a new tenant sees", byte for byte.
#[tokio::test]
async fn sdl_of_an_empty_tenant() {
    let needles =
        ["me: User!", "tenant: Tenant!", "tenantSchemaSdl: String!", "defineEntity(", "scalar DateTime"];
    let sdl = assert_sdl_with(vec![], "empty", &needles).await;
    assert!(!sdl.contains("type Deal"));
}

#[tokio::test]
async fn sdl_of_a_crm_tenant() {
    assert_sdl_with(
        crm_entities(),
        "crm",
        &[
            "type Deal",
            "type Contact",
            "type Company",
            "deals(",
            "dealsByReferrer(",
            "DealConnection!",
            "input DealFilter",
            "input CreateDealInput",
            "input UpdateDealInput",
            "enum DealField",
            "CLOSES_AT",
            "dealChanged(filter: DealFilter): DealChange!",
            "amount: Decimal",
            "closesAt: DateTime",
            "tags: [String!]",
            "avatar: File",
            "details: JSON",
            "fullName: String!",
        ],
    )
    .await;
}

#[tokio::test]
async fn sdl_of_a_hospital_tenant() {
    assert_sdl_with(
        hospital_entities(),
        "hospital",
        &[
            "type Patient",
            "type Appointment",
            "type MedicalRecord",
            "medicalRecord: MedicalRecord",
            "appointments(",
            "createMedicalRecord(input: CreateMedicalRecordInput!): MedicalRecord!",
            "medicalRecordsAggregate(",
            "scheduledAt: DateTime!",
        ],
    )
    .await;
}

#[tokio::test]
async fn sdl_follows_definition_changes() {
    let t = hospital_tenant().await;
    let before = sdl_of(&t).await;
    assert!(!before.contains("wardNumber"));
    t.add_field("patient", field("ward_number", "NUMBER", json!({}))).await;
    let after = sdl_of(&t).await;
    assert!(after.contains("wardNumber: Float"));
}
