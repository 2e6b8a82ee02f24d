//! Live modules beyond records and notifications: `workflowRunChanged` (administrators, as
//! `workflowRuns`) and `approvalRequestChanged` (a request's requester and the holders of the
//! roles its policy names). Each reaches an allowed subscriber, and never a forbidden one or a
//! subscriber of another tenant.

use serde_json::json;

use crate::harness::*;

const RUN_CHANGED: &str = "subscription($w: ID) { workflowRunChanged(workflowId: $w) { id workflowId recordId status steps { action status } } }";

const REQUEST_CHANGED: &str =
    "subscription { approvalRequestChanged { id recordId state stage approverRoles policy { name } } }";

#[tokio::test]
async fn workflow_run_changes_reach_administrators_of_their_tenant_only() {
    let t = tenant().await;
    let other = tenant().await;
    let deals = t
        .define_entity(
            "deal",
            "deals",
            vec![field("title", "TEXT", json!({})), field("note", "TEXT", json!({}))],
        )
        .await;
    let definition = json!({
        "trigger": {"type": "record_created", "entity": "deal"},
        "actions": [{"type": "update_fields", "values": {"note": "seen {{record.title}}"}}]
    });
    let id = t.create_workflow("Note", definition).await;
    let mut admin = t.subscribe(RUN_CHANGED, json!({"w": id})).await;
    let mut unfiltered = t.subscribe(RUN_CHANGED, json!({})).await;
    let mut elsewhere = t.subscribe(RUN_CHANGED, json!({"w": "00000000-0000-0000-0000-000000000000"})).await;
    let mut stranger = other.subscribe(RUN_CHANGED, json!({})).await;
    // A plain member's schema has no such subscription (as it has no `workflowRuns`).
    let member = t.invite_auth("member").await;
    let mut plain = t.subscribe_as(&member, RUN_CHANGED, json!({})).await;
    plain.expect_refused("1", "FORBIDDEN").await;

    let deal = str_of(&t.create(&deals, json!({"title": "Acme"}), "").await["id"]);
    let seen = admin.until("1", "workflowRunChanged", "status", "succeeded").await;
    assert_eq!(seen[0]["status"], json!("running"), "{seen:?}");
    assert!(seen.iter().all(|r| r["workflowId"] == json!(id) && r["recordId"] == json!(deal)), "{seen:?}");
    let last = seen.last().cloned().unwrap_or_default();
    assert_eq!(last["steps"][0]["status"], json!("succeeded"), "{last}");
    let all = unfiltered.until("1", "workflowRunChanged", "status", "succeeded").await;
    assert_eq!(all.len(), seen.len(), "{all:?}");
    for ws in [&mut elsewhere, &mut stranger, &mut plain] {
        ws.expect_silence(SILENCE).await;
    }
}

#[tokio::test]
async fn approval_request_changes_reach_requester_and_approvers_only() {
    let t = tenant().await;
    let other = tenant().await;
    let expenses =
        t.define_entity("expense", "expenses", vec![field("title", "TEXT", json!({"required": true}))]).await;
    t.create_role("approver", json!({"expense": {"actions": ["read"]}})).await;
    let policy = t
        .data(
            "mutation($i: ApprovalPolicyInput!) { createApprovalPolicy(input: $i) { id } }",
            json!({"i": {"entity": "expense", "name": "Expenses", "stages": [
                {"name": "Check", "approverRole": "approver"}
            ]}}),
        )
        .await;
    let policy = str_of(&policy["createApprovalPolicy"]["id"]);
    let approver_auth = t.invite_auth("approver").await;
    let member_auth = t.invite_auth("member").await;
    let mut requester = t.subscribe(REQUEST_CHANGED, json!({})).await;
    let mut approver = t.subscribe_as(&approver_auth, REQUEST_CHANGED, json!({})).await;
    let mut unrelated = t.subscribe_as(&member_auth, REQUEST_CHANGED, json!({})).await;
    let mut stranger = other.subscribe(REQUEST_CHANGED, json!({})).await;

    let record = str_of(&t.create(&expenses, json!({"title": "Taxi"}), "").await["id"]);
    let request = str_of(&t.submit_for_approval(&policy, &record, "id").await["id"]);
    for ws in [&mut requester, &mut approver] {
        let got = ws.next_data("1").await["approvalRequestChanged"].clone();
        assert_eq!(
            (got["id"].clone(), got["recordId"].clone(), got["state"].clone(), got["approverRoles"].clone()),
            (json!(request), json!(record), json!("PENDING_APPROVAL"), json!(["approver"])),
            "{got}"
        );
        assert_eq!(got["policy"]["name"], json!("Expenses"));
    }
    let decided = t
        .api
        .graphql(
            &approver_auth,
            "mutation($id: ID!) { decideApproval(requestId: $id, action: APPROVE) { state } }",
            json!({"id": request}),
        )
        .await
        .data();
    assert_eq!(decided["decideApproval"]["state"], json!("APPROVED"));
    for ws in [&mut requester, &mut approver] {
        let got = ws.next_data("1").await["approvalRequestChanged"].clone();
        assert_eq!((got["id"].clone(), got["state"].clone()), (json!(request), json!("APPROVED")), "{got}");
    }
    for ws in [&mut unrelated, &mut stranger] {
        ws.expect_silence(SILENCE).await;
    }
}
