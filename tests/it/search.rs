//! Full-text search of `searchable` fields, on both backends, through GraphQL: ranked hits
//! across entities (`globalSearch`), `search:` on a list with filters and pages, row rules
//! and field permissions (a hit only in a field the caller cannot read finds nothing),
//! writes changing results at once, tenant isolation, the back-fill when a field becomes
//! searchable (a large entity's by a job) and the removal when it stops; on PostgreSQL the
//! plan of a tenant's search reads the shared GIN index.

use entity::runtime::meta::TenantMeta;
use entity::runtime::search::query::{self, Scope};
use entity::runtime::store::{ListArgs, Store};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::harness::*;
use crate::plans::pg_plans;
use crate::rls::{connect, on_postgres, stmt};

const WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// A word no other test writes, so ranks and counts see only this test's entries.
fn word(stem: &str) -> String {
    format!("{stem}{}", unique_slug().replace(|c: char| !c.is_ascii_alphanumeric(), ""))
}

fn company() -> Names {
    Names::new("company", "companies")
}

fn contact() -> Names {
    Names::new("contact", "contacts")
}

fn deal() -> Names {
    Names::new("deal", "deals")
}

/// `company` (name, notes) and `contact` (full name, email), every text searchable, and `deal`
/// (title and a secret note searchable, region and stage to filter and rule on).
async fn crm() -> TestTenant {
    let t = tenant().await;
    let on = || json!({"searchable": true});
    t.define(entity(
        "company",
        "companies",
        vec![field("name", "TEXT", on()), field("notes", "TEXTAREA", on())],
        json!({}),
    ))
    .await;
    t.define(entity(
        "contact",
        "contacts",
        vec![field("full_name", "TEXT", on()), field("email", "EMAIL", on())],
        json!({"recordNumberPrefix": "CON"}),
    ))
    .await;
    t.define(entity(
        "deal",
        "deals",
        vec![
            field("title", "TEXT", on()),
            field("secret_note", "TEXTAREA", on()),
            field("region", "SELECT", json!({"options": ["North", "South"]})),
            field("stage", "SELECT", json!({"options": ["Open", "Won"], "searchable": true})),
        ],
        json!({}),
    ))
    .await;
    t
}

const GLOBAL: &str = "query($q: String!, $first: Int, $e: [String!]) { globalSearch(query: $q, first: $first, entities: $e) \
                      { entity id title fields snippet rank } }";

/// `globalSearch` as `auth`.
async fn global(t: &TestTenant, auth: &Auth, q: &str, entities: Option<Vec<&str>>) -> Vec<Value> {
    let vars = json!({"q": q, "first": 20, "e": entities});
    let data = t.api.graphql(auth, GLOBAL, vars).await.data();
    data["globalSearch"].as_array().cloned().unwrap_or_default()
}

/// The ids of a list's nodes found by `search:` as `auth` (with `filter` when given).
async fn listed(t: &TestTenant, auth: &Auth, names: &Names, q: &str, filter: Option<Value>) -> Vec<String> {
    let (args, vars) = match filter {
        Some(f) => ("search: $search, filter: $filter", json!({"search": q, "filter": f})),
        None => ("search: $search", json!({"search": q})),
    };
    let query = format!(
        "query($search: String{}) {{ {}({args}) {{ nodes {{ id }} }} }}",
        if vars.get("filter").is_some() {
            format!(", $filter: {}Filter", names.type_name)
        } else {
            String::new()
        },
        names.plural
    );
    let data = t.api.graphql(auth, &query, vars).await.data();
    sorted(pluck_str(&data[&names.plural]["nodes"], "id"))
}

fn ids(hits: &[Value]) -> Vec<String> {
    hits.iter().map(|h| str_of(&h["id"])).collect()
}

