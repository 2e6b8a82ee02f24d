//! The GraphQL names of the CRM intelligence operations: the CRM's roles (`crmRoles`,
//! `setCrmRoles`), a record's timeline and its 360° view. They join the platform's taken
//! names (`platform_type_names`, `platform_root_fields` in `naming`), so no entity takes them.

/// Type names.
pub mod types {
    pub const CRM_ROLES: &str = "CrmRoles";
    pub const CRM_ROLES_INPUT: &str = "CrmRolesInput";
    pub const TIMELINE_KIND: &str = "TimelineKind";
    pub const TIMELINE_ITEM: &str = "TimelineItem";
    pub const TIMELINE_CHANGE: &str = "TimelineChange";
    pub const TIMELINE_EDGE: &str = "TimelineEdge";
    pub const TIMELINE_CONNECTION: &str = "TimelineConnection";
    pub const RECORD_360: &str = "Record360";
    pub const RELATED_360: &str = "Related360";
}

/// Root field names.
pub mod fields {
    pub const CRM_ROLES: &str = "crmRoles";
    pub const SET_CRM_ROLES: &str = "setCrmRoles";
    pub const TIMELINE: &str = "timeline";
    pub const RECORD_360: &str = "record360";
}

/// Every type name above.
pub const TYPE_NAMES: &[&str] = &[
    types::CRM_ROLES,
    types::CRM_ROLES_INPUT,
    types::TIMELINE_KIND,
    types::TIMELINE_ITEM,
    types::TIMELINE_CHANGE,
    types::TIMELINE_EDGE,
    types::TIMELINE_CONNECTION,
    types::RECORD_360,
    types::RELATED_360,
];

/// Every root field name above.
pub const ROOT_FIELDS: &[&str] =
    &[fields::CRM_ROLES, fields::SET_CRM_ROLES, fields::TIMELINE, fields::RECORD_360];
