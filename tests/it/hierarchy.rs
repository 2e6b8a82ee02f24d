//! Hierarchy scopes (issue 16.1, 16.5) through the public API: user attributes set by an
//! administrator (`setUserAttributes`, `User.attributes`) and read by row rules as
//! `$user.<key>` — a plant manager sees only their plant's requisitions, a user without the
//! attribute sees none (never all); hierarchy links (`hierarchy: true` on a RELATION) and
//! `within` — a company director sees every plant of their company (and of the companies
//! below it) in lists, by id, through relations, in subscriptions and exports, re-parenting
//! moves records in and out of scope, cycles are refused; per-action scopes (`read_own`,
//! `update_all`, `byAction`).

use serde_json::{Value, json};

use crate::harness::*;

fn requisition() -> Names {
    Names::new("requisition", "requisitions")
}

/// A tenant with two companies (A, B), plants A1 and A2 under A and B1 under B, and two
/// requisitions per plant, as its owner.
struct Plants {
    t: TestTenant,
    company_a: String,
    company_b: String,
    a1: String,
    a2: String,
    b1: String,
}

async fn plants() -> Plants {
    let t = tenant().await;
    t.define(entity(
        "company",
        "companies",
        vec![field("name", "TEXT", json!({"required": true}))],
        json!({}),
    ))
    .await;
    // A company may sit under a holding company: a link of the entity to itself.
    let parent = json!({"key": "parent", "label": "Parent", "type": "RELATION", "relatedEntity": "company",
                        "hierarchy": true});
    t.data(
        "mutation($f: FieldInput!) { addField(entity: \"company\", field: $f) { id } }",
        json!({"f": parent}),
    )
    .await;
    t.define(entity(
        "plant",
        "plants",
        vec![
            field("name", "TEXT", json!({"required": true})),
            field("company", "RELATION", json!({"relatedEntity": "company", "hierarchy": true})),
        ],
        json!({}),
    ))
    .await;
    t.define(entity(
        "requisition",
        "requisitions",
        vec![
            field("title", "TEXT", json!({"required": true})),
            field("quantity", "NUMBER", json!({})),
            field("plant", "RELATION", json!({"relatedEntity": "plant"})),
        ],
        json!({}),
    ))
    .await;
    let company = Names::new("company", "companies");
    let plant = Names::new("plant", "plants");
    let company_a = str_of(&t.create(&company, json!({"name": "A"}), "").await["id"]);
    let company_b = str_of(&t.create(&company, json!({"name": "B"}), "").await["id"]);
    let mut ids = Vec::new();
    for (name, company) in [("A1", &company_a), ("A2", &company_a), ("B1", &company_b)] {
        let id = str_of(&t.create(&plant, json!({"name": name, "company": company}), "").await["id"]);
        for i in 0..2 {
            let input = json!({"title": format!("{name}-{i}"), "quantity": 10 + i, "plant": id});
            t.create(&requisition(), input, "").await;
        }
        ids.push(id);
    }
    let [a1, a2, b1] = <[String; 3]>::try_from(ids).expect("three plants");
    Plants { t, company_a, company_b, a1, a2, b1 }
}

/// A new user of role `role` with `attributes`: (auth, user id).
async fn user_with(t: &TestTenant, role: &str, attributes: Value) -> (Auth, String) {
    let payload = t.invite(role).await;
    let id = str_of(&payload["user"]["id"]);
    let set = t
        .data(
            "mutation($u: ID!, $a: JSON!) { setUserAttributes(userId: $u, attributes: $a) { id attributes } }",
            json!({"u": id, "a": attributes}),
        )
        .await;
    assert_json_eq(&set["setUserAttributes"]["attributes"], &attributes, "attributes as set");
    (Auth::Bearer(str_of(&payload["accessToken"])), id)
}

