//! Table-driven cases per FieldType: `successful_*` round-trips (create, read back by id, and the
//! same value written by an update) and `failing_*` rejections (required, unique, options,
//! syntax, min/max, pattern, length, integer, scale, dangling relations), each checking that a
//! rejected write left nothing behind. CURRENCY must be exact (never through a float) and
//! DATETIME is returned normalised to UTC with milliseconds.

use serde_json::{Value, json};

use crate::harness::{Names, TestTenant, assert_json_eq, entity, field, str_of, tenant};

mod formats;
mod uid;

fn sample() -> Names {
    Names::new("sample", "samples")
}

fn category() -> Names {
    Names::new("category", "categories")
}

/// A tenant with `category` (a relation target) and `sample` with `fields`.
async fn setup(fields: Vec<Value>) -> TestTenant {
    let t = tenant().await;
    t.define(entity("category", "categories", vec![field("name", "TEXT", json!({}))], json!({}))).await;
    t.define(entity("sample", "samples", fields, json!({}))).await;
    t
}

fn assert_fields_eq(actual: &Value, expected: &Value, context: &str) {
    for (key, want) in expected.as_object().expect("expected is an object") {
        assert_json_eq(&actual[key], want, &format!("{context}, field {key}"));
    }
}

/// Every case is written by a create and by an update of a blank record, and read back by id:
/// all three must equal `expected`.
async fn assert_round_trips(t: &TestTenant, selection: &str, cases: Vec<(Value, Value)>) {
    for (input, expected) in cases {
        let context = format!("input {input}");
        let created = t.create(&sample(), input.clone(), selection).await;
        assert_fields_eq(&created, &expected, &format!("{context} (create)"));
        let id = str_of(&created["id"]);
        let read = t.get(&sample(), &id, selection).await;
        assert_fields_eq(&read, &expected, &format!("{context} (read)"));

        let blank = t.create(&sample(), json!({}), selection).await;
        let updated = t.update(&sample(), &str_of(&blank["id"]), input, selection).await;
        assert_fields_eq(&updated, &expected, &format!("{context} (update)"));
    }
}

async fn successful(fields: Vec<Value>, selection: &str, cases: Vec<(Value, Value)>) {
    let t = setup(fields).await;
    assert_round_trips(&t, selection, cases).await;
}

