//! UID traceability through the public API: UIDs generated from a field's pattern (a plant's
//! code, date parts, a sequence, an ISO 7064 MOD 37-2 check character), unique per tenant and
//! distinct under concurrent creates; `validateUid(s)` refusing every single-character change
//! and adjacent swap of 1,000 generated UIDs; a given UID checked, a UID never changed; the
//! manufacturing template's unit lifecycle recorded in the audit trail; and genealogy traced
//! up and down three levels, cycle-safe, within row rules and field permissions.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::harness::*;

/// Every character a UID can hold: what the check character covers, `*` and the separator.
const UID_ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*-";

/// The pattern of the tests' units: `SN-PUN-2612-0001K` (17 characters).
const PATTERN: &str = "SN-{plant.code:3}-{YY}{MM}-{SEQ:4}";

fn units() -> Names {
    Names::new("unit", "units")
}

fn plants() -> Names {
    Names::new("plant", "plants")
}

/// A tenant with plants (`code`) and units: `serial` (UID of `PATTERN`), `plant`, `line` and
/// `assembly` (the genealogy link); the id of its plant coded `code`.
async fn setup(code: &str) -> (TestTenant, String) {
    let t = tenant().await;
    t.define(entity("plant", "plants", vec![field("code", "TEXT", json!({}))], json!({}))).await;
    let fields = vec![
        field("serial", "UID", json!({"indexed": true, "validation": {"uid": PATTERN}})),
        field("plant", "RELATION", json!({"relatedEntity": "plant"})),
        field("line", "TEXT", json!({})),
        field("assembly", "RELATION", json!({"relatedEntity": "unit", "validation": {"genealogy": true}})),
    ];
    t.define(entity("unit", "units", fields, json!({}))).await;
    let plant = str_of(&t.create(&plants(), json!({"code": code}), "").await["id"]);
    (t, plant)
}

/// The sequence number of a UID of `PATTERN`.
fn seq(uid: &str) -> u32 {
    uid[12..16].parse().unwrap_or_else(|_| panic!("a sequence in {uid}"))
}

/// `validateUids` of `values` for `unit.serial`: each answer's `valid`.
async fn valid(t: &TestTenant, values: &[String]) -> Vec<bool> {
    let q = "query($v: [String!]!) { validateUids(entity: \"unit\", field: \"serial\", values: $v) { valid reason } }";
    let mut out = Vec::with_capacity(values.len());
    for chunk in values.chunks(5_000) {
        let data = t.data(q, json!({"v": chunk})).await;
        let answers = data["validateUids"].as_array().expect("answers");
        assert_eq!(answers.len(), chunk.len());
        for a in answers {
            assert_eq!(
                a["valid"].as_bool() == Some(true),
                a["reason"].is_null(),
                "a reason when invalid: {a}"
            );
            out.push(a["valid"] == json!(true));
        }
    }
    out
}

/// Every single-character change of `uid` over the UID alphabet, and every adjacent swap.
fn corruptions(uid: &str) -> Vec<String> {
    let chars: Vec<char> = uid.chars().collect();
    let mut out = Vec::new();
    for i in 0..chars.len() {
        for c in UID_ALPHABET.chars().filter(|c| *c != chars[i]) {
            let mut v = chars.clone();
            v[i] = c;
            out.push(v.into_iter().collect());
        }
        if i + 1 < chars.len() && chars[i] != chars[i + 1] {
            let mut v = chars.clone();
            v.swap(i, i + 1);
            out.push(v.into_iter().collect());
        }
    }
    out
}

