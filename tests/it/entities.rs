//! The entity engine's definition operations: defineEntity, updateEntity, addField, updateField,
//! removeField, deleteEntity and `entities`; the generated operations appearing on the very next
//! request; and every definition rule (identifiers, reserved names, GraphQL name collisions,
//! options, relations, permissions).

use serde_json::{Value, json};

use crate::fixtures::{crm_tenant, deal};
use crate::harness::{
    Auth, ENTITY_DEFINITION, TestTenant, entity, field, pluck_str, sorted, str_of, strings, tenant,
};

fn deal_input() -> Value {
    entity(
        "deal",
        "deals",
        vec![
            field("title", "TEXT", json!({ "required": true })),
            field("closes_at", "DATETIME", json!({})),
            field("stage", "SELECT", json!({ "options": ["a", "b"] })),
        ],
        json!({ "icon": "handshake", "recordNumberPrefix": "DEAL" }),
    )
}

async fn root_fields(t: &TestTenant, root: &str) -> Vec<String> {
    let data = t.data(&format!("{{ __schema {{ {root} {{ fields {{ name }} }} }} }}"), json!({})).await;
    pluck_str(&data["__schema"][root]["fields"], "name")
}

/// `{ kind name ofType { kind name } }` of a type's field or input field.
async fn field_type(t: &TestTenant, type_name: &str, field_name: &str) -> Value {
    let data = t
        .data(
            "query($n: String!) { __type(name: $n) {
                fields { name type { kind name ofType { kind name } } }
                inputFields { name type { kind name ofType { kind name } } } } }",
            json!({ "n": type_name }),
        )
        .await;
    let ty = &data["__type"];
    let list = if ty["fields"].is_array() { &ty["fields"] } else { &ty["inputFields"] };
    list.as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == field_name)
        .unwrap_or_else(|| panic!("{type_name}.{field_name} not found in {ty}"))["type"]
        .clone()
}

#[tokio::test]
async fn define_entity_returns_the_definition_and_lists_it() {
    let t = tenant().await;
    let def = t.define(deal_input()).await;
    assert_eq!(def["nameSingular"], json!("deal"));
    assert_eq!(def["namePlural"], json!("deals"));
    assert_eq!(def["labelSingular"], json!("Deal"));
    assert_eq!(def["labelPlural"], json!("Deals"));
    assert_eq!(def["icon"], json!("handshake"));
    assert_eq!(def["recordNumberPrefix"], json!("DEAL"));
    assert_eq!(def["typeName"], json!("Deal"));
    let fields = &def["fields"];
    assert_eq!(pluck_str(fields, "key"), strings(&["title", "closes_at", "stage"]));
    assert_eq!(pluck_str(fields, "graphqlName"), strings(&["title", "closesAt", "stage"]));
    assert_eq!(pluck_str(fields, "type"), strings(&["TEXT", "DATETIME", "SELECT"]));
    assert_eq!(fields[0]["required"], json!(true));
    assert_eq!(fields[1]["required"], json!(false));
    assert_eq!(fields[1]["unique"], json!(false));
    assert_eq!(fields[2]["options"], json!(["a", "b"]));
    let positions: Vec<i64> = fields
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["position"].as_i64().expect("position"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "positions {positions:?}");

    let listed = t.data(&format!("{{ entities {{ {ENTITY_DEFINITION} }} }}"), json!({})).await;
    assert_eq!(listed["entities"].as_array().expect("entities").len(), 1);
    assert_eq!(listed["entities"][0]["id"], def["id"]);
    assert_eq!(listed["entities"][0]["fields"], def["fields"]);

    // The generated operations exist on the very next request.
    // (Collected and asserted last, so that one missing operation does not hide other checks.)
    let expected_roots: [(&str, &[&str]); 3] = [
        ("queryType", &["deal", "deals", "dealsAggregate", "me", "tenant", "entities"]),
        (
            "mutationType",
            &["createDeal", "updateDeal", "deleteDeal", "restoreDeal", "defineEntity", "logout"],
        ),
        ("subscriptionType", &["dealChanged"]),
    ];
    let mut missing_roots = Vec::new();
    for (root, names) in expected_roots {
        let present = root_fields(&t, root).await;
        missing_roots
            .extend(names.iter().filter(|n| !present.iter().any(|p| p == *n)).map(|n| format!("{root}.{n}")));
    }

    let deal_fields = sorted(t.type_fields("Deal").await.expect("type Deal"));
    assert_eq!(
        deal_fields,
        sorted(strings(&[
            "id",
            "recordNumber",
            "createdAt",
            "updatedAt",
            "createdBy",
            "owner",
            "title",
            "closesAt",
            "stage"
        ]))
    );
    let title = field_type(&t, "Deal", "title").await;
    assert_eq!(
        title,
        json!({ "kind": "NON_NULL", "name": null, "ofType": { "kind": "SCALAR", "name": "String" } })
    );
    let closes_at = field_type(&t, "Deal", "closesAt").await;
    assert_eq!(closes_at["name"], json!("DateTime"));
    let input_title = field_type(&t, "CreateDealInput", "title").await;
    assert_eq!(input_title["kind"], json!("NON_NULL"));
    let update_title = field_type(&t, "UpdateDealInput", "title").await;
    assert_eq!(update_title["name"], json!("String"), "every update field is optional");
    assert!(missing_roots.is_empty(), "generated operations missing: {missing_roots:?}");
}

