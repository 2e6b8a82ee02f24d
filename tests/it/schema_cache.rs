//! The schema cache (`api/src/schema/registry.rs`): tenants whose definitions and role read
//! the same share one compiled schema and its query plans, yet each request reads its own
//! tenant's entities, records and definitions; the cache compiles once per shape and keeps
//! within its memory budget (`SCHEMA_CACHE_MB`), rebuilding what it let go.

use serde_json::{Value, json};

use crate::harness::*;
use crate::http::metric;

const PLAN: &str = "x-alphery-plan";

/// `maker` and `gadget` (a price, a relation to maker); `label` names the maker entity, so
/// tenants given one label have one shape and no other test's tenant shares it.
async fn define_gadgets(t: &TestTenant, label: &str) -> String {
    t.define(entity(
        "maker",
        "makers",
        vec![field("name", "TEXT", json!({ "required": true }))],
        json!({ "labelPlural": label }),
    ))
    .await;
    let gadget = t
        .define(entity(
            "gadget",
            "gadgets",
            vec![
                field("name", "TEXT", json!({ "required": true })),
                field("price", "CURRENCY", json!({})),
                field(
                    "maker",
                    "RELATION",
                    json!({ "relatedEntity": "maker", "relationKind": "MANY_TO_ONE" }),
                ),
            ],
            json!({}),
        ))
        .await;
    str_of(&gadget["id"])
}

/// A maker and a gadget of it; returns (maker id, gadget id).
async fn make(t: &TestTenant, maker: &str, gadget: &str, price: &str) -> (String, String) {
    let m = str_of(&t.create(&Names::new("maker", "makers"), json!({ "name": maker }), "").await["id"]);
    let input = json!({ "name": gadget, "price": price, "maker": m });
    let g = str_of(&t.create(&Names::new("gadget", "gadgets"), input, "").await["id"]);
    (m, g)
}

const READ: &str = "query($id: ID!) { gadget(id: $id) { name maker { name } } \
    gadgets { totalCount nodes { id name maker { name } } } }";

#[tokio::test]
async fn tenants_of_one_shape_share_a_schema_yet_each_reads_its_own() {
    let (a, b) = (tenant().await, tenant().await);
    let label = format!("Makers {}", unique_slug());
    let gadget_a = define_gadgets(&a, &label).await;
    let gadget_b = define_gadgets(&b, &label).await;
    assert_ne!(gadget_a, gadget_b, "each tenant has its own entity");
    let (maker_a, g_a) = make(&a, "Maker A", "Gadget A", "10.00").await;
    let (maker_b, g_b) = make(&b, "Maker B", "Gadget B", "20.00").await;

    // A's first answer of the text is the executor's, its second the plan's; B's first is
    // already the plan's: learnt from A, as B's tenant shares A's schema.
    let first = a.api.graphql(&a.auth(), READ, json!({ "id": g_a })).await;
    assert_eq!(first.header(PLAN), None, "{}", first.text);
    let from_plan = a.api.graphql(&a.auth(), READ, json!({ "id": g_a })).await;
    assert_eq!(from_plan.header(PLAN).as_deref(), Some("compiled"));
    assert_eq!(from_plan.body, first.body);
    let of_b = b.api.graphql(&b.auth(), READ, json!({ "id": g_b })).await;
    assert_eq!(of_b.header(PLAN).as_deref(), Some("compiled"), "B shares A's plans: {}", of_b.text);

    // Each reads its own records, through the plan and through the executor alike.
    let own = |name: &str, maker: &str, id: &str| {
        json!({
            "gadget": { "name": name, "maker": { "name": maker } },
            "gadgets": { "totalCount": 1, "nodes": [{ "id": id, "name": name, "maker": { "name": maker } }] }
        })
    };
    assert_eq!(first.data(), own("Gadget A", "Maker A", &g_a));
    assert_eq!(of_b.data(), own("Gadget B", "Maker B", &g_b));
    let foreign = b.api.graphql(&b.auth(), READ, json!({ "id": g_a })).await;
    assert_eq!(foreign.data()["gadget"], Value::Null, "B cannot read A's gadget: {}", foreign.text);
    let executor = |id: &str| {
        format!(
            "{{ maker(id: \"{id}\") {{ name gadgets {{ nodes {{ name }} }} }} \
             gadgetsAggregate {{ count }} entity(name: \"gadget\") {{ id }} }}"
        )
    };
    let seen_by_b = b.data(&executor(&maker_b), json!({})).await;
    assert_eq!(
        seen_by_b,
        json!({
            "maker": { "name": "Maker B", "gadgets": { "nodes": [{ "name": "Gadget B" }] } },
            "gadgetsAggregate": [{ "count": 1 }],
            "entity": { "id": gadget_b }
        })
    );
    let seen_by_a = a.data(&executor(&maker_a), json!({})).await;
    assert_eq!(seen_by_a["maker"]["gadgets"]["nodes"], json!([{ "name": "Gadget A" }]));
    assert_eq!(seen_by_a["entity"]["id"], json!(gadget_a));
    assert_eq!(b.data(&executor(&maker_a), json!({})).await["maker"], Value::Null);

    // Writes land in the writer's tenant and entity.
    let gadgets = Names::new("gadget", "gadgets");
    b.update_raw(&gadgets, &g_a, json!({ "name": "hijacked" }), "").await.expect_code("NOT_FOUND");
    let renamed = b.update(&gadgets, &g_b, json!({ "name": "Gadget B2" }), "name").await;
    assert_eq!(renamed["name"], json!("Gadget B2"));
    let again = a.api.graphql(&a.auth(), READ, json!({ "id": g_a })).await;
    assert_eq!(again.data(), own("Gadget A", "Maker A", &g_a));
}

