//! GDPR: fields marked `personal`; their values sealed in the audit trail under the subject
//! record's key; `erasePersonalData` (the subject's data gone from the API, the chain still
//! verifying, the old audit values unreadable — shown at the SQL level too: the key row that
//! opened them is gone); `exportPersonalData` (the subject's records, the records linking to
//! them and the audit entries about them, nothing of another subject; audited); both refused to
//! members; `exportTenant` and `deleteTenant` for the owner only: scheduled, read-only while
//! scheduled, cancelled, scheduled again and executed by the time scan after the grace period
//! (the test clock), every row of the tenant gone and another tenant untouched.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::audit::verify;
use crate::clock::Clock;
use crate::harness::*;
use crate::rls::{connect, count, stmt};

const CREATE_CONTACT: &str = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }";
const CREATE_DEAL: &str = "mutation($i: CreateDealInput!) { createDeal(input: $i) { id } }";
const AUDIT_OF: &str = "query($id: String) { auditLog(filter: {objectId: $id}, first: 100) {
    nodes { action objectId changes } } }";
const ERASE: &str = "mutation($s: PersonalDataSubject!) { erasePersonalData(subject: $s) {
    records fields keysDestroyed } }";
const EXPORT: &str = "mutation($s: PersonalDataSubject!) { exportPersonalData(subject: $s) }";
const DELETE_TENANT: &str = "mutation { deleteTenant { scheduled requestedAt dueAt requestedBy } }";
const CANCEL: &str = "mutation { cancelTenantDeletion { scheduled dueAt } }";

/// Contacts with personal fields (a required name, email, phone) and a non-personal company;
/// deals linking to them.
pub(crate) async fn define_crm(t: &TestTenant) {
    let personal = |extra: Value| {
        let mut v = json!({ "personal": true });
        merge(&mut v, extra);
        v
    };
    t.define_entity(
        "contact",
        "contacts",
        vec![
            field("full_name", "TEXT", personal(json!({ "required": true }))),
            field("email", "EMAIL", personal(json!({ "unique": true }))),
            field("phone", "PHONE", personal(json!({}))),
            field("company", "TEXT", json!({})),
        ],
    )
    .await;
    t.define_entity(
        "deal",
        "deals",
        vec![
            field("title", "TEXT", json!({})),
            field(
                "contact",
                "RELATION",
                json!({ "relatedEntity": "contact", "relationKind": "MANY_TO_ONE" }),
            ),
        ],
    )
    .await;
}

/// Two contacts (Ada, whose name is then corrected, and Bob) and a deal of Ada's: their ids.
struct Crm {
    ada: String,
    bob: String,
    deal: String,
    ada_email: String,
    bob_email: String,
}

async fn crm(t: &TestTenant) -> Crm {
    define_crm(t).await;
    let (ada_email, bob_email) =
        (format!("ada@{}.example.org", t.slug), format!("bob@{}.example.org", t.slug));
    let create = async |name: &str, email: &str, phone: &str| {
        let input =
            json!({"fullName": name, "email": email, "phone": phone, "company": "Analytical Engines"});
        str_of(&t.data(CREATE_CONTACT, json!({ "i": input })).await["createContact"]["id"])
    };
    let ada = create("Ada Byron", &ada_email, "+44 20 7946 0001").await;
    let bob = create("Bob Babbage", &bob_email, "+44 20 7946 0002").await;
    let rename = "mutation($id: ID!) { updateContact(id: $id, input: {fullName: \"Ada Lovelace\"}) { id } }";
    t.data(rename, json!({ "id": ada })).await;
    let deal = t.data(CREATE_DEAL, json!({ "i": {"title": "Difference engine", "contact": ada} })).await;
    Crm { ada, bob, deal: str_of(&deal["createDeal"]["id"]), ada_email, bob_email }
}

async fn audit_of(t: &TestTenant, id: &str) -> Vec<Value> {
    t.data(AUDIT_OF, json!({ "id": id })).await["auditLog"]["nodes"].as_array().cloned().unwrap_or_default()
}

