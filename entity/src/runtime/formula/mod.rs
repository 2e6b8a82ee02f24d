//! FORMULA fields: a field whose value is an expression over the record's other fields (and
//! the stored fields of records its to-one relations point at, up to `MAX_HOPS` relations
//! away), and the tenant's clock (TODAY, NOW), never stored. The text is
//! parsed (`parse`), resolved against the definitions and type-checked when it is defined and
//! whenever definitions load (`check`); reads compute it in SQL (`sql`, through
//! `sql::expr`, so it filters, sorts and aggregates like a stored field of its result type),
//! and writes compute it in memory (`eval`) into the record they hand to live events and
//! workflows. The property test `tests/it/formulas.rs` keeps the two in agreement.
//!
//! Semantics both sides share: numbers are exact decimals, every `+ - * /` result rounded to 9
//! places half away from zero (`num`); a division by zero is null; null propagates through
//! arithmetic, `&`, comparisons and functions (but `CONCAT` reads it as empty, `COALESCE`
//! skips it, `IF`/`CASE` take a null condition as false, and `AND`/`OR` are three-valued like
//! SQL's); `LOWER`/`UPPER` fold ASCII letters only (SQLite's functions do no more).

mod check;
mod eval;
mod num;
mod parse;
mod sql;
pub mod tree;

pub use check::{Broken, MAX_HOPS, resolve_all};
pub use eval::Related;
pub use eval::fill;
pub use sql::{comparable, data_expr, figure, stored_text};
pub use tree::*;
