//! The S3-compatible file store (AWS S3, MinIO, Ceph, moto…): path-style requests
//! (`<endpoint>/<bucket>/<sha256>`) signed with SigV4 (`sigv4`), sent with reqwest. A content up
//! to `PART` bytes goes in one `PUT`; a larger one as a multipart upload of `PART`-sized parts,
//! so at most one part is in memory at a time. Downloads stream the response body chunk by
//! chunk.

use std::io;
use std::path::Path;

use axum::body::Bytes;
use futures_util::future::BoxFuture;
use reqwest::{Method, StatusCode};
use tokio::io::AsyncReadExt;

use super::sigv4::{self, Credentials, EMPTY_SHA256};
use super::{ByteStream, FileStore, bad_key, is_sha256};
use crate::error::ApiError;

/// Size of a multipart upload's parts (S3's minimum is 5 MiB for all but the last).
const PART: u64 = 8 << 20;

/// Where the bucket is and who signs for it.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `http(s)://host[:port]`, no path.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
}

/// Contents in one bucket.
pub struct S3Store {
    client: reqwest::Client,
    /// The endpoint's scheme, host and port, without a trailing slash.
    origin: String,
    /// The `Host` header the client sends for `origin` (the port only when not the default).
    host: String,
    bucket: String,
    credentials: Credentials,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("S3: {e}"))
}

impl S3Store {
    pub fn new(c: S3Config) -> Result<Self, ApiError> {
        let url = reqwest::Url::parse(&c.endpoint)
            .map_err(|e| ApiError::BadRequest(format!("S3_ENDPOINT is not a URL: {e}")))?;
        let host_name =
            url.host_str().ok_or_else(|| ApiError::BadRequest("S3_ENDPOINT has no host".into()))?.to_owned();
        let host = match url.port() {
            Some(port) => format!("{host_name}:{port}"),
            None => host_name,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| ApiError::Internal(format!("S3 client: {e}")))?;
        Ok(S3Store {
            client,
            origin: format!("{}://{host}", url.scheme()),
            host,
            bucket: c.bucket,
            credentials: Credentials { access_key: c.access_key, secret_key: c.secret_key, region: c.region },
        })
    }

    /// Sends one signed request for `key` (`query` unencoded, `body` whose SHA-256 is
    /// `payload_sha256`).
    async fn send(
        &self,
        method: Method,
        key: &str,
        query: &[(&str, &str)],
        body: Bytes,
        payload_sha256: &str,
    ) -> io::Result<reqwest::Response> {
        let path = format!("/{}/{key}", sigv4::uri_encode(&self.bucket, false));
        let request = sigv4::Request {
            method: method.as_str(),
            path: &path,
            query,
            host: &self.host,
            headers: &[],
            payload_sha256,
        };
        let query_text = sigv4::canonical_query(query);
        let url = if query_text.is_empty() {
            format!("{}{path}", self.origin)
        } else {
            format!("{}{path}?{query_text}", self.origin)
        };
        let signed = sigv4::sign(&self.credentials, &request, chrono::Utc::now());
        let mut builder = self.client.request(method, url).body(body);
        for (name, value) in signed {
            builder = builder.header(name, value);
        }
        builder.send().await.map_err(other)
    }

