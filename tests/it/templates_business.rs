//! The business templates through the public API: `hr`, `projects` and `support` apply at
//! signup with their entities, roles, workflows and dashboards, and every widget computes (and,
//! applied with `demoData: true`, bring sample records their dashboards count); a
//! leave request, submitted by the `submit_for_approval` workflow as the employee files it,
//! is approved by the manager and then HR (each refusing the other's stage), and the "People"
//! dashboard counts its days; an urgent ticket starts its 4-hour SLA, breaches it (time moved
//! with the controllable clock), is escalated to the support manager, who is told and then
//! resolves it; an email POSTed to a mailbox's inbound webhook opens a ticket, whose SLA starts
//! by the mailbox's priority; and an `@mention` in a comment notifies the users it names once,
//! except a user who may not read comments, the writer, and names that are nobody.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::demo::{number, widget};
use crate::harness::*;
use crate::inbound::{post, sign};
use crate::templates::{assert_applied_at_signup, tenant_with};

const REQUEST: &str = "id state stage stageName approverRoles escalated stageDueAt";

/// The tenant as one of its users (an `acceptInvite` payload).
fn as_user(t: &TestTenant, payload: &Value) -> TestTenant {
    TestTenant {
        api: Api::shared(),
        access_token: str_of(&payload["accessToken"]),
        refresh_token: str_of(&payload["refreshToken"]),
        slug: t.slug.clone(),
        name: t.name.clone(),
        email: str_of(&payload["user"]["email"]),
        password: PASSWORD.to_owned(),
        user_id: str_of(&payload["user"]["id"]),
        tenant_id: t.tenant_id.clone(),
    }
}

/// A new user of `role`, signed in.
async fn user(t: &TestTenant, role: &str) -> TestTenant {
    as_user(t, &t.invite(role).await)
}

/// The value of the metric widget titled `title` (English) on dashboard `key`.
async fn metric(t: &TestTenant, key: &str, title: &str) -> f64 {
    let boards =
        t.data("{ dashboards { key widgets { title data } } }", json!({})).await["dashboards"].clone();
    number(&widget(&boards, key, title)["value"])
}

/// The approval request of `record`, once the workflow that submits it has run.
async fn request_of(t: &TestTenant, record: &str) -> Value {
    let q = format!("query($r: ID) {{ approvalRequests(recordId: $r) {{ {REQUEST} }} }}");
    eventually("the record's approval request", EFFECT_WAIT, async || {
        let list = t.data(&q, json!({"r": record})).await["approvalRequests"].clone();
        list.as_array().and_then(|l| l.first()).filter(|r| r["state"] == json!("PENDING_APPROVAL")).cloned()
    })
    .await
}

async fn request(t: &TestTenant, id: &str) -> Value {
    let q = format!("query($id: ID!) {{ approvalRequest(id: $id) {{ {REQUEST} }} }}");
    t.data(&q, json!({"id": id})).await["approvalRequest"].clone()
}

async fn decide(who: &TestTenant, id: &str, action: &str) -> Response {
    let q = format!(
        "mutation($id: ID!, $a: ApprovalAction!) {{ decideApproval(requestId: $id, action: $a, comment: \"ok\") {{ {REQUEST} }} }}"
    );
    who.request(&q, json!({"id": id, "a": action})).await
}

/// The titles of `who`'s notifications.
async fn notifications(who: &TestTenant) -> Vec<String> {
    pluck_str(&who.data("{ notifications(first: 100) { title } }", json!({})).await["notifications"], "title")
}

#[tokio::test]
async fn each_business_template_applies_at_signup_and_its_dashboards_compute() {
    let t = tenant().await;
    let q = "{ templates { slug name(lang: \"hi\") entities roles workflows dashboards } }";
    let list = t.data(q, json!({})).await["templates"].clone();
    for slug in ["hr", "projects", "support"] {
        let tpl = list
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["slug"] == json!(slug))
            .unwrap_or_else(|| panic!("no template `{slug}` in {list}"));
        assert!(!str_of(&tpl["name"]).is_empty(), "{slug}: a Hindi name");
        assert_applied_at_signup(tpl).await;
    }
}

