//! Background work of Alphery OS.
//!
//! - Live delivery on every instance: the outbox tailer (`outbox`) reads committed changes and
//!   publishes them on the event bus (`bus`); instances wake each other over Redis (`peers`,
//!   `redis_conn`).
//! - Jobs: the relay (`relay`) turns outbox events into queued jobs (`queue`, apalis, in the
//!   database or Redis); the worker (`worker`) hands each job to its handler (`handlers`: email,
//!   webhooks, workflows) with the `JobContext` (`context`) they share, and times it
//!   (`metrics`). A handler's failure is a `JobError` (`error`) that says whether to retry.
//! - The sweeper (`sweeper`): what time alone sets off — schedule and relative-date triggers,
//!   approval SLAs, work taken back from workers that fell silent.
//! - SMTP delivery (`mailer`).
//! - The AI gateway (`ai`): calls to a tenant's own model provider, with budget, retries,
//!   usage and audit.

pub mod ai;
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
