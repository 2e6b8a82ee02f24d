//! Background work of Alphery OS: the event bus and the outbox tailer that feeds it (live
//! delivery on every instance); how instances wake each other (`peers`, Redis); the job relay that turns outbox events into queued jobs; the
//! apalis job queue and its workers; SMTP delivery. Workflows and webhooks build on the same
//! outbox → relay → queue path.

pub mod bus;
pub mod context;
pub mod error;
pub mod handlers;
pub mod mailer;
pub mod metrics;
pub mod outbox;
pub mod peers;
pub mod queue;
pub mod redis_conn;
pub mod relay;
pub mod sweeper;
pub mod worker;

pub use bus::{BusEvent, EventBus};
pub use context::JobContext;
pub use error::JobError;
pub use outbox::Dispatcher;
pub use peers::Peers;