#[tokio::test]
async fn hits_across_two_entities_come_ranked_with_the_fields_that_matched() {
    let t = crm().await;
    let w = word("zephyr");
    let acme = t
        .create(
            &company(),
            json!({"name": format!("{w} Industries"), "notes": format!("{w} {w} supplier of {w} parts")}),
            "",
        )
        .await;
    let ann =
        t.create(&contact(), json!({"fullName": format!("Ann {w}"), "email": "ann@example.com"}), "").await;
    t.create(&contact(), json!({"fullName": "Bob Other", "email": "bob@example.com"}), "").await;

    let hits = global(&t, &t.auth(), &w, None).await;
    assert_eq!(ids(&hits), vec![str_of(&acme["id"]), str_of(&ann["id"])], "{hits:#?}");
    assert_eq!(hits[0]["entity"], json!("company"));
    assert_eq!(hits[0]["title"], json!(format!("{w} Industries")));
    let fields: Vec<String> =
        hits[0]["fields"].as_array().map(|f| f.iter().map(str_of).collect()).unwrap_or_default();
    assert_eq!(sorted(fields), strings(&["name", "notes"]));
    assert!(hits[0]["rank"].as_f64().unwrap_or(0.0) > hits[1]["rank"].as_f64().unwrap_or(0.0), "{hits:#?}");
    assert_eq!(hits[1]["entity"], json!("contact"));
    assert_eq!(hits[1]["fields"], json!(["fullName"]));
    assert!(str_of(&hits[1]["snippet"]).contains(&format!("<mark>{w}</mark>")), "{hits:#?}");

    // One entity only; words all required; an e-mail address by a part of it or whole.
    assert_eq!(ids(&global(&t, &t.auth(), &w, Some(vec!["contact"])).await), vec![str_of(&ann["id"])]);
    assert!(global(&t, &t.auth(), &format!("{w} nowhere"), None).await.is_empty());
    // The words of a search may be in different fields: the name and the e-mail address.
    let across = global(&t, &t.auth(), &format!("{w} example"), None).await;
    assert_eq!(ids(&across), vec![str_of(&ann["id"])], "{across:#?}");
    assert_eq!(
        sorted(across[0]["fields"].as_array().map(|f| f.iter().map(str_of).collect()).unwrap_or_default()),
        strings(&["email", "fullName"])
    );
    let bob = global(&t, &t.auth(), "bob@example.com", Some(vec!["contact"])).await;
    assert_eq!(bob.len(), 1, "{bob:#?}");
    assert_eq!(global(&t, &t.auth(), "bob", Some(vec!["contact"])).await.len(), 1);
    // An unknown entity is the caller's mistake.
    let r = t.api.graphql(&t.auth(), GLOBAL, json!({"q": w, "e": ["nope"]})).await;
    r.expect_code("BAD_REQUEST");
}

#[tokio::test]
async fn a_lists_search_combines_with_its_filter_and_pages() {
    let t = crm().await;
    let w = word("quasar");
    let won =
        t.create(&deal(), json!({"title": format!("{w} one"), "region": "North", "stage": "Won"}), "").await;
    let open =
        t.create(&deal(), json!({"title": format!("{w} two"), "region": "North", "stage": "Open"}), "").await;
    let other = t.create(&deal(), json!({"title": "unrelated", "region": "North", "stage": "Won"}), "").await;

    assert_eq!(
        listed(&t, &t.auth(), &deal(), &w, None).await,
        sorted(vec![str_of(&won["id"]), str_of(&open["id"])])
    );
    let stage_won = json!({"stage": {"eq": "Won"}});
    assert_eq!(listed(&t, &t.auth(), &deal(), &w, Some(stage_won)).await, vec![str_of(&won["id"])]);
    // A SELECT's option is searchable text too, and the words of a search may be found in
    // different fields of a record.
    let both = sorted(vec![str_of(&won["id"]), str_of(&other["id"])]);
    assert_eq!(listed(&t, &t.auth(), &deal(), "won", None).await, both);
    assert_eq!(listed(&t, &t.auth(), &deal(), &format!("{w} won"), None).await, vec![str_of(&won["id"])]);
    assert_eq!(listed(&t, &t.auth(), &deal(), &format!("{w} -won"), None).await, vec![str_of(&open["id"])]);
    let either = sorted(vec![str_of(&won["id"]), str_of(&open["id"])]);
    assert_eq!(listed(&t, &t.auth(), &deal(), &format!("{w} one or two"), None).await, either);
    // Whole words: a fragment is not a word (the substring match is for entities with no
    // searchable field).
    assert!(listed(&t, &t.auth(), &deal(), &w[..w.len() - 2], None).await.is_empty());

    let page = t
        .connection(
            &deal(),
            json!({"search": w, "first": 1}),
            "totalCount nodes { id } pageInfo { hasNextPage endCursor }",
        )
        .await;
    assert_eq!(
        (page["totalCount"].clone(), page["pageInfo"]["hasNextPage"].clone()),
        (json!(2), json!(true))
    );
    let after = str_of(&page["pageInfo"]["endCursor"]);
    let next = t
        .connection(
            &deal(),
            json!({"search": w, "first": 1, "after": after}),
            "nodes { id } pageInfo { hasNextPage }",
        )
        .await;
    assert_eq!(next["pageInfo"]["hasNextPage"], json!(false));
    let both = sorted(vec![str_of(&page["nodes"][0]["id"]), str_of(&next["nodes"][0]["id"])]);
    assert_eq!(both, sorted(vec![str_of(&won["id"]), str_of(&open["id"])]));
}

