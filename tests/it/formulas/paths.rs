//! Formulas through relations and over the clock: `account.region.name` (two hops) computed
//! alike by a write (memory) and a read (SQL), null once a record on the way is deleted;
//! `TODAY() - closed` in days on a pinned clock, in the tenant's time zone; the hop limit and a non-relation refused
//! when defined; and a role that may not read what a formula reads is not shown the formula.

use serde_json::{Value, json};

use super::{formula, problems};
use crate::harness::*;

const CONTACT: &str = "id place code days";

/// Regions, accounts in a region, contacts of an account with formulas over both.
async fn chain(t: &TestTenant) -> (Names, Names, Names) {
    let regions = t
        .define_entity(
            "region",
            "regions",
            vec![field("name", "TEXT", json!({})), field("secret", "TEXT", json!({}))],
        )
        .await;
    let accounts = t
        .define_entity(
            "account",
            "accounts",
            vec![
                field("name", "TEXT", json!({})),
                field("region", "RELATION", json!({"relatedEntity": "region"})),
            ],
        )
        .await;
    let fields = vec![
        field("account", "RELATION", json!({"relatedEntity": "account"})),
        field("name", "TEXT", json!({})),
        field("closed", "DATE", json!({})),
        formula("place", "UPPER(account.region.name) & ':' & account.name", "TEXT"),
        formula("code", "account.region.secret", "TEXT"),
        formula("days", "TODAY() - closed", "NUMBER"),
    ];
    t.define(entity("contact", "contacts", fields, json!({}))).await;
    (regions, accounts, Names::new("contact", "contacts"))
}

fn without_id(mut v: Value) -> Value {
    v.as_object_mut().map(|o| o.remove("id"));
    v
}

#[tokio::test]
async fn a_formula_reads_two_relations_away_and_today_in_days() {
    let t = tenant().await;
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z").expect("instant").to_utc();
    entity::runtime::time::pin(&t.tenant_id, Some(at));
    let (regions, accounts, contacts) = chain(&t).await;
    let north = str_of(&t.create(&regions, json!({"name": "north", "secret": "n-1"}), "id").await["id"]);
    let acme = str_of(&t.create(&accounts, json!({"name": "Acme", "region": north}), "id").await["id"]);
    let made =
        t.create(&contacts, json!({"account": acme, "name": "Ann", "closed": "2026-03-01"}), CONTACT).await;
    let want = json!({"place": "NORTH:Acme", "code": "n-1", "days": 9});
    assert_json_eq(&without_id(made.clone()), &want, "in memory (the create's answer)");
    let id = str_of(&made["id"]);
    assert_json_eq(&without_id(t.get(&contacts, &id, CONTACT).await), &want, "in SQL (a read)");
    let found =
        t.list(&contacts, "filter: {place: {startsWith: \"NORTH\"}, days: {gt: 7}}", json!({}), "id").await;
    assert_eq!(pluck_str(&found["nodes"], "id"), std::slice::from_ref(&id));

    // The day moves on: SQL and memory read the same clock.
    let later = chrono::DateTime::parse_from_rfc3339("2026-03-12T12:00:00Z").expect("instant").to_utc();
    entity::runtime::time::pin(&t.tenant_id, Some(later));
    assert_json_eq(&t.get(&contacts, &id, "days").await["days"], &json!(11), "SQL, two days on");
    let updated = t.update(&contacts, &id, json!({"name": "Anna"}), "days").await;
    assert_json_eq(&updated["days"], &json!(11), "memory, two days on");

    // TODAY is the tenant's date: at 12:00 UTC it is already the 13th in Kiritimati (UTC+14).
    let zone = "mutation { updateTenant(input: {timeZone: \"Pacific/Kiritimati\"}) { __typename } }";
    t.data(zone, json!({})).await;
    assert_json_eq(&t.get(&contacts, &id, "days").await["days"], &json!(12), "SQL, in the tenant's zone");
    let updated = t.update(&contacts, &id, json!({"name": "Ann"}), "days").await;
    assert_json_eq(&updated["days"], &json!(12), "memory, in the tenant's zone");
    t.data("mutation { updateTenant(input: {timeZone: \"UTC\"}) { __typename } }", json!({})).await;

    // A record on the way deleted: nothing is read through it, on either side.
    t.delete(&regions, &north).await;
    let none = json!({"place": null, "code": null, "days": 11});
    assert_json_eq(&without_id(t.get(&contacts, &id, CONTACT).await), &none, "SQL, region deleted");
    let updated = t.update(&contacts, &id, json!({"name": "Ann"}), CONTACT).await;
    assert_json_eq(&without_id(updated), &none, "memory, region deleted");
}

#[tokio::test]
async fn relation_paths_are_checked_when_defined() {
    let t = tenant().await;
    chain(&t).await;
    let cases = [
        ("name.x", "`name` is not a RELATION field"),
        ("account.nope", "unknown field `nope` of `account`"),
        ("account.region.account.region.name", "at most 3 relations"),
    ];
    for (expression, message) in cases {
        let r = t.add_field_raw("contact", formula("bad", expression, "TEXT")).await;
        let errors = problems(&r);
        assert!(errors.iter().any(|e| e.contains(message)), "{expression}: {errors:?}");
    }
}

/// The fields a user's schema shows on `Contact`.
async fn contact_fields(t: &TestTenant, auth: &Auth) -> Vec<String> {
    let r = t.api.graphql(auth, "{ __type(name: \"Contact\") { fields { name } } }", json!({})).await.data();
    pluck_str(&r["__type"]["fields"], "name")
}

#[tokio::test]
async fn a_formula_shows_only_to_roles_that_may_read_what_it_reads() {
    let t = tenant().await;
    let (regions, accounts, contacts) = chain(&t).await;
    let north = str_of(&t.create(&regions, json!({"name": "north", "secret": "n-1"}), "id").await["id"]);
    let acme = str_of(&t.create(&accounts, json!({"name": "Acme", "region": north}), "id").await["id"]);
    t.create(&contacts, json!({"account": acme, "name": "Ann"}), "id").await;
    let read = json!({"actions": ["read"]});
    t.create_role(
        "no_secret",
        json!({"contact": read, "account": read, "region": {"actions": ["read"], "fields": {"secret": "none"}}}),
    )
    .await;
    t.create_role("no_region", json!({"contact": read, "account": read})).await;
    let no_secret = t.invite_auth("no_secret").await;
    let fields = contact_fields(&t, &no_secret).await;
    assert!(fields.contains(&"place".to_owned()) && !fields.contains(&"code".to_owned()), "{fields:?}");
    let listed = t.api.graphql(&no_secret, "{ contacts { nodes { place } } }", json!({})).await.data();
    assert_eq!(listed["contacts"]["nodes"][0]["place"], json!("NORTH:Acme"));
    // Filtering on it is no way around it either: the filter has no member for it.
    t.api
        .graphql(&no_secret, "{ contacts(filter: {code: {eq: \"n-1\"}}) { nodes { id } } }", json!({}))
        .await
        .expect_code("BAD_REQUEST");
    let no_region = t.invite_auth("no_region").await;
    let fields = contact_fields(&t, &no_region).await;
    assert!(!fields.contains(&"place".to_owned()) && !fields.contains(&"code".to_owned()), "{fields:?}");
    assert!(fields.contains(&"days".to_owned()), "a formula over its own fields stays: {fields:?}");
}
