//! Per-request plumbing shared by HTTP and WS: request ids, the client's address, reading
//! credentials, and choosing the schema for the caller.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use async_graphql::Data;
use async_graphql::dynamic::Schema;
use axum::http::HeaderMap;
use entity::ReadScope;
use entity::runtime::signals;

use crate::auth::{self, principal::Principal};
use crate::error::ApiError;
use crate::http::registry::CompiledSchema;
use crate::http::state::AppState;
use crate::schema::ctx::{ClientIp, OwnSchema, RequestId};
use crate::schema::loader::Loaders;
use crate::services::Services;

/// Gives every request an `x-request-id` (a sane incoming one, or a new one) and returns it
/// on every response, whatever the route.
pub async fn propagate_id(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let id = RequestId::from_headers(req.headers());
    let value = axum::http::HeaderValue::from_str(&id.0).ok();
    if let Some(v) = &value {
        req.headers_mut().insert("x-request-id", v.clone());
    }
    let mut resp = next.run(req).await;
    if let Some(v) = value {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

impl RequestId {
    /// Reuses a sane incoming `x-request-id`, else makes one.
    pub fn from_headers(headers: &HeaderMap) -> RequestId {
        let incoming = headers.get("x-request-id").and_then(|v| v.to_str().ok()).filter(|s| {
            !s.is_empty()
                && s.len() <= 64
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
        RequestId(incoming.map(str::to_owned).unwrap_or_else(|| uuid::Uuid::new_v4().to_string()))
    }
}

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let forwarded = || {
            let last = parts.headers.get_all("x-forwarded-for").iter().next_back()?;
            let entry = last.to_str().ok()?.rsplit(',').next()?.trim();
            entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        };
        let ip = if state.config.trust_forwarded_for { forwarded().unwrap_or(peer) } else { peer };
        Ok(ClientIp(ip))
    }
}

/// A credential as sent by a client.
pub enum Credential {
    None,
    Bearer(String),
    ApiKey(String),
}

impl Credential {
    pub fn from_headers(headers: &HeaderMap) -> Result<Credential, ApiError> {
        if let Some(v) = headers.get(axum::http::header::AUTHORIZATION) {
            let v =
                v.to_str().map_err(|_| ApiError::Unauthenticated("malformed Authorization header".into()))?;
            return Credential::from_authorization(v);
        }
        if let Some(v) = headers.get("x-api-key") {
            let v = v.to_str().map_err(|_| ApiError::Unauthenticated("malformed X-Api-Key header".into()))?;
            return Ok(Credential::ApiKey(v.to_owned()));
        }
        Ok(Credential::None)
    }

    /// Parses `Bearer <token>`.
    pub fn from_authorization(v: &str) -> Result<Credential, ApiError> {
        match v.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
                Ok(Credential::Bearer(token.trim().to_owned()))
            }
            _ => Err(ApiError::Unauthenticated("expected `Authorization: Bearer <token>`".into())),
        }
    }
}

/// The schema and request data for a caller.
pub struct Caller {
    pub schema: Schema,
    /// The tenant schema with its compiled reads (none for the public schema).
    pub compiled: Option<Arc<CompiledSchema>>,
    pub principal: Option<Principal>,
    /// The metadata version the schema was built from (0 for the public schema).
    pub version: i64,
}

/// The principal of a credential (`None`: no credential).
async fn authenticate(state: &AppState, credential: &Credential) -> Result<Option<Principal>, ApiError> {
    Ok(Some(match credential {
        Credential::None => return Ok(None),
        Credential::Bearer(token) => auth::authenticate(state, token).await?,
        Credential::ApiKey(key) => auth::authenticate_key(state, key).await?,
    }))
}

/// Authenticates the credential and picks the schema it sees.
pub async fn resolve(state: &AppState, credential: Credential) -> Result<Caller, ApiError> {
    let Some(mut principal) = authenticate(state, &credential).await? else {
        return Ok(Caller {
            schema: state.public_schema().clone(),
            compiled: None,
            principal: None,
            version: 0,
        });
    };
    if state.dispatcher.peers().tenant_moved(&principal.tenant_id).await {
        // Another instance changed the tenant's access or definitions, and this one may not
        // have heard of it yet: what its cache holds of the tenant is not trusted, the
        // credential is read again (see `jobs::peers`).
        signals::mark(&principal.tenant_id);
        if let Some(fresh) = authenticate(state, &credential).await? {
            principal = fresh;
        }
    }
    let compiled = state
        .registry()
        .tenant_schema(&state.db, &principal.tenant_id, principal.metadata_version, &principal.permissions)
        .await?;
    Ok(Caller {
        schema: compiled.shared.schema.clone(),
        version: compiled.meta().version,
        compiled: Some(compiled),
        principal: Some(principal),
    })
}

/// The data every operation of this caller can read. `scope` is the request's shared read
/// transaction (HTTP requests on PostgreSQL); a socket has none, its operations being
/// long-lived.
pub fn request_data(
    state: &AppState,
    caller: &Caller,
    request_id: &RequestId,
    client: ClientIp,
    scope: Option<Arc<ReadScope>>,
) -> Data {
    let mut data = Data::default();
    data.insert(Services::clone(state));
    data.insert(request_id.clone());
    data.insert(client);
    if let Some(p) = &caller.principal {
        data.insert(Loaders::new(state, &p.tenant_id, scope.clone()));
        data.insert(p.clone());
    }
    if let Some(compiled) = &caller.compiled {
        // One entry serves both `ctx::access` (every resolver) and `tenantSchemaSdl`.
        data.insert(compiled.clone() as Arc<dyn OwnSchema>);
    }
    if let Some(scope) = scope {
        data.insert(scope);
    }
    data
}
