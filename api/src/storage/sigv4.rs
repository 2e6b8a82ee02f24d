//! AWS Signature Version 4 (<https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>)
//! for the S3 store's requests, computed with `sha2` and `ring`'s HMAC: the canonical request
//! (method, URI, sorted query, signed headers, payload hash), the string to sign over its hash
//! and the day's credential scope, and the signing key derived from the secret through the
//! day, region and service.

use chrono::{DateTime, Utc};
use ring::hmac;
use sha2::{Digest, Sha256};

/// SHA-256 of the empty payload (GET, DELETE).
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Who signs, and for which region (the service is always `s3`).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

/// One request as it is signed.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path, each segment already URI-encoded (`/bucket/key`).
    pub path: &'a str,
    /// Query parameters, not encoded (`uploadId` values may hold `+`, `/`, `=`).
    pub query: &'a [(&'a str, &'a str)],
    /// The `Host` header as sent (with the port when it is not the scheme's default).
    pub host: &'a str,
    /// Headers besides `host` and the `x-amz-*` ones that the signature also covers.
    pub headers: &'a [(&'a str, &'a str)],
    /// SHA-256 (hex) of the body.
    pub payload_sha256: &'a str,
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    entity::hex::encode(&Sha256::digest(bytes))
}

/// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, every other byte `%XX`
/// (upper case); `/` kept only in paths.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(b)),
            b'/' if keep_slash => out.push('/'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
    out
}

/// The query string as sent and as signed: encoded pairs sorted by name, then value.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> =
        query.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn mac(key: &[u8], data: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes()).as_ref().to_vec()
}

/// The headers that sign `r` at `at`: `x-amz-date`, `x-amz-content-sha256` and
/// `authorization`, to be sent with the request (beside `host` and `r.headers`).
pub fn sign(c: &Credentials, r: &Request<'_>, at: DateTime<Utc>) -> Vec<(&'static str, String)> {
    let amz_date = at.format("%Y%m%dT%H%M%SZ").to_string();
    let day = at.format("%Y%m%d").to_string();
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), r.host.trim().to_owned()),
        ("x-amz-content-sha256".into(), r.payload_sha256.to_owned()),
        ("x-amz-date".into(), amz_date.clone()),
    ];
    headers.extend(r.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned())));
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        r.method,
        r.path,
        canonical_query(r.query),
        canonical_headers,
        signed_headers,
        r.payload_sha256
    );
    let scope = format!("{day}/{}/s3/aws4_request", c.region);
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()));
    let key = ["s3", "aws4_request"]
        .iter()
        .fold(mac(mac(format!("AWS4{}", c.secret_key).as_bytes(), &day).as_slice(), &c.region), |k, part| {
            mac(&k, part)
        });
    let signature = entity::hex::encode(&mac(&key, &string_to_sign));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        c.access_key
    );
    vec![
        ("x-amz-date", amz_date),
        ("x-amz-content-sha256", r.payload_sha256.to_owned()),
        ("authorization", authorization),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// AWS's worked example "GET Object" (Signature Version 4, header-based auth).
    #[test]
    fn signs_the_aws_get_object_example() {
        let c = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
        };
        let r = Request {
            method: "GET",
            path: "/test.txt",
            query: &[],
            host: "examplebucket.s3.amazonaws.com",
            headers: &[("Range", "bytes=0-9")],
            payload_sha256: EMPTY_SHA256,
        };
        let at = Utc.with_ymd_and_hms(2013, 5, 24, 0, 0, 0).single().expect("a valid time");
        let headers = sign(&c, &r, at);
        let auth = &headers.iter().find(|(k, _)| *k == "authorization").expect("an authorization header").1;
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn encodes_query_values_and_sorts_them() {
        assert_eq!(
            canonical_query(&[("uploadId", "a+b/c="), ("partNumber", "2")]),
            "partNumber=2&uploadId=a%2Bb%2Fc%3D"
        );
        assert_eq!(canonical_query(&[("uploads", "")]), "uploads=");
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
    }
}
