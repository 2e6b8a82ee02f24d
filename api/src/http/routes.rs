//! The router: GraphQL endpoints, GraphiQL, inbound webhooks, and health probes.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::{graphiql, graphql, ws};
use crate::http::state::AppState;
use crate::seed::DemoLogin;

/// Cross-origin browser calls are allowed only from configured origins.
fn cors(state: &AppState) -> CorsLayer {
    let any = state.config.allowed_origins.iter().any(|o| o == "*");
    let origin = if any {
        AllowOrigin::any()
    } else {
        let list: Vec<HeaderValue> = state
            .config
            .allowed_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
            .collect();
        AllowOrigin::list(list)
    };
    CorsLayer::new().allow_origin(origin).allow_methods([Method::GET, Method::POST]).allow_headers([
        axum::http::header::AUTHORIZATION,
        axum::http::header::CONTENT_TYPE,
        axum::http::header::ACCEPT,
        HeaderName::from_static("x-api-key"),
        HeaderName::from_static("x-request-id"),
    ])
}

/// The routes; `demo` is the demo login GraphiQL's page opens with (see `graphiql::page`).
pub fn router(state: AppState, demo: Option<&DemoLogin>) -> Router {
    let limit = state.config.max_body_bytes;
    // Multipart requests (uploads) may be larger; `graphql::post` holds others to MAX_BODY_BYTES.
    let graphql_limit = limit.max(state.config.max_upload_bytes);
    let cors = cors(&state);
    let page = graphiql::page(demo);
    Router::new()
        // A browser pointed at the server finds the explorer.
        .route("/", get(|| async { Redirect::to(graphiql::PAGE_PATH) }))
        .route("/graphql", get(graphql::get).post(graphql::post).layer(DefaultBodyLimit::max(graphql_limit)))
        .route("/graphql/ws", get(ws::upgrade))
        .route(graphiql::PAGE_PATH, get(move || std::future::ready(page.clone())))
        .route(&format!("{}/{{name}}", graphiql::ASSETS_PATH), get(graphiql::asset))
        .route("/hooks/workflows/{id}", axum::routing::post(super::hooks::workflow))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limit))
        .layer(cors)
        .layer(axum::middleware::from_fn(super::request::propagate_id))
        .with_state(state)
}

/// The process is up.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers, and Redis when one is configured.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = state.db.ping().await.map_err(|e| e.to_string());
    let redis = match &state.config.redis_url {
        Some(url) if !url.is_empty() => Some(jobs::queue::ping_redis(url).await),
        _ => None,
    };
    let word = |r: &Result<(), String>| if r.is_ok() { "ok" } else { "unreachable" };
    let mut body = json!({ "status": "ready", "database": word(&database) });
    if let Some(r) = &redis {
        body["redis"] = json!(word(r));
    }
    if let Some(e) = database.as_ref().err().or(redis.as_ref().and_then(|r| r.as_ref().err())) {
        tracing::warn!(error = %e, "readiness check failed");
        body["status"] = json!("unavailable");
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
    }
    (StatusCode::OK, Json(body))
}

/// `GET /metrics`.
async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = state.metrics().render(state.registry(), &state);
    super::metrics::render_jobs(&mut body, &state.config, &state.system_db, &state.metrics().jobs).await;
    super::metrics::text_response(body)
}
