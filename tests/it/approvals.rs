//! Multi-stage approvals through the public API: a purchase requisition goes through a
//! department-head stage (sent back once, resubmitted, approved) and an accounts stage that
//! applies only above 50 000, which escalates to the plant manager after its SLA (time moved
//! with the controllable clock); every transition is in the request's history and the audit
//! trail, the record's state field follows (and fires a workflow), and each transition notifies
//! the right users. Wrong role → FORBIDDEN, a decision on a closed request → CONFLICT, a
//! rejection without a comment → VALIDATION_FAILED, a bad policy → field errors.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::harness::*;

const REQUEST: &str = "id state stage stageName approverRoles escalated stageDueAt recordId \
    policy { name } history { action stage fromState toState comment decidedBy }";

struct Plant {
    t: TestTenant,
    prs: Names,
    policy: String,
    head: (Auth, String),
    accountant: (Auth, String),
    manager: (Auth, String),
}

async fn role(t: &TestTenant, name: &str) {
    t.create_role(name, json!({"purchase_requisition": {"actions": ["read"]}})).await;
}

async fn user(t: &TestTenant, role: &str) -> (Auth, String) {
    let p = t.invite(role).await;
    (Auth::Bearer(str_of(&p["accessToken"])), str_of(&p["user"]["id"]))
}

async fn plant() -> Plant {
    let t = tenant().await;
    t.define(entity(
        "purchase_requisition",
        "purchase_requisitions",
        vec![
            field("title", "TEXT", json!({"required": true})),
            field("amount", "CURRENCY", json!({"required": true})),
            field(
                "approval_status",
                "SELECT",
                json!({"options": ["INITIATED", "PENDING_APPROVAL", "APPROVED", "REJECTED"]}),
            ),
            field("po_note", "TEXT", json!({})),
        ],
        json!({"recordNumberPrefix": "PR"}),
    ))
    .await;
    for r in ["dept_head", "accountant", "plant_manager"] {
        role(&t, r).await;
    }
    let policy = t
        .data(
            "mutation($i: ApprovalPolicyInput!) { createApprovalPolicy(input: $i) { id entity stateField stages { name approverRole slaHours actions escalateToRole condition } } }",
            json!({"i": {
                "entity": "purchase_requisition", "name": "Purchase requisition", "stateField": "approval_status",
                "stages": [
                    {"name": "Department Head Approval", "approverRole": "dept_head", "slaHours": 24,
                     "actions": ["APPROVE", "REJECT", "SEND_BACK"]},
                    {"name": "Accounts Review", "approverRole": "accountant", "slaHours": 48,
                     "condition": {"amount": {"gt": "50000"}}, "escalateToRole": "plant_manager"}
                ]
            }}),
        )
        .await;
    let p = &policy["createApprovalPolicy"];
    assert_eq!(p["stages"][1]["actions"], json!(["APPROVE", "REJECT"]), "{p}");
    assert_eq!(p["stateField"], json!("approval_status"));
    let head = user(&t, "dept_head").await;
    let accountant = user(&t, "accountant").await;
    let manager = user(&t, "plant_manager").await;
    Plant {
        prs: Names::new("purchase_requisition", "purchase_requisitions"),
        policy: str_of(&p["id"]),
        t,
        head,
        accountant,
        manager,
    }
}

impl Plant {
    async fn pr(&self, title: &str, amount: &str) -> String {
        str_of(&self.t.create(&self.prs, json!({"title": title, "amount": amount}), "").await["id"])
    }

    async fn submit(&self, record: &str) -> Response {
        let q = format!(
            "mutation($p: ID!, $r: ID!) {{ submitForApproval(policyId: $p, recordId: $r) {{ {REQUEST} }} }}"
        );
        self.t.request(&q, json!({"p": self.policy, "r": record})).await
    }

    async fn decide(&self, who: &Auth, request: &str, action: &str, comment: Option<&str>) -> Response {
        let q = format!(
            "mutation($id: ID!, $a: ApprovalAction!, $c: String) {{ decideApproval(requestId: $id, action: $a, comment: $c) {{ {REQUEST} }} }}"
        );
        self.t.api.graphql(who, &q, json!({"id": request, "a": action, "c": comment})).await
    }

    async fn notifications(&self, who: &Auth) -> Vec<String> {
        let r = self.t.api.graphql(who, "{ notifications { title } }", json!({})).await.data();
        r["notifications"].as_array().into_iter().flatten().map(|n| str_of(&n["title"])).collect()
    }

    async fn status(&self, record: &str) -> Value {
        self.t.get(&self.prs, record, "approvalStatus").await["approvalStatus"].clone()
    }
}

