//! GraphQL over HTTP: credentials, responses and their error checks, and the client.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::*;

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// A credential to send with a request.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Bearer(String),
    ApiKey(String),
}

/// An HTTP response with its body parsed as JSON when it is JSON (`Value::Null` otherwise).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header").to_owned())
    }

    pub fn errors(&self) -> Vec<Value> {
        self.body["errors"].as_array().cloned().unwrap_or_default()
    }

    /// `data`, after asserting there is no error.
    pub fn data(&self) -> Value {
        assert!(
            self.errors().is_empty() && self.status == 200,
            "expected success, got HTTP {}: {}",
            self.status,
            self.text
        );
        self.body["data"].clone()
    }

    /// The first error's `extensions.code` (asserting there is an error).
    pub fn code(&self) -> String {
        let errors = self.errors();
        assert!(!errors.is_empty(), "expected an error, got: {}", self.text);
        errors[0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("error without extensions.code: {}", self.text))
            .to_owned()
    }

    pub fn expect_code(&self, code: &str) -> &Self {
        assert_eq!(self.code(), code, "unexpected error code in {}", self.text);
        self
    }

    /// Asserts the first error's `extensions.code` and `extensions.reason`.
    pub fn expect_reason(&self, code: &str, reason: &str) -> &Self {
        self.expect_code(code);
        assert_eq!(
            self.errors()[0]["extensions"]["reason"],
            json!(reason),
            "unexpected reason in {}",
            self.text
        );
        self
    }

    /// `extensions.fields[].field` of a `VALIDATION_FAILED` error.
    pub fn field_errors(&self) -> Vec<String> {
        self.expect_code("VALIDATION_FAILED");
        let fields = self.errors()[0]["extensions"]["fields"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("VALIDATION_FAILED without extensions.fields: {}", self.text));
        fields
            .iter()
            .map(|f| {
                assert!(
                    f["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "field error without a message: {}",
                    self.text
                );
                f["field"].as_str().expect("field error without `field`").to_owned()
            })
            .collect()
    }

    /// Asserts `VALIDATION_FAILED` whose field list has an entry mentioning `needle`
    /// (input-definition errors may name a path such as `fields.1.key`).
    pub fn expect_field_error_mentioning(&self, needle: &str) -> &Self {
        let fields = self.field_errors();
        assert!(
            fields.iter().any(|f| f.contains(needle)),
            "expected a field error mentioning {needle:?}, got {fields:?} in {}",
            self.text
        );
        self
    }

    /// Asserts `VALIDATION_FAILED` listing exactly these fields (in any order).
    pub fn expect_field_errors(&self, expected: &[&str]) -> &Self {
        let mut fields = self.field_errors();
        fields.sort();
        fields.dedup();
        let mut expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        expected.sort();
        assert_eq!(fields, expected, "field errors of {}", self.text);
        self
    }

    /// Asserts that every error carries one of the contract's codes.
    pub fn assert_every_error_has_code(&self) {
        let errors = self.errors();
        assert!(!errors.is_empty(), "expected errors, got {}", self.text);
        for error in errors {
            let code = error["extensions"]["code"].as_str().unwrap_or_default();
            assert!(
                entity::ErrorCode::parse(code).is_some(),
                "error without a contract code: {error} in {}",
                self.text
            );
        }
    }
}

/// A small HTTP client bound to one server. Create it inside the test that uses it: pooled
/// connections belong to the runtime that opened them.
#[derive(Clone)]
pub struct Api {
    pub server: &'static Server,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(server: &'static Server) -> Api {
        Api {
            server,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("build the HTTP client"),
        }
    }

    /// The shared server.
    pub fn shared() -> Api {
        Api::new(server())
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Sends a request built by the caller and collects the response.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Response {
        let response = request.send().await.expect("HTTP request failed");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("read the response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response { status, headers, text, body }
    }

    pub fn with_auth(request: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
        match auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::ApiKey(key) => request.header("x-api-key", key),
        }
    }

    /// `POST /graphql` with a JSON body.
    pub async fn post_json(&self, auth: &Auth, body: &Value) -> Response {
        let request = self.http.post(self.url("/graphql")).json(body);
        self.send(Self::with_auth(request, auth)).await
    }

    /// A GraphQL operation over `POST /graphql`.
    pub async fn graphql(&self, auth: &Auth, query: &str, variables: Value) -> Response {
        self.post_json(auth, &json!({ "query": query, "variables": variables })).await
    }

    /// A GraphQL operation with one file, as the GraphQL multipart request spec sends it
    /// (`operations`, `map`, then the file): variable `variable` is the file `name` holding
    /// `content`. The body is spelled out here, as a client library would write it.
    pub async fn upload(
        &self,
        auth: &Auth,
        (query, variables): (&str, Value),
        variable: &str,
        (name, content): (&str, &[u8]),
    ) -> Response {
        let boundary = format!("alphery-{}", uuid::Uuid::new_v4().simple());
        let operations = json!({ "query": query, "variables": variables });
        let map = json!({ "0": [format!("variables.{variable}")] });
        let mut body = Vec::with_capacity(content.len() + 1024);
        for (part, text) in [("operations", operations.to_string()), ("map", map.to_string())] {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"\r\n\r\n{text}\r\n")
                    .bytes(),
            );
        }
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{name}\"\r\n\
                 Content-Type: text/csv\r\n\r\n"
            )
            .bytes(),
        );
        body.extend_from_slice(content);
        body.extend(format!("\r\n--{boundary}--\r\n").bytes());
        let request = self
            .http
            .post(self.url("/graphql"))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body);
        self.send(Self::with_auth(request, auth)).await
    }

    /// `GET <path>` with extra headers.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }
}