/// The titles of the requisitions `auth` sees, sorted.
async fn titles(t: &TestTenant, auth: &Auth) -> Vec<String> {
    let r = t.api.graphql(auth, "{ requisitions(first: 100) { edges { node { title } } } }", json!({})).await;
    let edges = r.data()["requisitions"]["edges"].clone();
    sorted(edges.as_array().expect("edges").iter().map(|e| str_of(&e["node"]["title"])).collect())
}

fn plant_manager() -> Value {
    json!({
        "requisition": {"actions": ["create", "read", "update"], "where": {"plant": {"eq": "$user.plant"}}},
        "plant": {"actions": ["read"]},
        "company": {"actions": ["read"]}
    })
}

#[tokio::test]
async fn a_plant_manager_sees_only_their_plants_requisitions() {
    let p = plants().await;
    p.t.create_role("plant_manager", plant_manager()).await;
    let (manager, _) = user_with(&p.t, "plant_manager", json!({"plant": p.a1, "region": "west"})).await;
    assert_eq!(titles(&p.t, &manager).await, strings(&["A1-0", "A1-1"]));
    // Their own attributes come with `me`.
    let me = p.t.api.graphql(&manager, "{ me { attributes } }", json!({})).await.data();
    let _ = (&p.company_a, &p.company_b);
    assert_json_eq(&me["me"]["attributes"], &json!({"plant": p.a1, "region": "west"}), "me");
    // A record outside the rule is absent, by id too.
    let a2_req =
        p.t.data(
            "query($p: ID!) { requisitions(filter: {plant: {eq: $p}}) { edges { node { id } } } }",
            json!({"p": p.a2}),
        )
        .await;
    let other = str_of(&a2_req["requisitions"]["edges"][0]["node"]["id"]);
    let r =
        p.t.api
            .graphql(&manager, "query($id: ID!) { requisition(id: $id) { id } }", json!({"id": other}))
            .await;
    assert_eq!(r.data()["requisition"], Value::Null);
    // Creating in another plant breaks the rule; in their own plant it works.
    let create = "mutation($p: ID!) { createRequisition(input: {title: \"new\", plant: $p}) { id } }";
    let refused = p.t.api.graphql(&manager, create, json!({"p": p.b1})).await;
    assert!(!refused.errors().is_empty(), "created outside the rule: {:?}", refused.body);
    p.t.api.graphql(&manager, create, json!({"p": p.a1})).await.data();
    assert_eq!(titles(&p.t, &manager).await, strings(&["A1-0", "A1-1", "new"]));
}

#[tokio::test]
async fn a_user_without_the_attribute_sees_nothing_and_bad_attributes_are_refused() {
    let p = plants().await;
    p.t.create_role("plant_manager", plant_manager()).await;
    let (nobody, id) = user_with(&p.t, "plant_manager", json!({"region": "west"})).await;
    assert_eq!(titles(&p.t, &nobody).await, Vec::<String>::new());
    // Given the attribute, they see that plant at once (their cached credential was evicted).
    let set = "mutation($u: ID!, $a: JSON!) { setUserAttributes(userId: $u, attributes: $a) { attributes } }";
    p.t.data(set, json!({"u": id, "a": {"plant": p.b1}})).await;
    assert_eq!(titles(&p.t, &nobody).await, strings(&["B1-0", "B1-1"]));
    // The owner sees the user's attributes in `users`.
    let users = p.t.data("{ users { id attributes } }", json!({})).await;
    let listed = users["users"].as_array().expect("users").iter().find(|u| u["id"] == json!(id)).cloned();
    assert_json_eq(&listed.expect("listed")["attributes"], &json!({"plant": p.b1}), "users");
    // Malformed attributes: one field error per bad key; `id` is reserved for `$user.id`.
    p.t.request(set, json!({"u": id, "a": {"id": "x", "Bad Key": 1, "nested": {"a": 1}}}))
        .await
        .expect_code("VALIDATION_FAILED")
        .expect_field_errors(&["attributes.Bad Key", "attributes.id", "attributes.nested"]);
    p.t.request(set, json!({"u": id, "a": [1]})).await.expect_code("VALIDATION_FAILED");
    // A member may not set attributes (theirs or anyone's).
    let r = p.t.api.graphql(&nobody, set, json!({"u": id, "a": {"plant": p.a1}})).await;
    assert!(!r.errors().is_empty());
    assert_eq!(titles(&p.t, &nobody).await, strings(&["B1-0", "B1-1"]));
}

