//! HTTP and WebSocket transport: routes (`routes`), GraphQL over HTTP (`graphql`), GraphQL
//! over `graphql-transport-ws` (`ws`), inbound webhooks (`hooks`), and request ids and credentials (`request`).

pub mod graphql;
pub mod hooks;
pub mod metrics;
pub mod request;
pub mod routes;
pub mod ws;
