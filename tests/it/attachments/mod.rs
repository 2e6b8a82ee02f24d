//! The document vault (issue 14 § 3) over GraphQL and HTTP, on each backend: uploads over the
//! GraphQL multipart request spec and `POST /files`, downloads of the same bytes and hash,
//! FILE fields holding an uploaded file, attachments of a record, the owning record's
//! permissions on every download (FORBIDDEN outside the row rule or a hidden field, NOT_FOUND
//! for another tenant), size and type limits, a record's delete hiding its files (and its
//! restore bringing them back), the audit trail; and the S3 backend against a real
//! S3-compatible server (`s3`).

mod s3;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::*;

/// What an upload answers with.
const FILE: &str = "id name mimeType size sha256 url recordId fieldKey";

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A `multipart/form-data` body of the GraphQL multipart request spec: `operations` (`query`
/// with its file variable `$f` null), `map`, and the file as part `0`; with its content type.
fn multipart(query: &str, name: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("alphery-{}", uuid::Uuid::new_v4().simple());
    let operations = json!({"query": query, "variables": {"f": null}});
    let mut body = Vec::new();
    let mut text = |s: String| body.extend_from_slice(s.as_bytes());
    text(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n"
    ));
    text(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.f\"]}}\r\n"
    ));
    text(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
    ));
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `uploadFile` over `POST /graphql` as a multipart request.
pub async fn graphql_upload(
    api: &Api,
    auth: &Auth,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Response {
    let query = format!("mutation($f: Upload!) {{ uploadFile(file: $f) {{ {FILE} }} }}");
    let (ct, body) = multipart(&query, name, content_type, bytes);
    let request = api.http.post(api.url("/graphql")).header("content-type", ct).body(body);
    api.send(Api::with_auth(request, auth)).await
}

/// `POST /files?name=…` with the bytes as the body.
pub async fn plain_upload(api: &Api, auth: &Auth, name: &str, content_type: &str, bytes: &[u8]) -> Response {
    let request = api
        .http
        .post(api.url("/files"))
        .query(&[("name", name)])
        .header("content-type", content_type)
        .body(bytes.to_vec());
    api.send(Api::with_auth(request, auth)).await
}

/// `GET /files/<id>`: the status, the body's bytes, and the `ETag` and `Content-Type` headers.
pub async fn download(api: &Api, auth: &Auth, id: &str) -> (u16, Vec<u8>, String, String) {
    let request = Api::with_auth(api.http.get(api.url(&format!("/files/{id}"))), auth);
    let response = request.send().await.expect("GET /files/<id>");
    let status = response.status().as_u16();
    let header =
        |n: &str| response.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (etag, ty) = (header("etag"), header("content-type"));
    let bytes = response.bytes().await.expect("read the download").to_vec();
    (status, bytes, etag, ty)
}

/// The error code of a JSON error body (downloads answer one).
fn code_of(bytes: &[u8]) -> String {
    let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    str_of(&body["errors"][0]["extensions"]["code"])
}

/// A tenant with `contract` (title, region, a FILE field `scan`).
async fn vault() -> TestTenant {
    let t = tenant().await;
    t.define(entity(
        "contract",
        "contracts",
        vec![
            field("title", "TEXT", json!({})),
            field("region", "TEXT", json!({})),
            field("scan", "FILE", json!({})),
        ],
        json!({}),
    ))
    .await;
    t
}

async fn create_contract(t: &TestTenant, region: &str, scan: Value) -> String {
    let q = "mutation($r: String!, $s: FileInput) { createContract(input: {title: \"C\", region: $r, scan: $s}) { id } }";
    str_of(&t.data(q, json!({"r": region, "s": scan})).await["createContract"]["id"])
}

async fn attach(t: &TestTenant, auth: &Auth, record: &str, file: &str) -> Response {
    let q = format!(
        "mutation($id: ID!, $f: ID!) {{ attachFile(entity: \"contract\", id: $id, file: $f) {{ {FILE} }} }}"
    );
    t.api.graphql(auth, &q, json!({"id": record, "f": file})).await
}

async fn attachments(t: &TestTenant, auth: &Auth, record: &str) -> Response {
    let q = format!("query($id: ID!) {{ attachments(entity: \"contract\", id: $id) {{ {FILE} }} }}");
    t.api.graphql(auth, &q, json!({"id": record})).await
}

#[tokio::test]
async fn a_multipart_upload_downloads_as_the_same_bytes_and_fills_a_file_field() {
    let t = vault().await;
    let bytes = b"%PDF-1.4 the signed contract\n\x00\x01\x02 binary tail".to_vec();
    let up = graphql_upload(&t.api, &t.auth(), "contract.pdf", "application/pdf", &bytes).await.data();
    let file = &up["uploadFile"];
    assert_eq!(file["name"], json!("contract.pdf"));
    assert_eq!(file["mimeType"], json!("application/pdf"));
    assert_eq!(file["size"], json!(bytes.len()));
    assert_eq!(file["sha256"], json!(sha256_hex(&bytes)));
    assert_eq!(file["recordId"], Value::Null);
    let id = str_of(&file["id"]);
    assert_eq!(str_of(&file["url"]), format!("/files/{id}"));

    let (status, got, etag, ty) = download(&t.api, &t.auth(), &id).await;
    assert_eq!(status, 200);
    assert_eq!(got, bytes, "the download is the upload, byte for byte");
    assert_eq!(sha256_hex(&got), sha256_hex(&bytes));
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&bytes)));
    assert_eq!(ty, "application/pdf");

    // The upload as a FILE field's value: its metadata is the stored file's, not the client's.
    let record = create_contract(&t, "North", json!({"fileId": id, "name": "forged.exe", "size": 1})).await;
    let read = t
        .data(
            "query($id: ID!) { contract(id: $id) { scan { id url name mimeType size sha256 } } }",
            json!({"id": record}),
        )
        .await;
    let scan = &read["contract"]["scan"];
    assert_eq!(scan["id"], json!(id));
    assert_eq!(scan["name"], json!("contract.pdf"));
    assert_eq!(scan["size"], json!(bytes.len()));
    assert_eq!(scan["sha256"], json!(sha256_hex(&bytes)));
    assert_eq!(str_of(&scan["url"]), format!("/files/{id}"));
    // A URL value still reads as before.
    let linked =
        create_contract(&t, "North", json!({"url": "https://example.com/a.pdf", "name": "a.pdf"})).await;
    let read =
        t.data("query($id: ID!) { contract(id: $id) { scan { id url name } } }", json!({"id": linked})).await;
    assert_eq!(
        read["contract"]["scan"],
        json!({"id": null, "url": "https://example.com/a.pdf", "name": "a.pdf"})
    );

    // The file now belongs to the record's field: listed with it, and no second record takes it.
    let listed = attachments(&t, &t.auth(), &record).await.data();
    assert_eq!(pluck_str(&listed["attachments"], "id"), vec![id.clone()]);
    assert_eq!(listed["attachments"][0]["fieldKey"], json!("scan"));
    let q = "mutation($s: FileInput) { createContract(input: {title: \"D\", region: \"North\", scan: $s}) { id } }";
    t.request(q, json!({"s": {"fileId": id}})).await.expect_field_errors(&["scan"]);

    // Replacing the field's file retires the old one.
    let second = graphql_upload(&t.api, &t.auth(), "v2.pdf", "application/pdf", b"%PDF v2").await.data();
    let second_id = str_of(&second["uploadFile"]["id"]);
    let q =
        "mutation($id: ID!, $s: FileInput) { updateContract(id: $id, input: {scan: $s}) { scan { id } } }";
    let updated = t.data(q, json!({"id": record, "s": {"fileId": second_id}})).await;
    assert_eq!(updated["updateContract"]["scan"]["id"], json!(second_id));
    assert_eq!(download(&t.api, &t.auth(), &id).await.0, 404, "the replaced file is gone");
    assert_eq!(download(&t.api, &t.auth(), &second_id).await.0, 200);
}

