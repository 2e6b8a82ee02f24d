//! HTTP and WebSocket transport: routes (`routes`), GraphQL over HTTP (`graphql`), GraphQL
//! over `graphql-transport-ws` (`ws`, its protocol rules in `ws_protocol`), inbound webhooks
//! (`hooks`), request ids and credentials (`request`), what each operation logs and measures
//! (`observe`, `metrics`), and GraphiQL with the files it loads (`graphiql`). The public face
//! of their errors is the schema's (`schema::errors`), applied inside the executor.

pub mod export;
pub mod graphiql;
pub mod graphql;
pub mod hooks;
pub mod metrics;
pub mod observe;
pub mod registry;
pub mod request;
pub mod routes;
pub mod state;
pub mod ws;
pub mod ws_protocol;