/// The change of `field` in the newest entry with `action` that changed it, among `entries`.
fn change<'a>(entries: &'a [Value], action: &str, field: &str) -> &'a Value {
    let entry = entries
        .iter()
        .find(|e| e["action"] == action && e["changes"].get(field).is_some())
        .unwrap_or_else(|| panic!("no {action} of {field} in {entries:?}"));
    &entry["changes"][field]
}

/// `(key id, sealed value)` of the personal field `field` in the stored `record.create` entry of
/// `record` — read from the table, as the database holds it.
async fn stored_seal(
    conn: &impl sea_orm::ConnectionTrait,
    tenant: &str,
    record: &str,
    field: &str,
) -> (String, String) {
    let row = conn
        .query_one_raw(stmt(
            conn,
            "SELECT CAST(changes AS TEXT) AS changes FROM audit_log WHERE tenant_id = $1 AND object_id = $2 \
             AND action = 'record.create'",
            vec![tenant.into(), record.into()],
        ))
        .await
        .expect("read the entry")
        .expect("a create entry");
    let text: String = row.try_get("", "changes").expect("changes");
    let changes: Value = serde_json::from_str(&text).expect("JSON");
    let sealed = &changes[field]["$sealed"];
    (str_of(&sealed["key"]), str_of(&sealed["value"]))
}

/// The stored data key `key_id`, if its row still exists.
async fn key_row(conn: &impl sea_orm::ConnectionTrait, tenant: &str, key_id: &str) -> Option<String> {
    let row = conn
        .query_one_raw(stmt(
            conn,
            "SELECT sealed_key FROM subject_keys WHERE tenant_id = $1 AND id = $2",
            vec![tenant.into(), key_id.into()],
        ))
        .await
        .expect("read subject_keys");
    row.map(|r| r.try_get("", "sealed_key").expect("sealed_key"))
}

/// The server key of the test servers (`Config::for_tests`).
fn server_sealer() -> entity::sealed::Sealer {
    let secret = alphery_api::config::Config::for_tests("sqlite::memory:").jwt_secret.expect("a test secret");
    entity::sealed::Sealer::new(secret.as_bytes()).expect("the server key")
}

