//! Property tests, seeded: a failure prints the seed; `ALPHERY_PROPTEST_SEED` replays it.
//!
//! The filter language has two enforcers — compiled SQL (lists, counts, row rules on reads) and
//! in-memory evaluation (subscription events, row rules on writes). For random records and
//! random predicates over every filterable field type, the records a subscription with filter F
//! is told about must be exactly the records `list(filter: F)` returns.
//!
//! Row rules take the same random predicates, with `$user.<key>` operands and `within` a
//! hierarchy among their leaves: what a user lists (SQL) is what their subscription hears
//! (memory, the closure loaded once per subscription).
//!
//! NUMBER values survive storage exactly: random finite floats (huge, tiny, subnormal,
//! negative, integers beyond 2^53) created and updated through GraphQL read back as the same
//! float, and the audit chain that recorded them still verifies — the database's own number
//! normalisation (PostgreSQL JSONB keeps numbers as `numeric`) must not change what was hashed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::audit::verify;
use crate::harness::*;

/// xorshift64*: small, seedable, good enough to explore the space.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const TEXTS: &[&str] = &["Alpha", "alpha", "beta", "Gamma", "ALPHA beta", "delta_x", "50%", ""];
const SCORES: &[f64] = &[-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0];
const PRICES: &[&str] = &["-3.25", "0.00", "1.50", "2.00", "10.00"];
const DAYS: &[&str] = &["2026-01-01", "2026-01-15", "2026-02-01"];
const TIMES: &[&str] = &["2026-01-01T10:00:00.000Z", "2026-01-01T12:00:00.500Z", "2026-02-01T00:00:00.000Z"];
const TIERS: &[&str] = &["gold", "silver", "bronze"];
const TAGS: &[&str] = &["a", "b", "c", "d"];

/// The fields of the test entity: (GraphQL name, field type).
const FIELDS: &[(&str, &str)] = &[
    ("name", "TEXT"),
    ("score", "NUMBER"),
    ("price", "CURRENCY"),
    ("active", "BOOLEAN"),
    ("day", "DATE"),
    ("at", "DATETIME"),
    ("tier", "SELECT"),
    ("tags", "MULTI_SELECT"),
];

/// A value of `ty` from its small domain (so predicates often match).
fn value(rng: &mut Rng, ty: &str) -> Value {
    match ty {
        "TEXT" => json!(rng.pick(TEXTS)),
        "NUMBER" => json!(rng.pick(SCORES)),
        "CURRENCY" => json!(rng.pick(PRICES)),
        "BOOLEAN" => json!(rng.chance(50)),
        "DATE" => json!(rng.pick(DAYS)),
        "DATETIME" => json!(rng.pick(TIMES)),
        "SELECT" => json!(rng.pick(TIERS)),
        _ => {
            let tags: Vec<&str> = TAGS.iter().copied().filter(|_| rng.chance(40)).collect();
            json!(tags)
        }
    }
}

fn record(rng: &mut Rng) -> Value {
    let mut m = serde_json::Map::new();
    for (name, ty) in FIELDS {
        if !rng.chance(25) {
            m.insert((*name).to_owned(), value(rng, ty));
        }
    }
    Value::Object(m)
}

fn list_of(rng: &mut Rng, ty: &str) -> Value {
    let n = rng.below(3);
    Value::Array((0..n).map(|_| value(rng, ty)).collect())
}