#[tokio::test]
async fn row_rules_and_unreadable_fields_keep_records_out_of_search() {
    let t = crm().await;
    let w = word("nimbus");
    let rules = json!({
        "deal": {"actions": ["read"], "where": {"region": {"eq": "North"}}, "fields": {"secret_note": "none"}},
        "company": {"actions": ["read"]}
    });
    t.create_role("north", rules).await;
    let member = t.invite_auth("north").await;
    let north = t.create(&deal(), json!({"title": format!("{w} north"), "region": "North"}), "").await;
    let south = t.create(&deal(), json!({"title": format!("{w} south"), "region": "South"}), "").await;
    // Only in the field the member may not read.
    let hidden = t
        .create(
            &deal(),
            json!({"title": "plain", "secretNote": format!("{w} hidden"), "region": "North"}),
            "",
        )
        .await;
    let all = sorted(vec![str_of(&north["id"]), str_of(&south["id"]), str_of(&hidden["id"])]);

    assert_eq!(listed(&t, &t.auth(), &deal(), &w, None).await, all);
    assert_eq!(sorted(ids(&global(&t, &t.auth(), &w, None).await)), all);

    assert_eq!(listed(&t, &member, &deal(), &w, None).await, vec![str_of(&north["id"])]);
    let hits = global(&t, &member, &w, None).await;
    assert_eq!(ids(&hits), vec![str_of(&north["id"])], "{hits:#?}");
    assert_eq!(hits[0]["fields"], json!(["title"]));
    // Not even a phrase from the hidden field, nor its snippet.
    assert!(global(&t, &member, &format!("{w} hidden"), None).await.is_empty());
    assert!(listed(&t, &member, &deal(), "hidden", None).await.is_empty());
    // Contacts are not the member's to read: naming them is the same as naming nothing.
    let r = t.api.graphql(&member, GLOBAL, json!({"q": w, "e": ["contact"]})).await;
    r.expect_code("BAD_REQUEST");
}

#[tokio::test]
async fn updates_deletes_and_restores_change_the_results_at_once() {
    let t = crm().await;
    let (before, after) = (word("amber"), word("cobalt"));
    let c = t.create(&company(), json!({"name": format!("{before} Ltd")}), "").await;
    let id = str_of(&c["id"]);
    assert_eq!(ids(&global(&t, &t.auth(), &before, None).await), vec![id.clone()]);

    t.update(&company(), &id, json!({"name": format!("{after} Ltd")}), "").await;
    assert!(global(&t, &t.auth(), &before, None).await.is_empty());
    assert_eq!(ids(&global(&t, &t.auth(), &after, None).await), vec![id.clone()]);
    assert_eq!(listed(&t, &t.auth(), &company(), &after, None).await, vec![id.clone()]);

    // A value cleared takes its entry with it; another field keeps the record found.
    t.update(&company(), &id, json!({"notes": format!("{before} notes")}), "").await;
    t.update(&company(), &id, json!({"name": null}), "").await;
    assert!(global(&t, &t.auth(), &after, None).await.is_empty());
    assert_eq!(ids(&global(&t, &t.auth(), &before, None).await), vec![id.clone()]);

    t.delete(&company(), &id).await;
    assert!(global(&t, &t.auth(), &before, None).await.is_empty());
    assert!(listed(&t, &t.auth(), &company(), &before, None).await.is_empty());
    t.restore(&company(), &id).await;
    assert_eq!(ids(&global(&t, &t.auth(), &before, None).await), vec![id]);
}