#[tokio::test]
async fn a_thousand_generated_uids_are_valid_and_every_single_change_or_swap_is_refused() {
    let (t, plant) = setup("pun").await;
    let create = "mutation($i: [CreateUnitInput!]!) { createUnits(inputs: $i) { records { serial } } }";
    let mut uids: Vec<String> = Vec::new();
    for _ in 0..5 {
        let inputs: Vec<Value> = (0..200).map(|_| json!({"plant": plant})).collect();
        let data = t.data(create, json!({"i": inputs})).await;
        uids.extend(pluck_str(&data["createUnits"]["records"], "serial"));
    }
    assert_eq!(uids.len(), 1_000);
    assert_eq!(uids.iter().collect::<BTreeSet<_>>().len(), 1_000, "distinct");
    // The plant's code (raised to capitals), the month, a sequence from 1, a check character.
    let month = chrono::Utc::now().format("%y%m").to_string();
    for u in &uids {
        assert!(u.starts_with(&format!("SN-PUN-{month}-")) && u.len() == 17, "{u}");
    }
    let seqs: BTreeSet<u32> = uids.iter().map(|u| seq(u)).collect();
    assert_eq!(seqs, (1..=1_000).collect(), "one sequence, no gaps");
    assert!(valid(&t, &uids).await.into_iter().all(|v| v), "every generated UID is valid");
    let changed: Vec<String> = uids.iter().flat_map(|u| corruptions(u)).collect();
    assert!(changed.len() > 600_000, "{}", changed.len());
    let answers = valid(&t, &changed).await;
    let missed: Vec<&String> = changed.iter().zip(&answers).filter(|(_, v)| **v).map(|(c, _)| c).collect();
    assert!(
        missed.is_empty(),
        "{} corruptions were taken for UIDs: {:?}",
        missed.len(),
        &missed[..missed.len().min(5)]
    );
    let reason = t
        .data(
            "{ validateUid(entity: \"unit\", field: \"serial\", value: \"SN-PUN\") { valid reason } }",
            json!({}),
        )
        .await;
    assert_eq!(reason["validateUid"]["valid"], json!(false));
    assert!(str_of(&reason["validateUid"]["reason"]).contains("17 characters"), "{reason}");
    t.request("{ validateUid(entity: \"unit\", field: \"line\", value: \"x\") { valid } }", json!({}))
        .await
        .expect_code("BAD_REQUEST");
}

#[tokio::test]
async fn a_given_uid_is_checked_unique_in_its_tenant_and_never_changes() {
    let (a, plant_a) = setup("PUN").await;
    let first = a.create(&units(), json!({"plant": plant_a}), "serial").await;
    let uid = str_of(&first["serial"]);
    // Another tenant may hold the same UID (unique per tenant); its own plant is coded BLR,
    // so its generated UIDs never meet the given one.
    let (b, plant_b) = setup("BLR").await;
    let given = b.create(&units(), json!({"plant": plant_b, "serial": uid}), "serial").await;
    assert_eq!(given["serial"], json!(uid));
    let generated = b.create(&units(), json!({"plant": plant_b}), "serial").await;
    assert!(str_of(&generated["serial"]).starts_with("SN-BLR-"), "{generated}");
    // In its own tenant it is taken, by a create or a bulk create, and nothing is written.
    a.create_raw(&units(), json!({"plant": plant_a, "serial": uid}), "")
        .await
        .expect_field_errors(&["serial"]);
    let bulk = "mutation($i: [CreateUnitInput!]!) { createUnits(inputs: $i) { count } }";
    a.request(bulk, json!({"i": [{"plant": plant_a}, {"serial": uid}]}))
        .await
        .expect_code("VALIDATION_FAILED");
    // A wrong check character, a swap, lower case, a missing plant code: refused, on the field.
    let mut wrong: Vec<char> = uid.chars().collect();
    let last = wrong.len() - 1;
    wrong[last] = if wrong[last] == '0' { '1' } else { '0' };
    let mut swapped: Vec<char> = uid.chars().collect();
    swapped.swap(14, 15);
    for bad in [wrong.into_iter().collect::<String>(), swapped.into_iter().collect(), uid.to_lowercase()] {
        if bad == uid {
            continue;
        }
        let r = a.create_raw(&units(), json!({"plant": plant_a, "serial": bad}), "").await;
        r.expect_field_errors(&["serial"]);
    }
    let r = a.create_raw(&units(), json!({"line": "x"}), "").await;
    r.expect_field_errors(&["serial"]);
    assert!(r.text.contains("plant.code"), "{}", r.text);
    // A UID never changes; the record's other fields do.
    let id = str_of(&first["id"]);
    let next = str_of(&a.create(&units(), json!({"plant": plant_a}), "serial").await["serial"]);
    a.update_raw(&units(), &id, json!({"serial": next}), "").await.expect_field_errors(&["serial"]);
    a.update_raw(&units(), &id, json!({"serial": null}), "").await.expect_field_errors(&["serial"]);
    let kept = a.update(&units(), &id, json!({"line": "L1", "serial": uid}), "serial line").await;
    assert_eq!((kept["serial"].clone(), kept["line"].clone()), (json!(uid), json!("L1")));
    let list = a.list(&units(), "", json!({}), "serial").await;
    assert_eq!(list["totalCount"], json!(2), "the refused creates wrote nothing: {list}");
    // Found by filter like any text.
    let q = "query($f: UnitFilter) { units(filter: $f) { nodes { id } } }";
    let found = a.data(q, json!({"f": {"serial": {"eq": uid}}})).await;
    assert_eq!(pluck_str(&found["units"]["nodes"], "id"), vec![id]);
}