    /// Fails unless `resp` succeeded; its body (S3's XML error) names the cause.
    async fn ok(what: &str, resp: reqwest::Response) -> io::Result<reqwest::Response> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        Err(other(format!("{what} answered {status}: {}", body.chars().take(300).collect::<String>())))
    }

    async fn exists(&self, key: &str) -> io::Result<bool> {
        let resp = self.send(Method::HEAD, key, &[], Bytes::new(), EMPTY_SHA256).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(false),
            _ => Ok(Self::ok("HEAD", resp).await.is_ok()),
        }
    }

    /// A content larger than one part: initiate, one `PUT` per part, complete (or abort).
    async fn put_multipart(&self, key: &str, source: &Path) -> io::Result<()> {
        let resp = self.send(Method::POST, key, &[("uploads", "")], Bytes::new(), EMPTY_SHA256).await?;
        let xml = Self::ok("initiating a multipart upload", resp).await?.text().await.map_err(other)?;
        let upload_id = between(&xml, "<UploadId>", "</UploadId>")
            .ok_or_else(|| other("no UploadId in the multipart upload's answer"))?
            .to_owned();
        let parts = self.put_parts(key, source, &upload_id).await;
        let done = match parts {
            Ok(etags) => {
                let mut body = String::from("<CompleteMultipartUpload>");
                for (i, etag) in etags.iter().enumerate() {
                    body.push_str(&format!(
                        "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
                        i + 1
                    ));
                }
                body.push_str("</CompleteMultipartUpload>");
                let sha = sigv4::sha256_hex(body.as_bytes());
                let query = [("uploadId", upload_id.as_str())];
                match self.send(Method::POST, key, &query, Bytes::from(body), &sha).await {
                    Ok(resp) => Self::ok("completing a multipart upload", resp).await.map(drop),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        if done.is_err() {
            // Best effort: the bucket drops the parts it holds.
            let query = [("uploadId", upload_id.as_str())];
            let _ = self.send(Method::DELETE, key, &query, Bytes::new(), EMPTY_SHA256).await;
        }
        done
    }

    /// Sends `source` part by part; the parts' ETags in order.
    async fn put_parts(&self, key: &str, source: &Path, upload_id: &str) -> io::Result<Vec<String>> {
        let mut file = tokio::fs::File::open(source).await?;
        let mut etags = Vec::new();
        loop {
            let mut part = Vec::with_capacity(PART as usize);
            (&mut file).take(PART).read_to_end(&mut part).await?;
            if part.is_empty() {
                return Ok(etags);
            }
            let number = (etags.len() + 1).to_string();
            let sha = sigv4::sha256_hex(&part);
            let query = [("partNumber", number.as_str()), ("uploadId", upload_id)];
            let resp = self.send(Method::PUT, key, &query, Bytes::from(part), &sha).await?;
            let resp = Self::ok("uploading a part", resp).await?;
            let etag = resp
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| other("a part's answer has no ETag"))?;
            etags.push(etag.to_owned());
        }
    }
}

/// The text between `open` and `close` in `xml`.
fn between<'x>(xml: &'x str, open: &str, close: &str) -> Option<&'x str> {
    let start = xml.find(open)? + open.len();
    let end = xml[start..].find(close)? + start;
    Some(&xml[start..end])
}

impl FileStore for S3Store {
    fn put<'a>(&'a self, sha256: &'a str, source: &'a Path, size: u64) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            if !is_sha256(sha256) {
                return Err(bad_key());
            }
            if self.exists(sha256).await? {
                return Ok(());
            }
            if size > PART {
                return self.put_multipart(sha256, source).await;
            }
            // At most one part's size: one request, whose payload hash is the content's own.
            let body = tokio::fs::read(source).await?;
            let resp = self.send(Method::PUT, sha256, &[], Bytes::from(body), sha256).await?;
            Self::ok("PUT", resp).await.map(drop)
        })
    }

    fn get<'a>(&'a self, sha256: &'a str) -> BoxFuture<'a, io::Result<Option<ByteStream>>> {
        Box::pin(async move {
            if !is_sha256(sha256) {
                return Err(bad_key());
            }
            let resp = self.send(Method::GET, sha256, &[], Bytes::new(), EMPTY_SHA256).await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let resp = Self::ok("GET", resp).await?;
            let chunks = futures_util::stream::try_unfold(resp, |mut resp| async move {
                let chunk = resp.chunk().await.map_err(other)?;
                Ok::<_, io::Error>(chunk.map(|chunk| (chunk, resp)))
            });
            Ok(Some(Box::pin(chunks) as ByteStream))
        })
    }

    fn delete<'a>(&'a self, sha256: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            if !is_sha256(sha256) {
                return Err(bad_key());
            }
            let resp = self.send(Method::DELETE, sha256, &[], Bytes::new(), EMPTY_SHA256).await?;
            match resp.status() {
                StatusCode::NOT_FOUND => Ok(()),
                _ => Self::ok("DELETE", resp).await.map(drop),
            }
        })
    }
}
