//! GraphQL names of @mentions (`runtime::mentions`): the field-definition flag that turns them
//! on, on `FieldDefinition`, `FieldInput` and `UpdateFieldInput`, with its description.

/// The flag on a field definition.
pub const FLAG: &str = "mentions";

/// What the flag means, shown in the schema.
pub const FLAG_DOC: &str = "A TEXT or TEXTAREA field whose `@name` or `@email` words notify the tenant users \
     they name (by email address, or by the part of it before `@`) when a create or update adds them: \
     once per new mention, and only users who may read the record and the field. Unknown names are \
     ignored.";