#[tokio::test]
async fn update_entity_changes_labels_icon_and_prefix() {
    let t = tenant().await;
    let mut input = deal_input();
    input["recordNumberPrefix"] = Value::Null;
    t.define(input).await;
    let before = t.create(&deal(), json!({ "title": "first" }), "recordNumber").await;
    assert_eq!(before["recordNumber"], Value::Null, "no prefix, no number");
    let response = t.request(
        &format!(
            "mutation($i: UpdateEntityInput!) {{ updateEntity(name: \"deal\", input: $i) {{ {ENTITY_DEFINITION} }} }}"
        ),
        json!({ "i": { "labelSingular": "Opportunity", "labelPlural": "Opportunities",
                       "icon": "star", "recordNumberPrefix": "OPP" } }),
    )
    .await;
    let def = &response.data()["updateEntity"];
    assert_eq!(def["labelSingular"], json!("Opportunity"));
    assert_eq!(def["labelPlural"], json!("Opportunities"));
    assert_eq!(def["icon"], json!("star"));
    assert_eq!(def["recordNumberPrefix"], json!("OPP"));
    assert_eq!(def["nameSingular"], json!("deal"), "names never change");
    assert_eq!(pluck_str(&def["fields"], "key").len(), 3);
    let after = t.create(&deal(), json!({ "title": "second" }), "recordNumber").await;
    let number = str_of(&after["recordNumber"]);
    assert!(number.starts_with("OPP-") && number.len() == 10, "{number}");
}

#[tokio::test]
async fn add_field_is_visible_on_the_very_next_request() {
    let t = tenant().await;
    t.define(deal_input()).await;
    let old = t.create(&deal(), json!({ "title": "old" }), "").await;
    assert!(!t.type_fields("Deal").await.expect("Deal").contains(&"nextStep".to_owned()));

    let def = t.add_field("deal", field("next_step", "TEXT", json!({}))).await;
    assert_eq!(
        pluck_str(&def["fields"], "graphqlName"),
        strings(&["title", "closesAt", "stage", "nextStep"])
    );
    assert!(t.type_fields("Deal").await.expect("Deal").contains(&"nextStep".to_owned()));
    assert!(t.type_fields("CreateDealInput").await.expect("input").contains(&"nextStep".to_owned()));

    let new = t.create(&deal(), json!({ "title": "new", "nextStep": "Call" }), "nextStep").await;
    assert_eq!(new["nextStep"], json!("Call"));
    let list = t.list(&deal(), "", json!({}), "title nextStep").await;
    assert_eq!(pluck_str(&list["nodes"], "nextStep"), strings(&["<null>", "Call"]));
    assert_eq!(list["nodes"][0]["id"], old["id"]);
    let filtered = t
        .list(&deal(), "filter: $filter", json!({ "filter": { "nextStep": { "eq": "Call" } } }), "title")
        .await;
    assert_eq!(pluck_str(&filtered["nodes"], "title"), strings(&["new"]));
}

