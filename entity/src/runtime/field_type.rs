//! The field types and how each is stored: plain data every part of the engine reads (the
//! definitions in `meta`, values, filters, formulas, rollups), kept apart from `meta` so that
//! none of them has to import the definitions to name a type.

use serde::{Deserialize, Serialize};

use super::slot::SlotKind;
use crate::Dialect;

/// The field types of shared/API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldType {
    Text,
    Textarea,
    Number,
    Currency,
    Boolean,
    Date,
    Datetime,
    Email,
    Phone,
    Url,
    Select,
    MultiSelect,
    Relation,
    File,
    Json,
    /// A traceable unique identifier: generated from its pattern on create, then fixed (`uid`).
    Uid,
}

impl FieldType {
    /// Every type, in the order of the public enum.
    pub const ALL: [FieldType; 16] = [
        FieldType::Text,
        FieldType::Textarea,
        FieldType::Number,
        FieldType::Currency,
        FieldType::Boolean,
        FieldType::Date,
        FieldType::Datetime,
        FieldType::Email,
        FieldType::Phone,
        FieldType::Url,
        FieldType::Select,
        FieldType::MultiSelect,
        FieldType::Relation,
        FieldType::File,
        FieldType::Json,
        FieldType::Uid,
    ];

    /// The public enum value (`MULTI_SELECT`).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "TEXT",
            FieldType::Textarea => "TEXTAREA",
            FieldType::Number => "NUMBER",
            FieldType::Currency => "CURRENCY",
            FieldType::Boolean => "BOOLEAN",
            FieldType::Date => "DATE",
            FieldType::Datetime => "DATETIME",
            FieldType::Email => "EMAIL",
            FieldType::Phone => "PHONE",
            FieldType::Url => "URL",
            FieldType::Select => "SELECT",
            FieldType::MultiSelect => "MULTI_SELECT",
            FieldType::Relation => "RELATION",
            FieldType::File => "FILE",
            FieldType::Json => "JSON",
            FieldType::Uid => "UID",
        }
    }

    pub fn parse(s: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// How a stored value of this type compares, is bound in SQL and is read back: the one map
    /// from field type to storage that comparisons, SQL expressions, filter operands and group
    /// values share (each matches `Stored` exhaustively).
    pub fn stored_as(self) -> Stored {
        match self {
            FieldType::Number => Stored::Float,
            FieldType::Currency => Stored::Decimal,
            FieldType::Boolean => Stored::Bool,
            FieldType::Datetime => Stored::Timestamp,
            // Dates (`YYYY-MM-DD`) order as text; the rest are texts, ids or JSON.
            FieldType::Text
            | FieldType::Textarea
            | FieldType::Date
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
            | FieldType::Select
            | FieldType::MultiSelect
            | FieldType::Relation
            | FieldType::File
            | FieldType::Json
            | FieldType::Uid => Stored::Text,
        }
    }

    /// The slot kind that indexes a field of this type on `d`, if any (`indexes`): one map for
    /// every type.
    pub fn slot_kind(self, d: Dialect) -> Option<SlotKind> {
        match self {
            FieldType::Text
            | FieldType::Textarea
            | FieldType::Date
            | FieldType::Datetime
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
            | FieldType::Select
            | FieldType::Relation
            | FieldType::Uid => Some(SlotKind::Text),
            FieldType::Number | FieldType::Currency => Some(SlotKind::Number),
            FieldType::Boolean => Some(SlotKind::Boolean),
            // SQLite has no index that answers containment of a JSON array.
            FieldType::MultiSelect => (d == Dialect::Postgres).then_some(SlotKind::Array),
            FieldType::File | FieldType::Json => None,
        }
    }

    /// Whether a field of this type may be `searchable` (full-text search, `search`): free
    /// text, and the chosen options of SELECT and MULTI_SELECT (their stored option values,
    /// which are what people type). Numbers, dates, flags, ids, files and JSON are found by
    /// filters instead. One map for every type.
    pub fn searchable(self) -> bool {
        match self {
            FieldType::Text
            | FieldType::Textarea
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
            | FieldType::Select
            | FieldType::MultiSelect
            | FieldType::Uid => true,
            FieldType::Number
            | FieldType::Currency
            | FieldType::Boolean
            | FieldType::Date
            | FieldType::Datetime
            | FieldType::Relation
            | FieldType::File
            | FieldType::Json => false,
        }
    }

    /// Free text compared as strings (and searched by `search`).
    pub fn is_text_like(self) -> bool {
        matches!(
            self,
            FieldType::Text | FieldType::Textarea | FieldType::Email | FieldType::Phone | FieldType::Url
        )
    }

    /// Can appear in `orderBy` (and later `groupBy`).
    pub fn is_sortable(self) -> bool {
        !matches!(self, FieldType::Json | FieldType::File | FieldType::MultiSelect)
    }

    /// Has a filter input.
    pub fn is_filterable(self) -> bool {
        !matches!(self, FieldType::Json | FieldType::File)
    }
}

/// What a field type's values are in storage (`FieldType::stored_as`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A JSON number, compared as a float.
    Float,
    /// A decimal string, compared exactly (`value::Decimal`; `numeric` on PostgreSQL).
    Decimal,
    /// A JSON boolean.
    Bool,
    /// A timestamp string (`time`), compared as a point in time.
    Timestamp,
    /// Anything else, compared as its text.
    Text,
}

/// How a RELATION field relates to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RelationKind {
    ManyToOne,
    OneToOne,
}

impl RelationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::ManyToOne => "MANY_TO_ONE",
            RelationKind::OneToOne => "ONE_TO_ONE",
        }
    }

    pub fn parse(s: &str) -> Option<RelationKind> {
        match s {
            "MANY_TO_ONE" => Some(RelationKind::ManyToOne),
            "ONE_TO_ONE" => Some(RelationKind::OneToOne),
            _ => None,
        }
    }
}