#[tokio::test]
async fn fifty_concurrent_creates_get_fifty_distinct_valid_uids() {
    let (t, plant) = setup("CHN").await;
    let unit = units();
    let creates = (0..50).map(|_| t.create(&unit, json!({"plant": plant}), "serial"));
    let uids: Vec<String> = join_all(creates).await.iter().map(|r| str_of(&r["serial"])).collect();
    assert_eq!(uids.iter().collect::<BTreeSet<_>>().len(), 50, "{uids:?}");
    assert_eq!(uids.iter().map(|u| seq(u)).collect::<BTreeSet<_>>(), (1..=50).collect(), "no gaps");
    assert!(valid(&t, &uids).await.into_iter().all(|v| v));
}

/// A unit of the manufacturing template, moved along `moves`; its record id.
async fn move_unit(t: &TestTenant, id: &str, to: &str) -> Response {
    t.update_raw(&units(), id, json!({"status": to}), "status").await
}

#[tokio::test]
async fn manufacturing_units_move_through_their_lifecycle_recorded_in_the_audit_trail() {
    let t = tenant().await;
    t.data("mutation { applyTemplate(slug: \"manufacturing\") { slug } }", json!({})).await;
    let company =
        str_of(&t.create(&Names::new("company", "companies"), json!({"name": "Acme"}), "").await["id"]);
    let plant = json!({"name": "Pune", "code": "PUN", "company": company});
    let plant = str_of(&t.create(&plants(), plant, "").await["id"]);
    let unit = t.create(&units(), json!({"plant": plant}), "serial status").await;
    assert_eq!(unit["status"], json!("Created"));
    let serial = str_of(&unit["serial"]);
    assert!(serial.starts_with("SN-PUN-"), "{serial}");
    let check =
        format!("{{ validateUid(entity: \"unit\", field: \"serial\", value: \"{serial}\") {{ valid }} }}");
    assert_eq!(t.data(&check, json!({})).await["validateUid"]["valid"], json!(true));
    let id = str_of(&unit["id"]);
    // A move the lifecycle does not allow is refused; the allowed ones go through.
    move_unit(&t, &id, "Installed").await.expect_field_errors(&["status"]);
    let path = ["In Stock", "Issued", "Installed", "Returned", "Scrapped"];
    for to in path {
        assert_eq!(move_unit(&t, &id, to).await.data()["updateUnit"]["status"], json!(to));
    }
    move_unit(&t, &id, "In Stock").await.expect_field_errors(&["status"]);
    // Every transition is in the audit trail, with who made it and when.
    let q = "query($f: AuditFilter) { auditLog(filter: $f, first: 50) { edges { node { at actorUserId action changes } } } }";
    let log = t.data(q, json!({"f": {"objectId": id}})).await;
    let me = str_of(&t.data("{ me { id } }", json!({})).await["me"]["id"]);
    let mut moves: Vec<(String, String)> = Vec::new();
    for e in log["auditLog"]["edges"].as_array().expect("edges") {
        let n = &e["node"];
        if let Some(s) = n["changes"]["status"].as_object() {
            assert_eq!(n["actorUserId"], json!(me), "{n}");
            assert!(n["at"].is_string(), "{n}");
            moves.push((s["old"].as_str().unwrap_or("").to_owned(), str_of(&s["new"])));
        }
    }
    moves.sort();
    let mut expected: Vec<(String, String)> = vec![("".into(), "Created".into())];
    let mut from = "Created";
    for to in path {
        expected.push((from.into(), to.into()));
        from = to;
    }
    expected.sort();
    assert_eq!(moves, expected, "{log}");
}

