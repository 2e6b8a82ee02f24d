//! GraphiQL, served whole from the binary: our own page (`assets/graphiql/index.html`) and the
//! vendored GraphiQL, React and ReactDOM builds it loads, so the explorer works offline and
//! behind a firewall (a CDN-hosted page stays at "Loading…" there). The page opens with the
//! login mutation and a headers tab that shows where the access token goes.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::seed::DemoLogin;

/// Where the page is served.
pub const PAGE_PATH: &str = "/graphiql";
/// Where the page's files are served; `index.html` names them under this path.
pub const ASSETS_PATH: &str = "/graphiql/assets";

/// A file the page loads, compiled into the binary.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The vendored builds (versions and licences in `assets/graphiql/README.md`). Each name
/// carries its version, so a URL's content never changes and browsers may keep it for a year.
const ASSETS: &[Asset] = &[
    Asset {
        name: "graphiql-3.9.0.min.js",
        content_type: JAVASCRIPT,
        bytes: include_bytes!("../../assets/graphiql/graphiql-3.9.0.min.js"),
    },
    Asset {
        name: "graphiql-3.9.0.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/graphiql-3.9.0.min.css"),
    },
    Asset {
        name: "react-18.3.1.production.min.js",
        content_type: JAVASCRIPT,
        bytes: include_bytes!("../../assets/graphiql/react-18.3.1.production.min.js"),
    },
    Asset {
        name: "react-dom-18.3.1.production.min.js",
        content_type: JAVASCRIPT,
        bytes: include_bytes!("../../assets/graphiql/react-dom-18.3.1.production.min.js"),
    },
];

const PAGE: &str = include_str!("../../assets/graphiql/index.html");
const SETTINGS_SLOT: &str = "{{settings}}";

/// Where the headers tab's `Authorization: Bearer …` wants the token. The page leaves out a
/// header whose value still holds a `<…>` placeholder, so requests work anonymously (login
/// included) until a real token replaces it.
const PASTE_TOKEN: &str = "<paste the accessToken from login>";

/// The page, rendered once at start: its first query is the demo login while the demo user
/// still has its seeded password (`demo`), otherwise a login to fill in.
pub fn page(demo: Option<&DemoLogin>) -> Html<String> {
    let settings = json!({
        "url": "/graphql",
        "subscriptionPath": "/graphql/ws",
        "defaultQuery": first_query(demo),
        "defaultHeaders": serde_json::to_string_pretty(&json!({ "Authorization": format!("Bearer {PASTE_TOKEN}") }))
            .unwrap_or_default(),
    });
    // Inside <script>, `</script>` or `<!--` in a string would end or alter the element; JSON
    // may spell `<` as \u003c, and `<` only ever occurs inside JSON strings.
    let settings = settings.to_string().replace('<', "\\u003c");
    Html(PAGE.replacen(SETTINGS_SLOT, &settings, 1))
}

/// The query tab's first content: how to get a token and where to put it, then a login. Its
/// lines stay short: the query editor is about 60 columns wide in a laptop's window.
fn first_query(demo: Option<&DemoLogin>) -> String {
    let (step, then, tenant, email, password) = match demo {
        Some(d) => (
            "# 1. Run this login of the demo tenant\n\
             #    (the ▶ button, or Ctrl-Enter).",
            "#    docs and completion show the demo's data.\n\
             #    Try { dashboards { key widgets { title } } }",
            d.tenant.as_str(),
            d.email.as_str(),
            d.password.as_str(),
        ),
        None => (
            "# 1. Fill in your tenant, email and password,\n\
             #    then run this login (▶, or Ctrl-Enter).\n\
             #    No tenant yet? `signup` creates one.",
            "#    docs and completion show your entities.",
            "your-tenant",
            "you@example.com",
            "your password",
        ),
    };
    // JSON string literals are GraphQL string literals for these values (quotes escaped).
    let [tenant, email, password] = [tenant, email, password].map(|v| serde_json::Value::from(v).to_string());
    format!(
        "# Welcome to Alphery OS.\n\
         #\n\
         {step}\n\
         # 2. Copy the accessToken from the result into\n\
         #    the Headers tab below, in place of\n\
         #    {PASTE_TOKEN}.\n\
         # 3. Re-fetch the schema (↻, bottom left): the\n\
         {then}\n\
         #\n\
         # Without a token only signup, login,\n\
         # refreshToken and acceptInvite exist. A token\n\
         # expires (UNAUTHENTICATED, reason \"expired\"):\n\
         # log in again, or use refreshToken(token:).\n\
         mutation Login {{\n  \
           login(input: {{\n    \
             tenant: {tenant}\n    \
             email: {email}\n    \
             password: {password}\n  \
           }}) {{\n    \
             accessToken\n    \
             refreshToken\n  \
           }}\n\
         }}\n"
    )
}

/// `GET /graphiql/assets/{name}`: a vendored file, or 404.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        asset.bytes,
    )
        .into_response()
}
