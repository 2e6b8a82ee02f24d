//! Background work of Alphery OS. Today: the in-process event bus and the outbox dispatcher
//! that publishes committed change events to it. The workflow engine, emails and webhooks
//! (apalis workers) build on the same outbox.

pub mod bus;
pub mod outbox;

pub use bus::{BusEvent, EventBus};
pub use outbox::Dispatcher;