/// What a rejected write must answer.
enum Expect {
    /// `VALIDATION_FAILED` listing exactly this GraphQL field (a value the field rejects,
    /// including malformed dates, decimals and ids, which are checked per field).
    Field(&'static str),
    /// `BAD_REQUEST`: the value does not even have the GraphQL input type (a string for a
    /// Boolean, a missing required input field), so GraphQL validation refuses the request.
    BadRequest,
}

enum Op {
    Create(Value),
    /// An update of the seed record.
    Update(Value),
}

/// Creates `seed`, runs every failing case, then checks that the seed is the only record and
/// is unchanged.
async fn failing(fields: Vec<Value>, seed: Value, selection: &str, cases: Vec<(&str, Op, Expect)>) {
    let t = setup(fields).await;
    let seed = t.create(&sample(), seed, selection).await;
    let seed_id = str_of(&seed["id"]);
    for (case, op, expect) in cases {
        let response = match op {
            Op::Create(input) => t.create_raw(&sample(), input, selection).await,
            Op::Update(input) => t.update_raw(&sample(), &seed_id, input, selection).await,
        };
        match expect {
            Expect::Field(name) => assert_eq!(response.field_errors(), [name], "{case}: {}", response.text),
            Expect::BadRequest => assert_eq!(response.code(), "BAD_REQUEST", "{case}: {}", response.text),
        }
        assert!(
            response.body["data"].is_null()
                || response.body["data"].as_object().is_some_and(|d| d.values().all(Value::is_null)),
            "{case}: a failed write returned data: {}",
            response.text
        );
    }
    let list = t.list(&sample(), "", json!({}), selection).await;
    assert_eq!(list["totalCount"], json!(1), "only the seed exists: {list}");
    assert_eq!(list["nodes"][0], seed, "the seed is unchanged");
}

// ----------------------------------------------------------------------------------- TEXT

#[tokio::test]
async fn successful_text() {
    successful(
        vec![
            field("value", "TEXT", json!({})),
            field("short", "TEXT", json!({ "validation": { "minLength": 2, "maxLength": 5 } })),
        ],
        "value short",
        vec![
            (json!({ "value": "hello" }), json!({ "value": "hello" })),
            (json!({ "value": "  padded  " }), json!({ "value": "  padded  " })),
            (json!({ "value": "héllo — 日本語 🎉" }), json!({ "value": "héllo — 日本語 🎉" })),
            (
                json!({ "value": "it's \"quoted\" \\ ; DROP TABLE records; --" }),
                json!({ "value": "it's \"quoted\" \\ ; DROP TABLE records; --" }),
            ),
            (json!({ "value": null }), json!({ "value": null })),
            // Lengths count characters, not bytes.
            (json!({ "short": "日本語日本" }), json!({ "short": "日本語日本" })),
            (json!({ "short": "ab" }), json!({ "short": "ab" })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_text() {
    failing(
        vec![
            field("code", "TEXT", json!({ "required": true })),
            field(
                "name",
                "TEXT",
                json!({ "unique": true, "validation": { "minLength": 2, "maxLength": 5 } }),
            ),
            field("sku", "TEXT", json!({ "validation": { "pattern": "^[A-Z]{3}-[0-9]+$" } })),
        ],
        json!({ "code": "c1", "name": "taken", "sku": "ABC-1" }),
        "code name sku",
        vec![
            ("required missing", Op::Create(json!({ "name": "ok" })), Expect::BadRequest),
            ("required explicit null", Op::Create(json!({ "code": null })), Expect::BadRequest),
            ("required cleared", Op::Update(json!({ "code": null })), Expect::Field("code")),
            ("unique duplicate", Op::Create(json!({ "code": "c2", "name": "taken" })), Expect::Field("name")),
            ("too short", Op::Create(json!({ "code": "c3", "name": "a" })), Expect::Field("name")),
            ("too long", Op::Create(json!({ "code": "c4", "name": "abcdef" })), Expect::Field("name")),
            ("too long on update", Op::Update(json!({ "name": "abcdef" })), Expect::Field("name")),
            ("pattern", Op::Create(json!({ "code": "c5", "sku": "abc-1" })), Expect::Field("sku")),
            ("pattern on update", Op::Update(json!({ "sku": "ABC-" })), Expect::Field("sku")),
            ("not a string", Op::Create(json!({ "code": "c6", "name": ["x"] })), Expect::BadRequest),
        ],
    )
    .await;
}

// ------------------------------------------------------------------------------- TEXTAREA

#[tokio::test]
async fn successful_textarea() {
    let long = "lorem ipsum ".repeat(1000);
    successful(
        vec![field("value", "TEXTAREA", json!({}))],
        "value",
        vec![
            (
                json!({ "value": "line 1\nline 2\r\n\ttabbed" }),
                json!({ "value": "line 1\nline 2\r\n\ttabbed" }),
            ),
            (json!({ "value": long }), json!({ "value": long })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_textarea() {
    failing(
        vec![field(
            "body",
            "TEXTAREA",
            json!({ "required": true, "validation": { "minLength": 3, "maxLength": 10 } }),
        )],
        json!({ "body": "fine\ntext" }),
        "body",
        vec![
            ("too long", Op::Create(json!({ "body": "12345\n67890" })), Expect::Field("body")),
            ("too short", Op::Create(json!({ "body": "ab" })), Expect::Field("body")),
            ("required cleared", Op::Update(json!({ "body": null })), Expect::Field("body")),
        ],
    )
    .await;
}

// --------------------------------------------------------------------------------- NUMBER

#[tokio::test]
async fn successful_number() {
    successful(
        vec![
            field("value", "NUMBER", json!({})),
            field("qty", "NUMBER", json!({ "validation": { "min": 1, "max": 10, "integer": true } })),
        ],
        "value qty",
        vec![
            (json!({ "value": 42 }), json!({ "value": 42.0 })),
            (json!({ "value": -3.5 }), json!({ "value": -3.5 })),
            (json!({ "value": 0 }), json!({ "value": 0.0 })),
            (json!({ "value": 1234567.125 }), json!({ "value": 1234567.125 })),
            (json!({ "value": null }), json!({ "value": null })),
            (json!({ "qty": 1 }), json!({ "qty": 1.0 })),
            (json!({ "qty": 10 }), json!({ "qty": 10.0 })),
            (json!({ "qty": 7.0 }), json!({ "qty": 7.0 })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_number() {
    failing(
        vec![field(
            "qty",
            "NUMBER",
            json!({ "required": true, "validation": { "min": 1, "max": 10, "integer": true } }),
        )],
        json!({ "qty": 5 }),
        "qty",
        vec![
            ("below min", Op::Create(json!({ "qty": 0 })), Expect::Field("qty")),
            ("above max", Op::Create(json!({ "qty": 11 })), Expect::Field("qty")),
            ("not an integer", Op::Create(json!({ "qty": 2.5 })), Expect::Field("qty")),
            ("above max on update", Op::Update(json!({ "qty": 10.5 })), Expect::Field("qty")),
            ("a string", Op::Create(json!({ "qty": "five" })), Expect::BadRequest),
            ("required cleared", Op::Update(json!({ "qty": null })), Expect::Field("qty")),
        ],
    )
    .await;
}

// ------------------------------------------------------------------------------- CURRENCY

#[tokio::test]
async fn successful_currency() {
    successful(
        vec![
            field("value", "CURRENCY", json!({})),
            field("rate", "CURRENCY", json!({ "validation": { "scale": 4 } })),
        ],
        "value rate",
        vec![
            (json!({ "value": "1999.90" }), json!({ "value": "1999.90" })),
            (json!({ "value": "0.10" }), json!({ "value": "0.10" })),
            (json!({ "value": "0.20" }), json!({ "value": "0.20" })),
            (json!({ "value": "-0.05" }), json!({ "value": "-0.05" })),
            // Beyond f64 precision: only an exact decimal survives.
            (json!({ "value": "12345678901234567.89" }), json!({ "value": "12345678901234567.89" })),
            (json!({ "value": "9007199254740993.01" }), json!({ "value": "9007199254740993.01" })),
            (json!({ "value": null }), json!({ "value": null })),
            (json!({ "rate": "1.2345" }), json!({ "rate": "1.2345" })),
            (json!({ "rate": "0.0001" }), json!({ "rate": "0.0001" })),
        ],
    )
    .await;
}

#[tokio::test]
async fn successful_currency_accepts_an_int() {
    let t = setup(vec![field("value", "CURRENCY", json!({}))]).await;
    let created = t.create(&sample(), json!({ "value": 5 }), "value").await;
    let value = str_of(&created["value"]);
    assert!(value == "5" || value == "5.00", "Int 5 came back as {value}");
}

#[tokio::test]
async fn failing_currency() {
    failing(
        vec![
            field("price", "CURRENCY", json!({ "validation": { "min": 0, "max": 1000 } })),
            field("rate", "CURRENCY", json!({ "validation": { "scale": 4 } })),
        ],
        json!({ "price": "10.00", "rate": "0.5000" }),
        "price rate",
        vec![
            ("too many decimals", Op::Create(json!({ "price": "1.234" })), Expect::Field("price")),
            (
                "too many decimals for scale 4",
                Op::Create(json!({ "rate": "1.23456" })),
                Expect::Field("rate"),
            ),
            ("below min", Op::Create(json!({ "price": "-0.01" })), Expect::Field("price")),
            ("above max", Op::Create(json!({ "price": "1000.01" })), Expect::Field("price")),
            ("above max on update", Op::Update(json!({ "price": "5000" })), Expect::Field("price")),
            ("a float", Op::Create(json!({ "price": 19.99 })), Expect::Field("price")),
            ("not a number", Op::Create(json!({ "price": "abc" })), Expect::Field("price")),
            ("exponent notation", Op::Create(json!({ "price": "1e3" })), Expect::Field("price")),
        ],
    )
    .await;
}

// -------------------------------------------------------------------------------- BOOLEAN

#[tokio::test]
async fn successful_boolean() {
    successful(
        vec![field("value", "BOOLEAN", json!({}))],
        "value",
        vec![
            (json!({ "value": true }), json!({ "value": true })),
            (json!({ "value": false }), json!({ "value": false })),
            (json!({ "value": null }), json!({ "value": null })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_boolean() {
    failing(
        vec![field("flag", "BOOLEAN", json!({ "required": true }))],
        json!({ "flag": false }),
        "flag",
        vec![
            ("a string", Op::Create(json!({ "flag": "yes" })), Expect::BadRequest),
            ("a number", Op::Create(json!({ "flag": 1 })), Expect::BadRequest),
            ("required missing", Op::Create(json!({})), Expect::BadRequest),
            ("required cleared", Op::Update(json!({ "flag": null })), Expect::Field("flag")),
        ],
    )
    .await;
}

// ----------------------------------------------------------------------------------- DATE

#[tokio::test]
async fn successful_date() {
    successful(
        vec![field("value", "DATE", json!({}))],
        "value",
        vec![
            (json!({ "value": "2026-01-31" }), json!({ "value": "2026-01-31" })),
            (json!({ "value": "2024-02-29" }), json!({ "value": "2024-02-29" })),
            (json!({ "value": "1900-12-01" }), json!({ "value": "1900-12-01" })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_date() {
    failing(
        vec![field("day", "DATE", json!({}))],
        json!({ "day": "2026-01-01" }),
        "day",
        vec![
            ("no such day", Op::Create(json!({ "day": "2026-02-30" })), Expect::Field("day")),
            ("not a leap year", Op::Create(json!({ "day": "2025-02-29" })), Expect::Field("day")),
            ("day-first", Op::Create(json!({ "day": "31/01/2026" })), Expect::Field("day")),
            ("words", Op::Update(json!({ "day": "tomorrow" })), Expect::Field("day")),
        ],
    )
    .await;
}

// ------------------------------------------------------------------------------- DATETIME

#[tokio::test]
async fn successful_datetime() {
    successful(
        vec![field("value", "DATETIME", json!({}))],
        "value",
        vec![
            (json!({ "value": "2026-01-31T09:30:00Z" }), json!({ "value": "2026-01-31T09:30:00.000Z" })),
            (json!({ "value": "2026-01-31T10:30:00+01:00" }), json!({ "value": "2026-01-31T09:30:00.000Z" })),
            (json!({ "value": "2026-01-31T02:00:00-08:00" }), json!({ "value": "2026-01-31T10:00:00.000Z" })),
            // Crossing midnight and a year boundary when normalising.
            (json!({ "value": "2026-01-01T01:15:00+05:30" }), json!({ "value": "2025-12-31T19:45:00.000Z" })),
            (json!({ "value": "2026-01-31T09:30:00.123Z" }), json!({ "value": "2026-01-31T09:30:00.123Z" })),
            (json!({ "value": null }), json!({ "value": null })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_datetime() {
    failing(
        vec![field("at", "DATETIME", json!({}))],
        json!({ "at": "2026-01-01T00:00:00Z" }),
        "at",
        vec![
            ("no offset", Op::Create(json!({ "at": "2026-01-31T09:30:00" })), Expect::Field("at")),
            ("space separated", Op::Create(json!({ "at": "2026-01-31 09:30" })), Expect::Field("at")),
            ("no such hour", Op::Create(json!({ "at": "2026-01-31T25:00:00Z" })), Expect::Field("at")),
            ("words", Op::Update(json!({ "at": "yesterday" })), Expect::Field("at")),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------- EMAIL