#[tokio::test]
async fn update_field_changes_label_options_and_required() {
    let t = tenant().await;
    t.define(deal_input()).await;
    t.create_raw(&deal(), json!({ "title": "x", "stage": "c" }), "stage")
        .await
        .expect_field_errors(&["stage"]);
    let response = t.request(
        &format!(
            "mutation($i: UpdateFieldInput!) {{ updateField(entity: \"deal\", key: \"stage\", input: $i) {{ {ENTITY_DEFINITION} }} }}"
        ),
        json!({ "i": { "label": "Phase", "options": ["a", "b", "c"], "required": true } }),
    )
    .await;
    let def = &response.data()["updateField"];
    let stage = &def["fields"][2];
    assert_eq!(stage["key"], json!("stage"));
    assert_eq!(stage["label"], json!("Phase"));
    assert_eq!(stage["options"], json!(["a", "b", "c"]));
    assert_eq!(stage["required"], json!(true));
    assert_eq!(stage["type"], json!("SELECT"));
    let created = t.create(&deal(), json!({ "title": "x", "stage": "c" }), "stage").await;
    assert_eq!(created["stage"], json!("c"));
    let stage_input = field_type(&t, "CreateDealInput", "stage").await;
    assert_eq!(stage_input["kind"], json!("NON_NULL"), "required is reflected in the schema");
}

#[tokio::test]
async fn remove_field_removes_it_from_schema_and_data() {
    let t = tenant().await;
    let mut input = deal_input();
    input["fields"].as_array_mut().expect("fields").push(field("secret", "TEXT", json!({})));
    t.define(input).await;
    let record = t.create(&deal(), json!({ "title": "x", "secret": "s3cr3t" }), "secret").await;
    assert_eq!(record["secret"], json!("s3cr3t"));

    let response = t
        .request(
            &format!(
                "mutation {{ removeField(entity: \"deal\", key: \"secret\") {{ {ENTITY_DEFINITION} }} }}"
            ),
            json!({}),
        )
        .await;
    let def = &response.data()["removeField"];
    assert_eq!(pluck_str(&def["fields"], "key"), strings(&["title", "closes_at", "stage"]));
    assert!(!t.type_fields("Deal").await.expect("Deal").contains(&"secret".to_owned()));
    t.request("{ deals { nodes { secret } } }", json!({})).await.expect_code("BAD_REQUEST");

    // Re-adding the key starts empty: the values were removed with the field.
    t.add_field("deal", field("secret", "TEXT", json!({}))).await;
    let id = str_of(&record["id"]);
    let again = t.get(&deal(), &id, "title secret").await;
    assert_eq!(again["title"], json!("x"));
    assert_eq!(again["secret"], Value::Null);
}

#[tokio::test]
async fn delete_entity_removes_its_types_and_operations() {
    let t = tenant().await;
    t.define(deal_input()).await;
    t.create(&deal(), json!({ "title": "x" }), "").await;
    let data = t.data("mutation { deleteEntity(name: \"deal\") }", json!({})).await;
    assert_eq!(data["deleteEntity"], json!(true));
    assert!(t.entity_names().await.is_empty());
    assert_eq!(t.type_fields("Deal").await, None);
    t.request("{ deals { totalCount } }", json!({})).await.expect_code("BAD_REQUEST");
    // The name is free again, and the new entity starts empty.
    t.define(deal_input()).await;
    let list = t.list(&deal(), "", json!({}), "").await;
    assert_eq!(list["totalCount"], json!(0));
}