#[tokio::test]
async fn a_requisition_goes_through_two_stages_and_escalates_after_its_sla() {
    let p = plant().await;
    // A workflow fires when the engine sets the state field to APPROVED.
    let definition = json!({
        "trigger": {"type": "field_changed", "entity": "purchase_requisition", "field": "approvalStatus", "to": "APPROVED"},
        "actions": [{"type": "update_fields", "values": {"poNote": "PO raised for {{record.title}}"}}]
    });
    p.t.create_workflow("raise PO", definition).await;
    let pr = p.pr("Lathe", "75000.00").await;
    let submitted = p.submit(&pr).await.data()["submitForApproval"].clone();
    let id = str_of(&submitted["id"]);
    assert_eq!(
        (submitted["state"].clone(), submitted["stage"].clone(), submitted["approverRoles"].clone()),
        (json!("PENDING_APPROVAL"), json!(1), json!(["dept_head"]))
    );
    assert!(submitted["stageDueAt"].is_string());
    assert_eq!(p.status(&pr).await, json!("PENDING_APPROVAL"));
    assert!(
        p.notifications(&p.head.0)
            .await
            .iter()
            .any(|n| n.starts_with("Approval needed: ") && n.contains(" PR-0"))
    );
    // Twice while pending: CONFLICT.
    p.submit(&pr).await.expect_code("CONFLICT");
    // Not the accountant's stage.
    p.decide(&p.accountant.0, &id, "APPROVE", None).await.expect_code("FORBIDDEN");
    // Sent back needs a comment; then the requester is told and may resubmit.
    p.decide(&p.head.0, &id, "SEND_BACK", None).await.expect_field_errors(&["comment"]);
    let back = p.decide(&p.head.0, &id, "SEND_BACK", Some("Attach a quote")).await.data();
    assert_eq!(back["decideApproval"]["state"], json!("INITIATED"));
    assert_eq!(p.status(&pr).await, json!("INITIATED"));
    assert!(p.notifications(&p.t.auth()).await.iter().any(|n| n.contains("sent back")));
    let again = p.submit(&pr).await.data()["submitForApproval"].clone();
    assert_eq!((again["id"].clone(), again["state"].clone()), (json!(id), json!("PENDING_APPROVAL")));
    // Stage 1 approved → stage 2 applies (amount above 50 000).
    let second = p.decide(&p.head.0, &id, "APPROVE", Some("ok")).await.data()["decideApproval"].clone();
    assert_eq!((second["stage"].clone(), second["stageName"].clone()), (json!(2), json!("Accounts Review")));
    assert!(p.notifications(&p.accountant.0).await.iter().any(|n| n.starts_with("Approval needed")));
    // The plant manager may not decide before the SLA has passed.
    p.decide(&p.manager.0, &id, "APPROVE", None).await.expect_code("FORBIDDEN");
    let clock = Clock::of(&p.t).await;
    clock.scan_at(Utc::now() + Duration::hours(47)).await;
    let q = format!("query($id: ID!) {{ approvalRequest(id: $id) {{ {REQUEST} }} }}");
    assert_eq!(p.t.data(&q, json!({"id": id})).await["approvalRequest"]["escalated"], json!(false));
    clock.scan_at(Utc::now() + Duration::hours(49)).await;
    let escalated = p.t.data(&q, json!({"id": id})).await["approvalRequest"].clone();
    assert_eq!(escalated["escalated"], json!(true));
    assert_eq!(escalated["approverRoles"], json!(["accountant", "plant_manager"]));
    assert!(p.notifications(&p.manager.0).await.iter().any(|n| n.starts_with("Approval overdue")));
    // Escalation happens once, however often the scanner looks.
    clock.scan_at(Utc::now() + Duration::hours(60)).await;
    let done =
        p.decide(&p.manager.0, &id, "APPROVE", Some("approved on escalation")).await.data()["decideApproval"]
            .clone();
    assert_eq!(done["state"], json!("APPROVED"));
    let actions: Vec<&str> = done["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, ["SUBMIT", "SEND_BACK", "SUBMIT", "APPROVE", "ESCALATE", "APPROVE"]);
    assert_eq!(done["history"][5]["decidedBy"], json!(p.manager.1));
    assert_eq!(done["history"][1]["comment"], json!("Attach a quote"));
    assert!(p.notifications(&p.t.auth()).await.iter().any(|n| n.ends_with("approved")));
    // Closed: no more decisions.
    p.decide(&p.manager.0, &id, "REJECT", Some("too late")).await.expect_code("CONFLICT");
    // The state field followed, and its workflow ran.
    assert_eq!(p.status(&pr).await, json!("APPROVED"));
    let note = eventually("the workflow to write poNote", EFFECT_WAIT, async || {
        let note = p.t.get(&p.prs, &pr, "poNote").await["poNote"].clone();
        (!note.is_null()).then_some(note)
    })
    .await;
    assert_eq!(note, json!("PO raised for Lathe"));
    // Every decision is in the audit trail.
    let audit = p.t.data("{ auditLog(first: 100) { edges { node { action objectId } } } }", json!({})).await;
    let logged: Vec<String> = audit["auditLog"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter(|e| e["node"]["objectId"] == json!(id))
        .map(|e| str_of(&e["node"]["action"]))
        .collect();
    for a in ["approval.submit", "approval.send_back", "approval.approve", "approval.escalate"] {
        assert!(logged.iter().any(|l| l == a), "{a} missing from {logged:?}");
    }
}

#[tokio::test]
async fn small_amounts_skip_the_accounts_stage_and_rejections_close_the_request() {
    let p = plant().await;
    let small = p.pr("Gloves", "1200.00").await;
    let id = str_of(&p.submit(&small).await.data()["submitForApproval"]["id"]);
    let done = p.decide(&p.head.0, &id, "APPROVE", None).await.data()["decideApproval"].clone();
    assert_eq!((done["state"].clone(), done["stage"].clone()), (json!("APPROVED"), Value::Null));
    let big = p.pr("Furnace", "90000.00").await;
    let id = str_of(&p.submit(&big).await.data()["submitForApproval"]["id"]);
    p.decide(&p.head.0, &id, "REJECT", Some(" ")).await.expect_field_errors(&["comment"]);
    let rejected =
        p.decide(&p.head.0, &id, "REJECT", Some("Over budget")).await.data()["decideApproval"].clone();
    assert_eq!(rejected["state"], json!("REJECTED"));
    assert_eq!(p.status(&big).await, json!("REJECTED"));
    p.decide(&p.head.0, &id, "APPROVE", None).await.expect_code("CONFLICT");
    // Listing: by state, and what awaits the caller's role.
    let q = "query($s: ApprovalState) { approvalRequests(state: $s) { recordId state } }";
    let rejected = p.t.data(q, json!({"s": "REJECTED"})).await["approvalRequests"].clone();
    assert_eq!(rejected, json!([{"recordId": big, "state": "REJECTED"}]));
    let third = p.pr("Drill", "60000.00").await;
    p.submit(&third).await.data();
    let mine = |auth: Auth| {
        let t = &p.t;
        async move {
            t.api
                .graphql(&auth, "{ approvalRequests(assignedToMe: true) { recordId } }", json!({}))
                .await
                .data()["approvalRequests"]
                .clone()
        }
    };
    assert_eq!(mine(p.head.0.clone()).await, json!([{"recordId": third}]));
    assert_eq!(mine(p.accountant.0.clone()).await, json!([]));
    // An unknown id is NOT_FOUND; a policy in use cannot be deleted.
    let q =
        format!("mutation($id: ID!) {{ decideApproval(requestId: $id, action: APPROVE) {{ {REQUEST} }} }}");
    p.t.request(&q, json!({"id": uuid::Uuid::new_v4().to_string()})).await.expect_code("NOT_FOUND");
    p.t.request("mutation($id: ID!) { deleteApprovalPolicy(id: $id) }", json!({"id": p.policy}))
        .await
        .expect_code("CONFLICT");
}

#[tokio::test]
async fn bad_policies_are_refused_field_by_field() {
    let p = plant().await;
    let r =
        p.t.request(
            "mutation($i: ApprovalPolicyInput!) { createApprovalPolicy(input: $i) { id } }",
            json!({"i": {"entity": "purchase_requisition", "name": "Bad", "stateField": "title",
                "stages": [{"name": "", "approverRole": "Nobody", "slaHours": 0, "escalateToRole": "Ghost",
                            "condition": {"nope": {"eq": 1}}}]}}),
        )
        .await;
    let mut fields = r.field_errors();
    fields.sort();
    fields.dedup();
    assert_eq!(
        fields,
        [
            "stages.0.approverRole",
            "stages.0.condition",
            "stages.0.escalateToRole",
            "stages.0.name",
            "stages.0.slaHours"
        ]
    );
    // Non-administrators cannot define policies.
    let q = "mutation($i: ApprovalPolicyInput!) { createApprovalPolicy(input: $i) { id } }";
    let r = p.t.api.graphql(&p.head.0, q, json!({"i": {"entity": "x", "name": "x", "stages": []}})).await;
    assert!(!r.errors().is_empty());
}
