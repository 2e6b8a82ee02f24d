//! Formulas as SQL, per dialect: the value `sql::expr` compares, sorts, groups and sums for a
//! formula field (`comparable`, `stored_text`, `figure`), and the JSON a read writes into the
//! record's values (`data_expr`). Numbers are `numeric` on PostgreSQL and binary floats on
//! SQLite, every arithmetic result rounded to 9 places on both (`num` does the same in
//! memory); literals are written into the text (texts escaped: the checker refused NUL).
//!
//! A value read through relations is a scalar subquery per hop (`account.owner.name`: two),
//! each on a derived table whose columns are renamed (`fr_id`, `fr_data`, …), so the record's
//! own `data` stays visible, unqualified, inside them — whatever the statement calls the
//! outer row (`records`, or a derived table `a`). Each finds only a live record of the hop's
//! target entity. TODAY() and NOW() are the tenant's clock read while the statement is built.

use super::num::SCALE;
use super::{Arith, Cmp, Expr, Formula, Read, Text1, Ty};
use crate::Dialect;
use crate::runtime::field_key::FieldKey;
use crate::runtime::figures::scale;
use crate::runtime::meta::{EntityDef, FieldDef, FieldType};
use crate::runtime::sql::record_id_of;

/// The formula of `f`, if it is a formula field.
fn formula(f: &FieldDef) -> Option<&Formula> {
    f.formula.as_deref()
}

/// The expression's SQL value (a formula that does not check is null).
fn value(d: Dialect, x: &Formula) -> String {
    x.expr.as_ref().map_or_else(|| "NULL".to_owned(), |e| expr(d, e))
}

/// The value as filters compare it and ORDER BY sorts it: a CURRENCY result at its scale.
pub fn comparable(d: Dialect, f: &FieldDef) -> Option<String> {
    let v = value(d, formula(f)?);
    Some(match f.ty {
        FieldType::Currency => format!("ROUND({v}, {})", scale(f)),
        _ => v,
    })
}

/// The value as text, in the stored form of the result type where the two differ (groups,
/// date buckets).
pub fn stored_text(d: Dialect, f: &FieldDef) -> Option<String> {
    let v = comparable(d, f)?;
    Some(match (f.ty, d) {
        // printf writes a null as 0: a null stays null.
        (FieldType::Currency, Dialect::Sqlite) => {
            format!("CASE WHEN {v} IS NOT NULL THEN printf('%.{}f', {v} + 0.0) END", scale(f))
        }
        (FieldType::Number, Dialect::Postgres) => format!("CAST(CAST({v} AS DOUBLE PRECISION) AS TEXT)"),
        _ => format!("CAST({v} AS TEXT)"),
    })
}

/// The value SUM, MIN and MAX take, as `sql::figure` has it for stored fields: floats;
/// decimals as `numeric` (PostgreSQL) or integer minor units (SQLite). `None`: not numeric.
pub fn figure(d: Dialect, f: &FieldDef) -> Option<String> {
    let v = comparable(d, f)?;
    match (f.ty, d) {
        (FieldType::Number, Dialect::Postgres) => Some(format!("CAST({v} AS DOUBLE PRECISION)")),
        (FieldType::Number, Dialect::Sqlite) | (FieldType::Currency, Dialect::Postgres) => Some(v),
        (FieldType::Currency, Dialect::Sqlite) => {
            Some(format!("CAST(ROUND({v} * {}) AS INTEGER)", 10i64.pow(scale(f))))
        }
        _ => None,
    }
}

