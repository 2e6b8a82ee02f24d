//! Formulas, SQL against memory, on random records (seeded like `crate::property`): every
//! formula's value as a read computes it (SQL) equals the value a live event carries (computed
//! in memory by the write); random filters on formula fields select the same records in a
//! list (SQL) and in a subscription (memory); ordering by each formula gives the values in the
//! order memory's values sort in. Formulas read through one and two relations (`grp.factor`,
//! `grp.region.name`) and the tenant's clock (TODAY, NOW), pinned for the test's tenant.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::formula;
use crate::harness::*;
use crate::property::{Rng, seed};

/// (key, expression, result type).
const FORMULAS: &[(&str, &str, &str)] = &[
    ("amount", "qty * price", "CURRENCY"),
    ("ratio", "price / qty", "NUMBER"),
    ("label", "CONCAT(UPPER(name), '-', IF(active, 'on', 'off'))", "TEXT"),
    ("flag", "qty > 2 AND (price < 5 OR NOT active)", "BOOLEAN"),
    ("due", "day + qty", "DATE"),
    ("span", "DAYS_BETWEEN(day, day2)", "NUMBER"),
    ("tier", "CASE WHEN qty >= 3 THEN 'high' WHEN qty >= 1 THEN 'mid' ELSE 'low' END", "TEXT"),
    ("safe", "COALESCE(rate, 0) + ROUND(qty / 3, 2)", "NUMBER"),
    ("nlen", "LEN(name) * ABS(rate) - 0.1", "NUMBER"),
    ("scaled", "qty * grp.factor", "NUMBER"),
    ("place", "CONCAT(grp.name, '/', UPPER(grp.region.name))", "TEXT"),
    ("age", "TODAY() - day", "NUMBER"),
    ("fresh", "IF(active, NOW(), NULL)", "DATETIME"),
    ("late", "grp.region.close < TODAY() OR day > TODAY()", "BOOLEAN"),
];

const SELECTION: &str = "id amount ratio label flag due span tier safe nlen scaled place age fresh late";

/// The instant the tenant's clock is pinned at (TODAY is 2026-03-01 in UTC).
const PINNED: &str = "2026-03-01T23:30:00.000Z";

fn random_record(rng: &mut Rng, groups: &[String]) -> Value {
    let mut out = serde_json::Map::new();
    if !rng.chance(20) {
        out.insert("grp".to_owned(), json!(rng.pick(groups)));
    }
    let pools: [(&str, Value); 7] = [
        ("name", json!(["Alpha", "beta", "", "Gamma x"])),
        ("qty", json!([0, 0.5, 1, 2, 2.5, 3, 7, -1])),
        ("price", json!(["0.10", "0.20", "1.50", "2.00", "10.00", "0.30", "-3.25"])),
        ("rate", json!([0.1, 0.2, -1.5, 3])),
        ("active", json!([true, false])),
        ("day", json!(["2026-01-01", "2026-02-28", "2024-02-29"])),
        ("day2", json!(["2026-03-01", "2025-12-31"])),
    ];
    for (key, pool) in pools {
        let items = pool.as_array().cloned().unwrap_or_default();
        if !rng.chance(15) {
            out.insert(key.to_owned(), rng.pick(&items).clone());
        }
    }
    Value::Object(out)
}

/// One condition on a formula field.
fn condition(rng: &mut Rng) -> Value {
    let (key, ops, operands): (&str, &[&str], Value) = match rng.below(14) {
        0 => ("amount", &["gt", "lt", "eq", "gte", "lte"], json!(["0.30", "1.00", "0.00", "-3.25", "20.00"])),
        1 => ("ratio", &["gt", "lt", "eq"], json!([0.5, 0.1, 3, 0.2, 1])),
        2 => ("label", &["eq", "startsWith", "contains"], json!(["ALPHA-on", "BETA", "-off", "-"])),
        3 => ("flag", &["eq"], json!([true, false])),
        4 => ("due", &["gt", "lt", "eq"], json!(["2026-01-03", "2026-03-01", "2024-03-01"])),
        5 => ("span", &["gt", "lt", "eq"], json!([0, 59, -1, 730])),
        6 => ("tier", &["eq", "neq"], json!(["high", "mid", "low"])),
        7 => ("safe", &["gt", "lt"], json!([0, 1.5, 0.27])),
        8 => ("scaled", &["gt", "lt", "eq"], json!([0, 1, 2.5, -1])),
        9 => (
            "place",
            &["eq", "startsWith", "contains"],
            json!(["north/EAST", "south", "/", "VOID", "orphan/"]),
        ),
        10 => ("age", &["gt", "lt", "eq"], json!([0, 1, 731, -1])),
        11 => ("fresh", &["eq", "gt"], json!([PINNED, "2026-01-01T00:00:00.000Z"])),
        12 => ("late", &["eq"], json!([true, false])),
        _ => ("nlen", &["gt", "lt"], json!([0, 1.5, -0.1])),
    };
    if rng.chance(10) {
        return json!({ key: {"isNull": rng.chance(50)} });
    }
    let items = operands.as_array().cloned().unwrap_or_default();
    json!({ key: { *rng.pick(ops): rng.pick(&items).clone() } })
}

