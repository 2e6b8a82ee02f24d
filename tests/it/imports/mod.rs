//! CSV imports (`startImport` over the GraphQL multipart request spec, `import`, `imports`,
//! `cancelImport`, `importChanged`): rows refused by row and field while the rest are written,
//! a dry run that writes nothing, upserts by a unique field, relations named by id, record
//! number or a unique field of the target, the create permission, and live progress. The
//! large import killed mid-way is in `large`.

mod large;

use serde_json::{Value, json};

use crate::harness::*;

pub(crate) const START: &str = "mutation($e: String!, $f: Upload!, $m: [ImportColumnInput!], $d: Boolean, \
    $u: String, $w: Boolean) { startImport(entity: $e, file: $f, mapping: $m, dryRun: $d, upsertBy: $u, \
    runWorkflows: $w) { id status totalRows } }";

pub(crate) const IMPORT: &str = "query($id: ID!) { import(id: $id) { id status totalRows processedRows \
    createdCount updatedCount errorCount message columns { column field } \
    errors(first: 100) { nodes { row field code message } } } }";

/// Starts an import of `csv` into `entity` as `auth` with the other arguments in `vars`
/// (`m`, `d`, `u`, `w`); the full response.
pub(crate) async fn start_as(api: &Api, auth: &Auth, entity: &str, csv: &str, vars: Value) -> Response {
    let mut variables = json!({"e": entity, "f": null});
    merge(&mut variables, vars);
    api.upload(auth, (START, variables), "f", ("data.csv", csv.as_bytes())).await
}

/// Starts an import as `t`'s owner, asserting success; its id.
pub(crate) async fn start(t: &TestTenant, entity: &str, csv: &str, vars: Value) -> String {
    let data = start_as(&t.api, &t.auth(), entity, csv, vars).await.data();
    str_of(&data["startImport"]["id"])
}

/// The import once it has ended (within `within`).
#[track_caller]
pub(crate) fn finished<'a>(
    t: &'a TestTenant,
    id: &'a str,
    within: std::time::Duration,
) -> impl std::future::Future<Output = Value> + 'a {
    eventually("the import to end", within, async move || {
        let i = t.data(IMPORT, json!({"id": id})).await["import"].clone();
        let ended = ["DONE", "FAILED", "CANCELLED"].contains(&i["status"].as_str().unwrap_or_default());
        if ended { Ok(i) } else { Err(Verbatim(i.to_string())) }
    })
    .into_future()
}

/// (row, field, code) of each reported problem.
pub(crate) fn problems(import: &Value) -> Vec<(i64, String, String)> {
    import["errors"]["nodes"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["row"].as_i64().expect("row"), str_of(&e["field"]), str_of(&e["code"])))
        .collect()
}

/// How many live records `entity` has.
pub(crate) async fn count(t: &TestTenant, entity: &Names) -> i64 {
    t.connection(entity, json!({}), "totalCount").await["totalCount"].as_i64().expect("totalCount")
}

/// `code,qty,price,active,ordered` rows 1..=n, with three bad ones: row `a` has no code
/// (required), row `b` a quantity that is no number, row `c` a price with three decimals.
/// Quantity i on data row i.
pub(crate) fn items_csv(n: usize, bad: [usize; 3]) -> String {
    let mut csv = String::with_capacity(n * 40);
    csv.push_str("Code,Qty,Price,Active,Ordered\n");
    for i in 1..=n {
        let line = match i {
            _ if i == bad[0] => format!(",{i},1.50,yes,2026-01-02\n"),
            _ if i == bad[1] => format!("IT-{i},many,1.50,yes,2026-01-02\n"),
            _ if i == bad[2] => format!("IT-{i},{i},1.505,no,2026-01-02\n"),
            _ => format!("IT-{i},{i},{}.{:02},{},2026-01-02\n", i % 1000, i % 100, i % 2 == 0),
        };
        csv.push_str(&line);
    }
    csv
}

/// The problems `items_csv` reports: file row = data row + 1.
pub(crate) fn item_problems(bad: [usize; 3]) -> Vec<(i64, String, String)> {
    let row = |i: usize| i as i64 + 1;
    vec![
        (row(bad[0]), "code".into(), "VALIDATION_FAILED".into()),
        (row(bad[1]), "qty".into(), "VALIDATION_FAILED".into()),
        (row(bad[2]), "price".into(), "VALIDATION_FAILED".into()),
    ]
}

pub(crate) async fn define_items(t: &TestTenant) -> Names {
    let fields = vec![
        field("code", "TEXT", json!({"required": true})),
        field("qty", "NUMBER", json!({})),
        field("price", "CURRENCY", json!({})),
        field("active", "BOOLEAN", json!({})),
        field("ordered", "DATE", json!({})),
    ];
    t.define_entity("item", "items", fields).await
}

