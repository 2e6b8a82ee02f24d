//! The Alphery OS server: configuration, HTTP/WS transport, authentication, the per-tenant
//! dynamic GraphQL schema (builder, registry, resolvers), rate limiting and the demo seed. The binary in
//! `main.rs` is a thin CLI over `server`.

pub mod admin;
pub mod alloc;
pub mod auth;
pub mod config;
pub mod error;
pub mod features;
pub mod http;
pub mod live;
pub mod log_sink;
pub mod rate;
pub mod schema;
pub mod seed;
pub mod server;
pub mod services;
pub mod storage;

pub use error::{ApiError, Error};
