//! GraphiQL works with no network but the server's: `/graphiql` loads only same-origin files,
//! each served from the binary with its content type and a long cache life; the page opens with
//! a login and a headers tab that shows where the access token goes; `GET /` and a browser's
//! `GET /graphql` lead to it. (The demo login on the page: `startup::every_start_prints_…`.)

use serde_json::{Value, json};

use crate::harness::{Api, Auth, Response, tenant};

/// The settings the server writes into the page (`<script id="graphiql-settings">`).
pub(crate) fn settings(page: &str) -> Value {
    let open = r#"<script id="graphiql-settings" type="application/json">"#;
    let start = page.find(open).unwrap_or_else(|| panic!("no settings in the page:\n{page}")) + open.len();
    let end = start + page[start..].find("</script>").expect("the settings' </script>");
    serde_json::from_str(&page[start..end]).unwrap_or_else(|e| panic!("settings are not JSON ({e}): {page}"))
}

/// Every `src="…"` and `href="…"` of an HTML page.
fn references(page: &str) -> Vec<String> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| page.match_indices(attr).map(move |(i, _)| &page[i + attr.len()..]))
        .map(|rest| rest[..rest.find('"').expect("a closing quote")].to_owned())
        .collect()
}

async fn page(api: &Api) -> Response {
    let page = api.get("/graphiql", &[]).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.header("content-type").is_some_and(|c| c.starts_with("text/html")), "{:?}", page.headers);
    page
}

#[tokio::test]
async fn graphiql_loads_nothing_but_files_the_server_serves() {
    let api = Api::shared();
    let page = page(&api).await;
    for external in ["http://", "https://", "//cdn", "unpkg", "jsdelivr"] {
        assert!(!page.text.contains(external), "the page names {external}:\n{}", page.text);
    }
    let refs = references(&page.text);
    let files: Vec<&String> = refs.iter().filter(|r| !r.starts_with("data:")).collect();
    assert!(files.len() >= 4, "GraphiQL, its stylesheet, React and ReactDOM: {refs:?}");
    let (mut scripts, mut styles) = (0, 0);
    for file in files {
        assert!(file.starts_with('/') && !file.starts_with("//"), "not a same-origin path: {file}");
        let asset = api.get(file, &[]).await;
        assert_eq!(asset.status, 200, "{file}: {}", asset.text);
        let content_type = asset.header("content-type").unwrap_or_default();
        if file.ends_with(".js") {
            assert!(content_type.starts_with("text/javascript"), "{file}: {content_type}");
            scripts += 1;
        } else if file.ends_with(".css") {
            assert!(content_type.starts_with("text/css"), "{file}: {content_type}");
            styles += 1;
        } else {
            panic!("an unexpected file on the page: {file} ({content_type})");
        }
        assert!(asset.text.len() > 10_000, "{file} is only {} bytes", asset.text.len());
        for external in ["https://unpkg", "https://cdn", "https://fonts."] {
            assert!(!asset.text.contains(&format!("url({external}")), "{file} loads from {external}");
        }
        let cache = asset.header("cache-control").unwrap_or_default();
        assert!(cache.contains("max-age=31536000") && cache.contains("immutable"), "{file}: {cache}");
        assert_eq!(asset.header("x-content-type-options").as_deref(), Some("nosniff"), "{file}");
    }
    assert!(scripts >= 3 && styles >= 1, "{refs:?}");
    assert!(page.text.contains("ReactDOM.createRoot") && page.text.contains("GraphiQL.createFetcher"));

    // Nothing else is served under the assets path.
    for missing in ["/graphiql/assets/nope.js", "/graphiql/assets/..%2Fgraphiql", "/graphiql/assets/"] {
        assert_eq!(api.get(missing, &[]).await.status, 404, "{missing}");
    }
}

#[tokio::test]
async fn graphiql_opens_with_a_login_and_shows_where_the_token_goes() {
    let api = Api::shared();
    let page = page(&api).await;
    let settings = settings(&page.text);
    assert_eq!(settings["url"], json!("/graphql"));
    assert_eq!(settings["subscriptionPath"], json!("/graphql/ws"));
    // The headers tab holds the Authorization header with a placeholder to replace.
    let headers: Value = serde_json::from_str(settings["defaultHeaders"].as_str().expect("defaultHeaders"))
        .expect("the headers tab is JSON");
    assert_eq!(headers, json!({ "Authorization": "Bearer <paste the accessToken from login>" }));
    let query = settings["defaultQuery"].as_str().expect("defaultQuery");
    assert!(query.contains("Copy the accessToken") && query.contains("Headers tab"), "{query}");
    // No demo tenant on this server: the login is one to fill in, and it is a valid operation
    // (the server refuses its placeholder credentials, not its shape).
    assert!(!query.contains("alphery-demo"), "{query}");
    let login = api.graphql(&Auth::None, query, json!({})).await;
    assert_eq!(login.code(), "UNAUTHENTICATED", "{}", login.text);

    // What the page says to do works: a login's accessToken in that header authenticates.
    let t = tenant().await;
    let (token, _) = t.new_session().await;
    let bearer = headers["Authorization"]
        .as_str()
        .expect("the header")
        .replace("<paste the accessToken from login>", &token);
    let request = api
        .http
        .post(api.url("/graphql"))
        .header("authorization", bearer)
        .json(&json!({ "query": "{ me { email } }" }));
    let me = api.send(request).await;
    assert_eq!(me.data()["me"]["email"], json!(t.email));
}

#[tokio::test]
async fn a_browser_at_the_root_or_at_graphql_lands_on_graphiql() {
    let api = Api::shared();
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    for path in ["/", "/graphql"] {
        let response = no_redirects.get(api.url(path)).header("accept", browser).send().await.expect("GET");
        assert_eq!(response.status().as_u16(), 303, "{path}");
        assert_eq!(
            response.headers().get("location").and_then(|l| l.to_str().ok()),
            Some("/graphiql"),
            "{path}"
        );
        // Followed, as a browser does: the explorer.
        let landed = api.get(path, &[("accept", browser)]).await;
        assert!(landed.header("content-type").is_some_and(|c| c.starts_with("text/html")), "{path}");
        assert!(landed.text.contains("GraphiQL.createFetcher"), "{path}: {}", landed.text);
    }
    // A GraphQL client still gets GraphQL: a query runs, and a missing one is an error.
    let query = api.get("/graphql?query=%7BapiVersion%7D", &[("accept", browser)]).await;
    assert!(query.data()["apiVersion"].is_string(), "{}", query.text);
    let missing = api.get("/graphql", &[("accept", "application/graphql-response+json")]).await;
    assert_eq!(missing.status, 400, "{}", missing.text);
    assert_eq!(missing.code(), "BAD_REQUEST");
    let refused = api.get("/graphql", &[("accept", "text/html;q=0, application/json")]).await;
    assert_eq!(refused.code(), "BAD_REQUEST", "{}", refused.text);
}
