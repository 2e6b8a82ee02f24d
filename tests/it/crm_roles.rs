//! CRM roles as metadata through the public API: a tenant whose pipeline entity is called
//! `opportunity` (stage `phase`, position `rank`) and whose leads are `prospect`s (status
//! `state`, converted as `Won over`) gets `moveDeal` and `convertLead` working on those once an
//! administrator sets its roles with `setCrmRoles` (checked against the definitions); a member
//! reads the roles but is refused setting them. Both operations are updates: a member whose
//! update scope is narrower than what they read may not move or convert a record they only
//! read (`FORBIDDEN`, and nothing is written).

use serde_json::{Value, json};

use crate::harness::*;

const SET: &str = "mutation($i: CrmRolesInput!) { setCrmRoles(input: $i) { pipeline stageField positionField wonValue lostValue lead leadStatusField convertedValue account contact activity timelineEntities } }";

/// A tenant with the CRM's parts under other names (and no `deal`, `lead`…); the confidence
/// meter's tests (`confidence`) run on it too.
pub async fn opportunity_tenant() -> TestTenant {
    let t = tenant().await;
    t.define_entity("company", "companies", plain_fields(&[("name", "TEXT")])).await;
    t.define_entity(
        "person",
        "people",
        vec![
            field("full_name", "TEXT", json!({})),
            field("email", "EMAIL", json!({})),
            field("employer", "RELATION", json!({"relatedEntity": "company"})),
        ],
    )
    .await;
    t.define_entity(
        "prospect",
        "prospects",
        vec![
            field("full_name", "TEXT", json!({})),
            field("email", "EMAIL", json!({})),
            field("company", "TEXT", json!({})),
            field("estimated_value", "CURRENCY", json!({})),
            field("state", "SELECT", json!({"options": ["Open", "Qualified", "Won over"]})),
        ],
    )
    .await;
    t.define_entity(
        "opportunity",
        "opportunities",
        vec![
            field("title", "TEXT", json!({})),
            field("phase", "SELECT", json!({"options": ["Discover", "Propose", "Won", "Lost"]})),
            field("rank", "NUMBER", json!({})),
            field("amount", "CURRENCY", json!({})),
            field("buyer", "RELATION", json!({"relatedEntity": "company"})),
            field("champion", "RELATION", json!({"relatedEntity": "person"})),
            field("origin", "RELATION", json!({"relatedEntity": "prospect"})),
        ],
    )
    .await;
    t.define_entity(
        "touch",
        "touches",
        vec![
            field("subject", "TEXT", json!({})),
            field("about_prospect", "RELATION", json!({"relatedEntity": "prospect"})),
            field("about_opportunity", "RELATION", json!({"relatedEntity": "opportunity"})),
            field("with_person", "RELATION", json!({"relatedEntity": "person"})),
        ],
    )
    .await;
    t
}

/// The roles of the opportunity tenant.
pub fn roles() -> Value {
    json!({"pipeline": "opportunity", "stageField": "phase", "positionField": "rank", "wonValue": "Won",
           "lostValue": "Lost", "lead": "prospect", "leadStatusField": "state", "convertedValue": "Won over",
           "account": "company", "contact": "person", "activity": "touch"})
}

