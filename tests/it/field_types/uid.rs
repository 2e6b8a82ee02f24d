//! Cases for UID: generated from the field's pattern when left out (a code from another
//! field, a sequence, the check character), a given one kept when it fits the pattern and its
//! check character (and the sequence goes on after it); refused when it does not, when it is
//! taken, when its code is missing, and on any change. `TAB123W`, `TAB124U`, `TCD001U`: ISO 7064
//! MOD 37-2 computed apart from the server.

use serde_json::json;

use crate::harness::{field, str_of};

use super::*;

/// `code` (the UID's code) and `value`, a UID of `T{code:2}{SEQ:3}`.
fn uid_fields() -> Vec<Value> {
    vec![
        field("code", "TEXT", json!({})),
        field("value", "UID", json!({ "validation": { "uid": "T{code:2}{SEQ:3}" } })),
    ]
}

#[tokio::test]
async fn successful_uid() {
    let t = setup(uid_fields()).await;
    // The third is TCD001U: the check character the server computes is the one computed apart.
    for (n, code) in [(1, "AB"), (2, "ab"), (1, "C-D")] {
        let created = t.create(&sample(), json!({ "code": code }), "value").await;
        let want = format!("T{}{n:03}", code.replace('-', "").to_uppercase());
        let value = str_of(&created["value"]);
        assert!(value.starts_with(&want) && value.len() == 7, "{value} from {code}");
        let read = t.get(&sample(), &str_of(&created["id"]), "value").await;
        assert_eq!(read["value"], created["value"]);
    }
    let taken = t.list(&sample(), "", json!({}), "value").await;
    assert!(
        taken["nodes"].as_array().expect("nodes").iter().any(|n| n["value"] == json!("TCD001U")),
        "{taken}"
    );
    // TAB123W is ahead of the AB sequence: it may be given.
    let given = t.create(&sample(), json!({ "value": "TAB123W" }), "value").await;
    assert_eq!(given["value"], json!("TAB123W"));
    let kept = t
        .update(&sample(), &str_of(&given["id"]), json!({ "value": "TAB123W", "code": "x" }), "value code")
        .await;
    assert_eq!((kept["value"].clone(), kept["code"].clone()), (json!("TAB123W"), json!("x")));
    // The AB sequence goes on after the given number, so no UID generated later meets it.
    let after = t.create(&sample(), json!({ "code": "AB" }), "value").await;
    assert_eq!(after["value"], json!("TAB124U"));
    // Without a pattern: an eight-digit sequence and its check character.
    let plain = setup(vec![field("value", "UID", json!({ "required": true }))]).await;
    let first = plain.create(&sample(), json!({}), "value").await;
    assert_eq!(&str_of(&first["value"])[..8], "00000001");
}

#[tokio::test]
async fn failing_uid() {
    failing(
        uid_fields(),
        json!({ "code": "AB", "value": "TAB123W" }),
        "code value",
        vec![
            ("taken", Op::Create(json!({ "value": "TAB123W" })), Expect::Field("value")),
            ("wrong check character", Op::Create(json!({ "value": "TAB123X" })), Expect::Field("value")),
            ("swapped", Op::Create(json!({ "value": "TAB213W" })), Expect::Field("value")),
            ("too short", Op::Create(json!({ "value": "TAB12W" })), Expect::Field("value")),
            ("lower case", Op::Create(json!({ "value": "tab123W" })), Expect::Field("value")),
            ("not a string", Op::Create(json!({ "value": 5 })), Expect::BadRequest),
            ("no code", Op::Create(json!({})), Expect::Field("value")),
            ("code too long", Op::Create(json!({ "code": "ABC" })), Expect::Field("value")),
            ("changed", Op::Update(json!({ "value": "TAB124U" })), Expect::Field("value")),
            ("cleared", Op::Update(json!({ "value": null })), Expect::Field("value")),
        ],
    )
    .await;
    // A pattern that is not one, and a uid pattern on another type, are refused at definition.
    let t = tenant().await;
    for (ty, validation) in [("UID", json!({ "uid": "T{SEQ:0}" })), ("TEXT", json!({ "uid": "{SEQ:3}" }))] {
        let input = entity(
            "thing",
            "things",
            vec![field("value", ty, json!({ "validation": validation }))],
            json!({}),
        );
        let r = t.define_raw(input).await;
        r.expect_code("VALIDATION_FAILED");
    }
}
