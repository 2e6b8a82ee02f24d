//! GraphQL names of UID traceability (`runtime::uid`): checking a UID and walking the
//! genealogy of the records UIDs name.

/// Type names.
pub mod types {
    /// `validateUid`'s answer.
    pub const UID_CHECK: &str = "UidCheck";
    /// One record a genealogy walk reached.
    pub const TRACE_NODE: &str = "TraceNode";

    /// Every type name of the feature (taken names for collision checks).
    pub const ALL: &[&str] = &[UID_CHECK, TRACE_NODE];
}

/// Root field names.
pub mod fields {
    pub const VALIDATE_UID: &str = "validateUid";
    pub const VALIDATE_UIDS: &str = "validateUids";
    pub const TRACE_UP: &str = "traceUp";
    pub const TRACE_DOWN: &str = "traceDown";

    /// Every root field name of the feature (taken names for collision checks).
    pub const ALL: &[&str] = &[VALIDATE_UID, VALIDATE_UIDS, TRACE_UP, TRACE_DOWN];
}
