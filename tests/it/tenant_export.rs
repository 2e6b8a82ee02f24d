//! The tenant's archive (`startTenantExport`): the owner starts it, follows it live over the
//! WebSocket (`exportChanged`) and by `exportJob`, downloads it from `GET /exports/<id>` and
//! opens the zip here (its central directory, local headers and CRC-32s read by hand): the
//! definitions, every entity's records as the API lists them, the audit trail, the attachment's
//! bytes — and nothing of a data subject erased before. Starting and downloading are audited.
//! An administrator and a member of the tenant are refused (FORBIDDEN), another tenant finds no
//! such export (NOT_FOUND); the owner may start one while the tenant's deletion is scheduled.
//! 1 200 records are written in several pages (`exports::PAGE` is 500), each page's progress
//! seen live.

use std::collections::BTreeMap;

use entity::features::exports::zip::crc32;
use serde_json::{Value, json};

use crate::attachments::graphql_upload;
use crate::gdpr::define_crm;
use crate::harness::*;

const START: &str =
    "mutation { startTenantExport { id status format entity rowsWritten sizeBytes downloadUrl } }";
const JOB: &str =
    "query($id: ID!) { exportJob(id: $id) { id status format rowsWritten sizeBytes downloadUrl error } }";
const CHANGED: &str =
    "subscription($id: ID) { exportChanged(id: $id) { id status format rowsWritten downloadUrl } }";
const AUDIT: &str =
    "query($f: AuditFilter) { auditLog(filter: $f, first: 500) { totalCount nodes { id action objectId } } }";

/// A tenant with contacts (personal name, email and phone: `gdpr::define_crm`) and deals
/// linking to them, a file attached to a deal, and Ada erased (`erasePersonalData`) while Bob
/// is kept.
struct Crm {
    t: TestTenant,
    ada_email: String,
    bob_email: String,
    file_id: String,
    file_bytes: Vec<u8>,
}

async fn crm() -> Crm {
    let t = tenant().await;
    define_crm(&t).await;
    let (ada_email, bob_email) =
        (format!("ada@{}.example.org", t.slug), format!("bob@{}.example.org", t.slug));
    let mut contacts = Vec::new();
    for (name, email) in [("Ada Lovelace", &ada_email), ("Bob Babbage", &bob_email)] {
        let input = json!({"fullName": name, "email": email, "company": "Engines"});
        let created = t
            .data(
                "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }",
                json!({ "i": input }),
            )
            .await;
        contacts.push(str_of(&created["createContact"]["id"]));
    }
    let mut deals = Vec::new();
    for (title, contact) in [("Engine", &contacts[0]), ("Loom", &contacts[1]), ("Mill", &contacts[1])] {
        let created = t
            .data(
                "mutation($i: CreateDealInput!) { createDeal(input: $i) { id } }",
                json!({ "i": {"title": title, "contact": contact} }),
            )
            .await;
        deals.push(str_of(&created["createDeal"]["id"]));
    }
    let file_bytes: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let up = graphql_upload(&t.api, &t.auth(), "contract.pdf", "application/pdf", &file_bytes).await.data();
    let file_id = str_of(&up["uploadFile"]["id"]);
    t.data(
        "mutation($id: ID!, $f: ID!) { attachFile(entity: \"deal\", id: $id, file: $f) { id } }",
        json!({ "id": deals[0], "f": file_id }),
    )
    .await;
    let erased = t
        .data(
            "mutation($s: PersonalDataSubject!) { erasePersonalData(subject: $s) { records } }",
            json!({ "s": {"email": ada_email} }),
        )
        .await;
    assert_eq!(erased["erasePersonalData"]["records"], json!(1));
    Crm { t, ada_email, bob_email, file_id, file_bytes }
}