#[tokio::test]
async fn move_deal_and_convert_lead_follow_the_roles_of_an_opportunity_tenant() {
    let t = opportunity_tenant().await;
    // Before: the corporate CRM's names, which this tenant lacks, so no CRM operation.
    let before = t.data("{ crmRoles { pipeline stageField convertedValue } }", json!({})).await;
    assert_eq!(
        before["crmRoles"],
        json!({"pipeline": "deal", "stageField": "stage", "convertedValue": "Converted"})
    );
    let mv = "mutation($id: ID!, $s: String!, $p: Int) { moveDeal(id: $id, stage: $s, position: $p) { id phase rank } }";
    assert!(!t.request(mv, json!({"id": "x", "s": "Propose"})).await.errors().is_empty());

    // Roles that do not fit the definitions are refused, naming the part.
    let mut bad = roles();
    bad["pipeline"] = json!("deal");
    let refused = t.request(SET, json!({"i": bad})).await;
    refused.expect_code("VALIDATION_FAILED");
    assert_eq!(refused.field_errors(), vec!["pipeline".to_owned()], "{}", refused.text);
    let mut bad = roles();
    bad["wonValue"] = json!("Closed Won");
    bad["convertedValue"] = json!("Converted");
    let refused = t.request(SET, json!({"i": bad})).await;
    assert_eq!(
        refused.field_errors(),
        vec!["stageField".to_owned(), "leadStatusField".to_owned()],
        "{}",
        refused.text
    );

    let set = t.data(SET, json!({"i": roles()})).await["setCrmRoles"].clone();
    assert_eq!(set["pipeline"], json!("opportunity"));
    assert_eq!(set["timelineEntities"], Value::Null);
    let read = t.data("{ crmRoles { pipeline lead account contact activity } }", json!({})).await;
    assert_eq!(
        read["crmRoles"],
        json!({"pipeline": "opportunity", "lead": "prospect", "account": "company", "contact": "person", "activity": "touch"})
    );

    // moveDeal on opportunities: phase and rank.
    let opportunities = Names::new("opportunity", "opportunities");
    let mut ids = Vec::new();
    for title in ["A", "B"] {
        ids.push(str_of(
            &t.create(&opportunities, json!({"title": title, "phase": "Discover"}), "").await["id"],
        ));
    }
    let moved = t.data(mv, json!({"id": ids[0], "s": "Propose"})).await["moveDeal"].clone();
    assert_eq!(moved["phase"], json!("Propose"));
    t.data(mv, json!({"id": ids[1], "s": "Propose", "p": 0})).await;
    let q = "{ opportunities(filter: {phase: {eq: \"Propose\"}}, orderBy: [{field: RANK, direction: ASC}]) { nodes { title } } }";
    assert_eq!(pluck_str(&t.data(q, json!({})).await["opportunities"]["nodes"], "title"), ["B", "A"]);
    t.request(mv, json!({"id": ids[0], "s": "Closed Won"})).await.expect_code("VALIDATION_FAILED");

    // convertLead on a prospect: company, person and opportunity, linked by their own fields.
    let ida = json!({"fullName": "Ida Lind", "email": "ida@initech.example", "company": "Initech",
                     "state": "Qualified", "estimatedValue": "900.00"});
    let prospect = str_of(&t.create(&Names::new("prospect", "prospects"), ida, "").await["id"]);
    let touches = Names::new("touch", "touches");
    let touch = str_of(
        &t.create(&touches, json!({"subject": "First call", "aboutProspect": prospect}), "").await["id"],
    );
    let convert = "mutation($id: ID!) { convertLead(id: $id) { lead { state } contact { id fullName employer { name } } account { id name } deal { id title phase amount origin { id } champion { fullName } buyer { name } } } }";
    let done = t.data(convert, json!({"id": prospect})).await["convertLead"].clone();
    assert_eq!(done["lead"]["state"], json!("Won over"));
    assert_eq!(done["contact"]["fullName"], json!("Ida Lind"));
    assert_eq!(done["contact"]["employer"]["name"], json!("Initech"));
    assert_eq!(done["account"]["name"], json!("Initech"));
    assert_eq!(
        (done["deal"]["title"].clone(), done["deal"]["phase"].clone(), done["deal"]["amount"].clone()),
        (json!("Initech"), json!("Discover"), json!("900.00"))
    );
    assert_eq!(done["deal"]["origin"]["id"], json!(prospect));
    assert_eq!(done["deal"]["champion"]["fullName"], json!("Ida Lind"));
    assert_eq!(done["deal"]["buyer"]["name"], json!("Initech"));
    let linked = t.get(&touches, &touch, "aboutOpportunity { id } withPerson { id }").await;
    assert_eq!(linked["aboutOpportunity"]["id"], done["deal"]["id"]);
    assert_eq!(linked["withPerson"]["id"], done["contact"]["id"]);
    t.request(convert, json!({"id": prospect})).await.expect_code("CONFLICT");
}

#[tokio::test]
async fn a_member_reads_the_crm_roles_but_may_not_set_them() {
    let t = opportunity_tenant().await;
    let member = t.invite_auth("member").await;
    let read = t.api.graphql(&member, "{ crmRoles { pipeline } }", json!({})).await.data();
    assert_eq!(read["crmRoles"]["pipeline"], json!("deal"));
    // The member's schema has neither the operation nor its input type.
    let set = "mutation { setCrmRoles(input: {pipeline: \"opportunity\", stageField: \"phase\", positionField: \"rank\"}) { pipeline } }";
    t.api.graphql(&member, set, json!({})).await.expect_code("FORBIDDEN");
    // Nothing changed.
    let read = t.data("{ crmRoles { pipeline } }", json!({})).await;
    assert_eq!(read["crmRoles"]["pipeline"], json!("deal"));
}