#[tokio::test]
async fn each_business_template_brings_demo_data_its_dashboards_show() {
    let apply = "mutation($s: String!) { applyTemplate(slug: $s, demoData: true) { slug entities } }";
    let shows = [
        ("hr", "people", "Active employees", 5.0),
        ("projects", "delivery", "Open tasks", 5.0),
        ("support", "desk", "Open tickets", 4.0),
    ];
    for (slug, board, title, expected) in shows {
        let t = tenant().await;
        assert_eq!(t.data(apply, json!({"s": slug})).await["applyTemplate"]["slug"], json!(slug));
        assert_eq!(metric(&t, board, title).await, expected, "{slug}: {title}");
    }
}

#[tokio::test]
async fn a_leave_request_is_approved_by_the_manager_then_hr() {
    let t = tenant_with("hr").await;
    let departments = Names::new("department", "departments");
    let employees = Names::new("employee", "employees");
    let leave_types = Names::new("leave_type", "leave_types");
    let leaves = Names::new("leave_request", "leave_requests");
    let dept = str_of(&t.create(&departments, json!({"name": "Engineering", "code": "ENG"}), "").await["id"]);
    let emp = t
        .create(
            &employees,
            json!({"fullName": "Asha Rao", "email": "asha@example.com", "department": dept}),
            "",
        )
        .await;
    let casual = t.create(&leave_types, json!({"name": "Casual", "daysPerYear": 12, "paid": true}), "").await;
    let (employee, other) = (user(&t, "employee").await, user(&t, "employee").await);
    let (manager, hr) = (user(&t, "manager").await, user(&t, "hr_manager").await);
    let today = Utc::now().date_naive();
    let input = json!({"employee": emp["id"], "leaveType": casual["id"], "startDate": today.to_string(),
                       "endDate": (today + Duration::days(1)).to_string(), "days": 2, "reason": "Family function"});
    let leave = employee.create(&leaves, input, "recordNumber").await;
    let id = str_of(&leave["id"]);
    // Filed on create: the workflow submits it; the manager's stage comes first.
    let req = request_of(&t, &id).await;
    assert_eq!(
        (req["stage"].clone(), req["stageName"].clone()),
        (json!(1), json!("Manager approval")),
        "{req}"
    );
    assert_eq!(req["approverRoles"], json!(["manager"]));
    assert_eq!(t.get(&leaves, &id, "approvalStatus").await["approvalStatus"], json!("PENDING_APPROVAL"));
    // Own records only: another employee sees none of it.
    assert_eq!(employee.list(&leaves, "", json!({}), "").await["totalCount"], json!(1));
    assert_eq!(other.list(&leaves, "", json!({}), "").await["totalCount"], json!(0));
    let rid = str_of(&req["id"]);
    // HR may not take the manager's stage.
    decide(&hr, &rid, "APPROVE").await.expect_code("FORBIDDEN");
    let second = decide(&manager, &rid, "APPROVE").await.data()["decideApproval"].clone();
    assert_eq!(
        (second["stage"].clone(), second["stageName"].clone()),
        (json!(2), json!("HR approval")),
        "{second}"
    );
    assert!(notifications(&hr).await.iter().any(|n| n.starts_with("Approval needed")));
    // Now the manager may not take HR's stage.
    decide(&manager, &rid, "APPROVE").await.expect_code("FORBIDDEN");
    let done = decide(&hr, &rid, "APPROVE").await.data()["decideApproval"].clone();
    assert_eq!(done["state"], json!("APPROVED"));
    assert_eq!(t.get(&leaves, &id, "approvalStatus").await["approvalStatus"], json!("APPROVED"));
    let number = str_of(&leave["recordNumber"]);
    eventually("the employee to be told", EFFECT_WAIT, async || {
        let got = notifications(&employee).await;
        if got.iter().any(|n| n == &format!("Leave approved: {number}")) { Ok(()) } else { Err(got) }
    })
    .await;
    // The People dashboard counts what happened.
    assert_eq!(metric(&t, "people", "Approved leave days this year").await, 2.0);
    assert_eq!(metric(&t, "people", "Leave awaiting approval").await, 0.0);
    assert_eq!(metric(&t, "people", "Active employees").await, 1.0);
}