/// A record's `data` with every formula field of `entity` set to its value in stored form
/// (`None`: the entity has no formula).
pub fn data_expr(d: Dialect, entity: &EntityDef) -> Option<String> {
    let formulas: Vec<&FieldDef> = entity.fields.iter().filter(|f| f.formula.is_some()).collect();
    if formulas.is_empty() {
        return None;
    }
    let mut pairs = Vec::new();
    for f in formulas {
        let v = comparable(d, f)?;
        let json = match (f.ty, d) {
            (FieldType::Number, Dialect::Postgres) => format!("CAST({v} AS DOUBLE PRECISION)"),
            (FieldType::Currency, _) => stored_text(d, f)?,
            (FieldType::Boolean, Dialect::Sqlite) => {
                format!("CASE WHEN {v} THEN json('true') WHEN NOT {v} THEN json('false') END")
            }
            _ => v,
        };
        pairs.push(match d {
            Dialect::Postgres => format!("'{}', {json}", f.key),
            Dialect::Sqlite => format!("'$.{}', {json}", f.key),
        });
    }
    Some(match d {
        Dialect::Postgres => format!("(data || jsonb_build_object({}))", pairs.join(", ")),
        Dialect::Sqlite => format!("json_set(data, {})", pairs.join(", ")),
    })
}

/// A stored value of `column` (a record's JSON values) as the type the expression reads.
fn leaf(d: Dialect, column: &str, key: &FieldKey, ty: Ty) -> String {
    let text = match d {
        Dialect::Postgres => format!("({column}->>'{key}')"),
        Dialect::Sqlite => format!("json_extract({column}, '$.{key}')"),
    };
    match (ty, d) {
        (Ty::Number, Dialect::Postgres) => format!("CAST({text} AS NUMERIC)"),
        (Ty::Number, Dialect::Sqlite) => format!("CAST({text} AS REAL)"),
        (Ty::Bool, Dialect::Postgres) => format!("CAST({text} AS BOOLEAN)"),
        // SQLite's json_extract gives JSON booleans as 1 and 0, its booleans.
        (Ty::Bool, Dialect::Sqlite) | (Ty::Text | Ty::Date | Ty::Datetime, _) => text,
    }
}

/// A stored value read through `via`: one scalar subquery per hop, each finding the live
/// record of the hop's target entity (of the tenant: entity ids are the tenant's) whose id
/// the previous hop's relation holds.
fn read(d: Dialect, r: &Read) -> String {
    let Some(first) = r.via.first() else { return leaf(d, "data", &r.key, r.ty) };
    // The id the record's relation holds; then, hop by hop, what the target gives the next.
    let mut value = leaf(d, "data", &first.key, Ty::Text);
    for (i, hop) in r.via.iter().enumerate() {
        let (key, ty) = match r.via.get(i + 1) {
            Some(next) => (&next.key, Ty::Text),
            None => (&r.key, r.ty),
        };
        value = format!(
            "(SELECT {} FROM (SELECT id AS fr_id, entity_id AS fr_entity, deleted_at AS fr_deleted, data AS fr_data \
             FROM records) fr WHERE fr.fr_id = {} AND fr.fr_entity = {} AND fr.fr_deleted IS NULL)",
            leaf(d, "fr.fr_data", key, ty),
            record_id_of(d, &value),
            text_literal(d, &hop.entity_id),
        );
    }
    value
}