#[tokio::test]
async fn personal_values_enter_the_audit_trail_sealed_and_read_back_for_administrators() {
    let t = tenant().await;
    let c = crm(&t).await;
    let fields = t.data("{ entities { nameSingular fields { key personal } } }", json!({})).await;
    let contact =
        fields["entities"].as_array().expect("entities").iter().find(|e| e["nameSingular"] == "contact");
    let personal: Vec<String> = contact.expect("contact")["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter(|f| f["personal"] == json!(true))
        .map(|f| str_of(&f["key"]))
        .collect();
    assert_eq!(personal, ["full_name", "email", "phone"]);

    let entries = audit_of(&t, &c.ada).await;
    assert_eq!(change(&entries, "record.create", "email")["new"], json!(c.ada_email), "{entries:?}");
    assert_eq!(
        change(&entries, "record.update", "full_name"),
        &json!({"old": "Ada Byron", "new": "Ada Lovelace"})
    );
    assert_eq!(change(&entries, "record.create", "company")["new"], json!("Analytical Engines"));

    // In the table the values are ciphertext under Ada's key, which the server key opens.
    let conn = connect().await;
    let text = |sql: &str| stmt(&conn, sql, vec![t.tenant_id.clone().into()]);
    let rows = conn
        .query_all_raw(text("SELECT CAST(changes AS TEXT) AS c FROM audit_log WHERE tenant_id = $1"))
        .await
        .expect("read audit_log");
    for row in &rows {
        let changes: String = row.try_get("", "c").expect("changes");
        assert!(
            !changes.contains("ada@") && !changes.contains("Ada By"),
            "clear personal value stored: {changes}"
        );
    }
    let (key_id, sealed) = stored_seal(&conn, &t.tenant_id, &c.ada, "email").await;
    let stored_key = key_row(&conn, &t.tenant_id, &key_id).await.expect("Ada's key row");
    let key = entity::runtime::personal::open_key(&server_sealer(), &t.tenant_id, &key_id, &stored_key)
        .expect("the key opens with the server key");
    let pair = entity::runtime::personal::open_pair(&key, &t.tenant_id, &c.ada, "email", &sealed);
    assert_eq!(pair, Some(json!({"old": null, "new": c.ada_email})));
    assert_eq!(
        entity::runtime::personal::open_pair(&key, &t.tenant_id, &c.bob, "email", &sealed),
        None,
        "a sealed value is bound to its record"
    );

    // A RELATION is not personal data of its own.
    let bad = "mutation { addField(entity: \"deal\", field: {key: \"owner_contact\", label: \"Owner\", \
               type: RELATION, relatedEntity: \"contact\", personal: true}) { id } }";
    t.request(bad, json!({})).await.expect_code("VALIDATION_FAILED");
    let mark = "mutation { updateField(entity: \"contact\", key: \"company\", input: {personal: true}) { \
                fields { key personal } } }";
    let fields = t.data(mark, json!({})).await["updateField"]["fields"].clone();
    let company = fields.as_array().expect("fields").iter().find(|f| f["key"] == "company").cloned();
    assert_eq!(company.expect("company")["personal"], json!(true));
}

#[tokio::test]
async fn an_erasure_removes_the_subject_keeps_the_chain_verifiable_and_shreds_the_old_values() {
    let t = tenant().await;
    let c = crm(&t).await;
    let conn = connect().await;
    let (key_id, sealed) = stored_seal(&conn, &t.tenant_id, &c.ada, "email").await;
    assert!(key_row(&conn, &t.tenant_id, &key_id).await.is_some());

    // Named by address, in another case.
    let done = t.data(ERASE, json!({ "s": {"email": c.ada_email.to_uppercase()} })).await;
    assert_eq!(done["erasePersonalData"], json!({"records": 1, "fields": 3, "keysDestroyed": 1}));

    // Gone from the API: the record stays (its deal links to it) with its personal fields
    // cleared, a required one pseudonymised; nothing finds it by address any more.
    let read = "query($id: ID!) { contact(id: $id) { fullName email phone company } }";
    let ada = t.data(read, json!({ "id": c.ada })).await["contact"].clone();
    assert!(str_of(&ada["fullName"]).starts_with("erased-"), "{ada}");
    assert_eq!(
        (&ada["email"], &ada["phone"], &ada["company"]),
        (&json!(null), &json!(null), &json!("Analytical Engines"))
    );
    let find = "query($e: String) { contacts(filter: {email: {eq: $e}}) { totalCount } }";
    assert_eq!(t.data(find, json!({ "e": c.ada_email })).await["contacts"]["totalCount"], json!(0));
    let deal = t.data("query($id: ID!) { deal(id: $id) { contact { id } } }", json!({"id": c.deal})).await;
    assert_eq!(deal["deal"]["contact"]["id"], json!(c.ada));

    // The chain verifies; the old values read as erased, and the erasure's entries hold none.
    assert_eq!(verify(&t).await["ok"], json!(true));
    let entries = audit_of(&t, &c.ada).await;
    assert_eq!(change(&entries, "record.create", "email"), &json!({"erased": true}));
    assert_eq!(change(&entries, "record.update", "full_name"), &json!({"erased": true}));
    assert_eq!(change(&entries, "record.create", "company")["new"], json!("Analytical Engines"));
    let all = t.data(AUDIT_OF, json!({ "id": null })).await.to_string();
    assert!(!all.contains("ada@") && !all.contains("Ada L") && !all.contains("Ada B"), "{all}");
    let erasure = t
        .data("{ auditLog(filter: {action: \"personal_data.erase\"}) { nodes { changes } } }", json!({}))
        .await;
    assert_eq!(erasure["auditLog"]["nodes"][0]["changes"]["keysDestroyed"], json!(1), "{erasure}");

    // At the SQL level: the ciphertext is still stored, but the key row that opened it is gone.
    let (same_key, still_sealed) = stored_seal(&conn, &t.tenant_id, &c.ada, "email").await;
    assert_eq!((same_key.as_str(), still_sealed.as_str()), (key_id.as_str(), sealed.as_str()));
    assert_eq!(key_row(&conn, &t.tenant_id, &key_id).await, None, "the subject key is destroyed");
    let keys_of_ada = "SELECT COUNT(*) AS n FROM subject_keys WHERE tenant_id = $1 AND subject_id = $2";
    assert_eq!(count(&conn, keys_of_ada, vec![t.tenant_id.clone().into(), c.ada.clone().into()]).await, 0);

    // Bob is untouched.
    let bob = t.data(read, json!({ "id": c.bob })).await["contact"].clone();
    assert_eq!(bob["email"], json!(c.bob_email));
    assert_eq!(change(&audit_of(&t, &c.bob).await, "record.create", "email")["new"], json!(c.bob_email));
    assert_eq!(count(&conn, keys_of_ada, vec![t.tenant_id.clone().into(), c.bob.clone().into()]).await, 1);
}

#[tokio::test]
async fn an_export_holds_the_subjects_records_linked_records_and_audit_entries_and_nothing_else() {
    let t = tenant().await;
    let c = crm(&t).await;
    let doc = t.data(EXPORT, json!({ "s": {"email": c.ada_email} })).await["exportPersonalData"].clone();
    assert_eq!(doc["format"], json!("alphery.personal-data.v1"));
    assert_eq!(pluck_str(&doc["records"], "id"), vec![c.ada.clone()]);
    assert_eq!(doc["records"][0]["data"]["email"], json!(c.ada_email));
    assert_eq!(doc["records"][0]["data"]["fullName"], json!("Ada Lovelace"));
    assert_eq!(pluck_str(&doc["linkedRecords"], "id"), vec![c.deal.clone()]);
    let about: Vec<String> = pluck_str(&doc["auditEntries"], "objectId");
    assert_eq!(sorted(about.clone()), sorted(vec![c.ada.clone(), c.ada.clone(), c.deal.clone()]), "{doc}");
    let entries = doc["auditEntries"].as_array().cloned().unwrap_or_default();
    assert_eq!(change(&entries, "record.create", "email")["new"], json!(c.ada_email), "decrypted");
    let text = doc.to_string();
    assert!(
        !text.contains(&c.bob) && !text.contains("bob@") && !text.contains("Bob"),
        "another subject leaked: {text}"
    );

    // The export is audited, with ids and counts only.
    let log = t
        .data("{ auditLog(filter: {action: \"personal_data.export\"}) { nodes { changes } } }", json!({}))
        .await;
    let entry = &log["auditLog"]["nodes"][0]["changes"];
    assert_eq!(entry["records"], json!([c.ada]));
    assert!(!entry.to_string().contains("ada@"), "{entry}");

    // By record, and by phone number.
    let by_record = t.data(EXPORT, json!({ "s": {"entity": "contact", "id": c.bob} })).await;
    assert_eq!(pluck_str(&by_record["exportPersonalData"]["records"], "id"), vec![c.bob.clone()]);
    let by_phone = t.data(EXPORT, json!({ "s": {"phone": "+44 20 7946 0002"} })).await;
    assert_eq!(pluck_str(&by_phone["exportPersonalData"]["records"], "id"), vec![c.bob.clone()]);
    t.request(EXPORT, json!({ "s": {"email": c.ada_email, "phone": "+44"} }))
        .await
        .expect_code("VALIDATION_FAILED");
}

#[tokio::test]
async fn members_cannot_export_or_erase_and_only_the_owner_exports_or_deletes_the_tenant() {
    let t = tenant().await;
    let c = crm(&t).await;
    let member = t.invite_auth("member").await;
    let subject = json!({ "s": {"email": c.ada_email} });
    for query in [EXPORT, ERASE] {
        let refused = t.api.graphql(&member, query, subject.clone()).await;
        assert!(!refused.errors().is_empty(), "a member ran {query}");
    }
    let admin = t.invite_auth("admin").await;
    for query in [DELETE_TENANT, "mutation { exportTenant }", CANCEL] {
        t.api.graphql(&admin, query, json!({})).await.expect_code("FORBIDDEN");
    }
    // Nothing was erased.
    let read = "query($id: ID!) { contact(id: $id) { email } }";
    assert_eq!(t.data(read, json!({ "id": c.ada })).await["contact"]["email"], json!(c.ada_email));

    let export = t.data("mutation { exportTenant }", json!({})).await["exportTenant"].clone();
    assert_eq!(export["format"], json!("alphery.tenant.v1"));
    assert_eq!(pluck_str(&export["entities"], "nameSingular"), ["contact", "deal"]);
    assert_eq!(export["records"]["contact"].as_array().map(Vec::len), Some(2));
    assert!(pluck_str(&export["users"], "email").contains(&t.email));
    let text = export.to_string();
    assert!(!text.contains("argon2") && !text.contains("password"), "a secret in the export");
}

#[tokio::test]
async fn a_tenant_deletion_is_scheduled_cancelled_and_executed_after_its_grace_period() {
    let t = tenant().await;
    let other = tenant().await;
    crm(&t).await;
    crm(&other).await;
    let create = json!({ "i": {"fullName": "Charles", "email": format!("charles@{}.example.org", t.slug)} });

    let scheduled = t.data(DELETE_TENANT, json!({})).await["deleteTenant"].clone();
    assert_eq!((&scheduled["scheduled"], &scheduled["requestedBy"]), (&json!(true), &json!(t.user_id)));
    let due = chrono::DateTime::parse_from_rfc3339(&str_of(&scheduled["dueAt"])).expect("dueAt").to_utc();
    let days = (due - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((29.9..=30.1).contains(&days), "the default grace is 30 days, got {days}");
    t.request(DELETE_TENANT, json!({})).await.expect_code("CONFLICT");

    // Read-only meanwhile: reads answer, writes are refused (once every cached credential knows).
    let rename = "mutation { updateTenant(input: {timeZone: \"UTC\"}) { id } }";
    eventually("writes refused while the deletion is scheduled", TIMEOUT, async || {
        let r = t.request(rename, json!({})).await;
        if r.errors().first().is_some_and(|_| r.code() == "FORBIDDEN") { Ok(()) } else { Err(r.body) }
    })
    .await;
    t.request(CREATE_CONTACT, create.clone()).await.expect_code("FORBIDDEN");
    assert_eq!(t.data("{ contacts { totalCount } }", json!({})).await["contacts"]["totalCount"], json!(2));
    let status = t.data("{ tenantDeletion { scheduled dueAt } }", json!({})).await;
    assert_eq!(status["tenantDeletion"]["dueAt"], scheduled["dueAt"]);

    // Cancelled: writable again, and a time scan past the old due date deletes nothing.
    assert_eq!(t.data(CANCEL, json!({})).await["cancelTenantDeletion"]["scheduled"], json!(false));
    t.request(CANCEL, json!({})).await.expect_code("CONFLICT");
    eventually("writes accepted again", TIMEOUT, async || {
        let r = t.request(rename, json!({})).await;
        if r.errors().is_empty() { Ok(()) } else { Err(r.body) }
    })
    .await;
    t.data(CREATE_CONTACT, create.clone()).await;
    let clock = Clock::of(&t).await;
    clock.scan_at(due + chrono::Duration::days(1)).await;
    assert_eq!(t.data("{ contacts { totalCount } }", json!({})).await["contacts"]["totalCount"], json!(3));

    // Scheduled again: not before its due date, and after it every row of the tenant goes.
    let again = t.data(DELETE_TENANT, json!({})).await["deleteTenant"]["dueAt"].clone();
    let due = chrono::DateTime::parse_from_rfc3339(&str_of(&again)).expect("dueAt").to_utc();
    clock.scan_at(due - chrono::Duration::hours(1)).await;
    assert_eq!(t.data("{ contacts { totalCount } }", json!({})).await["contacts"]["totalCount"], json!(3));
    clock.scan_at(due + chrono::Duration::seconds(1)).await;

    let conn = connect().await;
    let tenant_id = || vec![t.tenant_id.clone().into()];
    for table in
        ["records", "audit_log", "users", "roles", "entity_defs", "subject_keys", "outbox", "audit_heads"]
    {
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE tenant_id = $1");
        assert_eq!(count(&conn, &sql, tenant_id()).await, 0, "rows of the deleted tenant left in {table}");
    }
    assert_eq!(count(&conn, "SELECT COUNT(*) AS n FROM tenants WHERE id = $1", tenant_id()).await, 0);
    assert!(!login(&t.api, &t.slug, &t.email, &t.password).await.errors().is_empty(), "the tenant is gone");
    assert!(!t.request("{ contacts { totalCount } }", json!({})).await.errors().is_empty());

    // The other tenant is untouched.
    assert_eq!(
        other.data("{ contacts { totalCount } }", json!({})).await["contacts"]["totalCount"],
        json!(2)
    );
    assert_eq!(verify(&other).await["ok"], json!(true));
    let others = vec![other.tenant_id.clone().into()];
    assert!(count(&conn, "SELECT COUNT(*) AS n FROM audit_log WHERE tenant_id = $1", others).await > 0);
}

/// The document vault is a source of personal data: an export lists the files of the
/// subject's and linked records (metadata and download path), and an erasure deletes the
/// subject record's own files (no longer served, their names replaced) while a linked record's
/// file stays with it.
#[tokio::test]
async fn an_erasure_deletes_the_subjects_files_and_an_export_lists_them() {
    use crate::attachments::{download, plain_upload};
    let t = tenant().await;
    let c = crm(&t).await;
    let auth = t.auth();
    let attach =
        "mutation($e: String!, $id: ID!, $f: ID!) { attachFile(entity: $e, id: $id, file: $f) { id } }";
    let mut files = Vec::new();
    for (entity, record, name) in [("contact", &c.ada, "ada-passport.pdf"), ("deal", &c.deal, "contract.pdf")]
    {
        let up = plain_upload(&t.api, &auth, name, "application/pdf", name.as_bytes()).await;
        assert_eq!(up.status, 201, "{}", up.text);
        let id = str_of(&up.body["id"]);
        t.data(attach, json!({"e": entity, "id": record, "f": id})).await;
        files.push(id);
    }
    let (passport, contract) = (&files[0], &files[1]);

    let doc = t.data(EXPORT, json!({ "s": {"email": c.ada_email} })).await["exportPersonalData"].clone();
    let listed = doc["attachments"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = listed.iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names, vec!["ada-passport.pdf", "contract.pdf"], "{doc}");
    assert_eq!(listed[0]["download"], json!(format!("/files/{passport}")));
    assert_eq!(listed[0]["recordId"], json!(c.ada));

    t.data(ERASE, json!({ "s": {"email": c.ada_email} })).await;
    assert_eq!(download(&t.api, &auth, passport).await.0, 404, "the subject's file is no longer served");
    assert_eq!(download(&t.api, &auth, contract).await.0, 200, "a linked record's file stays");
    let after =
        t.data(EXPORT, json!({ "s": {"entity": "contact", "id": c.ada} })).await["exportPersonalData"]
            .clone();
    let left: Vec<&str> =
        after["attachments"].as_array().into_iter().flatten().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(left, vec!["contract.pdf"], "only the linked deal's file is left: {after}");
    let conn = connect().await;
    let named = "SELECT COUNT(*) AS n FROM files WHERE tenant_id = $1 AND name = 'ada-passport.pdf'";
    assert_eq!(
        count(&conn, named, vec![t.tenant_id.clone().into()]).await,
        0,
        "the file's name is erased too"
    );
    assert_eq!(verify(&t).await["ok"], json!(true));
}