#[tokio::test]
async fn an_urgent_ticket_breaches_its_sla_and_escalates_to_the_support_manager() {
    let t = tenant_with("support").await;
    let tickets = Names::new("ticket", "tickets");
    let (agent, lead) = (user(&t, "support_agent").await, user(&t, "support_manager").await);
    let urgent = str_of(
        &agent.create(&tickets, json!({"subject": "Site down", "priority": "Urgent"}), "").await["id"],
    );
    let normal = str_of(&agent.create(&tickets, json!({"subject": "Typo on invoice"}), "").await["id"]);
    let req = request_of(&t, &urgent).await;
    assert_eq!(req["stageName"], json!("Urgent priority: resolve within 4 h"), "{req}");
    assert_eq!(request_of(&t, &normal).await["stageName"], json!("Normal priority: resolve within 24 h"));
    eventually("the urgent-ticket alert", EFFECT_WAIT, async || {
        let got = notifications(&lead).await;
        if got.iter().any(|n| n == "Urgent ticket: Site down") { Ok(()) } else { Err(got) }
    })
    .await;
    let rid = str_of(&req["id"]);
    // Within the SLA the manager may not resolve it.
    decide(&lead, &rid, "APPROVE").await.expect_code("FORBIDDEN");
    let clock = Clock::of(&t).await;
    clock.scan_at(Utc::now() + Duration::hours(3)).await;
    assert_eq!(request(&t, &rid).await["escalated"], json!(false));
    clock.scan_at(Utc::now() + Duration::hours(5)).await;
    let breached = request(&t, &rid).await;
    assert_eq!(breached["escalated"], json!(true), "{breached}");
    assert_eq!(breached["approverRoles"], json!(["support_agent", "support_manager"]));
    assert!(notifications(&lead).await.iter().any(|n| n.starts_with("Approval overdue: Ticket TKT-")));
    // The normal ticket is still within its 24 hours.
    let normal_req = request_of(&t, &normal).await;
    assert_eq!(normal_req["escalated"], json!(false));
    let done = decide(&lead, &rid, "APPROVE").await.data()["decideApproval"].clone();
    assert_eq!(done["state"], json!("APPROVED"));
    let status = eventually("the ticket to be resolved", EFFECT_WAIT, async || {
        let s = t.get(&tickets, &urgent, "status slaStatus").await;
        if s["status"] == json!("Resolved") { Ok(s) } else { Err(s) }
    })
    .await;
    assert_eq!(status["slaStatus"], json!("APPROVED"));
    assert_eq!(metric(&t, "desk", "Open tickets").await, 1.0);
}