#[tokio::test]
async fn a_dry_run_reports_bad_rows_by_row_and_field_and_writes_nothing() {
    let t = tenant().await;
    let items = define_items(&t).await;
    let bad = [7, 480, 1203];
    let csv = items_csv(1300, bad);
    let id = start(&t, "item", &csv, json!({"d": true})).await;
    let dry = finished(&t, &id, EFFECT_WAIT).await;
    assert_eq!(
        (&dry["status"], &dry["totalRows"], &dry["processedRows"], &dry["createdCount"], &dry["errorCount"]),
        (&json!("DONE"), &json!(1300), &json!(1300), &json!(1297), &json!(3)),
        "{dry}"
    );
    assert_eq!(problems(&dry), item_problems(bad), "{dry}");
    assert_eq!(count(&t, &items).await, 0, "a dry run writes no record");
    let audit =
        t.data("{ auditLog(first: 5, filter: {action: \"record.create\"}) { totalCount } }", json!({})).await;
    assert_eq!(audit["auditLog"]["totalCount"], json!(0), "nor an audit entry of one");

    // The same file for real: the rest are written, once.
    let id = start(&t, "item", &csv, json!({})).await;
    let done = finished(&t, &id, EFFECT_WAIT).await;
    assert_eq!((&done["createdCount"], &done["errorCount"]), (&json!(1297), &json!(3)), "{done}");
    assert_eq!(problems(&done), item_problems(bad));
    assert_eq!(count(&t, &items).await, 1297);
    let first = t.list(&items, "filter: {code: {eq: \"IT-1\"}}", json!({}), "qty price active ordered").await;
    let first = &first["nodes"][0];
    assert_eq!(
        (&first["qty"], &first["price"], &first["active"], &first["ordered"]),
        (&json!(1.0), &json!("1.01"), &json!(false), &json!("2026-01-02")),
        "{first}"
    );
}

#[tokio::test]
async fn an_upsert_by_a_unique_field_updates_instead_of_duplicating() {
    let t = tenant().await;
    let fields = vec![field("email", "EMAIL", json!({"unique": true})), field("name", "TEXT", json!({}))];
    let contacts = t.define_entity("contact", "contacts", fields).await;
    let ada =
        str_of(&t.create(&contacts, json!({"email": "ada@example.com", "name": "Ada"}), "id").await["id"]);
    let csv = "E-mail,Full name\nADA@example.com,Ada Lovelace\ngrace@example.com,Grace Hopper\n";
    let mapping = json!([{"column": "e-mail", "field": "email"}, {"column": "Full name", "field": "Name"}]);
    // The address differs in case: EMAIL values are kept as given, so this is a new contact…
    let id = start(&t, "contact", csv, json!({"m": mapping, "u": "email"})).await;
    let first = finished(&t, &id, EFFECT_WAIT).await;
    assert_eq!((&first["createdCount"], &first["updatedCount"]), (&json!(2), &json!(0)), "{first}");
    // …and the same file again updates both, duplicating none.
    let id = start(&t, "contact", csv, json!({"m": mapping, "u": "email"})).await;
    let again = finished(&t, &id, EFFECT_WAIT).await;
    assert_eq!(
        (&again["createdCount"], &again["updatedCount"], &again["errorCount"]),
        (&json!(0), &json!(2), &json!(0))
    );
    let csv = "email,name\nada@example.com,Ada Lovelace\n";
    let id = start(&t, "contact", csv, json!({"u": "email"})).await;
    let third = finished(&t, &id, EFFECT_WAIT).await;
    assert_eq!((&third["createdCount"], &third["updatedCount"]), (&json!(0), &json!(1)), "{third}");
    assert_eq!(t.get(&contacts, &ada, "name").await["name"], json!("Ada Lovelace"));
    assert_eq!(count(&t, &contacts).await, 3);
    // Without upsertBy the unique value is refused on the row, by field.
    let id = start(&t, "contact", csv, json!({})).await;
    let plain = finished(&t, &id, EFFECT_WAIT).await;
    assert_eq!(problems(&plain), vec![(2, "email".to_owned(), "VALIDATION_FAILED".to_owned())]);
    // upsertBy must name a unique field.
    let refused = start_as(&t.api, &t.auth(), "contact", csv, json!({"u": "name"})).await;
    refused.expect_code("VALIDATION_FAILED").expect_field_errors(&["upsertBy"]);
}

