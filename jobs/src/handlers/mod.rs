//! The job handlers: what each kind of queued job does, one module per kind of work — sending
//! an email, delivering a webhook, running a CSV import, refreshing a record's Customer Memory, scoring a pipeline record's confidence, running a workflow (for a record change, by hand, or resumed
//! after a wait). The worker decides which handler a job goes to; a handler needs only the
//! `JobContext`, never the worker.

pub mod confidence;
pub mod email;
pub mod imports;
pub mod memory;
pub mod webhooks;
pub mod workflows;
