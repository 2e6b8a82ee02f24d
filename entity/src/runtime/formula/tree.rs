//! A formula field's definition as plain data: the stored source, the checked tree and its
//! types. `meta` holds these in a field's definition; the rest of `formula` parses, checks,
//! compiles and evaluates them. It imports nothing of the definitions (`meta`), which hold it.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::runtime::decimal::Decimal;
use crate::runtime::field_key::FieldKey;
use crate::runtime::field_type::FieldType;
use crate::runtime::time;

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
    /// The relation paths whose targets it reads, each after its prefixes (`[account]`
    /// before `[account, owner]`): loaded hop by hop before evaluating it in memory.
    pub relations: Vec<Vec<Hop>>,
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

/// One step through a to-one RELATION field: its key, and the entity its values point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub key: FieldKey,
    pub entity_id: String,
}

/// A stored field an expression reads: of the record itself (`via` empty), or of the record
/// reached through the relations `via`, one after another (`account.owner.name`).
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub via: Vec<Hop>,
    pub key: FieldKey,
    pub ty: Ty,
}

/// The name of a relation path in `Related` (`account.owner`).
pub fn path_name(via: &[Hop]) -> String {
    via.iter().map(|h| h.key.as_str()).collect::<Vec<_>>().join(".")
}

/// What TODAY() and NOW() read: the tenant's clock (`time::now_for`) and its time zone,
/// resolved into the tree when the tenant's definitions load.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    pub tenant_id: Arc<str>,
    pub zone: Tz,
}

impl Clock {
    /// The clock of a tenant whose time zone is `zone` (an IANA name; UTC when unknown).
    pub fn of(tenant_id: &str, zone: &str) -> Clock {
        Clock { tenant_id: tenant_id.into(), zone: zone.parse().unwrap_or(Tz::UTC) }
    }

    /// Now, as NOW() reads it.
    pub fn now(&self) -> DateTime<Utc> {
        time::now_for(&self.tenant_id)
    }

    /// The date in the tenant's time zone, as TODAY() reads it.
    pub fn today(&self) -> NaiveDate {
        self.now().with_timezone(&self.zone).date_naive()
    }
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
    /// TODAY(): the date in the tenant's time zone.
    Today(Clock),
    /// NOW(): the instant, in the stored DATETIME form.
    Now(Clock),
}

impl Expr {
    /// Every stored field the expression reads (another formula's reads are inlined).
    pub fn reads(&self) -> Vec<&Read> {
        let mut out = Vec::new();
        self.visit(&mut |e| {
            if let Expr::Read(r) = e {
                out.push(r);
            }
        });
        out
    }

    /// Calls `f` on this node and every node under it.
    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Num(_) | Expr::Text(_) | Expr::Bool(_) | Expr::Null | Expr::Read(_) => {}
            Expr::Today(_) | Expr::Now(_) => {}
            Expr::Neg(a)
            | Expr::Not(a)
            | Expr::Round(a, _)
            | Expr::Abs(a)
            | Expr::Fold(_, a)
            | Expr::Len(a) => a.visit(f),
            Expr::Arith(_, a, b)
            | Expr::Concat(a, b)
            | Expr::Cmp(_, _, a, b)
            | Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::AddDays(a, b)
            | Expr::DaysBetween(a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::Join(items) | Expr::Coalesce(items, _) => items.iter().for_each(|x| x.visit(f)),
            Expr::Case(arms, otherwise, _) => {
                for (c, v) in arms {
                    c.visit(f);
                    v.visit(f);
                }
                otherwise.visit(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_the_date_in_the_tenant_zone_of_its_pinned_instant() {
        let at = time::parse("2026-03-12T12:00:00Z").expect("instant");
        time::pin("clock-test-tenant", Some(at));
        let utc = Clock::of("clock-test-tenant", "UTC");
        let east = Clock::of("clock-test-tenant", "Pacific/Kiritimati");
        let west = Clock::of("clock-test-tenant", "America/Los_Angeles");
        assert_eq!(utc.today().to_string(), "2026-03-12");
        assert_eq!(east.today().to_string(), "2026-03-13");
        assert_eq!(west.today().to_string(), "2026-03-12");
        assert_eq!(Clock::of("clock-test-tenant", "Not/AZone").zone, Tz::UTC);
        assert_eq!(utc.now(), at);
        time::pin("clock-test-tenant", None);
        assert_ne!(utc.now(), at, "the real clock again");
    }
}
