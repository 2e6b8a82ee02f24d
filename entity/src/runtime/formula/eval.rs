//! Evaluating formulas in memory, with the semantics the SQL side has (`super` says which):
//! what a write hands to live events, row rules and workflow conditions — its record with
//! every formula field's value in its stored form, as a read computes it in SQL.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::{Arith, Cmp, Expr, Read, Text1, Ty, num, path_name};
use crate::runtime::figures::scale;
use crate::runtime::meta::{EntityDef, FieldDef, FieldType};
use crate::runtime::time;
use crate::runtime::value::{Decimal, stable_number};

const DATE: &str = "%Y-%m-%d";

/// A non-null value inside an expression.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Num(Decimal),
    Text(String),
    Bool(bool),
    Date(NaiveDate),
    /// The stored text (`YYYY-MM-DDTHH:MM:SS.mmmZ`), which orders as the instants do.
    Datetime(String),
}

/// The stored values of the records a record's relation paths point at, by path
/// (`path_name`: `account`, `account.owner`).
pub type Related = HashMap<String, Map<String, Value>>;

/// Writes every formula field of `entity` into `data` (its stored values) in stored form, or
/// removes it when the value is null (absent means null, as for stored fields).
pub fn fill(entity: &EntityDef, data: &mut Map<String, Value>, related: &Related) {
    for f in &entity.fields {
        let Some(formula) = &f.formula else { continue };
        let value = formula.expr.as_ref().and_then(|e| eval(e, data, related)).and_then(|v| stored(f, v));
        match value {
            Some(v) => data.insert(f.key.to_string(), v),
            None => data.remove(f.key.as_str()),
        };
    }
}

/// A result in the stored form of the field's result type (`value`).
fn stored(f: &FieldDef, v: Val) -> Option<Value> {
    Some(match (f.ty, v) {
        (FieldType::Currency, Val::Num(d)) => {
            let s = scale(f);
            Value::String(num::round(d, s)?.to_string_at(s))
        }
        (FieldType::Number, Val::Num(d)) => stable_number(num::to_f64(d)?),
        (_, Val::Text(s) | Val::Datetime(s)) => Value::String(s),
        (_, Val::Bool(b)) => Value::Bool(b),
        (_, Val::Date(d)) => Value::String(d.format(DATE).to_string()),
        (_, Val::Num(_)) => return None,
    })
}

/// A stored value read as the type the expression reads it as.
fn read(r: &Read, data: &Map<String, Value>, related: &Related) -> Option<Val> {
    let source = if r.via.is_empty() { data } else { related.get(&path_name(&r.via))? };
    let v = source.get(r.key.as_str())?;
    match r.ty {
        Ty::Number => match v {
            Value::Number(n) => num::from_number_text(&n.to_string()).map(Val::Num),
            Value::String(s) => Decimal::parse(s).map(Val::Num),
            _ => None,
        },
        Ty::Text => v.as_str().map(|s| Val::Text(s.to_owned())),
        Ty::Bool => v.as_bool().map(Val::Bool),
        Ty::Date => v.as_str().and_then(|s| NaiveDate::parse_from_str(s, DATE).ok()).map(Val::Date),
        Ty::Datetime => v.as_str().map(|s| Val::Datetime(s.to_owned())),
    }
}

fn number(v: Option<Val>) -> Option<Decimal> {
    match v? {
        Val::Num(d) => Some(d),
        _ => None,
    }
}

fn text(v: Option<Val>) -> Option<String> {
    match v? {
        Val::Text(s) => Some(s),
        _ => None,
    }
}

fn truth(v: Option<Val>) -> Option<bool> {
    match v? {
        Val::Bool(b) => Some(b),
        _ => None,
    }
}

fn date(v: Option<Val>) -> Option<NaiveDate> {
    match v? {
        Val::Date(d) => Some(d),
        _ => None,
    }
}

