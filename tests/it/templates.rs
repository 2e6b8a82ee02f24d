//! Industry templates through the public API: every template applies to a fresh tenant (at
//! signup) with its entities, roles, workflows and dashboards, and every dashboard widget
//! computes; then a realistic scenario per industry — related records, a workflow that fires,
//! a dashboard whose numbers match the records the test created. `applyTemplate` refuses a
//! tenant with data (CONFLICT) unless allowed, and fails whole (nothing half-applied).

use serde_json::{Value, json};

use crate::harness::*;

const BOARDS: &str =
    "{ dashboards { id key name(lang: \"hi\") roles widgets { index type entity title data } } }";

/// A tenant signed up with `template`.
pub(crate) async fn tenant_with(template: &str) -> TestTenant {
    let t = tenant().await;
    // Signup on the shared server with a template: a second tenant, same owner password.
    let slug = unique_slug();
    let email = format!("owner@{slug}.example.com");
    let q = format!("mutation($i: SignupInput!) {{ signup(input: $i) {{ {AUTH_PAYLOAD} }} }}");
    let input = json!({"tenantName": format!("{template} {slug}"), "tenantSlug": slug, "email": email,
                       "password": PASSWORD, "template": template});
    let data = t.api.graphql(&Auth::None, &q, json!({"i": input})).await.data();
    let p = &data["signup"];
    TestTenant {
        api: Api::shared(),
        access_token: str_of(&p["accessToken"]),
        refresh_token: str_of(&p["refreshToken"]),
        slug,
        name: template.to_owned(),
        email,
        password: PASSWORD.to_owned(),
        user_id: str_of(&p["user"]["id"]),
        tenant_id: str_of(&p["tenant"]["id"]),
    }
}

/// The dashboard `key` with its widgets' data.
async fn board(t: &TestTenant, key: &str) -> Value {
    let all = t.data(BOARDS, json!({})).await["dashboards"].clone();
    all.as_array().into_iter().flatten().find(|b| b["key"] == json!(key)).cloned().unwrap_or(Value::Null)
}

/// The data of the widget titled `title` (English) on dashboard `key`.
async fn widget(t: &TestTenant, key: &str, entity: &str, kind: &str, nth: usize) -> Value {
    let q = "{ dashboards { key widgets { type entity data } } }";
    let all = t.data(q, json!({})).await["dashboards"].clone();
    let b =
        all.as_array().into_iter().flatten().find(|b| b["key"] == json!(key)).cloned().unwrap_or(Value::Null);
    b["widgets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| w["entity"] == json!(entity) && w["type"] == json!(kind))
        .nth(nth)
        .map(|w| w["data"].clone())
        .unwrap_or(Value::Null)
}

/// The sample query the README shows for each template.
fn readme_sample(slug: &str) -> &'static str {
    match slug {
        "corporate-crm" => {
            r#"{ deals(filter: {stage: {eq: "Proposal"}}) { totalCount nodes { title amount account { name } } } }"#
        }
        "hospital" => {
            r#"{ appointments(orderBy: [{field: STARTS_AT, direction: ASC}]) { nodes { startsAt status patient { fullName } } } }"#
        }
        "real-estate" => r#"{ listingsAggregate(groupBy: [STATUS]) { group count } }"#,
        "jewellery" => {
            r#"{ inventoryItems(filter: {metal: {eq: "Gold"}, purity: {eq: "22K"}}) { nodes { sku name weightGrams price } } }"#
        }
        "manufacturing" => r#"{ approvalRequests(assignedToMe: true) { recordId stageName stageDueAt } }"#,
        "hr" => {
            r#"{ leaveRequests(filter: {approvalStatus: {eq: "PENDING_APPROVAL"}}) { nodes { recordNumber days employee { fullName } } } }"#
        }
        "projects" => r#"{ tasksAggregate(groupBy: [STATUS]) { group count } }"#,
        "support" => {
            r#"{ tickets(filter: {priority: {eq: "Urgent"}}) { nodes { recordNumber subject slaStatus } } }"#
        }
        _ => r#"{ entities { nameSingular } }"#,
    }
}