/// The zip's entries by name: the central directory read from the end record, each entry's
/// bytes found through its local header, whose CRC-32 and size must match the directory's and
/// the bytes'.
fn unzip(zip: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([zip[at], zip[at + 1]]));
    let u32_at = |at: usize| u32::from_le_bytes([zip[at], zip[at + 1], zip[at + 2], zip[at + 3]]);
    assert!(zip.len() >= 22, "not a zip: {} bytes", zip.len());
    let end = zip.len() - 22;
    assert_eq!(u32_at(end), 0x0605_4b50, "no end of central directory record");
    let (count, mut at) = (u16_at(end + 10), u32_at(end + 16) as usize);
    let mut entries = BTreeMap::new();
    for _ in 0..count {
        assert_eq!(u32_at(at), 0x0201_4b50, "central directory header at {at}");
        assert_eq!(u16_at(at + 10), 0, "stored entries");
        let (crc, size) = (u32_at(at + 16), u32_at(at + 24) as usize);
        let (name_len, extra, comment) = (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
        let local = u32_at(at + 42) as usize;
        let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).expect("UTF-8 name");
        at += 46 + name_len + extra + comment;
        assert_eq!(u32_at(local), 0x0403_4b50, "local header of {name}");
        assert_eq!((u32_at(local + 14), u32_at(local + 22) as usize), (crc, size), "local header of {name}");
        let data = local + 30 + u16_at(local + 26) + u16_at(local + 28);
        let bytes = zip[data..data + size].to_vec();
        assert_eq!(crc32(0, &bytes), crc, "CRC-32 of {name}");
        entries.insert(name, bytes);
    }
    entries
}

fn text(entries: &BTreeMap<String, Vec<u8>>, name: &str) -> String {
    let bytes = entries.get(name).unwrap_or_else(|| panic!("no {name} in {:?}", entries.keys()));
    String::from_utf8(bytes.clone()).expect("UTF-8")
}

fn lines(entries: &BTreeMap<String, Vec<u8>>, name: &str) -> Vec<Value> {
    text(entries, name)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `GET /exports/<id>` as `auth`: the status, the bytes and the content type.
async fn download(t: &TestTenant, auth: &Auth, id: &str) -> (u16, Vec<u8>, String) {
    let request = Api::with_auth(t.api.http.get(t.api.url(&format!("/exports/{id}"))), auth);
    let response = request.send().await.expect("GET /exports/<id>");
    let status = response.status().as_u16();
    let ty =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, response.bytes().await.expect("read the download").to_vec(), ty)
}

/// Starts the archive as the owner, following it on a socket subscribed first: the job's id
/// and every event up to `done`.
async fn export_live(t: &TestTenant) -> (String, Vec<Value>) {
    let mut socket = t.subscribe(CHANGED, json!({})).await;
    let job = t.data(START, json!({})).await["startTenantExport"].clone();
    assert_eq!(
        (job["status"].clone(), job["format"].clone(), job["entity"].clone()),
        (json!("queued"), json!("ZIP"), json!(""))
    );
    assert_eq!(job["downloadUrl"], Value::Null);
    let id = str_of(&job["id"]);
    let mut seen = Vec::new();
    loop {
        let event = socket.next_data_within("1", EFFECT_WAIT).await["exportChanged"].clone();
        assert_eq!(event["id"], json!(id), "{event}");
        let status = str_of(&event["status"]);
        assert_ne!(status, "failed", "{seen:?}");
        seen.push(event);
        if status == "done" {
            return (id, seen);
        }
    }
}