fn company() -> Names {
    Names::new("company", "companies")
}

fn plant() -> Names {
    Names::new("plant", "plants")
}

fn director() -> Value {
    json!({
        "requisition": {"actions": ["read", "export"], "where": {"plant": {"within": "$user.company"}}},
        "plant": {"actions": ["read"], "where": {"id": {"within": "$user.company"}}},
        "company": {"actions": ["read"]}
    })
}

/// The names of the plants `auth` sees, sorted.
async fn plant_names(t: &TestTenant, auth: &Auth) -> Vec<String> {
    let r = t.api.graphql(auth, "{ plants(first: 100) { edges { node { name } } } }", json!({})).await;
    let edges = r.data()["plants"]["edges"].clone();
    sorted(edges.as_array().expect("edges").iter().map(|e| str_of(&e["node"]["name"])).collect())
}

#[tokio::test]
async fn a_company_director_sees_every_plant_of_their_company_and_re_parenting_moves_records() {
    let p = plants().await;
    p.t.create_role("director", director()).await;
    let (a, _) = user_with(&p.t, "director", json!({"company": p.company_a})).await;
    let (b, _) = user_with(&p.t, "director", json!({"company": p.company_b})).await;
    let (none, _) = user_with(&p.t, "director", json!({})).await;
    let a_titles = strings(&["A1-0", "A1-1", "A2-0", "A2-1"]);
    assert_eq!(titles(&p.t, &a).await, a_titles);
    assert_eq!(titles(&p.t, &b).await, strings(&["B1-0", "B1-1"]));
    assert_eq!(titles(&p.t, &none).await, Vec::<String>::new());
    assert_eq!(plant_names(&p.t, &a).await, strings(&["A1", "A2"]));
    // Through the relation (the rule on plants is evaluated on the related records).
    let r =
        p.t.api
            .graphql(&a, "{ requisitions(first: 100) { edges { node { plant { name } } } } }", json!({}))
            .await;
    let shown: Vec<String> = r.data()["requisitions"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| str_of(&e["node"]["plant"]["name"]))
        .collect();
    assert_eq!(sorted(shown), strings(&["A1", "A1", "A2", "A2"]));
    // By id: another company's plant and requisition are not there.
    let by_id = "query($id: ID!) { plant(id: $id) { name } }";
    assert_eq!(p.t.api.graphql(&a, by_id, json!({"id": p.b1})).await.data()["plant"], Value::Null);
    assert_eq!(p.t.api.graphql(&a, by_id, json!({"id": p.a2})).await.data()["plant"]["name"], json!("A2"));

    // A holding above company A: its director sees everything below, two levels down.
    let holding = str_of(&p.t.create(&company(), json!({"name": "H"}), "").await["id"]);
    p.t.update(&company(), &p.company_a, json!({"parent": holding}), "").await;
    let (h, _) = user_with(&p.t, "director", json!({"company": holding})).await;
    assert_eq!(titles(&p.t, &h).await, a_titles);

    // Re-parenting plant B1 under A moves its records into A's (and H's) scope, and back.
    p.t.update(&plant(), &p.b1, json!({"company": p.company_a}), "").await;
    let all = strings(&["A1-0", "A1-1", "A2-0", "A2-1", "B1-0", "B1-1"]);
    assert_eq!(titles(&p.t, &a).await, all);
    assert_eq!(titles(&p.t, &h).await, all);
    assert_eq!(titles(&p.t, &b).await, Vec::<String>::new());
    p.t.update(&plant(), &p.b1, json!({"company": p.company_b}), "").await;
    assert_eq!(titles(&p.t, &a).await, a_titles);
    assert_eq!(titles(&p.t, &b).await, strings(&["B1-0", "B1-1"]));
    // Moving company A out from under the holding takes its plants along.
    p.t.update(&company(), &p.company_a, json!({"parent": null}), "").await;
    assert_eq!(titles(&p.t, &h).await, Vec::<String>::new());
    p.t.update(&company(), &p.company_a, json!({"parent": holding}), "").await;

    // Cycles are refused: the holding under its own child, a company under itself.
    let update = "mutation($id: ID!, $p: ID) { updateCompany(id: $id, input: {parent: $p}) { id } }";
    p.t.request(update, json!({"id": holding, "p": p.company_a})).await.expect_field_errors(&["parent"]);
    p.t.request(update, json!({"id": p.company_a, "p": p.company_a})).await.expect_field_errors(&["parent"]);
    assert_eq!(titles(&p.t, &h).await, a_titles);
}

