//! The S3-compatible file store against a real S3 server started here (moto's, from
//! `moto[server]`, which `tests/run.sh` installs): the store's own round trip (put, get,
//! delete, with a multipart upload past one part), and a server configured with `S3_*`
//! serving uploads and downloads through it.

use std::sync::OnceLock;

use alphery_api::storage::FileStore;
use alphery_api::storage::s3::{S3Config, S3Store};
use futures_util::TryStreamExt;

use super::{download, graphql_upload, plain_upload, sha256_hex};
use crate::harness::*;

const BUCKET: &str = "alphery-it";

/// The S3 server of this test process (it exits with the process).
struct S3Peer {
    endpoint: String,
    _process: std::sync::Mutex<std::process::Child>,
}

static S3_PEER: OnceLock<S3Peer> = OnceLock::new();

fn s3_peer() -> &'static S3Peer {
    S3_PEER.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port for the S3 server")
            .port();
        let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("support/s3_server.py");
        let process = std::process::Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(BUCKET)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the S3 server (python3 with moto[server]; tests/run.sh installs it)");
        let mut process = process;
        // It prints one line once the bucket exists.
        let stdout = process.stdout.take().expect("the S3 server's stdout");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("read the S3 server's first line");
        assert!(line.contains(BUCKET), "the S3 server did not start (is moto[server] installed?): {line:?}");
        S3Peer { endpoint: format!("http://127.0.0.1:{port}"), _process: std::sync::Mutex::new(process) }
    })
}

fn store() -> S3Store {
    S3Store::new(S3Config {
        endpoint: s3_peer().endpoint.clone(),
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        access_key: "alphery-test".into(),
        secret_key: "alphery-test-secret".into(),
    })
    .expect("an S3 store")
}

async fn read_all(store: &S3Store, key: &str) -> Option<Vec<u8>> {
    let stream = store.get(key).await.expect("S3 GET")?;
    let chunks: Vec<_> = stream.try_collect().await.expect("S3 body");
    Some(chunks.concat())
}

#[tokio::test]
async fn the_s3_store_puts_gets_and_deletes_against_a_real_s3_server() {
    let store = store();
    let dir = std::env::temp_dir().join(format!("alphery-it-s3-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    // One part's worth and a multipart upload (more than 8 MiB: two parts).
    for size in [1234usize, (9 << 20) + 17] {
        let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let sha = sha256_hex(&bytes);
        let path = dir.join(&sha);
        std::fs::write(&path, &bytes).expect("spool");
        assert_eq!(read_all(&store, &sha).await, None, "not there before");
        store.put(&sha, &path, bytes.len() as u64).await.expect("S3 put");
        // Stored again: a no-op, content-addressed.
        store.put(&sha, &path, bytes.len() as u64).await.expect("S3 put again");
        assert_eq!(
            read_all(&store, &sha).await.as_deref(),
            Some(bytes.as_slice()),
            "{size} bytes round trip"
        );
        store.delete(&sha).await.expect("S3 delete");
        assert_eq!(read_all(&store, &sha).await, None, "gone after delete");
        store.delete(&sha).await.expect("deleting what is gone is no error");
    }
    assert!(store.get("../etc/passwd").await.is_err(), "only SHA-256 keys");
    let _ = std::fs::remove_dir_all(&dir);
}

static S3_SERVER: OnceLock<Server> = OnceLock::new();

/// A server of this process's database keeping files in the S3 bucket.
fn s3_server() -> &'static Server {
    server();
    let endpoint = s3_peer().endpoint.clone();
    S3_SERVER.get_or_init(|| {
        start_server(move |c| {
            c.s3_endpoint = Some(endpoint);
            c.s3_bucket = Some(BUCKET.into());
            c.s3_access_key = Some("alphery-test".into());
            c.s3_secret_key = Some("alphery-test-secret".into());
            c.upload_max_bytes = 12 << 20;
            c.workers = false;
        })
    })
}

#[tokio::test]
async fn a_server_with_s3_storage_serves_uploads_from_the_bucket() {
    let t = tenant_on(s3_server()).await;
    let small = b"kept in the bucket".to_vec();
    let big: Vec<u8> = (0..(9usize << 20)).map(|i| (i % 253) as u8).collect();
    let up = graphql_upload(&t.api, &t.auth(), "small.txt", "text/plain", &small).await.data();
    let small_id = str_of(&up["uploadFile"]["id"]);
    let up = plain_upload(&t.api, &t.auth(), "big.zip", "application/zip", &big).await;
    assert_eq!(up.status, 201, "{}", up.text);
    let big_id = str_of(&up.body["id"]);
    for (id, bytes) in [(&small_id, &small), (&big_id, &big)] {
        let (status, got, etag, _) = download(&t.api, &t.auth(), id).await;
        assert_eq!(status, 200);
        assert!(got == *bytes, "the download of {id} is the upload");
        assert_eq!(etag, format!("\"{}\"", sha256_hex(bytes)));
        // The bytes are the bucket's: stored there before the upload answered.
        let held = read_all(&store(), &sha256_hex(bytes)).await;
        assert!(held.as_ref() == Some(bytes), "the bucket holds the content of {id}");
    }
}