/// One condition on a random field with an operator its type supports.
fn leaf(rng: &mut Rng) -> Value {
    let (name, ty) = *rng.pick(FIELDS);
    let (op, operand) = match ty {
        "TEXT" => {
            let op = *rng.pick(&["eq", "neq", "in", "notIn", "contains", "startsWith", "isNull"]);
            let operand = match op {
                "in" | "notIn" => list_of(rng, ty),
                "contains" | "startsWith" => json!(rng.pick(&["a", "AL", "beta", "%", "_", "x", "Gam"])),
                "isNull" => json!(rng.chance(50)),
                _ => value(rng, ty),
            };
            (op, operand)
        }
        "NUMBER" | "CURRENCY" | "DATE" | "DATETIME" => {
            let op = *rng.pick(&["eq", "neq", "gt", "gte", "lt", "lte", "in", "isNull"]);
            let operand = match op {
                "in" => list_of(rng, ty),
                "isNull" => json!(rng.chance(50)),
                _ => value(rng, ty),
            };
            (op, operand)
        }
        "BOOLEAN" => {
            let op = *rng.pick(&["eq", "isNull"]);
            (op, json!(rng.chance(50)))
        }
        "SELECT" => {
            let op = *rng.pick(&["eq", "neq", "in", "notIn", "isNull"]);
            let operand = match op {
                "in" | "notIn" => list_of(rng, ty),
                "isNull" => json!(rng.chance(50)),
                _ => value(rng, ty),
            };
            (op, operand)
        }
        _ => {
            let op = *rng.pick(&["containsAny", "containsAll", "isNull"]);
            let operand = if op == "isNull" { json!(rng.chance(50)) } else { value(rng, ty) };
            (op, operand)
        }
    };
    json!({ name: { op: operand } })
}

/// A random predicate: leaves combined with `and`, `or`, `not`, up to `depth` levels.
fn predicate(rng: &mut Rng, depth: u32) -> Value {
    predicate_of(rng, depth, &mut leaf)
}

/// A random predicate over the leaves `leaf` makes.
fn predicate_of(rng: &mut Rng, depth: u32, leaf: &mut impl FnMut(&mut Rng) -> Value) -> Value {
    if depth == 0 || rng.chance(45) {
        return leaf(rng);
    }
    let mut some =
        |rng: &mut Rng| (0..1 + rng.below(3)).map(|_| predicate_of(rng, depth - 1, leaf)).collect::<Vec<_>>();
    match rng.below(3) {
        0 => json!({ "and": some(rng) }),
        1 => json!({ "or": some(rng) }),
        _ => json!({ "not": predicate_of(rng, depth - 1, leaf) }),
    }
}

/// A leaf of a row rule: an ordinary one, the same comparing with the user's attribute of the
/// field (`$user.<field>`), or the record's unit `within` a unit or the user's unit.
fn rule_leaf(rng: &mut Rng, units: &[String]) -> Value {
    match rng.below(4) {
        0 => {
            json!({"unit": {"within": if rng.chance(50) { json!("$user.unit") } else { json!(rng.pick(units)) }}})
        }
        1 => {
            let (name, ty) = *rng.pick(&FIELDS[..7]);
            let ops: &[&str] = match ty {
                "BOOLEAN" => &["eq"],
                "TEXT" | "SELECT" => &["eq", "neq"],
                _ => &["eq", "neq", "gt", "lte"],
            };
            let (op, operand) = (*rng.pick(ops), format!("$user.{name}"));
            json!({ name: { op: operand } })
        }
        _ => leaf(rng),
    }
}

/// Collects `next` messages into `pushed` (by subscription id) until `quiet` passes silently.
async fn drain(ws: &mut Ws, pushed: &mut BTreeMap<String, BTreeSet<String>>, quiet: std::time::Duration) {
    loop {
        match ws.recv(quiet).await {
            WsEvent::Message(m) if m["type"] == "next" => {
                let id = str_of(&m["payload"]["data"]["itemChanged"]["record"]["id"]);
                pushed.entry(str_of(&m["id"])).or_default().insert(id);
            }
            WsEvent::Message(m) => panic!("unexpected message {m}"),
            WsEvent::Closed(code) => panic!("socket closed ({code:?})"),
            WsEvent::Timeout => return,
        }
    }
}

/// The fields of the test entity, as `defineEntity` takes them.
fn item_fields() -> Vec<Value> {
    FIELDS
        .iter()
        .map(|(name, ty)| match *ty {
            "SELECT" => field(name, ty, json!({"options": TIERS})),
            "MULTI_SELECT" => field(name, ty, json!({"options": TAGS})),
            _ => field(name, ty, json!({})),
        })
        .collect()
}

pub(crate) fn seed() -> u64 {
    std::env::var("ALPHERY_PROPTEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos());
        (nanos.unwrap_or(1) as u64) | 1
    })
}

