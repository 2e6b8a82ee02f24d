//! Batched creates (`Store::create_all`: the one create path of `create<Entity>`,
//! `create<Entities>` and an import's rows). An import of several batches of many rows numbers
//! its records without a gap, keeps unique values unique against the table and within the
//! file, resolves relations named by record number and by a unique field, moves its parents'
//! ROLLUP fields and the entity's aggregates, and appends one audit entry per record to a chain
//! that verifies — as single creates do, whose numbers and entries follow on without a gap.

use serde_json::{Value, json};

use crate::harness::*;
use crate::imports::{finished, problems, start};

/// A ROLLUP field of `team` over `member.team`.
fn over_members(key: &str, function: &str, measured: Option<&str>) -> Value {
    let mut spec = json!({"entity": "member", "relation": "team", "function": function});
    if let Some(m) = measured {
        spec["field"] = json!(m);
    }
    field(key, "ROLLUP", json!({ "rollup": spec }))
}

/// The record number of the member with `email`.
async fn number_of(t: &TestTenant, members: &Names, email: &str) -> String {
    let filter = format!("filter: {{email: {{eq: \"{email}\"}}}}");
    str_of(&t.list(members, &filter, json!({}), "recordNumber").await["nodes"][0]["recordNumber"])
}

#[tokio::test]
async fn a_batched_import_writes_each_row_as_a_single_create_would() {
    let t = tenant().await;
    let team_fields = vec![field("code", "TEXT", json!({"unique": true})), field("name", "TEXT", json!({}))];
    t.define(entity("team", "teams", team_fields, json!({"recordNumberPrefix": "TM"}))).await;
    let member_fields = vec![
        field("email", "EMAIL", json!({"unique": true})),
        field("hours", "NUMBER", json!({})),
        field("team", "RELATION", json!({"relatedEntity": "team"})),
    ];
    t.define(entity("member", "members", member_fields, json!({"recordNumberPrefix": "MB"}))).await;
    t.add_field("team", over_members("total_hours", "SUM", Some("hours"))).await;
    t.add_field("team", over_members("headcount", "COUNT", None)).await;
    let (teams, members) = (Names::new("team", "teams"), Names::new("member", "members"));
    t.create(&teams, json!({"code": "RED", "name": "Red"}), "id").await;
    let blue = t.create(&teams, json!({"code": "BLUE", "name": "Blue"}), "recordNumber").await;
    let taken = t.create(&members, json!({"email": "taken@example.com", "hours": 1}), "recordNumber").await;
    assert_eq!(taken["recordNumber"], json!("MB-000001"));

    // Member i (file row i + 1): even ones in Red by its code, odd ones in Blue by its record
    // number. Three are refused: an address the table holds, one an earlier row of the same
    // write step holds, and a team id that names no team (that row's address, which the next
    // row also has, is then no one's: the next row is written).
    let n = 700;
    let mut csv = String::from("email,hours,team\n");
    for i in 1..=n {
        let email = match i {
            100 => "taken@example.com".to_owned(),
            400 => "m399@example.com".to_owned(),
            600 => "m601@example.com".to_owned(),
            _ => format!("m{i}@example.com"),
        };
        let team = match i {
            600 => "00000000-0000-4000-8000-000000000000".to_owned(),
            _ if i % 2 == 0 => "code=RED".to_owned(),
            _ => str_of(&blue["recordNumber"]),
        };
        csv.push_str(&format!("{email},{i},{team}\n"));
    }
    let id = start(&t, "member", &csv, json!({"w": false})).await;
    let done = finished(&t, &id, EFFECT_WAIT).await;
    assert_eq!(
        (&done["status"], &done["createdCount"], &done["errorCount"]),
        (&json!("DONE"), &json!(697), &json!(3)),
        "{done}"
    );
    let problem = |row: i64, field: &str| (row, field.to_owned(), "VALIDATION_FAILED".to_owned());
    assert_eq!(problems(&done), vec![problem(101, "email"), problem(401, "email"), problem(601, "team")]);

    // Numbered in file order without a gap, and single and bulk creates go on from there.
    assert_eq!(number_of(&t, &members, "m1@example.com").await, "MB-000002");
    assert_eq!(number_of(&t, &members, "m700@example.com").await, "MB-000698");
    let bulk =
        "mutation($i: [CreateMemberInput!]!) { createMembers(inputs: $i) { records { recordNumber } } }";
    let inputs = json!([{"email": "b1@example.com"}, {"email": "b2@example.com"}]);
    let made = t.data(bulk, json!({"i": inputs})).await;
    assert_eq!(
        pluck_str(&made["createMembers"]["records"], "recordNumber"),
        strings(&["MB-000699", "MB-000700"])
    );
    let one = t.create(&members, json!({"email": "s1@example.com"}), "recordNumber").await;
    assert_eq!(one["recordNumber"], json!("MB-000701"));

    // The parents' ROLLUP fields and the entity's aggregates count exactly the written rows.
    let listed = t
        .list(&teams, "orderBy: [{field: CODE, direction: ASC}]", json!({}), "code totalHours headcount")
        .await;
    let got: Vec<(String, f64, f64)> = listed["nodes"]
        .as_array()
        .expect("teams")
        .iter()
        .map(|x| {
            (
                str_of(&x["code"]),
                x["totalHours"].as_f64().expect("total"),
                x["headcount"].as_f64().expect("count"),
            )
        })
        .collect();
    let even: usize = (2..=n).step_by(2).sum();
    let odd: usize = (1..=n).step_by(2).sum();
    let red = (even - 100 - 400 - 600) as f64;
    assert_eq!(got, vec![("BLUE".to_owned(), odd as f64, 350.0), ("RED".to_owned(), red, 347.0)]);
    let agg = t.data("{ membersAggregate { count sum { hours } } }", json!({})).await;
    let agg = &agg["membersAggregate"][0];
    assert_eq!(
        (agg["count"].as_i64(), agg["sum"]["hours"].as_f64()),
        (Some(701), Some((odd + red as usize + 1) as f64)),
        "{agg}"
    );

    // One entry per record created, in a chain that verifies.
    let audit =
        "{ auditLog(first: 1, filter: {action: \"record.create\", objectType: \"member\"}) { totalCount } }";
    assert_eq!(t.data(audit, json!({})).await["auditLog"]["totalCount"], json!(701));
    let verified = crate::audit::verify(&t).await;
    assert_eq!(verified["ok"], json!(true), "{verified}");
}