#[tokio::test]
async fn another_tenants_records_never_appear() {
    let (a, b) = (crm().await, crm().await);
    let w = word("ferrum");
    let mine = a.create(&company(), json!({"name": format!("{w} A")}), "").await;
    let theirs = b.create(&company(), json!({"name": format!("{w} B")}), "").await;
    assert_eq!(ids(&global(&a, &a.auth(), &w, None).await), vec![str_of(&mine["id"])]);
    assert_eq!(ids(&global(&b, &b.auth(), &w, None).await), vec![str_of(&theirs["id"])]);
    assert_eq!(listed(&a, &a.auth(), &company(), &w, None).await, vec![str_of(&mine["id"])]);
}

#[tokio::test]
async fn a_field_marked_searchable_is_backfilled_and_unmarked_removed() {
    let t = tenant().await;
    let item = Names::new("item", "items");
    t.define(entity(
        "item",
        "items",
        vec![field("code", "TEXT", json!({})), field("size", "NUMBER", json!({}))],
        json!({}),
    ))
    .await;
    let w = word("gamma");
    let early = t.create(&item, json!({"code": format!("{w} early")}), "").await;
    // No searchable field: the substring match of old, and nothing for globalSearch.
    assert_eq!(listed(&t, &t.auth(), &item, &w[1..], None).await, vec![str_of(&early["id"])]);
    assert!(global(&t, &t.auth(), &w, None).await.is_empty());

    // Only text, e-mail, phone, URL and option fields can be searchable.
    let r = t
        .request(
            "mutation { updateField(entity: \"item\", key: \"size\", input: {searchable: true}) { id } }",
            json!({}),
        )
        .await;
    r.expect_code("VALIDATION_FAILED").expect_field_error_mentioning("searchable");

    // More records than a batch of the change's own transaction: a job writes the rest.
    let conn = connect().await;
    let db = entity::Db::connect(&database().url).await.expect("connect");
    let meta = TenantMeta::load_for(&db, &t.tenant_id).await.expect("metadata");
    let e = meta.entity_by_name("item").expect("item").id.clone();
    let n = entity::runtime::search::BATCH + 500;
    let bulk = if on_postgres() {
        format!(
            "INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
             SELECT gen_random_uuid(), $1, $2, jsonb_build_object('code', 'bulk' || g), now(), now(), 1 \
             FROM generate_series(1, {n}) g"
        )
    } else {
        format!(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {n}) \
             INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
             SELECT lower(hex(randomblob(16))), $1, $2, json_object('code', 'bulk' || n), \
             '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1 FROM g"
        )
    };
    conn.execute_raw(stmt(&conn, &bulk, vec![t.tenant_id.clone().into(), e.into()]))
        .await
        .expect("bulk insert");

    t.data(
        "mutation { updateField(entity: \"item\", key: \"code\", input: {searchable: true}) { id } }",
        json!({}),
    )
    .await;
    let field = t.data("{ entity(name: \"item\") { fields { key searchable } } }", json!({})).await;
    assert!(
        field["entity"]["fields"]
            .as_array()
            .is_some_and(|f| f.contains(&json!({"key": "code", "searchable": true})))
    );
    let last = format!("bulk{n}");
    eventually("the back-fill job to write every entry", WAIT, async || {
        let found = global(&t, &t.auth(), &last, None).await.len() == 1
            && global(&t, &t.auth(), &w, None).await.len() == 1;
        // Until the field is ready, `search:` matches substrings as before; after, words.
        found && listed(&t, &t.auth(), &item, &w[1..], None).await.is_empty()
    })
    .await;
    assert_eq!(listed(&t, &t.auth(), &item, &w, None).await, vec![str_of(&early["id"])]);
    let late = t.create(&item, json!({"code": format!("{w} late")}), "").await;
    assert_eq!(ids(&global(&t, &t.auth(), &w, None).await).len(), 2, "{late}");

    t.data(
        "mutation { updateField(entity: \"item\", key: \"code\", input: {searchable: false}) { id } }",
        json!({}),
    )
    .await;
    assert!(global(&t, &t.auth(), &w, None).await.is_empty());
    let left = "SELECT COUNT(*) AS n FROM record_search WHERE tenant_id = $1 AND field_key = 'code'";
    let row = conn.query_one_raw(stmt(&conn, left, vec![t.tenant_id.clone().into()])).await.expect("count");
    assert_eq!(row.map(|r| r.try_get::<i64>("", "n").expect("n")), Some(0), "entries left behind");
    // The substring match is back.
    assert_eq!(listed(&t, &t.auth(), &item, &w[1..], None).await.len(), 2);
}