#[tokio::test]
async fn sql_and_in_memory_filters_agree_on_random_records_and_predicates() {
    const RECORDS: usize = 40;
    const PREDICATES: usize = 30;
    let seed = seed();
    eprintln!("property: seed {seed} (replay with ALPHERY_PROPTEST_SEED={seed})");
    let mut rng = Rng(seed);
    let t = tenant().await;
    t.define(entity("item", "items", item_fields(), json!({}))).await;
    let items = Names::new("item", "items");

    let predicates: Vec<Value> = (0..PREDICATES).map(|_| predicate(&mut rng, 3)).collect();
    let subscription = "subscription($f: ItemFilter) { itemChanged(filter: $f) { record { id } } }";
    let mut ws = t.ws().await;
    for (i, p) in predicates.iter().enumerate() {
        ws.subscribe(&format!("p{i}"), subscription, json!({"f": p})).await;
    }
    // An unfiltered control subscription, subscribed last: once it hears a probe record, the
    // streams subscribed before it are live; once it has heard every record, so have they.
    ws.subscribe("all", subscription, json!({"f": null})).await;
    let mut pushed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut probes = BTreeSet::new();
    while probes.is_empty() || !pushed.get("all").is_some_and(|all| probes.iter().any(|p| all.contains(p))) {
        assert!(probes.len() < 20, "the subscriptions never became live");
        probes.insert(str_of(&t.create(&items, json!({}), "").await["id"]));
        drain(&mut ws, &mut pushed, LISTEN_WINDOW).await;
    }
    let mut created = BTreeSet::new();
    for _ in 0..RECORDS {
        created.insert(str_of(&t.create(&items, record(&mut rng), "").await["id"]));
    }
    eventually("the control subscription to hear every record", TIMEOUT, async || {
        drain(&mut ws, &mut pushed, LISTEN_WINDOW).await;
        let heard = pushed.get("all");
        let missed: Vec<&String> =
            created.iter().filter(|id| !heard.is_some_and(|h| h.contains(*id))).collect();
        if missed.is_empty() { Ok(()) } else { Err(missed) }
    })
    .await;
    // Stragglers of the filtered streams.
    drain(&mut ws, &mut pushed, SILENCE).await;
    for ids in pushed.values_mut() {
        ids.retain(|id| !probes.contains(id));
    }
    // What the SQL enforcer returns for the same predicates.
    let (mismatches, matched_any) = sql_against_memory(&t, &items, &predicates, &probes, &mut pushed).await;
    assert!(mismatches.is_empty(), "seed {seed}: the enforcers disagree:\n{}", mismatches.join("\n"));
    assert!(matched_any > PREDICATES / 4, "seed {seed}: too few predicates matched anything ({matched_any})");
}

/// Lists `items` (SQL) under each of `predicates` and compares the ids, probes left out, with
/// what subscription `p<i>` received (memory): the disagreements, described, and how many
/// predicates matched anything. Each page's `totalCount` must be its length (500 is above every
/// test's record count).
pub async fn sql_against_memory(
    t: &TestTenant,
    items: &Names,
    predicates: &[Value],
    probes: &BTreeSet<String>,
    pushed: &mut BTreeMap<String, BTreeSet<String>>,
) -> (Vec<String>, usize) {
    let (mut mismatches, mut matched_any) = (Vec::new(), 0);
    for (i, p) in predicates.iter().enumerate() {
        let listed = t.list(items, "filter: $filter, first: 500", json!({"filter": p}), "").await;
        assert_eq!(
            listed["totalCount"],
            json!(listed["nodes"].as_array().map_or(0, Vec::len)),
            "totalCount vs page for {p}"
        );
        let sql: BTreeSet<String> =
            pluck_str(&listed["nodes"], "id").into_iter().filter(|id| !probes.contains(id)).collect();
        let memory = pushed.remove(&format!("p{i}")).unwrap_or_default();
        matched_any += usize::from(!sql.is_empty());
        if sql != memory {
            mismatches.push(format!(
                "predicate {p}\n  only SQL: {:?}\n  only in memory: {:?}",
                sql.difference(&memory).collect::<Vec<_>>(),
                memory.difference(&sql).collect::<Vec<_>>()
            ));
        }
    }
    (mismatches, matched_any)
}

