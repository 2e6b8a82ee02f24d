//! A formula field's definition as plain data: the stored source, the checked tree and its
//! types. `meta` holds these in a field's definition; the rest of `formula` parses, checks,
//! compiles and evaluates them. It imports nothing of the definitions (`meta`), which hold it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::runtime::decimal::Decimal;
use crate::runtime::field_key::FieldKey;
use crate::runtime::field_type::FieldType;

/// The public type name of a formula field (its `FieldDef::ty` is its result type).
pub const TYPE_NAME: &str = "FORMULA";

/// The result types a formula may declare.
pub const RESULT_TYPES: [FieldType; 6] = [
    FieldType::Number,
    FieldType::Currency,
    FieldType::Text,
    FieldType::Date,
    FieldType::Datetime,
    FieldType::Boolean,
];

/// What a definition stores of a formula (the `formula` JSON of a field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    pub expression: String,
    pub result_type: String,
}

/// A formula field's expression: its text, and once checked against the definitions its
/// typed tree (`None` before that, or when it no longer checks: then its value is null).
#[derive(Debug, Clone)]
pub struct Formula {
    pub expression: String,
    pub expr: Option<Expr>,
    /// The relation fields whose targets it reads (loaded before evaluating it in memory).
    pub relations: Vec<FieldKey>,
}

impl Formula {
    /// A formula as written, not yet checked.
    pub fn unchecked(expression: &str) -> Arc<Formula> {
        Arc::new(Formula { expression: expression.to_owned(), expr: None, relations: Vec::new() })
    }
}

/// The types of values inside an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Number,
    Text,
    Bool,
    Date,
    Datetime,
}

impl Ty {
    pub(super) fn name(self) -> &'static str {
        match self {
            Ty::Number => "a number",
            Ty::Text => "a text",
            Ty::Bool => "a boolean",
            Ty::Date => "a date",
            Ty::Datetime => "a date-time",
        }
    }
}

/// A stored field an expression reads: of the record itself (`via` none), or of the record
/// its to-one relation `via` points at.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub via: Option<FieldKey>,
    pub key: FieldKey,
    pub ty: Ty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text1 {
    Lower,
    Upper,
}

/// The typed tree: references resolved, another formula's tree inlined, every node's type
/// known (`check`).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(Decimal),
    Text(String),
    Bool(bool),
    Null,
    Read(Read),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Arith(Arith, Box<Expr>, Box<Expr>),
    /// `a & b`: null when either is.
    Concat(Box<Expr>, Box<Expr>),
    /// `CONCAT(a, …)`: nulls read as empty.
    Join(Vec<Expr>),
    /// A comparison of two values of the type given.
    Cmp(Cmp, Ty, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `CASE WHEN c THEN v … ELSE e END` (and `IF`), with the result's type.
    Case(Vec<(Expr, Expr)>, Box<Expr>, Ty),
    Coalesce(Vec<Expr>, Ty),
    Round(Box<Expr>, u32),
    Abs(Box<Expr>),
    Fold(Text1, Box<Expr>),
    Len(Box<Expr>),
    /// A date plus a number of days (truncated toward zero).
    AddDays(Box<Expr>, Box<Expr>),
    /// Days from the first date to the second.
    DaysBetween(Box<Expr>, Box<Expr>),
}