fn order(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Num(x), Val::Num(y)) => Some(x.compare(*y)),
        (Val::Text(x), Val::Text(y)) | (Val::Datetime(x), Val::Datetime(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::Date(x), Val::Date(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// The value of `e` on a record (`None`: null).
fn eval(e: &Expr, data: &Map<String, Value>, related: &Related) -> Option<Val> {
    let ev = |x: &Expr| eval(x, data, related);
    match e {
        Expr::Num(d) => Some(Val::Num(*d)),
        Expr::Text(s) => Some(Val::Text(s.clone())),
        Expr::Bool(b) => Some(Val::Bool(*b)),
        Expr::Null => None,
        Expr::Read(r) => read(r, data, related),
        Expr::Neg(a) => num::neg(number(ev(a))?).map(Val::Num),
        Expr::Not(a) => truth(ev(a)).map(|b| Val::Bool(!b)),
        Expr::Arith(op, a, b) => {
            let (x, y) = (number(ev(a))?, number(ev(b))?);
            let r = match op {
                Arith::Add => num::add(x, y),
                Arith::Sub => num::sub(x, y),
                Arith::Mul => num::mul(x, y),
                Arith::Div => num::div(x, y),
            };
            r.map(Val::Num)
        }
        Expr::Concat(a, b) => Some(Val::Text(text(ev(a))? + &text(ev(b))?)),
        Expr::Join(items) => Some(Val::Text(items.iter().filter_map(|x| text(ev(x))).collect())),
        Expr::Cmp(op, _, a, b) => {
            let o = order(&ev(a)?, &ev(b)?)?;
            Some(Val::Bool(match op {
                Cmp::Eq => o == Ordering::Equal,
                Cmp::Ne => o != Ordering::Equal,
                Cmp::Lt => o == Ordering::Less,
                Cmp::Le => o != Ordering::Greater,
                Cmp::Gt => o == Ordering::Greater,
                Cmp::Ge => o != Ordering::Less,
            }))
        }
        // Three-valued, as in SQL: false AND null is false, true OR null is true.
        Expr::And(a, b) => match (truth(ev(a)), truth(ev(b))) {
            (Some(false), _) | (_, Some(false)) => Some(Val::Bool(false)),
            (Some(true), Some(true)) => Some(Val::Bool(true)),
            _ => None,
        },
        Expr::Or(a, b) => match (truth(ev(a)), truth(ev(b))) {
            (Some(true), _) | (_, Some(true)) => Some(Val::Bool(true)),
            (Some(false), Some(false)) => Some(Val::Bool(false)),
            _ => None,
        },
        Expr::Case(arms, otherwise, _) => {
            for (c, v) in arms {
                if truth(ev(c)) == Some(true) {
                    return ev(v);
                }
            }
            ev(otherwise)
        }
        Expr::Coalesce(items, _) => items.iter().find_map(ev),
        Expr::Round(a, places) => num::round(number(ev(a))?, *places).map(Val::Num),
        Expr::Abs(a) => {
            let d = number(ev(a))?;
            Some(Val::Num(Decimal { units: d.units.checked_abs()?, scale: d.scale }))
        }
        Expr::Fold(how, a) => {
            let s = text(ev(a))?;
            Some(Val::Text(match how {
                Text1::Lower => s.to_ascii_lowercase(),
                Text1::Upper => s.to_ascii_uppercase(),
            }))
        }
        Expr::Len(a) => {
            Some(Val::Num(Decimal { units: i128::try_from(text(ev(a))?.chars().count()).ok()?, scale: 0 }))
        }
        Expr::AddDays(d, n) => {
            let (d, n) = (date(ev(d))?, num::trunc(number(ev(n))?)?);
            d.checked_add_signed(chrono::Duration::try_days(n)?).map(Val::Date)
        }
        Expr::DaysBetween(a, b) => {
            let days = (date(ev(b))? - date(ev(a))?).num_days();
            Some(Val::Num(Decimal { units: i128::from(days), scale: 0 }))
        }
        Expr::Today(clock) => Some(Val::Date(clock.today())),
        Expr::Now(clock) => Some(Val::Datetime(time::format(&clock.now()))),
    }
}