#[tokio::test]
async fn failing_delete_entity_referenced_by_a_relation() {
    let t = crm_tenant().await;
    t.request("mutation { deleteEntity(name: \"contact\") }", json!({})).await.expect_code("CONFLICT");
    assert_eq!(t.entity_names().await, strings(&["company", "contact", "deal"]));
    // Once nothing points at it any more, it can go.
    t.data("mutation { deleteEntity(name: \"deal\") }", json!({})).await;
    t.data("mutation { deleteEntity(name: \"contact\") }", json!({})).await;
    assert_eq!(t.entity_names().await, strings(&["company"]));
}

#[tokio::test]
async fn failing_define_entity_rules() {
    let t = tenant().await;
    t.define(deal_input()).await;
    let text = |key: &str| field(key, "TEXT", json!({}));
    let simple = |singular: &str, plural: &str| entity(singular, plural, vec![text("title")], json!({}));
    let with_fields = |fields: Vec<Value>| entity("widget", "widgets", fields, json!({}));
    let long = format!("a{}", "b".repeat(63));
    let cases: Vec<(&str, Value, &str)> = vec![
        ("uppercase start", simple("Widget", "widgets"), "nameSingular"),
        ("digit start", simple("1widget", "widgets"), "nameSingular"),
        ("double underscore", simple("wid__get", "widgets"), "nameSingular"),
        ("dash", simple("wid-get", "widgets"), "nameSingular"),
        ("64 characters", simple(&long, "widgets"), "nameSingular"),
        ("bad plural", simple("widget", "wid gets"), "namePlural"),
        ("singular equals plural", simple("sheep", "sheep"), "name"),
        ("collides with User", simple("user", "users"), "name"),
        ("collides with Tenant", simple("tenant", "tenants"), "name"),
        ("collides with DealConnection", simple("deal_connection", "deal_connections"), "name"),
        ("collides with deal", simple("deal", "deal_list"), "name"),
        ("plural collides with deals", simple("offer", "deals"), "name"),
        ("field key id", with_fields(vec![text("id")]), "key"),
        ("field key createdAt", with_fields(vec![text("createdAt")]), "key"),
        ("field key created_at", with_fields(vec![text("created_at")]), "key"),
        ("field key owner", with_fields(vec![text("owner")]), "key"),
        ("field key deleted_at", with_fields(vec![text("deleted_at")]), "key"),
        ("field key record_number", with_fields(vec![text("record_number")]), "key"),
        ("field key with space", with_fields(vec![text("full name")]), "key"),
        ("field key uppercase", with_fields(vec![text("Name")]), "key"),
        ("field key __typename", with_fields(vec![text("__typename")]), "key"),
        ("full_name and fullName", with_fields(vec![text("full_name"), text("fullName")]), "key"),
        ("duplicate key", with_fields(vec![text("name"), text("name")]), "key"),
        ("select without options", with_fields(vec![field("kind", "SELECT", json!({}))]), "options"),
        (
            "select with empty options",
            with_fields(vec![field("kind", "SELECT", json!({ "options": [] }))]),
            "options",
        ),
        (
            "multi-select with duplicate options",
            with_fields(vec![field("kinds", "MULTI_SELECT", json!({ "options": ["a", "a"] }))]),
            "options",
        ),
        (
            "relation to an unknown entity",
            with_fields(vec![field("parent", "RELATION", json!({ "relatedEntity": "ghost" }))]),
            "relatedEntity",
        ),
        (
            "relation without a target",
            with_fields(vec![field("parent", "RELATION", json!({}))]),
            "relatedEntity",
        ),
    ];
    // Every case runs (problems are collected) so one report shows every broken rule.
    let mut problems = Vec::new();
    for (case, input, needle) in cases {
        let response = t.define_raw(input).await;
        let code = response.errors().first().map(|e| e["extensions"]["code"].clone());
        if code != Some(json!("VALIDATION_FAILED")) {
            problems.push(format!("{case}: expected VALIDATION_FAILED, got {}", response.text));
        } else if !response.field_errors().iter().any(|f| f.contains(needle)) {
            problems.push(format!("{case}: no field error mentioning {needle:?}: {}", response.text));
        }
        // Nothing is created by a failing call.
        let names = t.entity_names().await;
        if names != strings(&["deal"]) {
            problems.push(format!("{case}: entities are now {names:?}"));
            for name in names.iter().filter(|n| *n != "deal") {
                t.data("mutation($n: String!) { deleteEntity(name: $n) }", json!({ "n": name })).await;
            }
        }
    }
    assert!(problems.is_empty(), "definition rules not enforced:\n{}", problems.join("\n"));
    assert_eq!(t.type_fields("Widget").await, None);
}

