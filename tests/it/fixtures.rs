//! Deterministic entity definitions shared by several modules: a CRM (company, contact, deal —
//! every field type and two relations to the same target) and a hospital (patient, appointment,
//! medical record — a required relation and a ONE_TO_ONE). The SDL snapshots depend on them, so
//! change them only together with `tests/snapshots/`. Also the smaller entities that several
//! modules define alike (a pipeline of deals, appointments, orders, people and deals), each
//! taking the fields its callers add.

use serde_json::{Value, json};

use crate::harness::{Names, TestTenant, entity, field, plain_fields, tenant};

pub fn company() -> Names {
    Names::new("company", "companies")
}
pub fn contact() -> Names {
    Names::new("contact", "contacts")
}
pub fn deal() -> Names {
    Names::new("deal", "deals")
}
pub fn patient() -> Names {
    Names::new("patient", "patients")
}
pub fn appointment() -> Names {
    Names::new("appointment", "appointments")
}
pub fn medical_record() -> Names {
    Names::new("medical_record", "medical_records")
}

/// CRM entity inputs, in definition order.
pub fn crm_entities() -> Vec<Value> {
    vec![
        entity(
            "company",
            "companies",
            vec![
                field(
                    "name",
                    "TEXT",
                    json!({ "required": true, "unique": true, "indexed": true,
                            "labels": { "es": "Nombre", "hi": "नाम" } }),
                ),
                field("website", "URL", json!({})),
                field("employees", "NUMBER", json!({ "validation": { "integer": true, "min": 0 } })),
                field("industry", "SELECT", json!({ "options": ["software", "retail", "health"] })),
                field("founded_on", "DATE", json!({})),
            ],
            json!({ "icon": "building" }),
        ),
        entity(
            "contact",
            "contacts",
            vec![
                field(
                    "full_name",
                    "TEXT",
                    json!({ "required": true, "validation": { "minLength": 1, "maxLength": 120 } }),
                ),
                field("email", "EMAIL", json!({ "unique": true })),
                field("phone", "PHONE", json!({})),
                field("bio", "TEXTAREA", json!({})),
                field("vip", "BOOLEAN", json!({ "default": false })),
                field("tags", "MULTI_SELECT", json!({ "options": ["vip", "lead", "partner"] })),
                field("avatar", "FILE", json!({})),
                field(
                    "company",
                    "RELATION",
                    json!({ "relatedEntity": "company", "relationKind": "MANY_TO_ONE" }),
                ),
            ],
            json!({ "icon": "user", "recordNumberPrefix": "CON" }),
        ),
        entity(
            "deal",
            "deals",
            vec![
                field("title", "TEXT", json!({ "required": true })),
                field("amount", "CURRENCY", json!({ "validation": { "min": 0 } })),
                field("probability", "NUMBER", json!({ "validation": { "min": 0, "max": 100 } })),
                field(
                    "stage",
                    "SELECT",
                    json!({ "options": ["lead", "qualified", "won", "lost"], "default": "lead" }),
                ),
                field("closes_at", "DATETIME", json!({ "indexed": true })),
                field(
                    "contact",
                    "RELATION",
                    json!({ "relatedEntity": "contact", "relationKind": "MANY_TO_ONE" }),
                ),
                field(
                    "referrer",
                    "RELATION",
                    json!({ "relatedEntity": "contact", "relationKind": "MANY_TO_ONE" }),
                ),
                field("details", "JSON", json!({})),
            ],
            json!({ "icon": "handshake", "recordNumberPrefix": "DEAL" }),
        ),
    ]
}