#[tokio::test]
async fn a_tenants_search_reads_the_shared_index() {
    let t = crm().await;
    let w = word("zeppelin");
    let db = entity::Db::connect(&database().url).await.expect("connect");
    let conn = connect().await;
    let meta = TenantMeta::load_for(&db, &t.tenant_id).await.expect("metadata");
    let company_id = meta.entity_by_name("company").expect("company").id.clone();
    let company = meta.entity_by_name("company").expect("company").clone();
    let store = Store::new(&db, &t.tenant_id);
    let args = ListArgs { search: Some(w.clone()), first: Some(20), ..ListArgs::default() };
    let list = store.list_statement(&company, &args, 20).expect("list statement");
    let scopes = [Scope { entity: &company, row: None }];
    let global =
        query::global_statement(db.dialect, &t.tenant_id, &scopes, &w, 20).expect("statement").expect("some");
    if !on_postgres() {
        for s in [list, global] {
            let explain = format!("EXPLAIN QUERY PLAN {}", s.sql);
            let rows = conn
                .query_all_raw(sea_orm::Statement::from_sql_and_values(
                    conn.get_database_backend(),
                    explain,
                    s.values.map(|v| v.0).unwrap_or_default(),
                ))
                .await
                .expect("explain");
            let plan: Vec<String> =
                rows.iter().map(|r| r.try_get::<String>("", "detail").expect("detail")).collect();
            let plan = plan.join("\n");
            assert!(plan.contains("record_search_fts VIRTUAL TABLE INDEX"), "plan:\n{plan}");
        }
        return;
    }
    // Other tenants' entries with the tenant's word, and the tenant's own 20,000 records (5
    // with the word): a plan that read the index on the tenant alone, or on the word alone,
    // would read them all.
    let other = "INSERT INTO record_search (tenant_id, entity_id, record_id, field_key, body) \
                 SELECT $1, 'e', gen_random_uuid(), 'name', $2 || ' ' || g FROM generate_series(1, 4000) g";
    for _ in 0..5 {
        let o = tenant().await;
        conn.execute_raw(stmt(&conn, other, vec![o.tenant_id.clone().into(), w.clone().into()]))
            .await
            .expect("other tenants' entries");
    }
    let records = "INSERT INTO records (id, tenant_id, entity_id, data, created_at, updated_at, version) \
                   SELECT gen_random_uuid(), $1, $2, jsonb_build_object('name', CASE WHEN g % 4000 = 0 \
                   THEN $3 ELSE 'Company' END || ' ' || g), now(), now(), 1 FROM generate_series(1, 20000) g";
    let values = vec![t.tenant_id.clone().into(), company_id.clone().into(), w.clone().into()];
    conn.execute_raw(stmt(&conn, records, values)).await.expect("own records");
    let entries = "INSERT INTO record_search (tenant_id, entity_id, record_id, field_key, body) \
                   SELECT tenant_id, entity_id, id, 'name', data ->> 'name' FROM records WHERE tenant_id = $1 AND entity_id = $2";
    conn.execute_raw(stmt(&conn, entries, vec![t.tenant_id.clone().into(), company_id.into()]))
        .await
        .expect("own entries");
    conn.execute_unprepared("ANALYZE records").await.expect("analyze");
    conn.execute_unprepared("VACUUM ANALYZE record_search").await.expect("analyze");
    for s in [list, global] {
        for plan in pg_plans(&t.tenant_id, &s).await {
            assert!(plan.contains("record_search_doc"), "plan:\n{plan}");
            assert!(!plan.contains("Seq Scan on record_search"), "plan:\n{plan}");
        }
    }
}