#[tokio::test]
async fn relations_resolve_by_id_record_number_or_a_unique_field_of_the_target() {
    let t = tenant().await;
    let companies = t
        .define(entity(
            "company",
            "companies",
            vec![field("code", "TEXT", json!({"unique": true})), field("name", "TEXT", json!({}))],
            json!({"recordNumberPrefix": "CO"}),
        ))
        .await;
    assert_eq!(companies["nameSingular"], json!("company"));
    let companies = Names::new("company", "companies");
    let fields = vec![
        field("name", "TEXT", json!({})),
        field("company", "RELATION", json!({"relatedEntity": "company", "relationKind": "MANY_TO_ONE"})),
    ];
    let people = t.define_entity("person", "people", fields).await;
    let acme = t.create(&companies, json!({"code": "ACME", "name": "Acme"}), "id recordNumber").await;
    let globex = t.create(&companies, json!({"code": "GLX", "name": "Globex"}), "id recordNumber").await;
    let csv = format!(
        "name,company\nA,code=ACME\nB,{}\nC,{}\nD,code=NOPE\nE,CO-999999\nF,name=Acme\n",
        str_of(&globex["recordNumber"]),
        str_of(&acme["id"])
    );
    let id = start(&t, "person", &csv, json!({})).await;
    let done = finished(&t, &id, EFFECT_WAIT).await;
    assert_eq!((&done["createdCount"], &done["errorCount"]), (&json!(3), &json!(3)), "{done}");
    let company = |row: i64| (row, "company".to_owned(), "VALIDATION_FAILED".to_owned());
    assert_eq!(problems(&done), vec![company(5), company(6), company(7)], "{done}");
    let messages: Vec<String> = pluck_str(&done["errors"]["nodes"], "message");
    assert!(messages[0].contains("no Company with code = NOPE"), "{messages:?}");
    assert!(messages[2].contains("no unique field"), "{messages:?}");
    let listed =
        t.list(&people, "orderBy: [{field: NAME, direction: ASC}]", json!({}), "name company { code }").await;
    let codes: Vec<(String, String)> = listed["nodes"]
        .as_array()
        .expect("people")
        .iter()
        .map(|p| (str_of(&p["name"]), str_of(&p["company"]["code"])))
        .collect();
    let expected = [("A", "ACME"), ("B", "GLX"), ("C", "ACME")].map(|(a, b)| (a.to_owned(), b.to_owned()));
    assert_eq!(codes, expected.to_vec());
}

#[tokio::test]
async fn a_member_without_create_permission_is_refused() {
    let t = tenant().await;
    define_items(&t).await;
    t.create_role("item-reader", json!({"item": {"actions": ["read"]}})).await;
    let reader = t.invite_auth("item-reader").await;
    let csv = items_csv(3, [0, 0, 0]);
    start_as(&t.api, &reader, "item", &csv, json!({})).await.expect_code("FORBIDDEN");
    // A writer may import, and sees its own imports only; the owner sees them all.
    t.create_role("item-writer", json!({"item": {"actions": ["read", "create"]}})).await;
    let writer = t.invite_auth("item-writer").await;
    let mine = str_of(&start_as(&t.api, &writer, "item", &csv, json!({})).await.data()["startImport"]["id"]);
    let theirs = start(&t, "item", &csv, json!({})).await;
    let listed = |auth: Auth| {
        let api = t.api.clone();
        async move {
            let data = api.graphql(&auth, "{ imports(first: 10) { nodes { id } } }", json!({})).await.data();
            sorted(pluck_str(&data["imports"]["nodes"], "id"))
        }
    };
    assert_eq!(listed(writer.clone()).await, vec![mine.clone()]);
    assert_eq!(listed(t.auth()).await, sorted(vec![mine, theirs.clone()]));
    let other = t.api.graphql(&writer, IMPORT, json!({"id": theirs})).await.data();
    assert_eq!(other["import"], Value::Null, "another user's import is not the writer's to see");
    // Upserting needs the update permission too.
    start_as(&t.api, &writer, "item", &csv, json!({"u": "code"})).await.expect_code("FORBIDDEN");
}

#[tokio::test]
async fn progress_reaches_subscribers_of_the_import_only() {
    let t = tenant().await;
    let items = define_items(&t).await;
    let csv = items_csv(1600, [0, 0, 0]);
    let id = start(&t, "item", &csv, json!({"w": false})).await;
    let query = "subscription($id: ID!) { importChanged(id: $id) { status processedRows createdCount } }";
    let member = t.invite_auth("member").await;
    t.subscribe_as(&member, query, json!({"id": id})).await.expect_refused("1", "NOT_FOUND").await;
    let mut ws = t.subscribe(query, json!({"id": id})).await;
    let seen = ws.until("1", "importChanged", "status", "DONE").await;
    let processed: Vec<i64> =
        seen.iter().map(|s| s["processedRows"].as_i64().expect("processedRows")).collect();
    assert!(processed.windows(2).all(|w| w[0] <= w[1]), "progress only grows: {processed:?}");
    assert_eq!(seen.last().map(|s| s["createdCount"].clone()), Some(json!(1600)), "{seen:?}");
    assert_eq!(count(&t, &items).await, 1600);
    let code =
        t.error_code("mutation($id: ID!) { cancelImport(id: $id) { status } }", json!({"id": id})).await;
    assert_eq!(code, "CONFLICT", "an ended import cannot be cancelled");
}
