//! SDL snapshots: `tenantSchemaSdl` of fixture tenants (CRM, hospital) compared with
//! `tests/snapshots/<name>.graphql`, and that of an empty tenant with the project's
//! `schema.graphql` (what `alphery export-schema` prints, checked against the binary in CI), so
//! the one file a new tenant's schema is described by is never kept twice.
//! `UPDATE_SNAPSHOTS=1` rewrites the files instead. The fixtures are deterministic, so the SDL
//! must be identical on SQLite and PostgreSQL.

use std::path::PathBuf;

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

/// Compares `sdl` with the snapshot, or writes it when `UPDATE_SNAPSHOTS=1`.
fn assert_snapshot(name: &str, sdl: &str) {
    let path = snapshot_path(name);
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("snapshots dir")).expect("create snapshots dir");
        std::fs::write(&path, sdl).expect("write snapshot");
        eprintln!("updated snapshot {}", path.display());
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!("missing snapshot {}; run with UPDATE_SNAPSHOTS=1 to create it", path.display())
    });
    if expected == sdl {
        return;
    }
    let actual_path = std::env::temp_dir().join(format!("alphery-sdl-{name}.actual.graphql"));
    std::fs::write(&actual_path, sdl).expect("write the actual SDL");
    let first_difference =
        expected.lines().zip(sdl.lines()).enumerate().find(|(_, (e, a))| e != a).map_or_else(
            || format!("line counts differ: {} vs {}", expected.lines().count(), sdl.lines().count()),
            |(i, (e, a))| format!("line {}:\n  snapshot: {e}\n  actual:   {a}", i + 1),
        );
    panic!(
        "SDL of {name} differs from {} ({first_difference}); actual written to {}; \
         run with UPDATE_SNAPSHOTS=1 if the change is intended",
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
    assert_snapshot(name, &sdl);
    assert_contains_all(&sdl, needles);
    sdl
}

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

/// `schema.graphql` at the repository root is "the SDL a new tenant sees".
#[tokio::test]
async fn checked_in_schema_is_what_a_new_tenant_sees() {
    let t = tenant().await;
    let sdl = sdl_of(&t).await;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let checked_in = std::fs::read_to_string(&path).expect("schema.graphql at the repository root");
    assert!(
        checked_in.trim_end() == sdl.trim_end(),
        "{} differs from tenantSchemaSdl of a new tenant",
        path.display()
    );
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