#[tokio::test]
async fn subscriptions_and_exports_obey_the_hierarchy_scope() {
    let p = plants().await;
    p.t.create_role("director", director()).await;
    let (a, _) = user_with(&p.t, "director", json!({"company": p.company_a})).await;
    let Auth::Bearer(token) = &a else { unreachable!() };
    let query = "subscription { requisitionChanged { kind record { title } } }";
    let mut ws = steady_subscription(&p.t, token, query).await;
    p.t.create(&requisition(), json!({"title": "in B", "plant": p.b1}), "").await;
    ws.expect_silence(SILENCE).await;
    p.t.create(&requisition(), json!({"title": "in A2", "plant": p.a2}), "").await;
    let event = ws.next_data("1").await;
    assert_eq!(event["requisitionChanged"]["record"]["title"], json!("in A2"));

    let export =
        p.t.api
            .get("/export/requisition?format=jsonl", &[("authorization", &format!("Bearer {token}"))])
            .await;
    assert_eq!(export.status, 200, "{}", export.text);
    let exported: Vec<String> = export
        .text
        .lines()
        .map(|l| str_of(&serde_json::from_str::<Value>(l).expect("a JSON line")["title"]))
        .collect();
    assert_eq!(sorted(exported), strings(&["A1-0", "A1-1", "A2-0", "A2-1", "in A2"]));
}

/// Requisitions owned by two members of `role` (two each, in plant A1): (tenant, [(auth, own ids)]).
async fn owned(permissions: Value) -> (Plants, Vec<(Auth, Vec<String>)>) {
    let p = plants().await;
    p.t.create_role("clerk", permissions).await;
    let mut out = Vec::new();
    for who in ["x", "y"] {
        let (auth, _) = user_with(&p.t, "clerk", json!({"desk": who})).await;
        let mut ids = Vec::new();
        for i in 0..2 {
            let create =
                "mutation($t: String!, $p: ID!) { createRequisition(input: {title: $t, plant: $p}) { id } }";
            let r = p.t.api.graphql(&auth, create, json!({"t": format!("{who}-{i}"), "p": p.a1})).await;
            ids.push(str_of(&r.data()["createRequisition"]["id"]));
        }
        out.push((auth, ids));
    }
    (p, out)
}

/// A socket of `token` with subscription `query` (id `"1"`) that stays open: a change of the
/// user's attributes closes their sockets (4205) when its signal arrives, which may be just
/// after a socket opened; such a socket is opened again.
pub(crate) async fn steady_subscription(t: &TestTenant, token: &str, query: &str) -> Ws {
    for _ in 0..10 {
        let mut ws = Ws::connect(t.api.server).await;
        ws.init(json!({"authorization": format!("Bearer {token}")})).await.expect_ack();
        ws.subscribe("1", query, json!({})).await;
        ws.settle().await;
        if ws.closed_within(LISTEN_WINDOW).await.is_none() {
            return ws;
        }
    }
    panic!("the socket kept closing")
}

const UPDATE: &str =
    "mutation($id: ID!) { updateRequisition(id: $id, input: {quantity: 7}) { id quantity } }";