/// Units: `A` ← `B1` ← (`C1`, `C2`), `A` ← `B2` ← `C3` (`C3` on line `south`, the rest
/// `north`); their (id, serial) by name.
async fn genealogy(t: &TestTenant, plant: &str) -> Vec<(&'static str, String, String)> {
    let mut out: Vec<(&'static str, String, String)> = Vec::new();
    for (name, parent, line) in [
        ("A", None, "north"),
        ("B1", Some("A"), "north"),
        ("B2", Some("A"), "north"),
        ("C1", Some("B1"), "north"),
        ("C2", Some("B1"), "north"),
        ("C3", Some("B2"), "south"),
    ] {
        let parent_id =
            parent.and_then(|p| out.iter().find(|(n, _, _)| *n == p)).map(|(_, id, _)| id.clone());
        let r =
            t.create(&units(), json!({"plant": plant, "line": line, "assembly": parent_id}), "serial").await;
        out.push((name, str_of(&r["id"]), str_of(&r["serial"])));
    }
    out
}

const TRACE: &str = "query($u: String!, $d: Int) { up: traceUp(entity: \"unit\", uid: $u, maxDepth: $d) { id uid depth path } \
                     down: traceDown(entity: \"unit\", uid: $u, maxDepth: $d) { id uid depth path } }";

/// (name, depth) of each node of `nodes`, names from `units`.
fn named(nodes: &Value, units: &[(&'static str, String, String)]) -> Vec<(&'static str, i64)> {
    nodes
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            let name = units.iter().find(|(_, id, _)| n["id"] == json!(id)).map_or("?", |(name, _, _)| *name);
            (name, n["depth"].as_i64().unwrap_or(-1))
        })
        .collect()
}

#[tokio::test]
async fn genealogy_is_traced_up_and_down_three_levels_within_row_rules_and_without_cycles() {
    let (t, plant) = setup("PUN").await;
    let u = genealogy(&t, &plant).await;
    let serial =
        |name: &str| u.iter().find(|(n, _, _)| *n == name).map(|(_, _, s)| s.clone()).unwrap_or_default();
    let id =
        |name: &str| u.iter().find(|(n, _, _)| *n == name).map(|(_, i, _)| i.clone()).unwrap_or_default();
    let a = t.data(TRACE, json!({"u": serial("A")})).await;
    let mut down = named(&a["down"], &u);
    down.sort();
    assert_eq!(down, vec![("A", 0), ("B1", 1), ("B2", 1), ("C1", 2), ("C2", 2), ("C3", 2)]);
    assert_eq!(named(&a["up"], &u), vec![("A", 0)]);
    let c1 = t.data(TRACE, json!({"u": serial("C1")})).await;
    assert_eq!(named(&c1["up"], &u), vec![("C1", 0), ("B1", 1), ("A", 2)]);
    assert_eq!(c1["up"][2]["path"], json!([id("C1"), id("B1"), id("A")]));
    assert_eq!(c1["up"][2]["uid"], json!(serial("A")));
    assert_eq!(named(&c1["down"], &u), vec![("C1", 0)]);
    let shallow = t.data(TRACE, json!({"u": serial("C1"), "d": 1})).await;
    assert_eq!(named(&shallow["up"], &u), vec![("C1", 0), ("B1", 1)]);
    // A cycle (A fitted into C1) ends each path where it would come back.
    t.update(&units(), &id("A"), json!({"assembly": id("C1")}), "").await;
    let cycle = t.data(TRACE, json!({"u": serial("B1")})).await;
    assert_eq!(named(&cycle["up"], &u), vec![("B1", 0), ("A", 1), ("C1", 2)]);
    let mut around = named(&cycle["down"], &u);
    around.sort();
    assert_eq!(around, vec![("A", 2), ("B1", 0), ("B2", 3), ("C1", 1), ("C2", 1), ("C3", 4)]);
    t.update(&units(), &id("A"), json!({"assembly": null}), "").await;
    // A role that sees the north line only: C3 is left out; a role that may not read serials
    // sees the walk without them; one that may not read the link may not walk it.
    let perms = |extra: Value| {
        let mut unit = json!({"actions": ["read"], "where": {"line": {"eq": "north"}}});
        merge(&mut unit, extra);
        json!({"unit": unit, "plant": {"actions": ["read"]}})
    };
    t.create_role("north", perms(json!({}))).await;
    t.create_role("no_serial", perms(json!({"fields": {"serial": "none"}}))).await;
    t.create_role("no_link", perms(json!({"fields": {"assembly": "none"}}))).await;
    let north = t.invite_auth("north").await;
    let seen = t.api.graphql(&north, TRACE, json!({"u": serial("A")})).await.data();
    let mut down = named(&seen["down"], &u);
    down.sort();
    assert_eq!(down, vec![("A", 0), ("B1", 1), ("B2", 1), ("C1", 2), ("C2", 2)]);
    t.api.graphql(&north, TRACE, json!({"u": serial("C3")})).await.expect_code("NOT_FOUND");
    let blind = t.invite_auth("no_serial").await;
    let q = "query($u: String!) { traceUp(entity: \"unit\", uid: $u) { id uid depth } }";
    let seen = t.api.graphql(&blind, q, json!({"u": serial("C1")})).await.data();
    assert_eq!(seen["traceUp"].as_array().map(Vec::len), Some(3));
    assert!(seen["traceUp"].as_array().expect("nodes").iter().all(|n| n["uid"].is_null()), "{seen}");
    let unlinked = t.invite_auth("no_link").await;
    t.api.graphql(&unlinked, q, json!({"u": serial("C1")})).await.expect_code("FORBIDDEN");
    // Unknown UIDs and entities without a genealogy link are answered as such.
    t.request(q, json!({"u": "SN-XXX-0000-00000"})).await.expect_code("NOT_FOUND");
    let r = t.request("{ traceDown(entity: \"plant\", uid: \"x\") { id } }", json!({})).await;
    r.expect_code("BAD_REQUEST");
}
