//! `upgradeTemplate`: a newer version of an applied template (written to the test server's
//! `TEMPLATES_DIR`) merges with the tenant's own changes — template-only changes are applied,
//! tenant-only changes kept, both-changed parts reported as conflicts and left as the tenant
//! has them; a dry run reports the same plan and changes nothing; a version that cannot be
//! applied fails whole.

use serde_json::{Value, json};

use crate::harness::*;

pub(crate) fn dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("alphery-it-templates-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("templates dir");
    d
}

fn field(key: &str, ty: &str, extra: Value) -> Value {
    let mut f = json!({"key": key, "label": key.replace('_', " "), "type": ty, "labels": {"hi": key}});
    if let (Value::Object(m), Value::Object(x)) = (&mut f, extra) {
        m.extend(x);
    }
    f
}

/// A small clinic template; `v` adds version-2 changes.
fn clinic(slug: &str, version: u32) -> Value {
    let v2 = version >= 2;
    let mut patient_fields = vec![
        field(
            "full_name",
            "TEXT",
            json!({"required": true, "label": if v2 { "Full legal name" } else { "Full name" }}),
        ),
        field(
            "blood_group",
            "SELECT",
            json!({"options": if v2 { json!(["A", "B", "AB"]) } else { json!(["A", "B"]) }}),
        ),
        field("note", "TEXT", json!({})),
    ];
    if v2 {
        patient_fields.push(field("phone", "PHONE", json!({})));
    }
    let mut entities =
        vec![json!({"nameSingular": "patient", "namePlural": "patients", "labelSingular": "Patient",
                                   "labelPlural": "Patients", "fields": patient_fields})];
    if v2 {
        entities.push(json!({"nameSingular": "visit", "namePlural": "visits", "labelSingular": "Visit", "labelPlural": "Visits",
            "fields": [field("patient", "RELATION", json!({"relatedEntity": "patient", "relationKind": "MANY_TO_ONE"})),
                       field("reason", "TEXT", json!({}))]}));
    }
    let nurse = if v2 {
        json!({"patient": {"actions": ["read", "update"]}})
    } else {
        json!({"patient": {"actions": ["read"]}})
    };
    let mut dashboards = vec![json!({"key": "front", "name": {"en": "Front desk"}, "roles": [],
        "widgets": [{"type": "metric", "title": {"en": "Patients"}, "entity": "patient", "function": "count"}]})];
    if v2 {
        dashboards.push(json!({"key": "clinical", "name": {"en": "Clinical"}, "roles": [],
            "widgets": [{"type": "chart", "title": {"en": "By group"}, "entity": "patient", "groupBy": "blood_group"}]}));
    }
    json!({
        "slug": slug, "version": version, "name": {"en": "Test clinic"}, "description": {"en": "for upgrades"},
        "entities": entities,
        "roles": [{"name": "nurse", "permissions": nurse}],
        "workflows": [{"name": "tag new", "definition": {"trigger": {"type": "record_created", "entity": "patient"},
            "actions": [{"type": "update_fields", "values": {"note": if v2 { "new (v2)" } else { "new" }}}]}}],
        "dashboards": dashboards,
        "approvalPolicies": if v2 { json!([{"entity": "patient", "name": "Admission", "stages": [
            {"name": "Nurse check", "approverRole": "nurse"}]}]) } else { json!([]) }
    })
}

pub(crate) fn write(slug: &str, template: &Value) {
    std::fs::write(dir().join(format!("{slug}.json")), serde_json::to_vec_pretty(template).expect("json"))
        .expect("write");
}

pub(crate) const UPGRADE: &str = "mutation($s: String!, $d: Boolean) { upgradeTemplate(slug: $s, dryRun: $d) { fromVersion toVersion applied changes { kind name action } conflicts { kind name action detail } } }";