#[tokio::test]
async fn every_template_applies_at_signup_and_its_dashboards_compute() {
    let t = tenant().await;
    let list = t
        .data(
            "{ templates { slug version name(lang: \"hi\") entities roles workflows dashboards } }",
            json!({}),
        )
        .await;
    let slugs: Vec<String> =
        list["templates"].as_array().expect("templates").iter().map(|x| str_of(&x["slug"])).collect();
    // The built-in ones first (other tests may add their own through TEMPLATES_DIR).
    assert_eq!(
        slugs[..6],
        ["blank", "corporate-crm", "hospital", "real-estate", "jewellery", "manufacturing"]
    );
    for tpl in list["templates"].as_array().expect("templates").iter().take(6) {
        assert_applied_at_signup(tpl).await;
    }
}

/// A tenant signed up with template `tpl` (as `templates` lists it), checked: its entities
/// with Hindi labels, roles, workflows and dashboards (Hindi names, every widget computing),
/// and the README's sample query for it runs.
pub(crate) async fn assert_applied_at_signup(tpl: &Value) -> TestTenant {
    let slug = str_of(&tpl["slug"]);
    let tt = tenant_with(&slug).await;
    let mut names = tt.entity_names().await;
    let mut expected: Vec<String> =
        tpl["entities"].as_array().expect("entities").iter().map(str_of).collect();
    names.sort();
    expected.sort();
    assert_eq!(names, expected, "{slug}");
    let defs = tt.data("{ entities { nameSingular labels } }", json!({})).await;
    for e in defs["entities"].as_array().expect("entities") {
        let hi = &e["labels"]["hi"];
        assert!(
            hi["singular"].is_string() && hi["plural"].is_string(),
            "{slug}: Hindi labels of {}",
            e["nameSingular"]
        );
    }
    let roles = pluck_str(&tt.data("{ roles { name } }", json!({})).await["roles"], "name");
    for r in tpl["roles"].as_array().expect("roles") {
        assert!(roles.contains(&str_of(r)), "{slug}: role {r} missing from {roles:?}");
    }
    let workflows = tt.data("{ workflows { name active } }", json!({})).await["workflows"].clone();
    assert_eq!(workflows.as_array().map(Vec::len), tpl["workflows"].as_array().map(Vec::len), "{slug}");
    // The README's sample query for this template runs.
    tt.data(readme_sample(&slug), json!({})).await;
    let boards = tt.data(BOARDS, json!({})).await["dashboards"].clone();
    let keys: Vec<String> =
        boards.as_array().expect("dashboards").iter().map(|b| str_of(&b["key"])).collect();
    let expected: Vec<String> = tpl["dashboards"].as_array().expect("keys").iter().map(str_of).collect();
    assert_eq!(keys, expected, "{slug}");
    for b in boards.as_array().expect("dashboards") {
        assert!(!str_of(&b["name"]).is_empty(), "{slug}: a Hindi name");
        for w in b["widgets"].as_array().expect("widgets") {
            assert!(w["data"].is_object(), "{slug}/{}: widget {} computes: {w}", b["key"], w["index"]);
        }
    }
    tt
}

#[tokio::test]
async fn apply_template_refuses_a_tenant_with_data_and_applies_whole_or_not_at_all() {
    let t = tenant().await;
    t.define(entity("note", "notes", vec![field("title", "TEXT", json!({}))], json!({}))).await;
    t.create(&Names::new("note", "notes"), json!({"title": "x"}), "").await;
    let apply = "mutation($s: String!, $a: Boolean) { applyTemplate(slug: $s, allowExistingData: $a) { slug entities roles workflows dashboards } }";
    t.request(apply, json!({"s": "hospital"})).await.expect_code("CONFLICT");
    let done = t.data(apply, json!({"s": "hospital", "a": true})).await["applyTemplate"].clone();
    assert_eq!((done["entities"].clone(), done["dashboards"].clone()), (json!(4), json!(2)));
    // Again: the names are taken — refused as a whole, nothing more written.
    let before = t.entity_names().await.len();
    t.request(apply, json!({"s": "hospital", "a": true})).await.expect_code("VALIDATION_FAILED");
    assert_eq!(t.entity_names().await.len(), before);
    t.request(apply, json!({"s": "nope"})).await.expect_code("NOT_FOUND");
    let q = "mutation($i: SignupInput!) { signup(input: $i) { accessToken } }";
    let slug = unique_slug();
    let bad = json!({"tenantName": "x", "tenantSlug": slug, "email": format!("a@{slug}.example.com"), "password": PASSWORD, "template": "nope"});
    t.api.graphql(&Auth::None, q, json!({"i": bad})).await.expect_field_errors(&["template"]);
}

