//! Daily Focus as time moves: the caller's time zone comes with their credential (a
//! `dailyFocus` with no rule reads nothing; an API key answers in its creator's zone).

use serde_json::json;

use crate::harness::*;
use crate::round_trips::round_trips;

const DAILY: &str =
    "query($d: Date) { dailyFocus(date: $d) { date timeZone items { title records { label } } } }";
const TO_KOLKATA: &str = "mutation { updateProfile(input: {timeZone: \"Asia/Kolkata\"}) { timeZone } }";

#[tokio::test]
async fn the_time_zone_comes_with_the_credential() {
    let t = tenant().await;
    t.data(TO_KOLKATA, json!({})).await;
    let owner = t.auth();
    let list = t.api.graphql(&owner, DAILY, json!({})).await.data();
    assert_eq!(list["dailyFocus"]["timeZone"], json!("Asia/Kolkata"), "{list}");
    // No rule: nothing to evaluate, and the caller's zone is read with their credential, not
    // from their user row on every call.
    let query = "{ dailyFocus { date timeZone items { title } } }";
    assert_eq!(round_trips(&t, &owner, query, json!({})).await, 0);

    // An API key acts for its creator: their day, in their zone.
    let key = t.api_key("owner").await;
    let by_key = t.api.graphql(&key, DAILY, json!({})).await.data();
    assert_eq!(by_key["dailyFocus"]["timeZone"], json!("Asia/Kolkata"), "{by_key}");
    // Back to the tenant's zone once the profile names none.
    t.data("mutation { updateProfile(input: {timeZone: null}) { timeZone } }", json!({})).await;
    let list = t.api.graphql(&owner, DAILY, json!({})).await.data();
    assert_eq!(list["dailyFocus"]["timeZone"], json!("UTC"), "{list}");
}