#[tokio::test]
async fn failing_add_field_rules() {
    let t = crm_tenant().await;
    let cases: Vec<(&str, &str, Value)> = vec![
        ("system field id", "deal", field("id", "TEXT", json!({}))),
        ("system field createdBy", "deal", field("created_by", "TEXT", json!({}))),
        ("system field updatedAt", "deal", field("updatedAt", "TEXT", json!({}))),
        ("existing key", "deal", field("title", "TEXT", json!({}))),
        ("camelCase twin of a key", "deal", field("closesAt", "TEXT", json!({}))),
        // Contact.deals is the reverse side of deal.contact.
        ("reverse relation name", "contact", field("deals", "TEXT", json!({}))),
        ("select without options", "deal", field("kind", "SELECT", json!({}))),
        ("bad identifier", "deal", field("9lives", "TEXT", json!({}))),
    ];
    for (case, entity_name, input) in cases {
        let response = t.add_field_raw(entity_name, input).await;
        assert_eq!(response.code(), "VALIDATION_FAILED", "{case}: {}", response.text);
        assert!(!response.field_errors().is_empty(), "{case}");
    }
    let response = t.add_field_raw("ghost", field("x", "TEXT", json!({}))).await;
    response.expect_code("NOT_FOUND");
    let deal_fields = t.type_fields("Deal").await.expect("Deal");
    assert!(!deal_fields.contains(&"kind".to_owned()));
    let contact_fields = t.type_fields("Contact").await.expect("Contact");
    assert_eq!(contact_fields.iter().filter(|f| *f == "deals").count(), 1);
}

#[tokio::test]
async fn failing_definition_operations_for_a_member() {
    let t = tenant().await;
    t.define(deal_input()).await;
    let member_user = t.invite("member").await;
    assert_eq!(member_user["user"]["role"], json!("member"));
    let credentials = [
        ("member user", Auth::Bearer(str_of(&member_user["accessToken"]))),
        ("member API key", t.api_key("member").await),
    ];
    let attempts = [
        "mutation { defineEntity(input: {nameSingular: \"widget\", namePlural: \"widgets\", labelSingular: \"W\", labelPlural: \"Ws\"}) { id } }",
        "mutation { updateEntity(name: \"deal\", input: {icon: \"x\"}) { id } }",
        "mutation { addField(entity: \"deal\", field: {key: \"x\", label: \"X\", type: TEXT}) { id } }",
        "mutation { updateField(entity: \"deal\", key: \"title\", input: {label: \"X\"}) { id } }",
        "mutation { removeField(entity: \"deal\", key: \"stage\") { id } }",
        "mutation { deleteEntity(name: \"deal\") }",
    ];
    for (who, auth) in &credentials {
        for query in attempts {
            let response = t.api.graphql(auth, query, json!({})).await;
            assert_eq!(response.code(), "FORBIDDEN", "{who}: {query}: {}", response.text);
        }
    }
    // Nothing changed.
    assert_eq!(t.entity_names().await, strings(&["deal"]));
    let fields = t.type_fields("Deal").await.expect("Deal");
    assert!(fields.contains(&"stage".to_owned()) && !fields.contains(&"x".to_owned()));
    // An admin may define entities.
    let admin = t.invite("admin").await;
    let admin = Auth::Bearer(str_of(&admin["accessToken"]));
    let response = t.api.graphql(&admin, attempts[0], json!({})).await;
    assert!(response.data()["defineEntity"]["id"].is_string());
}
