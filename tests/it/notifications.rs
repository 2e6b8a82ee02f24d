//! In-app notifications: `sendNotification` (administrators) to users or a role, delivery over
//! `notificationReceived` only to the addressee, `notifications`, `unreadNotificationCount`,
//! `markNotificationsRead`; and the socket answering plain queries for a tenant without
//! entities (every schema has a subscription root).

use serde_json::json;

use crate::harness::*;

const SEND: &str = "mutation($i: SendNotificationInput!) { sendNotification(input: $i) }";

async fn socket_for(t: &TestTenant, token: &str) -> Ws {
    let mut ws = Ws::connect(t.api.server).await;
    ws.init(json!({"authorization": format!("Bearer {token}")})).await.expect_ack();
    ws.subscribe("n", "subscription { notificationReceived { id title body link readAt } }", json!({})).await;
    ws.settle().await;
    ws
}

#[tokio::test]
async fn notifications_reach_only_their_addressee_and_can_be_read() {
    let t = tenant().await;
    let alice = t.invite("member").await;
    let bob = t.invite("member").await;
    let (alice_token, bob_token) = (str_of(&alice["accessToken"]), str_of(&bob["accessToken"]));
    let mut alice_ws = socket_for(&t, &alice_token).await;
    let mut bob_ws = socket_for(&t, &bob_token).await;
    let sent = t
        .data(SEND, json!({"i": {"userIds": [alice["user"]["id"]], "title": "Welcome", "body": "Hi", "link": "/home"}}))
        .await;
    assert_eq!(sent["sendNotification"], json!(1));
    let got = alice_ws.next_data("n").await;
    assert_eq!(got["notificationReceived"]["title"], json!("Welcome"));
    assert_eq!(got["notificationReceived"]["link"], json!("/home"));
    assert_eq!(got["notificationReceived"]["readAt"], serde_json::Value::Null);
    bob_ws.expect_silence(SILENCE).await;

    let alice_auth = Auth::Bearer(alice_token);
    let query = "{ unreadNotificationCount notifications { id title readAt } }";
    let before = t.api.graphql(&alice_auth, query, json!({})).await.data();
    assert_eq!(before["unreadNotificationCount"], json!(1));
    assert_eq!(before["notifications"][0]["id"], got["notificationReceived"]["id"]);
    let marked = t.api.graphql(&alice_auth, "mutation { markNotificationsRead }", json!({})).await.data();
    assert_eq!(marked["markNotificationsRead"], json!(1));
    let after = t.api.graphql(&alice_auth, query, json!({})).await.data();
    assert_eq!(after["unreadNotificationCount"], json!(0));
    assert!(after["notifications"][0]["readAt"].is_string());
    let bob_list =
        t.api.graphql(&Auth::Bearer(bob_token), "{ notifications { id } }", json!({})).await.data();
    assert_eq!(bob_list["notifications"], json!([]));
}

#[tokio::test]
async fn notifications_by_role() {
    let t = tenant().await;
    let m1 = t.invite("member").await;
    let m2 = t.invite("member").await;
    t.invite("admin").await;
    let sent =
        t.data(SEND, json!({"i": {"roleId": t.role_id("member").await, "title": "Members only"}})).await;
    assert_eq!(sent["sendNotification"], json!(2));
    for m in [&m1, &m2] {
        let n = t
            .api
            .graphql(&Auth::Bearer(str_of(&m["accessToken"])), "{ unreadNotificationCount }", json!({}))
            .await;
        assert_eq!(n.data()["unreadNotificationCount"], json!(1));
    }
    let own = t.data("{ unreadNotificationCount }", json!({})).await;
    assert_eq!(own["unreadNotificationCount"], json!(0));
}

#[tokio::test]
async fn failing_send_notification() {
    let t = tenant().await;
    let other = tenant().await;
    let member_auth = t.invite_auth("member").await;
    t.api
        .graphql(&member_auth, SEND, json!({"i": {"userIds": [t.user_id], "title": "x"}}))
        .await
        .expect_code("FORBIDDEN");
    t.request(SEND, json!({"i": {"userIds": [other.user_id], "title": "x"}}))
        .await
        .expect_field_errors(&["userIds"]);
    t.request(SEND, json!({"i": {"title": ""}})).await.expect_field_errors(&["title", "userIds"]);
    let count = other.data("{ unreadNotificationCount }", json!({})).await;
    assert_eq!(count["unreadNotificationCount"], json!(0), "nothing reached the other tenant");
}

#[tokio::test]
async fn the_socket_answers_queries_for_a_tenant_without_entities() {
    let t = tenant().await;
    let mut ws = t.ws().await;
    ws.subscribe("q", "{ me { id } entities { nameSingular } }", json!({})).await;
    let data = ws.next_data("q").await;
    assert_eq!(data["me"]["id"], json!(t.user_id));
    assert_eq!(data["entities"], json!([]));
}