/// Hospital entity inputs, in definition order.
pub fn hospital_entities() -> Vec<Value> {
    vec![
        entity(
            "patient",
            "patients",
            vec![
                field(
                    "full_name",
                    "TEXT",
                    json!({ "required": true, "indexed": true,
                            "labels": { "hi": "पूरा नाम", "es": "Nombre completo" } }),
                ),
                field("date_of_birth", "DATE", json!({})),
                field("gender", "SELECT", json!({ "options": ["female", "male", "other", "unknown"] })),
                field("allergies", "MULTI_SELECT", json!({ "options": ["penicillin", "latex", "peanuts"] })),
                field("phone", "PHONE", json!({})),
                field("email", "EMAIL", json!({})),
                field("insured", "BOOLEAN", json!({})),
            ],
            json!({ "icon": "user-round", "recordNumberPrefix": "PAT" }),
        ),
        entity(
            "appointment",
            "appointments",
            vec![
                field(
                    "patient",
                    "RELATION",
                    json!({ "required": true, "relatedEntity": "patient",
                            "relationKind": "MANY_TO_ONE" }),
                ),
                field("scheduled_at", "DATETIME", json!({ "required": true })),
                field(
                    "status",
                    "SELECT",
                    json!({ "options": ["scheduled", "completed", "cancelled"],
                            "default": "scheduled" }),
                ),
                field("fee", "CURRENCY", json!({ "validation": { "min": 0 } })),
                field("notes", "TEXTAREA", json!({})),
                field("referral", "FILE", json!({})),
            ],
            json!({ "icon": "calendar", "recordNumberPrefix": "APT" }),
        ),
        entity(
            "medical_record",
            "medical_records",
            vec![
                field(
                    "patient",
                    "RELATION",
                    json!({ "required": true, "relatedEntity": "patient",
                            "relationKind": "ONE_TO_ONE" }),
                ),
                field(
                    "blood_type",
                    "SELECT",
                    json!({ "options": ["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"] }),
                ),
                field("summary", "JSON", json!({})),
            ],
            json!({ "icon": "file-heart", "recordNumberPrefix": "MR" }),
        ),
    ]
}

/// Defines every entity of `inputs` in order, asserting success.
pub async fn define_all(t: &TestTenant, inputs: Vec<Value>) {
    for input in inputs {
        t.define(input).await;
    }
}

pub async fn define_crm(t: &TestTenant) {
    define_all(t, crm_entities()).await;
}

pub async fn define_hospital(t: &TestTenant) {
    define_all(t, hospital_entities()).await;
}

/// A `person` (its `name`) and a `deal` with a required `title`, then `fields`, and the entity
/// options `options`: the pair the filter and input tests query.
pub async fn define_people_and_deals(t: &TestTenant, fields: Vec<Value>, options: Value) -> Names {
    t.define_entity("person", "people", plain_fields(&[("name", "TEXT")])).await;
    let mut all = vec![field("title", "TEXT", json!({ "required": true }))];
    all.extend(fields);
    t.define(entity("deal", "deals", all, options)).await;
    deal()
}

/// A `task` (a required `title`) and a `deal` with a required `title`, a `stage` (Lead, Won,
/// Lost), an `amount`, then `fields`: the pipeline the workflow tests act on.
pub async fn define_pipeline(t: &TestTenant, fields: Vec<Value>) -> Names {
    t.define_entity("task", "tasks", vec![field("title", "TEXT", json!({"required": true}))]).await;
    let mut all = vec![
        field("title", "TEXT", json!({"required": true})),
        field("stage", "SELECT", json!({"options": ["Lead", "Won", "Lost"]})),
        field("amount", "CURRENCY", json!({})),
    ];
    all.extend(fields);
    t.define_entity("deal", "deals", all).await
}

/// An `appointment` with a required `title`, `starts_at`, a `reminder` (what a relative-date
/// workflow writes), then `fields`.
pub async fn define_appointments(t: &TestTenant, fields: Vec<Value>) -> Names {
    let mut all = vec![field("title", "TEXT", json!({"required": true}))];
    all.extend(plain_fields(&[("starts_at", "DATETIME"), ("reminder", "TEXT")]));
    all.extend(fields);
    t.define_entity("appointment", "appointments", all).await
}

/// An `order` with a `status` (open, paid, void), `rush`, a `total`, an integer `qty`, then
/// `fields`: what the aggregate tests sum up.
pub async fn define_orders(t: &TestTenant, fields: Vec<Value>) -> Names {
    let mut all = vec![field("status", "SELECT", json!({"options": ["open", "paid", "void"]}))];
    all.extend(plain_fields(&[("rush", "BOOLEAN"), ("total", "CURRENCY")]));
    all.push(field("qty", "NUMBER", json!({"validation": {"integer": true}})));
    all.extend(fields);
    t.define_entity("order", "orders", all).await
}

/// A new tenant with the CRM defined.
pub async fn crm_tenant() -> TestTenant {
    let t = tenant().await;
    define_crm(&t).await;
    t
}

/// A new tenant with the hospital defined.
pub async fn hospital_tenant() -> TestTenant {
    let t = tenant().await;
    define_hospital(&t).await;
    t
}