#[tokio::test]
async fn a_plain_upload_is_attached_listed_and_deleted_with_audit_entries() {
    let t = vault().await;
    let bytes = b"name,amount\nAcme,100\n".to_vec();
    let up = plain_upload(&t.api, &t.auth(), "deals.csv", "text/csv", &bytes).await;
    assert_eq!(up.status, 201, "{}", up.text);
    let id = str_of(&up.body["id"]);
    assert_eq!(up.body["sha256"], json!(sha256_hex(&bytes)));
    assert_eq!(up.body["size"], json!(bytes.len()));

    let record = create_contract(&t, "North", Value::Null).await;
    let attached = attach(&t, &t.auth(), &record, &id).await.data();
    assert_eq!(attached["attachFile"]["recordId"], json!(record));
    assert_eq!(attached["attachFile"]["fieldKey"], Value::Null);
    // Attached once: the same file cannot be attached again.
    attach(&t, &t.auth(), &record, &id).await.expect_code("NOT_FOUND");
    let listed = attachments(&t, &t.auth(), &record).await.data();
    assert_eq!(pluck_str(&listed["attachments"], "name"), vec!["deals.csv".to_owned()]);
    let (status, got, _, _) = download(&t.api, &t.auth(), &id).await;
    assert_eq!((status, got), (200, bytes));

    let q = "mutation($id: ID!) { deleteAttachment(id: $id) { id } }";
    t.data(q, json!({"id": id})).await;
    assert_eq!(download(&t.api, &t.auth(), &id).await.0, 404);
    assert!(
        attachments(&t, &t.auth(), &record).await.data()["attachments"].as_array().is_some_and(Vec::is_empty)
    );
    t.request(q, json!({"id": id})).await.expect_code("NOT_FOUND");

    let audit = t.data("{ auditLog(first: 50) { edges { node { action objectId } } } }", json!({})).await;
    let actions: Vec<String> = audit["auditLog"]["edges"]
        .as_array()
        .expect("audit edges")
        .iter()
        .filter(|e| e["node"]["objectId"] == json!(id))
        .map(|e| str_of(&e["node"]["action"]))
        .collect();
    assert_eq!(sorted(actions), strings(&["file.attach", "file.delete", "file.upload"]));
}