#[tokio::test]
async fn the_owner_downloads_the_whole_tenant_as_a_zip_holding_what_the_api_lists() {
    let Crm { t, ada_email, bob_email, file_id, file_bytes } = crm().await;
    let (id, seen) = export_live(&t).await;
    assert!(seen.iter().any(|e| e["status"] == "running"), "{seen:?}");
    let done = seen.last().cloned().unwrap_or_default();
    assert_eq!(done["downloadUrl"], json!(format!("/exports/{id}")));
    assert_eq!(done["rowsWritten"], json!(5), "2 contacts and 3 deals: {done}");
    let job = t.data(JOB, json!({ "id": id })).await["exportJob"].clone();
    assert_eq!((job["status"].clone(), job["rowsWritten"].clone()), (json!("done"), json!(5)), "{job}");

    let (status, zip, ty) = download(&t, &t.auth(), &id).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&zip));
    assert_eq!(ty, "application/zip");
    assert_eq!(job["sizeBytes"].as_u64(), Some(zip.len() as u64));
    let entries = unzip(&zip);
    let file_entry = format!("files/{file_id}/contract.pdf");
    for name in
        ["definitions.json", "records/contact.jsonl", "records/deal.jsonl", "audit.jsonl", "files.jsonl"]
    {
        assert!(entries.contains_key(name), "{name} missing: {:?}", entries.keys());
    }
    assert_eq!(entries.get(&file_entry), Some(&file_bytes), "the attachment's bytes");

    let definitions: Value = serde_json::from_str(&text(&entries, "definitions.json")).expect("JSON");
    assert_eq!(sorted(pluck_str(&definitions["entities"], "nameSingular")), strings(&["contact", "deal"]));
    assert!(pluck_str(&definitions["users"], "email").contains(&t.email));
    assert!(pluck_str(&definitions["roles"], "name").contains(&"owner".to_owned()));
    let all: String = entries
        .iter()
        .filter(|(n, _)| !n.starts_with("files/"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(!all.contains("argon2") && !all.contains("passwordHash"), "a secret in the archive");

    // Each entity's records are the ones its list shows the owner, with the same values.
    for (entity, list, selection) in
        [("contact", "contacts", "id fullName email company"), ("deal", "deals", "id title contact { id }")]
    {
        let listed =
            t.data(&format!("{{ {list}(first: 100) {{ nodes {{ {selection} }} }} }}"), json!({})).await;
        let listed = listed[list]["nodes"].as_array().cloned().unwrap_or_default();
        let archived = lines(&entries, &format!("records/{entity}.jsonl"));
        assert_eq!(
            sorted(archived.iter().map(|r| str_of(&r["id"])).collect()),
            sorted(pluck_str(&json!(listed), "id"))
        );
        for node in &listed {
            let row = archived.iter().find(|r| r["id"] == node["id"]).cloned().unwrap_or_default();
            for (key, value) in node.as_object().into_iter().flatten() {
                let shown = if key == "contact" { value["id"].clone() } else { value.clone() };
                let held = if row[key].is_object() { row[key]["id"].clone() } else { row[key].clone() };
                assert_eq!(held, shown, "{entity}.{key} of {}", node["id"]);
            }
        }
    }

    // The audit trail as the API shows it to the owner: Bob's values open, Ada's erased.
    let audit = lines(&entries, "audit.jsonl");
    let listed = t.data(AUDIT, json!({ "f": {} })).await["auditLog"]["nodes"].clone();
    let listed_ids: Vec<i64> =
        listed.as_array().into_iter().flatten().filter_map(|n| n["id"].as_str()?.parse().ok()).collect();
    assert!(
        audit.iter().all(|e| e["id"].as_i64().is_some_and(|i| listed_ids.contains(&i))),
        "an entry the API does not list"
    );
    let actions: Vec<String> = pluck_str(&json!(audit), "action");
    for action in ["record.create", "file.upload", "personal_data.erase", "tenant.export_started"] {
        assert!(actions.contains(&action.to_owned()), "{action} not in {actions:?}");
    }
    assert!(text(&entries, "audit.jsonl").contains(&bob_email), "Bob's values are shown");
    assert!(
        !all.contains(&ada_email) && !all.contains("Ada Lovelace"),
        "an erased subject's data in the archive"
    );
    let files = lines(&entries, "files.jsonl");
    assert_eq!(pluck_str(&json!(files), "path"), vec![file_entry]);

    // The archive was written, and downloaded, on the record.
    for action in ["tenant.export_started", "tenant.export", "tenant.export_downloaded"] {
        let log = t.data(AUDIT, json!({ "f": {"action": action, "objectId": id} })).await;
        assert_eq!(log["auditLog"]["totalCount"], json!(1), "{action}: {log}");
    }
}

#[tokio::test]
async fn only_the_owner_starts_sees_and_downloads_the_tenant_archive() {
    let t = tenant().await;
    t.define_entity("note", "notes", vec![field("body", "TEXT", json!({}))]).await;
    let admin = t.invite_auth("admin").await;
    let member = t.invite_auth("member").await;
    for auth in [&admin, &member] {
        t.api.graphql(auth, START, json!({})).await.expect_code("FORBIDDEN");
    }
    let id = str_of(&t.data(START, json!({})).await["startTenantExport"]["id"]);
    eventually("the archive to be done", EFFECT_WAIT, async || {
        t.data(JOB, json!({ "id": id })).await["exportJob"]["status"] == "done"
    })
    .await;
    for auth in [&admin, &member] {
        let (status, body, _) = download(&t, auth, &id).await;
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(
            (status, body["errors"][0]["extensions"]["code"].clone()),
            (403, json!("FORBIDDEN")),
            "{body}"
        );
        let seen = t.api.graphql(auth, JOB, json!({ "id": id })).await.data();
        assert_eq!(seen["exportJob"], Value::Null);
    }
    let other = tenant().await;
    let (status, _, _) = download(&other, &other.auth(), &id).await;
    assert_eq!(status, 404);
    assert_eq!(other.data(JOB, json!({ "id": id })).await["exportJob"], Value::Null);
    // No refused download was audited; the owner's is.
    let downloads = json!({ "f": {"action": "tenant.export_downloaded"} });
    assert_eq!(t.data(AUDIT, downloads.clone()).await["auditLog"]["totalCount"], json!(0));
    assert_eq!(download(&t, &t.auth(), &id).await.0, 200);
    assert_eq!(t.data(AUDIT, downloads).await["auditLog"]["totalCount"], json!(1));
    // While the tenant's deletion is scheduled (read-only), its owner may still take it out.
    let scheduled = t.data("mutation { deleteTenant { scheduled } }", json!({})).await;
    assert_eq!(scheduled["deleteTenant"]["scheduled"], json!(true));
    t.request("mutation { createNote(input: {body: \"x\"}) { id } }", json!({}))
        .await
        .expect_code("FORBIDDEN");
    assert_eq!(t.data(START, json!({})).await["startTenantExport"]["status"], json!("queued"));
}

#[tokio::test]
async fn twelve_hundred_records_are_archived_page_by_page() {
    let t = tenant().await;
    t.define_entity("deal", "deals", vec![field("title", "TEXT", json!({}))]).await;
    for batch in 0..2 {
        let inputs: Vec<Value> =
            (0..600).map(|i| json!({"title": format!("D{:04}", batch * 600 + i)})).collect();
        let r = t
            .data(
                "mutation($i: [CreateDealInput!]!) { createDeals(inputs: $i) { count } }",
                json!({"i": inputs}),
            )
            .await;
        assert_eq!(r["createDeals"]["count"], json!(600), "{r}");
    }
    let (id, seen) = export_live(&t).await;
    let progress: Vec<i64> =
        seen.iter().filter(|e| e["status"] == "running").filter_map(|e| e["rowsWritten"].as_i64()).collect();
    // A page of 500 records, then another, then the last 200: each reported as it is written.
    assert!(progress.contains(&500) && progress.contains(&1000), "progress by page: {progress:?}");
    assert_eq!(seen.last().map(|e| e["rowsWritten"].clone()), Some(json!(1200)));
    let (status, zip, _) = download(&t, &t.auth(), &id).await;
    assert_eq!(status, 200);
    let deals = lines(&unzip(&zip), "records/deal.jsonl");
    let titles = sorted(deals.iter().map(|d| str_of(&d["title"])).collect());
    assert_eq!(titles.len(), 1200);
    assert_eq!((titles[0].as_str(), titles[1199].as_str()), ("D0000", "D1199"));
    let ids: std::collections::BTreeSet<String> = deals.iter().map(|d| str_of(&d["id"])).collect();
    assert_eq!(ids.len(), 1200, "no record twice across pages");
}