#[tokio::test]
async fn row_rules_with_user_attributes_and_within_agree_in_sql_and_memory() {
    const RULES: usize = 8;
    const RECORDS: usize = 30;
    let seed = seed();
    eprintln!("property: seed {seed} (replay with ALPHERY_PROPTEST_SEED={seed})");
    let mut rng = Rng(seed);
    let t = tenant().await;
    t.define(entity("unit", "units", vec![field("name", "TEXT", json!({}))], json!({}))).await;
    let parent = json!({"key": "parent", "label": "Parent", "type": "RELATION", "relatedEntity": "unit", "hierarchy": true});
    t.data(
        "mutation($f: FieldInput!) { addField(entity: \"unit\", field: $f) { id } }",
        json!({"f": parent}),
    )
    .await;
    let mut fields = item_fields();
    fields.push(field("unit", "RELATION", json!({"relatedEntity": "unit"})));
    t.define(entity("item", "items", fields, json!({}))).await;
    let (items, unit) = (Names::new("item", "items"), Names::new("unit", "units"));
    // A forest: a root with two children and a grandchild under each, and a lone unit.
    let mut units: Vec<String> = Vec::new();
    for parent in [None, Some(0), Some(0), Some(1), Some(2), None] {
        let input = match parent {
            Some(i) => json!({"name": "u", "parent": units[i]}),
            None => json!({"name": "u"}),
        };
        units.push(str_of(&t.create(&unit, input, "").await["id"]));
    }
    // One role and user per rule, with random attributes (now and then one missing).
    let mut users = Vec::new();
    for i in 0..RULES {
        let rule = predicate_of(&mut rng, 2, &mut |rng: &mut Rng| rule_leaf(rng, &units));
        let name = format!("rule{i}");
        t.create_role(
            &name,
            json!({"item": {"actions": ["read"], "where": rule}, "unit": {"actions": ["read"]}}),
        )
        .await;
        let mut attributes = serde_json::Map::new();
        for (key, ty) in &FIELDS[..7] {
            if !rng.chance(15) {
                attributes.insert((*key).to_owned(), value(&mut rng, ty));
            }
        }
        if !rng.chance(15) {
            attributes.insert("unit".into(), json!(rng.pick(&units)));
        }
        let payload = t.invite(&name).await;
        let set = "mutation($u: ID!, $a: JSON!) { setUserAttributes(userId: $u, attributes: $a) { id } }";
        t.data(set, json!({"u": payload["user"]["id"], "a": attributes})).await;
        users.push((rule, str_of(&payload["accessToken"])));
    }
    // Subscribed once every role and attribute is in place (a change of theirs closes sockets).
    let mut subscribed = Vec::new();
    for (rule, token) in users {
        let query = "subscription { itemChanged { record { id } } }";
        let ws = crate::hierarchy::steady_subscription(&t, &token, query).await;
        subscribed.push((rule, Auth::Bearer(token), ws));
    }
    let mut created = Vec::new();
    for _ in 0..RECORDS {
        let mut input = record(&mut rng);
        if !rng.chance(20) {
            input["unit"] = json!(rng.pick(&units));
        }
        created.push(str_of(&t.create(&items, input, "").await["id"]));
    }
    let mut mismatches = Vec::new();
    for (rule, auth, mut ws) in subscribed {
        let listed =
            t.api.graphql(&auth, "{ items(first: 500) { edges { node { id } } } }", json!({})).await.data();
        let sql: BTreeSet<String> = listed["items"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| str_of(&e["node"]["id"]))
            .collect();
        let mut heard = BTreeSet::new();
        // Every matching record's event arrives; then a quiet window for strays.
        let deadline = std::time::Instant::now() + TIMEOUT;
        while std::time::Instant::now() < deadline {
            match ws.recv(if heard.len() < sql.len() { TIMEOUT } else { SILENCE }).await {
                WsEvent::Message(m) if m["type"] == "next" => {
                    heard.insert(str_of(&m["payload"]["data"]["itemChanged"]["record"]["id"]));
                }
                WsEvent::Message(m) => panic!("unexpected message {m}"),
                WsEvent::Closed(code) => panic!("socket closed ({code:?})"),
                WsEvent::Timeout => break,
            }
        }
        if sql != heard {
            mismatches.push(format!(
                "rule {rule}\n  only SQL: {:?}\n  only in memory: {:?}",
                sql.difference(&heard),
                heard.difference(&sql)
            ));
        }
    }
    assert!(mismatches.is_empty(), "seed {seed}: the enforcers disagree:\n{}", mismatches.join("\n"));
    assert_eq!(created.len(), RECORDS);
}