/// A text literal: PostgreSQL's escape string (its meaning does not depend on
/// `standard_conforming_strings`), SQLite's quoted string.
fn text_literal(d: Dialect, s: &str) -> String {
    match d {
        Dialect::Postgres => format!("CAST(E'{}' AS TEXT)", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Dialect::Sqlite => format!("'{}'", s.replace('\'', "''")),
    }
}

fn expr(d: Dialect, e: &Expr) -> String {
    let pg = d == Dialect::Postgres;
    let x = |e: &Expr| expr(d, e);
    // PostgreSQL resolves functions by argument type: a bare NULL has none.
    let num = |e: &Expr| if pg { format!("CAST({} AS NUMERIC)", x(e)) } else { x(e) };
    let txt = |e: &Expr| if pg { format!("CAST({} AS TEXT)", x(e)) } else { x(e) };
    let date = |e: &Expr| if pg { format!("CAST({} AS DATE)", x(e)) } else { x(e) };
    match e {
        Expr::Num(n) => {
            let t = n.to_string_at(n.scale);
            if pg { format!("CAST('{t}' AS NUMERIC)") } else { format!("CAST('{t}' AS REAL)") }
        }
        Expr::Text(s) => text_literal(d, s),
        Expr::Bool(b) => match (b, pg) {
            (true, true) => "TRUE".into(),
            (false, true) => "FALSE".into(),
            (true, false) => "1".into(),
            (false, false) => "0".into(),
        },
        Expr::Null => "NULL".into(),
        Expr::Read(r) => read(d, r),
        Expr::Neg(a) => format!("(-{})", num(a)),
        Expr::Not(a) => format!("(NOT {})", x(a)),
        Expr::Arith(op, a, b) => {
            let inner = match op {
                Arith::Add => format!("{} + {}", num(a), num(b)),
                Arith::Sub => format!("{} - {}", num(a), num(b)),
                Arith::Mul => format!("{} * {}", num(a), num(b)),
                // SQLite divides integers as integers: the dividend is made a float.
                Arith::Div if pg => format!("{} / NULLIF({}, 0)", num(a), num(b)),
                Arith::Div => format!("CAST({} AS REAL) / NULLIF({}, 0)", x(a), x(b)),
            };
            format!("ROUND({inner}, {SCALE})")
        }
        Expr::Concat(a, b) => format!("({} || {})", txt(a), txt(b)),
        Expr::Join(items) => {
            let parts: Vec<String> = items.iter().map(|i| format!("COALESCE({}, '')", txt(i))).collect();
            format!("({})", parts.join(" || "))
        }
        Expr::Cmp(op, ty, a, b) => {
            let symbol = match op {
                Cmp::Eq => "=",
                Cmp::Ne => "<>",
                Cmp::Lt => "<",
                Cmp::Le => "<=",
                Cmp::Gt => ">",
                Cmp::Ge => ">=",
            };
            let side = |e: &Expr| match ty {
                Ty::Number => num(e),
                Ty::Bool | Ty::Text | Ty::Date | Ty::Datetime => x(e),
            };
            format!("({} {symbol} {})", side(a), side(b))
        }
        Expr::And(a, b) => format!("({} AND {})", x(a), x(b)),
        Expr::Or(a, b) => format!("({} OR {})", x(a), x(b)),
        Expr::Case(arms, otherwise, _) => {
            let mut s = "(CASE".to_owned();
            for (c, v) in arms {
                s.push_str(&format!(" WHEN {} THEN {}", x(c), x(v)));
            }
            format!("{s} ELSE {} END)", x(otherwise))
        }
        Expr::Coalesce(items, _) => {
            format!("COALESCE({})", items.iter().map(x).collect::<Vec<_>>().join(", "))
        }
        Expr::Round(a, places) => format!("ROUND({}, {places})", num(a)),
        Expr::Abs(a) => format!("ABS({})", num(a)),
        Expr::Fold(how, a) => {
            let f = match how {
                Text1::Lower => "LOWER",
                Text1::Upper => "UPPER",
            };
            format!("{f}({})", txt(a))
        }
        Expr::Len(a) => format!("LENGTH({})", txt(a)),
        Expr::AddDays(a, n) => match d {
            Dialect::Postgres => {
                format!("to_char({} + CAST(trunc({}) AS INTEGER), 'YYYY-MM-DD')", date(a), num(n))
            }
            Dialect::Sqlite => format!("date({}, CAST({} AS INTEGER) || ' days')", x(a), x(n)),
        },
        // The statement's instant, written in as a literal: the same clock memory reads.
        Expr::Today(clock) => text_literal(d, &clock.today().format("%Y-%m-%d").to_string()),
        Expr::Now(clock) => text_literal(d, &crate::runtime::time::format(&clock.now())),
        Expr::DaysBetween(a, b) => match d {
            Dialect::Postgres => format!("CAST({} - {} AS NUMERIC)", date(b), date(a)),
            Dialect::Sqlite => format!("CAST(julianday({}) - julianday({}) AS INTEGER)", x(b), x(a)),
        },
    }
}