#[tokio::test]
async fn downloads_follow_the_owning_records_permissions() {
    let t = vault().await;
    let north = create_contract(&t, "North", Value::Null).await;
    let south = create_contract(&t, "South", Value::Null).await;
    let mut ids = Vec::new();
    for record in [&north, &south] {
        let up = plain_upload(&t.api, &t.auth(), "scan.png", "image/png", record.as_bytes()).await;
        let id = str_of(&up.body["id"]);
        attach(&t, &t.auth(), record, &id).await.data();
        ids.push(id);
    }
    let field_file = str_of(
        &graphql_upload(&t.api, &t.auth(), "f.pdf", "application/pdf", b"%PDF f").await.data()["uploadFile"]
            ["id"],
    );
    let with_field = create_contract(&t, "North", json!({"fileId": field_file})).await;
    t.create_role(
        "north",
        json!({"contract": {"actions": ["read", "update"], "where": {"region": {"eq": "North"}}}}),
    )
    .await;
    t.create_role("no_scan", json!({"contract": {"actions": ["read"], "fields": {"scan": "none"}}})).await;
    let member = t.invite_auth("north").await;
    let blind = t.invite_auth("no_scan").await;

    // Inside the row rule: served. Outside: FORBIDDEN, over HTTP (403) and GraphQL alike.
    let (status, got, _, _) = download(&t.api, &member, &ids[0]).await;
    assert_eq!((status, got), (200, north.as_bytes().to_vec()));
    let (status, body, _, _) = download(&t.api, &member, &ids[1]).await;
    assert_eq!((status, code_of(&body)), (403, "FORBIDDEN".to_owned()));
    attachments(&t, &member, &south).await.expect_code("FORBIDDEN");
    assert_eq!(attachments(&t, &member, &north).await.data()["attachments"][0]["id"], json!(ids[0]));
    // Attaching to or deleting from a record outside the rule is refused too.
    let spare = str_of(&plain_upload(&t.api, &member, "m.txt", "text/plain", b"m").await.body["id"]);
    attach(&t, &member, &south, &spare).await.expect_code("FORBIDDEN");
    t.api
        .graphql(&member, "mutation($id: ID!) { deleteAttachment(id: $id) { id } }", json!({"id": ids[1]}))
        .await
        .expect_code("FORBIDDEN");
    // Someone else's upload, not attached yet, is nobody else's to read.
    let (status, body, _, _) = download(&t.api, &blind, &spare).await;
    assert_eq!((status, code_of(&body)), (404, "NOT_FOUND".to_owned()));

    // A FILE field the role may not read: its file is not served, nor listed.
    let (status, body, _, _) = download(&t.api, &blind, &field_file).await;
    assert_eq!((status, code_of(&body)), (403, "FORBIDDEN".to_owned()));
    assert_eq!(download(&t.api, &member, &field_file).await.0, 200);
    let listed = attachments(&t, &blind, &with_field).await.data();
    assert!(listed["attachments"].as_array().is_some_and(Vec::is_empty), "{listed}");

    // No credential: nothing.
    let (status, body, _, _) = download(&t.api, &Auth::None, &ids[0]).await;
    assert_eq!((status, code_of(&body)), (401, "UNAUTHENTICATED".to_owned()));
}