/// A gauge or counter of `server`'s `/metrics`.
async fn counters(api: &Api) -> impl Fn(&str) -> f64 {
    let text = api.get("/metrics", &[]).await.text;
    move |name: &str| metric(&text, name)
}

#[tokio::test]
async fn the_cache_compiles_once_per_shape_and_keeps_within_its_budget() {
    let server = small_cache_server();
    let api = Api::new(server);
    let budget = (SMALL_CACHE_MB << 20) as f64;
    let held = |m: &dyn Fn(&str) -> f64| {
        m("alphery_schema_cache_bytes{part=\"schemas\"}") + m("alphery_schema_cache_bytes{part=\"tenants\"}")
    };

    let (a, b) = (tenant_on(server).await, tenant_on(server).await);
    let label = format!("Makers {}", unique_slug());
    define_gadgets(&a, &label).await;
    let (_, g_a) = make(&a, "Maker A", "Gadget A", "1.00").await;
    // B's definitions change its metadata version: its next request builds its schema.
    define_gadgets(&b, &label).await;
    let before = counters(&api).await;
    assert!(before("alphery_schema_cache_bytes{part=\"schemas\"}") > 0.0, "the cache weighs its schemas");
    assert!(before("alphery_schema_cache_bytes{part=\"tenants\"}") > 0.0, "and its tenants");

    // B's first request builds its own part and finds its shape compiled.
    b.data("{ apiVersion }", json!({})).await;
    let shared = counters(&api).await;
    assert_eq!(shared("alphery_schema_builds_total"), before("alphery_schema_builds_total") + 1.0);
    assert_eq!(shared("alphery_schema_compiles_total"), before("alphery_schema_compiles_total"));
    let (_, g_b) = make(&b, "Maker B", "Gadget B", "2.00").await;

    // Tenants of shapes of their own compile each; the cache lets the least recently used go
    // to stay within its budget (it always keeps the latest).
    let mut others = Vec::new();
    for i in 0..6 {
        let t = tenant_on(server).await;
        define_gadgets(&t, &format!("Makers {i} {}", unique_slug())).await;
        let (_, g) = make(&t, &format!("Maker {i}"), &format!("Gadget {i}"), "3.00").await;
        let m = counters(&api).await;
        assert!(held(&m) <= budget || m("alphery_schema_cache_entries") <= 1.0, "over budget: {}", held(&m));
        others.push((t, g, i));
    }
    let after = counters(&api).await;
    assert!(after("alphery_schema_compiles_total") >= shared("alphery_schema_compiles_total") + 6.0);
    assert!(after("alphery_schema_cache_shapes") < 8.0, "some shapes were let go");

    // Every tenant still gets its own answer: what was let go is built again.
    let builds = after("alphery_schema_builds_total");
    for (t, g, name) in [(&a, &g_a, "Gadget A".to_owned()), (&b, &g_b, "Gadget B".to_owned())]
        .into_iter()
        .chain(others.iter().map(|(t, g, i)| (t, g, format!("Gadget {i}"))))
    {
        let data = t.data(READ, json!({ "id": g })).await;
        assert_eq!(data["gadget"]["name"], json!(name));
        assert_eq!(data["gadgets"]["totalCount"], json!(1));
    }
    let end = counters(&api).await;
    assert!(end("alphery_schema_builds_total") > builds, "evicted tenants were rebuilt");
    assert!(held(&end) <= budget || end("alphery_schema_cache_entries") <= 1.0);
}