#[tokio::test]
async fn read_all_update_own_refuses_another_members_record_as_forbidden() {
    // The suffix form of the seeds and the byAction form say the same.
    for permissions in [
        json!({"requisition": {"actions": ["create", "read", "update_own", "delete_own"]}, "plant": {"actions": ["read"]}}),
        json!({"requisition": {"actions": ["create", "read", "update", "delete"],
                               "byAction": {"update": {"scope": "own"}, "delete": {"where": {"owner": {"eq": "$currentUser"}}}}},
               "plant": {"actions": ["read"]}}),
    ] {
        let (p, members) = owned(permissions).await;
        let (x, x_ids) = &members[0];
        let (_, y_ids) = &members[1];
        // Reads every requisition (the six of the fixture and the four of the members).
        assert_eq!(titles(&p.t, x).await.len(), 10);
        p.t.api.graphql(x, UPDATE, json!({"id": x_ids[0]})).await.data();
        p.t.api.graphql(x, UPDATE, json!({"id": y_ids[0]})).await.expect_code("FORBIDDEN");
        let delete = "mutation($id: ID!) { deleteRequisition(id: $id) { id } }";
        p.t.api.graphql(x, delete, json!({"id": y_ids[1]})).await.expect_code("FORBIDDEN");
        p.t.api.graphql(x, delete, json!({"id": x_ids[1]})).await.data();
        // A bulk update by filter changes only their own.
        let bulk = "mutation { updateRequisitions(filter: {quantity: {isNull: true}}, input: {quantity: 3}) { count } }";
        assert_eq!(p.t.api.graphql(x, bulk, json!({})).await.data()["updateRequisitions"]["count"], json!(0));
        let bulk_all = "mutation { updateRequisitions(filter: {title: {startsWith: \"\"}}, input: {quantity: 5}) { count } }";
        assert_eq!(
            p.t.api.graphql(x, bulk_all, json!({})).await.data()["updateRequisitions"]["count"],
            json!(1)
        );
        // Another member's record is unchanged.
        let q =
            p.t.data("query($id: ID!) { requisition(id: $id) { quantity } }", json!({"id": y_ids[0]})).await;
        assert_eq!(q["requisition"]["quantity"], Value::Null);
    }
}

#[tokio::test]
async fn read_own_update_all_never_writes_a_record_the_caller_cannot_read() {
    let permissions = json!({
        "requisition": {"actions": ["create", "read_own", "update_all"]},
        "plant": {"actions": ["read"]}
    });
    let (p, members) = owned(permissions).await;
    let (x, x_ids) = &members[0];
    let (_, y_ids) = &members[1];
    assert_eq!(titles(&p.t, x).await, strings(&["x-0", "x-1"]));
    p.t.api.graphql(x, UPDATE, json!({"id": x_ids[0]})).await.data();
    // Outside the read scope: as if it did not exist, even though the update scope is `all`.
    p.t.api.graphql(x, UPDATE, json!({"id": y_ids[0]})).await.expect_code("NOT_FOUND");
    let bulk = "mutation { updateRequisitions(filter: {title: {startsWith: \"\"}}, input: {quantity: 9}) { count } }";
    assert_eq!(p.t.api.graphql(x, bulk, json!({})).await.data()["updateRequisitions"]["count"], json!(2));
    let q = p.t.data("query($id: ID!) { requisition(id: $id) { quantity } }", json!({"id": y_ids[0]})).await;
    assert_eq!(q["requisition"]["quantity"], Value::Null);
    // The role's permissions read back in one canonical form.
    let roles = p.t.data("{ roles { name permissions } }", json!({})).await;
    let clerk =
        roles["roles"].as_array().expect("roles").iter().find(|r| r["name"] == json!("clerk")).cloned();
    let rules = &clerk.expect("clerk")["permissions"]["requisition"];
    assert_eq!(rules["actions"], json!(["create", "read", "update"]));
    assert_eq!(rules["byAction"], json!({"read": {"scope": "own"}, "update": {"scope": "all"}}));
}

