//! HTTP and WebSocket transport: routes (`routes`), GraphQL over HTTP (`graphql`), GraphQL
//! over `graphql-transport-ws` (`ws`, its protocol rules in `ws_protocol`), the public face of their errors (`errors`), inbound
//! webhooks (`hooks`), and request ids and credentials (`request`).

pub mod errors;
pub mod graphql;
pub mod hooks;
pub mod metrics;
pub mod request;
pub mod routes;
pub mod ws;
pub mod ws_protocol;