#[tokio::test]
async fn an_inbound_email_opens_a_ticket_with_the_mailbox_priority() {
    let t = tenant_with("support").await;
    let mailboxes = Names::new("mailbox", "mailboxes");
    let tickets = Names::new("ticket", "tickets");
    let address = format!("help@{}.example.com", t.slug);
    t.create(&mailboxes, json!({"address": address, "name": "Help desk", "defaultPriority": "High"}), "")
        .await;
    let workflows = t.data("{ workflows { id name definition } }", json!({})).await["workflows"].clone();
    let hook = workflows
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["name"] == json!("Email to ticket"))
        .cloned()
        .unwrap_or_else(|| panic!("no email-to-ticket workflow: {workflows}"));
    let (id, secret) = (str_of(&hook["id"]), str_of(&hook["definition"]["trigger"]["secret"]));
    assert!(secret.len() >= 24, "the template's hook has a secret of its own: {hook}");
    let body = json!({"address": address, "from": "ravi@customer.example", "subject": "Printer on fire",
                      "text": "It started this morning."})
    .to_string();
    let now = Utc::now().timestamp();
    let (status, answer) = post(&t, &id, &sign(&secret, now, &body), Some("mail-1"), &body).await;
    assert_eq!(status, 202, "{answer}");
    let filter = json!({"filter": {"subject": {"eq": "Printer on fire"}}});
    let selection = "channel priority requesterEmail description mailbox { address }";
    let ticket = eventually("the email's ticket", EFFECT_WAIT, async || {
        let list = t.list(&tickets, "filter: $filter", filter.clone(), selection).await;
        list["nodes"].as_array().and_then(|n| n.first()).cloned()
    })
    .await;
    assert_eq!(
        (ticket["channel"].clone(), ticket["priority"].clone(), ticket["requesterEmail"].clone()),
        (json!("Email"), json!("High"), json!("ravi@customer.example"))
    );
    assert_eq!(
        (ticket["description"].clone(), ticket["mailbox"]["address"].clone()),
        (json!("It started this morning."), json!(address))
    );
    // Its SLA started as for any ticket, by the mailbox's priority.
    let req = request_of(&t, &str_of(&ticket["id"])).await;
    assert_eq!(req["stageName"], json!("High priority: resolve within 8 h"));
    // Mail to an address no mailbox has names no record.
    let stray =
        json!({"address": "nobody@elsewhere.example", "subject": "x", "from": "a@b.example", "text": ""})
            .to_string();
    let (status, _) = post(&t, &id, &sign(&secret, now, &stray), Some("mail-2"), &stray).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_mention_notifies_each_named_reader_once() {
    let t = tenant_with("projects").await;
    let (projects, tasks) = (Names::new("project", "projects"), Names::new("task", "tasks"));
    let comments = Names::new("comment", "comments");
    let (pm, member, viewer) =
        (user(&t, "project_manager").await, user(&t, "team_member").await, user(&t, "stakeholder").await);
    // A role that reads projects only: it may not read comments, so it is never told of one.
    t.create_role("outsider", json!({"project": {"actions": ["read"]}})).await;
    let outsider = user(&t, "outsider").await;
    let fields = t.data("{ entities { nameSingular fields { key mentions } } }", json!({})).await;
    let flags: Vec<Value> = fields["entities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["nameSingular"] == json!("comment"))
        .flat_map(|e| e["fields"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(flags, [json!({"key": "task", "mentions": false}), json!({"key": "body", "mentions": true})]);
    let project = str_of(&t.create(&projects, json!({"name": "Launch", "status": "Active"}), "").await["id"]);
    let task = str_of(&t.create(&tasks, json!({"project": project, "title": "Press kit"}), "").await["id"]);
    let local = |u: &TestTenant| u.email.split('@').next().unwrap_or_default().to_owned();
    let body = format!(
        "@{} please review; cc @{}, @{} and @{}. Mail ops@example.com or @nobody-here.",
        local(&pm),
        viewer.email.to_uppercase(),
        local(&outsider),
        local(&member)
    );
    let c = str_of(&member.create(&comments, json!({"task": task, "body": body}), "").await["id"]);
    let mentioned = |n: &String| n.starts_with("You were mentioned in Comment");
    let count = async |u: &TestTenant| notifications(u).await.iter().filter(|n| mentioned(n)).count();
    assert_eq!(count(&pm).await, 1);
    assert_eq!(count(&viewer).await, 1, "named by address, in any case");
    assert_eq!(count(&outsider).await, 0, "cannot read comments");
    assert_eq!(count(&member).await, 0, "the writer is not told of their own mention");
    // An edit that keeps the mentions adds none; one that adds a name tells only that user.
    let edited = format!("{body} Also @{}.", local(&pm));
    member.update(&comments, &c, json!({"body": edited}), "").await;
    assert_eq!(count(&pm).await, 1);
    let project_members = format!("{edited} Looping in @{}", t.email);
    member.update(&comments, &c, json!({"body": project_members}), "").await;
    assert_eq!(count(&t).await, 1, "the owner, named by address");
    assert_eq!((count(&pm).await, count(&viewer).await), (1, 1));
    // A task's description takes mentions too.
    t.update(&tasks, &task, json!({"description": format!("Owner: @{}", local(&member))}), "").await;
    let told = notifications(&member).await;
    assert!(told.iter().any(|n| n.starts_with("You were mentioned in Task TSK-")), "{told:?}");
    // Only text fields take mentions.
    let bad = field("effort", "NUMBER", json!({"mentions": true}));
    t.add_field_raw("task", bad).await.expect_code("VALIDATION_FAILED");
}