#[tokio::test]
async fn another_tenant_finds_no_file() {
    let t = vault().await;
    let record = create_contract(&t, "North", Value::Null).await;
    let id = str_of(&plain_upload(&t.api, &t.auth(), "a.txt", "text/plain", b"secret").await.body["id"]);
    attach(&t, &t.auth(), &record, &id).await.data();
    let other = vault().await;
    let (status, body, _, _) = download(&other.api, &other.auth(), &id).await;
    assert_eq!((status, code_of(&body)), (404, "NOT_FOUND".to_owned()));
    attachments(&other, &other.auth(), &record).await.expect_code("NOT_FOUND");
    // Nor can it take the file into a record of its own.
    let q = "mutation($s: FileInput) { createContract(input: {title: \"X\", region: \"North\", scan: $s}) { id } }";
    other.request(q, json!({"s": {"fileId": id}})).await.expect_field_errors(&["scan"]);
    let theirs = create_contract(&other, "North", Value::Null).await;
    attach(&other, &other.auth(), &theirs, &id).await.expect_code("NOT_FOUND");
}

#[tokio::test]
async fn size_and_type_limits_answer_validation_failed() {
    let t = vault().await;
    // The test servers allow 256 KiB (`Config::for_tests`).
    let big = vec![b'x'; (256 << 10) + 1];
    let r = graphql_upload(&t.api, &t.auth(), "big.txt", "text/plain", &big).await;
    r.expect_field_errors(&["file"]);
    assert_eq!(r.status, 413, "{}", r.text);
    plain_upload(&t.api, &t.auth(), "big.txt", "text/plain", &big).await.expect_field_errors(&["file"]);
    let fits = vec![b'x'; 256 << 10];
    assert_eq!(plain_upload(&t.api, &t.auth(), "fits.txt", "text/plain", &fits).await.status, 201);

    for ty in ["application/x-msdownload", "text/html"] {
        graphql_upload(&t.api, &t.auth(), "run.exe", ty, b"MZ").await.expect_field_errors(&["file"]);
        plain_upload(&t.api, &t.auth(), "run.exe", ty, b"MZ").await.expect_field_errors(&["file"]);
    }
    let q =
        "mutation($s: FileInput) { createContract(input: {title: \"X\", region: \"N\", scan: $s}) { id } }";
    for scan in [json!({"fileId": uuid::Uuid::new_v4().to_string()}), json!({"fileId": "nope"}), json!({})] {
        t.request(q, json!({"s": scan})).await.expect_field_errors(&["scan"]);
    }
}

#[tokio::test]
async fn deleting_the_record_hides_its_files_and_restoring_brings_them_back() {
    let t = vault().await;
    let field_file = str_of(
        &graphql_upload(&t.api, &t.auth(), "f.pdf", "application/pdf", b"%PDF f").await.data()["uploadFile"]
            ["id"],
    );
    let record = create_contract(&t, "North", json!({"fileId": field_file})).await;
    let attached = str_of(&plain_upload(&t.api, &t.auth(), "a.txt", "text/plain", b"a").await.body["id"]);
    attach(&t, &t.auth(), &record, &attached).await.data();
    t.data("mutation($id: ID!) { deleteContract(id: $id) { id } }", json!({"id": record})).await;
    for id in [&field_file, &attached] {
        let (status, body, _, _) = download(&t.api, &t.auth(), id).await;
        assert_eq!((status, code_of(&body)), (404, "NOT_FOUND".to_owned()));
    }
    attachments(&t, &t.auth(), &record).await.expect_code("NOT_FOUND");
    t.data("mutation($id: ID!) { restoreContract(id: $id) { id } }", json!({"id": record})).await;
    for id in [&field_file, &attached] {
        assert_eq!(download(&t.api, &t.auth(), id).await.0, 200);
    }
    assert_eq!(
        attachments(&t, &t.auth(), &record).await.data()["attachments"].as_array().map(Vec::len),
        Some(2)
    );
}
