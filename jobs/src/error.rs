//! `JobError`: why a job handler's work failed, and whether trying again can help. A retryable
//! failure (the database, the network, a receiver that did not answer 2xx) may pass by itself,
//! so the job is tried again after a backoff until its attempts run out; a permanent one (bad
//! input, a missing record) would fail the same way every time, so it ends the job at once.
//! `JobContext::retry_delay` is the one place that turns this flag and the attempts made into
//! "again, after this long" or "no more".

use entity::Error;

use crate::queue::QueueError;

/// A job handler's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// What went wrong, as it is recorded on the email, the delivery or the run.
    pub message: String,
    /// Worth trying again: the same job may succeed later.
    pub retryable: bool,
}

impl JobError {
    /// A failure that trying again cannot mend (bad input, a missing record).
    pub fn permanent(message: impl Into<String>) -> JobError {
        JobError { message: message.into(), retryable: false }
    }

    /// A failure that may pass (an unreachable host, an answer other than 2xx).
    pub fn transient(message: impl Into<String>) -> JobError {
        JobError { message: message.into(), retryable: true }
    }
}

impl From<Error> for JobError {
    /// The data layer's own failures may pass; everything else is about the input. Definitions
    /// that changed under a write are read afresh by the next attempt.
    fn from(e: Error) -> JobError {
        // A provider that failed past the gateway's own retries may answer later; a spent
        // budget stays spent until the month ends.
        let retryable =
            matches!(e, Error::Db(_) | Error::Internal(_) | Error::DefinitionsChanged | Error::AiProvider(_));
        JobError { message: describe(e), retryable }
    }
}

impl From<sea_orm::DbErr> for JobError {
    fn from(e: sea_orm::DbErr) -> JobError {
        JobError::from(Error::from(e))
    }
}

impl From<QueueError> for JobError {
    /// The queue lives in the database or Redis: its failures pass like theirs.
    fn from(e: QueueError) -> JobError {
        JobError::transient(e.to_string())
    }
}

/// The message of a data-layer error, with a validation failure's fields spelled out (its
/// `Display` says only "validation failed", which tells an administrator nothing).
fn describe(e: Error) -> String {
    match e {
        Error::Validation(fields) => {
            fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_layer_errors_are_retryable_by_variant() {
        for e in [Error::Internal("x".into()), Error::DefinitionsChanged] {
            assert!(JobError::from(e).retryable);
        }
        for e in
            [Error::NotFound("record".into()), Error::BadRequest("x".into()), Error::Forbidden("x".into())]
        {
            assert!(!JobError::from(e).retryable);
        }
        let invalid = JobError::from(Error::field("title", "is required"));
        assert_eq!(invalid, JobError::permanent("title: is required"));
    }
}