/// Floats whose round trip once failed or sits on an edge: huge and tiny exponents, the largest
/// and smallest (subnormal) magnitudes, negative zero, powers of two around the integer types.
const EDGE_NUMBERS: &[f64] = &[
    2.5e250,
    1.2345678901234567e200,
    7.7e307,
    1.7e308,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    5e-324,
    -0.0,
    1e16,
    9_007_199_254_740_992.0,
    9_223_372_036_854_775_808.0,
    -9_223_372_036_854_775_808.0,
    18_446_744_073_709_551_616.0,
    0.1,
    1e-7,
];

/// A random finite float of one of the shapes that stress a number's round trip.
fn number(rng: &mut Rng) -> f64 {
    loop {
        let n = match rng.below(7) {
            // Any bit pattern: every exponent, subnormals included.
            0 => f64::from_bits(rng.next()),
            1 => f64::from_bits(rng.next() % (1 << 52)),
            // Integers beyond 2^53, both signs.
            2 => rng.next() as f64,
            3 => rng.next() as i64 as f64,
            // A short decimal at any exponent (what people type: `2.5e250`).
            4 => format!("{}.{}e{}", rng.below(9) + 1, rng.below(1000), rng.below(630) as i64 - 320)
                .parse()
                .unwrap_or(0.0),
            5 => (rng.next() % 2_000_001) as f64 / 1000.0 - 1000.0,
            _ => *rng.pick(EDGE_NUMBERS),
        };
        if n.is_finite() {
            return n;
        }
    }
}

/// Asserts that a NUMBER read back through GraphQL is `want` (negative zero reads as zero).
fn assert_number(got: &Value, want: f64, context: &str) {
    assert!(got.as_f64() == Some(want), "{context}: sent {want:e}, read back {got}");
}

#[tokio::test]
async fn number_values_round_trip_exactly_and_keep_the_audit_chain_valid() {
    const VALUES: usize = 40;
    let seed = seed();
    eprintln!("property: seed {seed} (replay with ALPHERY_PROPTEST_SEED={seed})");
    let mut rng = Rng(seed);
    let t = tenant().await;
    t.define(entity("reading", "readings", vec![field("n", "NUMBER", json!({}))], json!({}))).await;
    let readings = Names::new("reading", "readings");
    // As literals in the query, the way the numbers were first reported.
    for literal in ["2.5e250", "1.2345678901234567e200", "7.7e307", "1.7e308", "-0.0", "5e-324"] {
        let query = format!("mutation {{ createReading(input: {{n: {literal}}}) {{ id n }} }}");
        let created = t.data(&query, json!({})).await["createReading"].clone();
        assert_number(&created["n"], literal.parse().unwrap_or(f64::NAN), "literal");
    }
    // As variables, created then updated, so the audit holds each value as `new` and as `old`.
    let mut values: Vec<f64> = EDGE_NUMBERS.to_vec();
    values.extend((0..VALUES).map(|_| number(&mut rng)));
    for pair in values.chunks(2) {
        let (a, b) = (pair[0], pair[pair.len() - 1]);
        let context = format!("seed {seed}");
        let created = t.create(&readings, json!({ "n": a }), "n").await;
        assert_number(&created["n"], a, &context);
        let id = str_of(&created["id"]);
        assert_number(&t.get(&readings, &id, "n").await["n"], a, &context);
        assert_number(&t.update(&readings, &id, json!({ "n": b }), "n").await["n"], b, &context);
        assert_number(&t.get(&readings, &id, "n").await["n"], b, &context);
    }
    let verification = verify(&t).await;
    assert_eq!(verification["ok"], json!(true), "seed {seed}: {verification}");
    assert!(verification["checked"].as_i64().unwrap_or(0) > values.len() as i64, "{verification}");
}