fn predicate(rng: &mut Rng) -> Value {
    match rng.below(3) {
        0 => condition(rng),
        1 => json!({"and": [condition(rng), condition(rng)]}),
        _ => json!({"or": [condition(rng), condition(rng)]}),
    }
}

/// How two non-null values of a formula of result type `ty` order (decimals by value).
fn order(ty: &str, a: &Value, b: &Value) -> Ordering {
    let num = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse::<f64>().ok()));
    match ty {
        "NUMBER" | "CURRENCY" => num(a).partial_cmp(&num(b)).unwrap_or(Ordering::Equal),
        "BOOLEAN" => a.as_bool().cmp(&b.as_bool()),
        _ => a.as_str().cmp(&b.as_str()),
    }
}

/// Collects `next` messages: the control stream's records by id, the filtered streams' ids.
async fn drain(
    ws: &mut Ws,
    records: &mut BTreeMap<String, Value>,
    pushed: &mut BTreeMap<String, BTreeSet<String>>,
    quiet: std::time::Duration,
) {
    loop {
        match ws.recv(quiet).await {
            WsEvent::Message(m) if m["type"] == "next" => {
                let record = m["payload"]["data"]["itemChanged"]["record"].clone();
                let id = str_of(&record["id"]);
                if m["id"] == "all" {
                    records.insert(id.clone(), record);
                }
                pushed.entry(str_of(&m["id"])).or_default().insert(id);
            }
            WsEvent::Message(m) => panic!("unexpected message {m}"),
            WsEvent::Closed(code) => panic!("socket closed ({code:?})"),
            WsEvent::Timeout => return,
        }
    }
}

