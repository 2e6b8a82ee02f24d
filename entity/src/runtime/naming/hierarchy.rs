//! GraphQL names of hierarchy scopes (issue 16): user attributes and their operation, the
//! hierarchy mark of fields and the ancestor grouping of aggregates.

/// `setUserAttributes(userId, attributes)`: an administrator sets a user's attributes.
pub const SET_USER_ATTRIBUTES: &str = "setUserAttributes";
/// `User.attributes`: the attributes row rules read as `$user.<key>`.
pub const USER_ATTRIBUTES: &str = "attributes";

/// `FieldDefinition.hierarchy` / `FieldInput.hierarchy`: the field is a hierarchy link.
pub const HIERARCHY: &str = "hierarchy";

/// `AncestorGroup {field, entity}`: the `groupByAncestor` argument of every aggregate.
pub const ANCESTOR_GROUP: &str = "AncestorGroup";
/// The argument of `<entities>Aggregate` that groups by an ancestor.
pub const GROUP_BY_ANCESTOR: &str = "groupByAncestor";

/// The types named here.
pub const TYPES: &[&str] = &[ANCESTOR_GROUP];

/// The root fields named here.
pub const ROOT_FIELDS: &[&str] = &[SET_USER_ATTRIBUTES];