#[tokio::test]
async fn malformed_per_action_scopes_and_within_are_refused() {
    let p = plants().await;
    let create = "mutation($p: JSON!) { createRole(input: {name: \"bad\", permissions: $p}) { id } }";
    let bad = json!({"requisition": {"actions": ["read", "update_some"],
                                     "byAction": {"delete": {"scope": "own"}, "read": {"scope": "mine"}},
                                     "where": {"title": {"within": "$user.plant"}}}});
    p.t.request(create, json!({"p": bad})).await.expect_field_errors(&[
        "permissions.requisition.actions",
        "permissions.requisition.byAction.delete",
        "permissions.requisition.byAction.read.scope",
        "permissions.requisition.where.title.within",
    ]);
    // `within` is a rule operator: list filters do not take it.
    let r = p.t.request("{ requisitions(filter: {plant: {within: \"x\"}}) { totalCount } }", json!({})).await;
    assert!(!r.errors().is_empty());
}

/// `{group, count}` rows as (the group's `key`, count) pairs, sorted.
fn counted(rows: &Value, key: &str) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (str_of(&r["group"][key]), r["count"].as_i64().expect("count")))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn aggregates_and_widgets_group_by_plant_and_company_under_the_scope() {
    let p = plants().await;
    p.t.create_role("director", director()).await;
    let holding = str_of(&p.t.create(&company(), json!({"name": "H"}), "").await["id"]);
    p.t.update(&company(), &p.company_a, json!({"parent": holding}), "").await;
    let (a, _) = user_with(&p.t, "director", json!({"company": p.company_a})).await;
    let (h, _) = user_with(&p.t, "director", json!({"company": holding})).await;
    let by_plant = "{ requisitionsAggregate(groupBy: [PLANT]) { group count sum { quantity } } }";
    let rows = p.t.api.graphql(&a, by_plant, json!({})).await.data()["requisitionsAggregate"].clone();
    let mut want = vec![(p.a1.clone(), 2), (p.a2.clone(), 2)];
    want.sort();
    assert_eq!(counted(&rows, "plant"), want);
    assert_eq!(rows[0]["sum"]["quantity"], json!(21.0));
    // By company: each requisition under the nearest company above its plant.
    let by_company =
        "{ requisitionsAggregate(groupByAncestor: {field: \"plant\", entity: \"company\"}) { group count } }";
    let rows = p.t.api.graphql(&a, by_company, json!({})).await.data()["requisitionsAggregate"].clone();
    assert_eq!(counted(&rows, "company"), vec![(p.company_a.clone(), 4)]);
    let rows = p.t.api.graphql(&h, by_company, json!({})).await.data()["requisitionsAggregate"].clone();
    assert_eq!(counted(&rows, "company"), vec![(p.company_a.clone(), 4)]);
    let rows = p.t.data(by_company, json!({})).await["requisitionsAggregate"].clone();
    let mut all = vec![(p.company_a.clone(), 4), (p.company_b.clone(), 2)];
    all.sort();
    assert_eq!(counted(&rows, "company"), all);
    // Plants grouped by their own company (the field points at it).
    let plants_by =
        "{ plantsAggregate(groupByAncestor: {field: \"company\", entity: \"company\"}) { group count } }";
    let rows = p.t.api.graphql(&a, plants_by, json!({})).await.data()["plantsAggregate"].clone();
    assert_eq!(counted(&rows, "company"), vec![(p.company_a.clone(), 2)]);
    // A field that is no relation, an unknown entity: BAD_REQUEST.
    let bad = "{ requisitionsAggregate(groupByAncestor: {field: \"title\", entity: \"company\"}) { count } }";
    p.t.request(bad, json!({})).await.expect_code("BAD_REQUEST");
    let bad = "{ requisitionsAggregate(groupByAncestor: {field: \"plant\", entity: \"galaxy\"}) { count } }";
    p.t.request(bad, json!({})).await.expect_code("BAD_REQUEST");

    // A dashboard chart consolidated per company, computed under each viewer's scope.
    let widgets = json!([
        {"type": "chart", "title": {"en": "By company"}, "entity": "requisition", "groupBy": "plant",
         "groupByAncestor": "company"},
        {"type": "chart", "title": {"en": "By plant"}, "entity": "requisition", "groupBy": "plant"}
    ]);
    let create = "mutation($i: DashboardInput!) { createDashboard(input: $i) { id } }";
    p.t.data(create, json!({"i": {"key": "group", "name": {"en": "Group"}, "roles": ["director", "admin"], "widgets": widgets}}))
        .await;
    let board = "{ dashboards { key widgets { data } } }";
    let seen = p.t.api.graphql(&a, board, json!({})).await.data();
    let widgets = &seen["dashboards"][0]["widgets"];
    assert_eq!(widgets[0]["data"], json!({"series": [{"key": p.company_a, "value": 4}]}));
    assert_eq!(widgets[1]["data"]["series"].as_array().map(Vec::len), Some(2));
    let owner = p.t.data(board, json!({})).await;
    let series =
        owner["dashboards"].as_array().expect("boards").iter().find(|b| b["key"] == json!("group")).cloned();
    assert_eq!(
        series.expect("group board")["widgets"][0]["data"]["series"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn the_manufacturing_template_scopes_plant_heads_and_company_directors() {
    let t = tenant().await;
    t.data("mutation { applyTemplate(slug: \"manufacturing\") { slug } }", json!({})).await;
    let names = |s: &str, p: &str| Names::new(s, p);
    let (company, plant, department) =
        (names("company", "companies"), names("plant", "plants"), names("department", "departments"));
    let pr = names("purchase_requisition", "purchase_requisitions");
    let item = names("item", "items");
    let item =
        str_of(&t.create(&item, json!({"code": "I-1", "name": "Bolt", "type": "Component"}), "").await["id"]);
    let mut companies = Vec::new();
    let mut plants = Vec::new();
    for c in ["North Co", "South Co"] {
        let cid = str_of(&t.create(&company, json!({"name": c}), "").await["id"]);
        for n in 0..2 {
            let input = json!({"name": format!("{c} P{n}"), "code": format!("{c}{n}"), "company": cid});
            let pid = str_of(&t.create(&plant, input, "").await["id"]);
            let did = str_of(
                &t.create(&department, json!({"name": format!("{c} P{n} D"), "plant": pid}), "").await["id"],
            );
            let input = json!({"department": did, "item": item, "quantity": 1, "amount": "100.00",
                               "approvalStatus": "INITIATED"});
            t.create(&pr, input, "").await;
            plants.push(pid);
        }
        companies.push(cid);
    }
    let (head, _) = user_with(&t, "plant_head", json!({"plant": plants[1]})).await;
    let (director, _) = user_with(&t, "company_director", json!({"company": companies[0]})).await;
    let count = "{ purchaseRequisitions { totalCount } plants { totalCount } }";
    let seen = t.api.graphql(&head, count, json!({})).await.data();
    assert_eq!(
        (seen["purchaseRequisitions"]["totalCount"].clone(), seen["plants"]["totalCount"].clone()),
        (json!(1), json!(1))
    );
    let seen = t.api.graphql(&director, count, json!({})).await.data();
    assert_eq!(
        (seen["purchaseRequisitions"]["totalCount"].clone(), seen["plants"]["totalCount"].clone()),
        (json!(2), json!(2))
    );
    let by_company = "{ purchaseRequisitionsAggregate(groupByAncestor: {field: \"department\", entity: \"company\"}) { group count } }";
    let rows =
        t.api.graphql(&director, by_company, json!({})).await.data()["purchaseRequisitionsAggregate"].clone();
    assert_eq!(counted(&rows, "company"), vec![(companies[0].clone(), 2)]);
    let rows = t.data(by_company, json!({})).await["purchaseRequisitionsAggregate"].clone();
    assert_eq!(counted(&rows, "company").len(), 2);
}