#[tokio::test]
async fn formulas_agree_in_sql_and_in_memory_on_random_records() {
    const RECORDS: usize = 40;
    const PREDICATES: usize = 30;
    let seed = seed();
    eprintln!("formula property: seed {seed} (replay with ALPHERY_PROPTEST_SEED={seed})");
    let mut rng = Rng(seed);
    let t = tenant().await;
    let mut fields: Vec<Value> = [
        ("name", "TEXT"),
        ("qty", "NUMBER"),
        ("price", "CURRENCY"),
        ("rate", "NUMBER"),
        ("active", "BOOLEAN"),
        ("day", "DATE"),
        ("day2", "DATE"),
    ]
    .iter()
    .map(|(k, ty)| field(k, ty, json!({})))
    .collect();
    fields.push(field("grp", "RELATION", json!({"relatedEntity": "grp"})));
    fields.extend(FORMULAS.iter().map(|(k, e, r)| formula(k, e, r)));
    // The clock TODAY and NOW read, for this tenant only, from before the first write.
    let pinned = chrono::DateTime::parse_from_rfc3339(PINNED).expect("instant").to_utc();
    entity::runtime::time::pin(&t.tenant_id, Some(pinned));
    let regions = t
        .define_entity(
            "region",
            "regions",
            vec![field("name", "TEXT", json!({})), field("close", "DATE", json!({}))],
        )
        .await;
    let grps = t
        .define_entity(
            "grp",
            "grps",
            vec![
                field("name", "TEXT", json!({})),
                field("factor", "NUMBER", json!({})),
                field("region", "RELATION", json!({"relatedEntity": "region"})),
            ],
        )
        .await;
    let mut region_ids = Vec::new();
    for (name, close) in [("east", json!("2026-02-01")), ("west", json!("2026-03-02")), ("void", Value::Null)]
    {
        region_ids.push(str_of(&t.create(&regions, json!({"name": name, "close": close}), "id").await["id"]));
    }
    let mut groups = Vec::new();
    for (i, (name, factor)) in
        [("north", json!(1.5)), ("south", json!(-2)), ("mid", Value::Null)].into_iter().enumerate()
    {
        let input = json!({"name": name, "factor": factor, "region": region_ids[i]});
        groups.push(str_of(&t.create(&grps, input, "id").await["id"]));
    }
    // A group whose region is gone reads as none through it.
    let gone = str_of(&t.create(&regions, json!({"name": "gone"}), "id").await["id"]);
    groups.push(str_of(
        &t.create(&grps, json!({"name": "orphan", "factor": 1, "region": gone}), "id").await["id"],
    ));
    t.delete(&regions, &gone).await;
    t.define(entity("item", "items", fields, json!({}))).await;
    let items = Names::new("item", "items");

    let predicates: Vec<Value> = (0..PREDICATES).map(|_| predicate(&mut rng)).collect();
    let mut ws = t.ws().await;
    let subscription = |selection: &str| {
        format!("subscription($f: ItemFilter) {{ itemChanged(filter: $f) {{ record {{ {selection} }} }} }}")
    };
    for (i, p) in predicates.iter().enumerate() {
        ws.subscribe(&format!("p{i}"), &subscription("id"), json!({"f": p})).await;
    }
    ws.subscribe("all", &subscription(SELECTION), json!({"f": null})).await;
    let (mut records, mut pushed) = (BTreeMap::new(), BTreeMap::new());
    let mut probes = BTreeSet::new();
    while probes.is_empty() || !probes.iter().any(|p| records.contains_key(p)) {
        assert!(probes.len() < 20, "the subscriptions never became live");
        probes.insert(str_of(&t.create(&items, json!({}), "id").await["id"]));
        drain(&mut ws, &mut records, &mut pushed, LISTEN_WINDOW).await;
    }
    let mut created = BTreeSet::new();
    for _ in 0..RECORDS {
        created.insert(str_of(&t.create(&items, random_record(&mut rng, &groups), "id").await["id"]));
    }
    eventually("the control subscription to hear every record", TIMEOUT, async || {
        drain(&mut ws, &mut records, &mut pushed, LISTEN_WINDOW).await;
        let missed: Vec<&String> = created.iter().filter(|id| !records.contains_key(*id)).collect();
        if missed.is_empty() { Ok(()) } else { Err(missed) }
    })
    .await;
    drain(&mut ws, &mut records, &mut pushed, SILENCE).await;
    for p in &probes {
        records.remove(p);
        pushed.values_mut().for_each(|ids| {
            ids.remove(p);
        });
    }

    // Values: SQL (a list) against memory (the events).
    let listed = t.list(&items, "first: 500", json!({}), SELECTION).await;
    let mut mismatches = Vec::new();
    for node in listed["nodes"].as_array().into_iter().flatten() {
        let Some(memory) = records.get(&str_of(&node["id"])) else { continue };
        if !json_eq(node, memory) {
            mismatches.push(format!("SQL {node}\n  memory {memory}"));
        }
    }
    assert!(mismatches.is_empty(), "seed {seed}: values differ:\n{}", mismatches.join("\n"));

    // Filters: a list (SQL) against a subscription (memory).
    let (mismatches, matched_any) =
        crate::property::sql_against_memory(&t, &items, &predicates, &probes, &mut pushed).await;
    assert!(mismatches.is_empty(), "seed {seed}: filters differ:\n{}", mismatches.join("\n"));
    assert!(matched_any > PREDICATES / 4, "seed {seed}: too few predicates matched anything ({matched_any})");

    // Order: SQL's ORDER BY against memory's values sorted.
    for (key, _, ty) in FORMULAS {
        let name = camel(key);
        let args = format!(
            "filter: {{{name}: {{isNull: false}}}}, orderBy: [{{field: {}, direction: ASC}}], first: 500",
            key.to_uppercase()
        );
        let listed = t.list(&items, &args, json!({}), SELECTION).await;
        let sql: Vec<Value> = listed["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| !probes.contains(&str_of(&n["id"])))
            .map(|n| n[&name].clone())
            .collect();
        let mut memory: Vec<Value> =
            records.values().map(|r| r[&name].clone()).filter(|v| !v.is_null()).collect();
        memory.sort_by(|a, b| order(ty, a, b));
        let same = sql.len() == memory.len()
            && sql.iter().zip(&memory).all(|(a, b)| order(ty, a, b) == Ordering::Equal);
        assert!(same, "seed {seed}: order by {key} differs:\n  SQL {sql:?}\n  memory {memory:?}");
    }
}