#[tokio::test]
async fn corporate_crm_pipeline_workflow_and_dashboard() {
    let t = tenant_with("corporate-crm").await;
    let (accounts, deals, leads, activities) = (
        Names::new("account", "accounts"),
        Names::new("deal", "deals"),
        Names::new("lead", "leads"),
        Names::new("activity", "activities"),
    );
    let acme = str_of(&t.create(&accounts, json!({"name": "Acme"}), "").await["id"]);
    let mut ids = Vec::new();
    for (title, stage, amount) in [
        ("A", "Prospecting", "100.00"),
        ("B", "Proposal", "250.50"),
        ("C", "Proposal", "49.50"),
        ("D", "Negotiation", "1000.00"),
    ] {
        let d = t
            .create(&deals, json!({"title": title, "stage": stage, "amount": amount, "account": acme}), "")
            .await;
        ids.push(str_of(&d["id"]));
    }
    for (name, status) in [("Lee", "New"), ("Kim", "Qualified"), ("Max", "Lost")] {
        t.create(&leads, json!({"fullName": name, "status": status}), "").await;
    }
    // Won: the workflow creates the kick-off task.
    t.update(&deals, &ids[3], json!({"stage": "Closed Won"}), "").await;
    eventually("the kick-off task", EFFECT_WAIT, async || {
        let list = t.list(&activities, "", json!({}), "subject").await;
        list["nodes"].as_array().is_some_and(|a| a.iter().any(|x| x["subject"] == json!("Kick-off with D")))
    })
    .await;
    let pipeline = widget(&t, "sales", "deal", "PIPELINE", 0).await;
    let stage = |name: &str| {
        pipeline["stages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["stage"] == json!(name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        (stage("Proposal")["count"].clone(), stage("Proposal")["total"].clone()),
        (json!(2), json!("300.00"))
    );
    assert_eq!(
        (stage("Closed Won")["count"].clone(), stage("Closed Won")["total"].clone()),
        (json!(1), json!("1000.00"))
    );
    assert_eq!(stage("Qualification")["count"], json!(0));
    // "Open leads": New, Contacted or Qualified.
    let open = widget(&t, "sales", "lead", "METRIC", 0).await;
    assert_eq!(open["value"], json!(2));
    // Deals by month: all four were created now, in the tenant's month.
    let by_month = widget(&t, "sales", "deal", "CHART", 0).await;
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    assert_eq!(by_month["series"], json!([{"key": month, "value": 4}]));
    let recent = widget(&t, "sales", "lead", "RECENT", 0).await;
    assert_eq!(recent["records"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn hospital_welcome_email_completed_visit_and_front_desk() {
    let t = tenant_with("hospital").await;
    let (doctors, patients, appts, records) = (
        Names::new("doctor", "doctors"),
        Names::new("patient", "patients"),
        Names::new("appointment", "appointments"),
        Names::new("medical_record", "medical_records"),
    );
    let doc = str_of(&t.create(&doctors, json!({"fullName": "Dr. Rao"}), "").await["id"]);
    let address = format!("asha-{}@example.com", uuid::Uuid::new_v4().simple());
    let pat = str_of(&t.create(&patients, json!({"fullName": "Asha", "email": address}), "").await["id"]);
    let mail = smtp_sink().wait_for(&address, 1, EFFECT_WAIT).await;
    assert!(mail.iter().any(|m| m["subject"].as_str().is_some_and(|s| s.contains("Asha"))), "{mail:?}");
    let at =
        (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut booked = Vec::new();
    for _ in 0..3 {
        let a = t
            .create(&appts, json!({"patient": pat, "doctor": doc, "startsAt": at, "status": "Booked"}), "")
            .await;
        booked.push(str_of(&a["id"]));
    }
    t.update(&appts, &booked[0], json!({"status": "Completed"}), "").await;
    eventually("the visit's medical record", EFFECT_WAIT, async || {
        t.list(&records, "", json!({}), "").await["nodes"].as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    let by_status = widget(&t, "front_desk", "appointment", "CHART", 0).await;
    assert_eq!(by_status["series"], json!([{"key": "Booked", "value": 2}, {"key": "Completed", "value": 1}]));
    let new_patients = widget(&t, "front_desk", "patient", "METRIC", 0).await;
    assert_eq!(new_patients["value"], json!(1));
}

#[tokio::test]
async fn real_estate_viewing_feedback_and_listing_numbers() {
    let t = tenant_with("real-estate").await;
    let (props, buyers, listings, viewings) = (
        Names::new("property", "properties"),
        Names::new("buyer", "buyers"),
        Names::new("listing", "listings"),
        Names::new("viewing", "viewings"),
    );
    let p = str_of(
        &t.create(
            &props,
            json!({"title": "Sea view", "address": "1 Beach Rd", "city": "Goa", "type": "Villa"}),
            "",
        )
        .await["id"],
    );
    let address = format!("buyer-{}@example.com", uuid::Uuid::new_v4().simple());
    let b = str_of(&t.create(&buyers, json!({"fullName": "Ravi", "email": address}), "").await["id"]);
    let l = str_of(
        &t.create(
            &listings,
            json!({"title": "Sea view villa", "property": p, "listPrice": "250000.00", "status": "Active"}),
            "",
        )
        .await["id"],
    );
    t.create(
        &listings,
        json!({"title": "Old one", "property": p, "listPrice": "1.00", "status": "Sold"}),
        "",
    )
    .await;
    let at =
        (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let v = str_of(
        &t.create(&viewings, json!({"listing": l, "buyer": b, "scheduledAt": at, "status": "Scheduled"}), "")
            .await["id"],
    );
    t.update(&viewings, &v, json!({"status": "Completed"}), "").await;
    let mail = smtp_sink().wait_for(&address, 1, EFFECT_WAIT).await;
    assert!(
        mail.iter().any(|m| m["subject"].as_str().is_some_and(|s| s.contains("Sea view villa"))),
        "{mail:?}"
    );
    assert_eq!(widget(&t, "listings", "listing", "METRIC", 0).await["value"], json!(1), "active listings");
    let by_status = widget(&t, "listings", "listing", "CHART", 0).await;
    assert_eq!(by_status["series"], json!([{"key": "Active", "value": 1}, {"key": "Sold", "value": 1}]));
}

#[tokio::test]
async fn jewellery_repair_emails_and_workshop_counts() {
    let t = tenant_with("jewellery").await;
    let (customers, repairs) = (Names::new("customer", "customers"), Names::new("repair", "repairs"));
    let address = format!("meera-{}@example.com", uuid::Uuid::new_v4().simple());
    let c = str_of(
        &t.create(&customers, json!({"fullName": "Meera", "phone": "+91 98765 43210", "email": address}), "")
            .await["id"],
    );
    let r = str_of(
        &t.create(&repairs, json!({"customer": c, "description": "Resize ring", "status": "Received"}), "")
            .await["id"],
    );
    t.create(&repairs, json!({"customer": c, "description": "Polish", "status": "In Progress"}), "").await;
    t.update(&repairs, &r, json!({"status": "Ready"}), "").await;
    let mail = smtp_sink().wait_for(&address, 3, EFFECT_WAIT).await;
    assert!(
        mail.iter().any(|m| m["subject"].as_str().is_some_and(|s| s.contains("ready for pickup"))),
        "{mail:?}"
    );
    let by_status = widget(&t, "workshop", "repair", "CHART", 0).await;
    assert_eq!(
        by_status["series"],
        json!([{"key": "In Progress", "value": 1}, {"key": "Ready", "value": 1}])
    );
    // In progress (Received or In Progress): the polish; ready for pickup: the ring.
    assert_eq!(widget(&t, "workshop", "repair", "METRIC", 0).await["value"], json!(1));
    assert_eq!(widget(&t, "workshop", "repair", "METRIC", 1).await["value"], json!(1));
}

#[tokio::test]
async fn manufacturing_requisition_approval_raises_a_purchase_order() {
    let t = tenant_with("manufacturing").await;
    let n = |s: &str, p: &str| Names::new(s, p);
    let co = str_of(&t.create(&n("company", "companies"), json!({"name": "Acme Steel"}), "").await["id"]);
    let plant = str_of(
        &t.create(&n("plant", "plants"), json!({"name": "Pune", "code": "PN1", "company": co}), "").await["id"],
    );
    let dept = str_of(
        &t.create(&n("department", "departments"), json!({"name": "Maintenance", "plant": plant}), "").await
            ["id"],
    );
    let item = str_of(
        &t.create(&n("item", "items"), json!({"code": "BRG-1", "name": "Bearing", "type": "Spare Part"}), "")
            .await["id"],
    );
    let prs = n("purchase_requisition", "purchase_requisitions");
    let pr = str_of(
        &t.create(&prs, json!({"department": dept, "item": item, "quantity": 40, "amount": "82000.00", "approvalStatus": "INITIATED"}), "")
            .await["id"],
    );
    let policy = str_of(&t.data("{ approvalPolicies { id } }", json!({})).await["approvalPolicies"][0]["id"]);
    let request = str_of(&t.submit_for_approval(&policy, &pr, "id stage").await["id"]);
    let decide = "mutation($id: ID!) { decideApproval(requestId: $id, action: APPROVE, comment: \"ok\") { state stage } }";
    let head = Auth::Bearer(str_of(&t.invite("dept_head").await["accessToken"]));
    let accountant = Auth::Bearer(str_of(&t.invite("accountant").await["accessToken"]));
    let r = t.api.graphql(&head, decide, json!({"id": request})).await.data();
    assert_eq!(r["decideApproval"]["stage"], json!(2), "above 50 000: accounts review");
    let r = t.api.graphql(&accountant, decide, json!({"id": request})).await.data();
    assert_eq!(r["decideApproval"]["state"], json!("APPROVED"));
    let pos = n("purchase_order", "purchase_orders");
    eventually("the purchase order", EFFECT_WAIT, async || {
        t.list(&pos, "", json!({}), "amount status").await["nodes"].as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    let po = t.list(&pos, "", json!({}), "amount status quantity expectedDelivery").await["nodes"][0].clone();
    assert_eq!((po["amount"].clone(), po["status"].clone()), (json!("82000.00"), json!("Draft")));
    // Copied through templates: a number, and an empty date (the requisition has none) left empty.
    assert_eq!((po["quantity"].clone(), po["expectedDelivery"].clone()), (json!(40.0), Value::Null));
    assert_eq!(widget(&t, "purchase", "purchase_order", "METRIC", 0).await["value"], json!(1));
    let by_status = widget(&t, "purchase", "purchase_requisition", "CHART", 0).await;
    assert_eq!(by_status["series"], json!([{"key": "APPROVED", "value": 1}]));
    let purchase = board(&t, "purchase").await;
    assert_eq!(purchase["roles"], json!(["admin", "dept_head", "accountant", "plant_manager"]));
}

#[tokio::test]
async fn crm_deals_move_within_stages_and_leads_convert_in_one_go() {
    let t = tenant_with("corporate-crm").await;
    let (deals, leads, activities) =
        (Names::new("deal", "deals"), Names::new("lead", "leads"), Names::new("activity", "activities"));
    let mut ids = Vec::new();
    for title in ["A", "B", "C"] {
        ids.push(str_of(&t.create(&deals, json!({"title": title, "stage": "Prospecting"}), "").await["id"]));
    }
    let mv = "mutation($id: ID!, $s: String!, $p: Int) { moveDeal(id: $id, stage: $s, position: $p) { id stage position } }";
    let order = async |stage: &str| -> Vec<String> {
        let q = "query($s: String!) { deals(filter: {stage: {eq: $s}}, orderBy: [{field: POSITION, direction: ASC}]) { nodes { title } } }";
        pluck_str(&t.data(q, json!({"s": stage})).await["deals"]["nodes"], "title")
    };
    // Into an empty stage, then before and between.
    for (i, pos) in [(0usize, None), (1, Some(0)), (2, Some(1))] {
        let moved = t.data(mv, json!({"id": ids[i], "s": "Proposal", "p": pos})).await;
        assert_eq!(moved["moveDeal"]["stage"], json!("Proposal"));
    }
    assert_eq!(order("Proposal").await, ["B", "C", "A"]);
    assert!(order("Prospecting").await.is_empty());
    // An id that is not one is refused on `id`, not looked for.
    let refused = t.request(mv, json!({"id": "<deal id>", "s": "Proposal"})).await;
    assert_eq!(refused.field_errors(), vec!["id".to_owned()], "{}", refused.text);
    // Within the stage: A to the top.
    t.data(mv, json!({"id": ids[0], "s": "Proposal", "p": 0})).await;
    assert_eq!(order("Proposal").await, ["A", "B", "C"]);
    // Many moves into the same gap renumber the stage instead of running out of room.
    for _ in 0..40 {
        t.data(mv, json!({"id": ids[2], "s": "Proposal", "p": 1})).await;
        t.data(mv, json!({"id": ids[1], "s": "Proposal", "p": 1})).await;
    }
    assert_eq!(order("Proposal").await, ["A", "B", "C"]);
    t.request(mv, json!({"id": ids[0], "s": "Nowhere"})).await.expect_code("VALIDATION_FAILED");
    let pipeline = widget(&t, "sales", "deal", "PIPELINE", 0).await;
    let proposal = pipeline["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .find(|s| s["stage"] == json!("Proposal"))
        .cloned();
    assert_eq!(proposal.expect("proposal")["count"], json!(3));

    // Conversion: account from the company, contact, deal; the lead's activity is linked.
    let lead = str_of(
        &t.create(
            &leads,
            json!({"fullName": "Nora Diaz", "email": "nora@globex.example", "company": "Globex",
                                 "status": "Qualified", "estimatedValue": "12500.00"}),
            "",
        )
        .await["id"],
    );
    let call = str_of(
        &t.create(&activities, json!({"type": "Call", "subject": "Intro call", "lead": lead}), "").await["id"],
    );
    let convert = "mutation($id: ID!) { convertLead(id: $id) { lead { status } contact { id fullName email account { name } } account { id name } deal { id title stage amount contact { fullName } account { name } } } }";
    let refused = t.request(convert, json!({"id": "<lead id>"})).await;
    assert_eq!(refused.field_errors(), vec!["id".to_owned()], "{}", refused.text);
    let done = t.data(convert, json!({"id": lead})).await["convertLead"].clone();
    assert_eq!(done["lead"]["status"], json!("Converted"));
    assert_eq!(
        (done["contact"]["fullName"].clone(), done["contact"]["account"]["name"].clone()),
        (json!("Nora Diaz"), json!("Globex"))
    );
    assert_eq!(
        (done["deal"]["title"].clone(), done["deal"]["stage"].clone(), done["deal"]["amount"].clone()),
        (json!("Globex"), json!("Prospecting"), json!("12500.00"))
    );
    assert_eq!(done["deal"]["contact"]["fullName"], json!("Nora Diaz"));
    let linked = t.get(&activities, &call, "deal { id } contact { id } account { id }").await;
    assert_eq!(linked["deal"]["id"], done["deal"]["id"]);
    assert_eq!(linked["contact"]["id"], done["contact"]["id"]);
    assert_eq!(linked["account"]["id"], done["account"]["id"]);
    // Twice: CONFLICT, and nothing more was created.
    t.request(convert, json!({"id": lead})).await.expect_code("CONFLICT");
    let contacts = t.list(&Names::new("contact", "contacts"), "", json!({}), "").await;
    assert_eq!(contacts["totalCount"], json!(1));
}

#[tokio::test]
async fn entity_labels_are_translated_and_checked() {
    let t = tenant().await;
    let mut input = entity("note", "notes", vec![field("title", "TEXT", json!({}))], json!({}));
    input["labels"] = json!({"es": {"singular": "Nota", "plural": "Notas"}});
    t.define(input.clone()).await;
    let q = "mutation($l: JSON) { updateEntity(name: \"note\", input: {labels: $l}) { labels } }";
    let both =
        json!({"es": {"singular": "Nota", "plural": "Notas"}, "hi": {"singular": "नोट", "plural": "नोट्स"}});
    assert_eq!(t.data(q, json!({"l": both})).await["updateEntity"]["labels"], both);
    t.request(q, json!({"l": {"es": "Nota"}})).await.expect_field_errors(&["labels"]);
    let mut bad = entity("memo", "memos", vec![], json!({}));
    bad["labels"] = json!({"fr": {"singular": ""}});
    t.define_raw(bad).await.expect_field_errors(&["labels"]);
}