#[tokio::test]
async fn the_corporate_crm_template_declares_its_roles() {
    // A tenant whose roles name its opportunities; applying the corporate CRM sets its own.
    let t = opportunity_tenant().await;
    t.data(SET, json!({"i": roles()})).await;
    t.data("mutation { applyTemplate(slug: \"corporate-crm\") { entities } }", json!({})).await;
    let read =
        t.data("{ crmRoles { pipeline stageField wonValue lead convertedValue activity } }", json!({})).await;
    assert_eq!(
        read["crmRoles"],
        json!({"pipeline": "deal", "stageField": "stage", "wonValue": "Closed Won", "lead": "lead",
               "convertedValue": "Converted", "activity": "activity"})
    );
}

#[tokio::test]
async fn a_member_may_not_move_or_convert_what_their_update_scope_leaves_out() {
    let t = opportunity_tenant().await;
    t.data(SET, json!({"i": roles()})).await;
    // Reads every opportunity and prospect, but updates only their own.
    let rep = json!({"opportunity": {"actions": ["create", "read", "update_own"]},
                     "prospect": {"actions": ["create", "read", "update_own"]},
                     "person": {"actions": ["create", "read"]}, "company": {"actions": ["create", "read"]},
                     "touch": {"actions": ["read", "update"]}});
    t.create_role("rep", rep).await;
    let member = t.invite_auth("rep").await;
    let opportunities = Names::new("opportunity", "opportunities");
    let prospects = Names::new("prospect", "prospects");
    let theirs =
        str_of(&t.create(&opportunities, json!({"title": "Owner's", "phase": "Discover"}), "").await["id"]);

    let mv = "mutation($id: ID!, $s: String!) { moveDeal(id: $id, stage: $s) { id phase } }";
    let read = "query($id: ID!) { opportunity(id: $id) { phase } }";
    assert_eq!(
        t.api.graphql(&member, read, json!({"id": theirs})).await.data()["opportunity"]["phase"],
        json!("Discover")
    );
    t.api.graphql(&member, mv, json!({"id": theirs, "s": "Propose"})).await.expect_code("FORBIDDEN");
    assert_eq!(t.get(&opportunities, &theirs, "phase").await["phase"], json!("Discover"), "not moved");
    // Their own moves.
    let create = "mutation { createOpportunity(input: {title: \"Mine\", phase: \"Discover\"}) { id } }";
    let mine = str_of(&t.api.graphql(&member, create, json!({})).await.data()["createOpportunity"]["id"]);
    let moved = t.api.graphql(&member, mv, json!({"id": mine, "s": "Propose"})).await.data();
    assert_eq!(moved["moveDeal"]["phase"], json!("Propose"));

    // convertLead updates the lead: the owner's prospect is refused and nothing is made.
    let ida = json!({"fullName": "Ida Lind", "company": "Initech", "state": "Qualified"});
    let their_lead = str_of(&t.create(&prospects, ida, "").await["id"]);
    let convert = "mutation($id: ID!) { convertLead(id: $id) { lead { state } deal { id } } }";
    t.api.graphql(&member, convert, json!({"id": their_lead})).await.expect_code("FORBIDDEN");
    assert_eq!(t.get(&prospects, &their_lead, "state").await["state"], json!("Qualified"));
    let people = t.list(&Names::new("person", "people"), "", json!({}), "").await;
    assert_eq!(people["totalCount"], json!(0), "no contact made: {people}");
    // Their own converts.
    let create = "mutation { createProspect(input: {fullName: \"Bo Ek\", company: \"Hooli\", state: \"Qualified\"}) { id } }";
    let my_lead = str_of(&t.api.graphql(&member, create, json!({})).await.data()["createProspect"]["id"]);
    let done = t.api.graphql(&member, convert, json!({"id": my_lead})).await.data();
    assert_eq!(done["convertLead"]["lead"]["state"], json!("Won over"));
    // An id nobody has is NOT_FOUND, as ever.
    let nobody = "00000000-0000-4000-8000-000000000000";
    t.api.graphql(&member, mv, json!({"id": nobody, "s": "Propose"})).await.expect_code("NOT_FOUND");
}
