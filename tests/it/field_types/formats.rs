//! Cases for the formatted and structured types: EMAIL, PHONE, URL, SELECT, MULTI_SELECT,
//! RELATION, FILE and JSON.

use serde_json::json;

use crate::harness::{field, str_of};

use super::*;

#[tokio::test]
async fn successful_email() {
    successful(
        vec![field("value", "EMAIL", json!({}))],
        "value",
        vec![
            (json!({ "value": "ada@example.com" }), json!({ "value": "ada@example.com" })),
            (
                json!({ "value": "first.last+tag@sub.example.co.uk" }),
                json!({ "value": "first.last+tag@sub.example.co.uk" }),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_email() {
    failing(
        vec![field("mail", "EMAIL", json!({ "unique": true }))],
        json!({ "mail": "taken@example.com" }),
        "mail",
        vec![
            ("no at sign", Op::Create(json!({ "mail": "not-an-email" })), Expect::Field("mail")),
            ("no domain", Op::Create(json!({ "mail": "a@" })), Expect::Field("mail")),
            ("no local part", Op::Create(json!({ "mail": "@example.com" })), Expect::Field("mail")),
            ("space", Op::Create(json!({ "mail": "a b@example.com" })), Expect::Field("mail")),
            ("two at signs", Op::Update(json!({ "mail": "a@b@example.com" })), Expect::Field("mail")),
            ("unique duplicate", Op::Create(json!({ "mail": "taken@example.com" })), Expect::Field("mail")),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------- PHONE

#[tokio::test]
async fn successful_phone() {
    successful(
        vec![field("value", "PHONE", json!({}))],
        "value",
        vec![
            (json!({ "value": "+14155550100" }), json!({ "value": "+14155550100" })),
            (json!({ "value": "+919876543210" }), json!({ "value": "+919876543210" })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_phone() {
    failing(
        vec![field("tel", "PHONE", json!({}))],
        json!({ "tel": "+442079460958" }),
        "tel",
        vec![
            ("words", Op::Create(json!({ "tel": "call me maybe" })), Expect::Field("tel")),
            ("letters inside", Op::Create(json!({ "tel": "+1 415 CALL NOW" })), Expect::Field("tel")),
            ("html", Op::Update(json!({ "tel": "<script>1</script>" })), Expect::Field("tel")),
        ],
    )
    .await;
}

// ------------------------------------------------------------------------------------ URL

#[tokio::test]
async fn successful_url() {
    successful(
        vec![field("value", "URL", json!({}))],
        "value",
        vec![
            (
                json!({ "value": "https://example.com/path?q=1&r=two#frag" }),
                json!({ "value": "https://example.com/path?q=1&r=two#frag" }),
            ),
            (json!({ "value": "http://localhost:8080/x" }), json!({ "value": "http://localhost:8080/x" })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_url() {
    failing(
        vec![field("site", "URL", json!({}))],
        json!({ "site": "https://example.com/ok" }),
        "site",
        vec![
            ("words", Op::Create(json!({ "site": "not a url" })), Expect::Field("site")),
            ("no host", Op::Create(json!({ "site": "http://" })), Expect::Field("site")),
            ("script scheme", Op::Update(json!({ "site": "javascript:alert(1)" })), Expect::Field("site")),
        ],
    )
    .await;
}

// --------------------------------------------------------------------------------- SELECT

#[tokio::test]
async fn successful_select() {
    successful(
        vec![field("value", "SELECT", json!({ "options": ["lead", "won", "lost"] }))],
        "value",
        vec![
            (json!({ "value": "lead" }), json!({ "value": "lead" })),
            (json!({ "value": "lost" }), json!({ "value": "lost" })),
            (json!({ "value": null }), json!({ "value": null })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_select() {
    failing(
        vec![field("stage", "SELECT", json!({ "options": ["lead", "won"] }))],
        json!({ "stage": "lead" }),
        "stage",
        vec![
            ("option not in list", Op::Create(json!({ "stage": "lost" })), Expect::Field("stage")),
            ("wrong case", Op::Create(json!({ "stage": "LEAD" })), Expect::Field("stage")),
            ("option not in list on update", Op::Update(json!({ "stage": "maybe" })), Expect::Field("stage")),
        ],
    )
    .await;
}

// --------------------------------------------------------------------------- MULTI_SELECT

#[tokio::test]
async fn successful_multi_select() {
    successful(
        vec![field("value", "MULTI_SELECT", json!({ "options": ["x", "y", "z"] }))],
        "value",
        vec![
            (json!({ "value": ["x", "z"] }), json!({ "value": ["x", "z"] })),
            (json!({ "value": ["y"] }), json!({ "value": ["y"] })),
            (json!({ "value": null }), json!({ "value": null })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_multi_select() {
    failing(
        vec![field("tags", "MULTI_SELECT", json!({ "options": ["a", "b", "c"] }))],
        json!({ "tags": ["a"] }),
        "tags",
        vec![
            ("one option not in list", Op::Create(json!({ "tags": ["a", "zzz"] })), Expect::Field("tags")),
            ("wrong case", Op::Create(json!({ "tags": ["A"] })), Expect::Field("tags")),
            ("not in list on update", Op::Update(json!({ "tags": ["b", "d"] })), Expect::Field("tags")),
        ],
    )
    .await;
}

// ------------------------------------------------------------------------------- RELATION

#[tokio::test]
async fn successful_relation() {
    let t = setup(vec![field(
        "parent",
        "RELATION",
        json!({ "relatedEntity": "category", "relationKind": "MANY_TO_ONE" }),
    )])
    .await;
    let books = t.create(&category(), json!({ "name": "Books" }), "name").await;
    let games = t.create(&category(), json!({ "name": "Games" }), "name").await;
    let (books_id, games_id) = (str_of(&books["id"]), str_of(&games["id"]));
    assert_round_trips(
        &t,
        "parent { id name }",
        vec![
            (json!({ "parent": books_id }), json!({ "parent": { "id": books_id, "name": "Books" } })),
            (json!({ "parent": games_id }), json!({ "parent": { "id": games_id, "name": "Games" } })),
            (json!({ "parent": null }), json!({ "parent": null })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_relation() {
    let missing = uuid::Uuid::new_v4().to_string();
    failing(
        vec![field("parent", "RELATION", json!({ "relatedEntity": "category" }))],
        json!({}),
        "parent { id }",
        vec![
            ("nonexistent id", Op::Create(json!({ "parent": missing })), Expect::Field("parent")),
            ("nonexistent id on update", Op::Update(json!({ "parent": missing })), Expect::Field("parent")),
            ("malformed id", Op::Create(json!({ "parent": "not-an-id" })), Expect::Field("parent")),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_relation_to_a_record_of_another_entity() {
    let t = setup(vec![field("parent", "RELATION", json!({ "relatedEntity": "category" }))]).await;
    // A real record id of the same tenant, but of `sample`, not `category`.
    let other = t.create(&sample(), json!({}), "").await;
    t.create_raw(&sample(), json!({ "parent": other["id"] }), "").await.expect_field_errors(&["parent"]);
    let list = t.list(&sample(), "", json!({}), "").await;
    assert_eq!(list["totalCount"], json!(1));
}

// ----------------------------------------------------------------------------------- FILE

#[tokio::test]
async fn successful_file() {
    let full = json!({ "url": "https://cdn.example.com/a.pdf", "name": "a.pdf",
                       "mimeType": "application/pdf", "size": 1234 });
    let minimal = json!({ "url": "https://cdn.example.com/b.png" });
    successful(
        vec![field("value", "FILE", json!({}))],
        "value { url name mimeType size }",
        vec![
            (json!({ "value": full }), json!({ "value": full })),
            (
                json!({ "value": minimal }),
                json!({ "value": { "url": "https://cdn.example.com/b.png", "name": null,
                                   "mimeType": null, "size": null } }),
            ),
            (json!({ "value": null }), json!({ "value": null })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_file() {
    failing(
        vec![field("doc", "FILE", json!({ "required": true }))],
        json!({ "doc": { "url": "https://cdn.example.com/ok.pdf" } }),
        "doc { url }",
        vec![
            ("required missing", Op::Create(json!({})), Expect::BadRequest),
            // `url` is optional in `FileInput` (an uploaded file is given by `fileId`), so the
            // value check names the field.
            ("no url nor fileId", Op::Create(json!({ "doc": { "name": "x.pdf" } })), Expect::Field("doc")),
            ("fileId not an id", Op::Create(json!({ "doc": { "fileId": "x" } })), Expect::Field("doc")),
            ("a string", Op::Create(json!({ "doc": "https://cdn.example.com/x" })), Expect::Field("doc")),
            ("required cleared", Op::Update(json!({ "doc": null })), Expect::Field("doc")),
        ],
    )
    .await;
}

// ----------------------------------------------------------------------------------- JSON

#[tokio::test]
async fn successful_json() {
    let nested = json!({ "a": [1, 2, { "b": null }], "c": "d", "e": { "f": true, "g": 1.5 } });
    successful(
        vec![field("value", "JSON", json!({}))],
        "value",
        vec![
            (json!({ "value": nested }), json!({ "value": nested })),
            (json!({ "value": [1, "two", false] }), json!({ "value": [1, "two", false] })),
            (json!({ "value": "just a string" }), json!({ "value": "just a string" })),
            (json!({ "value": 12 }), json!({ "value": 12 })),
        ],
    )
    .await;
}

#[tokio::test]
async fn failing_json() {
    failing(
        vec![field("data", "JSON", json!({ "required": true }))],
        json!({ "data": { "ok": true } }),
        "data",
        vec![
            ("required missing", Op::Create(json!({})), Expect::BadRequest),
            ("required cleared", Op::Update(json!({ "data": null })), Expect::Field("data")),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------- several bad

#[tokio::test]
async fn failing_several_fields_are_all_listed_and_nothing_is_written() {
    let t = setup(vec![
        field("email", "EMAIL", json!({})),
        field("stage", "SELECT", json!({ "options": ["a", "b"] })),
        field("score", "NUMBER", json!({ "validation": { "max": 10 } })),
        field("nick", "TEXT", json!({ "validation": { "maxLength": 3 } })),
        field("site", "URL", json!({})),
        field("price", "CURRENCY", json!({})),
        field("parent", "RELATION", json!({ "relatedEntity": "category" })),
        field("fine", "TEXT", json!({})),
    ])
    .await;
    let response = t
        .create_raw(
            &sample(),
            json!({
                "email": "nope", "stage": "c", "score": 11, "nick": "toolong",
                "site": "not a url", "price": "1.999",
                "parent": uuid::Uuid::new_v4().to_string(), "fine": "ok",
            }),
            "",
        )
        .await;
    response.expect_field_errors(&["email", "stage", "score", "nick", "site", "price", "parent"]);
    let list = t.list(&sample(), "", json!({}), "").await;
    assert_eq!(list["totalCount"], json!(0), "nothing was written");

    // The same on update: every bad field listed, the record untouched.
    let record = t.create(&sample(), json!({ "fine": "before" }), "fine").await;
    let response = t
        .update_raw(
            &sample(),
            &str_of(&record["id"]),
            json!({ "email": "nope", "stage": "c", "fine": "after" }),
            "",
        )
        .await;
    response.expect_field_errors(&["email", "stage"]);
    let read = t.get(&sample(), &str_of(&record["id"]), "fine").await;
    assert_eq!(read["fine"], json!("before"));
}