async fn field_def(t: &TestTenant, entity: &str, key: &str) -> Value {
    let defs = t.data("{ entities { nameSingular fields { key label options } } }", json!({})).await;
    let e = defs["entities"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["nameSingular"] == json!(entity))
        .cloned();
    e.and_then(|e| e["fields"].as_array().into_iter().flatten().find(|f| f["key"] == json!(key)).cloned())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn an_upgrade_merges_three_ways_and_a_dry_run_changes_nothing() {
    let slug = format!("clinic-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    write(&slug, &clinic(&slug, 1));
    let t = tenant().await;
    let apply = "mutation($s: String!) { applyTemplate(slug: $s) { entities } }";
    assert_eq!(t.data(apply, json!({"s": slug})).await["applyTemplate"]["entities"], json!(1));
    // The tenant's own changes: a relabelled field and a field of its own.
    t.data("mutation { updateField(entity: \"patient\", key: \"full_name\", input: {label: \"Patient name\"}) { id } }", json!({})).await;
    t.add_field("patient", json!({"key": "vip", "label": "VIP", "type": "BOOLEAN"})).await;
    // Same version again: nothing to upgrade.
    t.request(UPGRADE, json!({"s": slug})).await.expect_code("CONFLICT");

    write(&slug, &clinic(&slug, 2));
    let dry = t.data(UPGRADE, json!({"s": slug, "d": true})).await["upgradeTemplate"].clone();
    assert_eq!(
        (dry["fromVersion"].clone(), dry["toVersion"].clone(), dry["applied"].clone()),
        (json!(1), json!(2), json!(false))
    );
    let mut changes: Vec<String> = dry["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                c["action"].as_str().unwrap_or(""),
                c["kind"].as_str().unwrap_or(""),
                c["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    changes.sort();
    assert_eq!(
        changes,
        [
            "ADD APPROVAL_POLICY Admission",
            "ADD DASHBOARD clinical",
            "ADD ENTITY visit",
            "ADD FIELD patient.phone",
            "UPDATE FIELD patient.blood_group",
            "UPDATE ROLE nurse",
            "UPDATE WORKFLOW tag new",
        ]
    );
    assert_eq!(
        dry["conflicts"],
        json!([{"kind": "FIELD", "name": "patient.full_name", "action": "CONFLICT",
                                          "detail": "changed by both the template and the tenant"}])
    );
    // The dry run wrote nothing.
    assert_eq!(t.entity_names().await, ["patient"]);
    assert_eq!(field_def(&t, "patient", "blood_group").await["options"], json!(["A", "B"]));

    let done = t.data(UPGRADE, json!({"s": slug})).await["upgradeTemplate"].clone();
    assert_eq!(done["applied"], json!(true));
    assert_eq!(done["conflicts"].as_array().map(Vec::len), Some(1));
    assert_eq!(t.entity_names().await, ["patient", "visit"]);
    assert_eq!(field_def(&t, "patient", "blood_group").await["options"], json!(["A", "B", "AB"]));
    assert_eq!(
        field_def(&t, "patient", "full_name").await["label"],
        json!("Patient name"),
        "the tenant's label stays"
    );
    assert!(!field_def(&t, "patient", "vip").await.is_null(), "the tenant's field stays");
    assert!(!field_def(&t, "patient", "phone").await.is_null());
    let roles = t.data("{ roles { name permissions } }", json!({})).await;
    let nurse = roles["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["name"] == json!("nurse"))
        .cloned()
        .expect("nurse");
    assert!(nurse["permissions"].to_string().contains("update"), "{nurse}");
    let boards = pluck_str(&t.data("{ dashboards { key } }", json!({})).await["dashboards"], "key");
    assert_eq!(boards, ["front", "clinical"]);
    let policies = t.data("{ approvalPolicies { name stages { approverRole } } }", json!({})).await;
    assert_eq!(
        policies["approvalPolicies"],
        json!([{"name": "Admission", "stages": [{"approverRole": "nurse"}]}])
    );
    // The new workflow definition runs.
    let p = str_of(&t.create(&Names::new("patient", "patients"), json!({"fullName": "Ann"}), "").await["id"]);
    eventually("the upgraded workflow to run", EFFECT_WAIT, async || {
        let note = t.get(&Names::new("patient", "patients"), &p, "note").await["note"].clone();
        if note == json!("new (v2)") { Ok(()) } else { Err(note) }
    })
    .await;
    t.request(UPGRADE, json!({"s": slug})).await.expect_code("CONFLICT");

    // Version 3 cannot apply (a relation to an entity that does not exist): nothing of it stays.
    let mut v3 = clinic(&slug, 2);
    v3["version"] = json!(3);
    v3["entities"][0]["fields"].as_array_mut().expect("fields").push(field("insurer", "TEXT", json!({})));
    v3["entities"].as_array_mut().expect("entities").push(json!({"nameSingular": "claim", "namePlural": "claims",
        "labelSingular": "Claim", "labelPlural": "Claims",
        "fields": [field("policy", "RELATION", json!({"relatedEntity": "nowhere", "relationKind": "MANY_TO_ONE"}))]}));
    write(&slug, &v3);
    t.request(UPGRADE, json!({"s": slug})).await.expect_code("VALIDATION_FAILED");
    assert!(field_def(&t, "patient", "insurer").await.is_null(), "no half-applied upgrade");
    assert_eq!(t.entity_names().await, ["patient", "visit"]);
    let _ = std::fs::remove_file(dir().join(format!("{slug}.json")));
}

#[tokio::test]
async fn a_lifecycle_added_by_a_new_version_reaches_the_tenant_and_keeps_its_data() {
    let slug = format!("ward-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let ward = |version: u32, lifecycle: Value| {
        let status = field(
            "status",
            "SELECT",
            json!({"options": ["New", "Admitted", "Discharged", "Transferred"], "lifecycle": lifecycle}),
        );
        json!({"slug": slug, "version": version, "name": {"en": "Ward"}, "description": {"en": "lifecycles"},
               "entities": [{"nameSingular": "patient", "namePlural": "patients", "labelSingular": "Patient",
                             "labelPlural": "Patients", "fields": [status]}],
               "roles": [], "workflows": [], "dashboards": [], "approvalPolicies": []})
    };
    write(&slug, &ward(1, Value::Null));
    let t = tenant().await;
    t.data("mutation($s: String!) { applyTemplate(slug: $s) { entities } }", json!({"s": slug})).await;
    let patients = Names::new("patient", "patients");
    let id = str_of(&t.create(&patients, json!({"status": "Transferred"}), "").await["id"]);
    let lifecycle = json!({"initial": ["New"], "transitions": [{"from": "New", "to": "Admitted"}, {"from": "Admitted", "to": "Discharged"}]});
    write(&slug, &ward(2, lifecycle));
    let done = t.data(UPGRADE, json!({"s": slug})).await["upgradeTemplate"].clone();
    assert_eq!(
        done["changes"],
        json!([{"kind": "FIELD", "name": "patient.status", "action": "UPDATE"}]),
        "{done}"
    );
    // The record keeps its value, which the lifecycle does not mention: it may only start over.
    let record = t.get(&patients, &id, "status statusTransitions").await;
    assert_eq!(
        (record["status"].clone(), record["statusTransitions"].clone()),
        (json!("Transferred"), json!(["New"]))
    );
    t.update_raw(&patients, &id, json!({"status": "Admitted"}), "").await.expect_code("VALIDATION_FAILED");
}
