//! Exact decimal arithmetic of formulas over `value::Decimal`: every `+ - * /` result is
//! rounded to `SCALE` places, half away from zero — the rule the SQL side applies too
//! (`ROUND(…, 9)` on both databases), so memory, PostgreSQL's `numeric` and SQLite's binary
//! floats agree: `0.1 + 0.2` is `0.3` everywhere.

use crate::runtime::decimal::Decimal;

/// Places every arithmetic result is rounded to.
pub const SCALE: u32 = 9;

/// `units · 10^by`, `None` on overflow.
fn raise(units: i128, by: u32) -> Option<i128> {
    units.checked_mul(10i128.checked_pow(by)?)
}

/// `n / d` rounded half away from zero (`d` ≠ 0).
fn div_round(n: i128, d: i128) -> Option<i128> {
    let (q, r) = (n / d, n % d);
    let twice = r.checked_abs()?.checked_mul(2)?;
    if twice >= d.checked_abs()? { Some(q + if (n < 0) == (d < 0) { 1 } else { -1 }) } else { Some(q) }
}

/// `d` at exactly `scale` places, rounded half away from zero when it had more.
pub fn round(d: Decimal, scale: u32) -> Option<Decimal> {
    if d.scale <= scale {
        return Some(Decimal { units: raise(d.units, scale - d.scale)?, scale });
    }
    Some(Decimal { units: div_round(d.units, 10i128.checked_pow(d.scale - scale)?)?, scale })
}

fn aligned(a: Decimal, b: Decimal) -> Option<(i128, i128, u32)> {
    let s = a.scale.max(b.scale);
    Some((raise(a.units, s - a.scale)?, raise(b.units, s - b.scale)?, s))
}

pub fn add(a: Decimal, b: Decimal) -> Option<Decimal> {
    let (x, y, s) = aligned(a, b)?;
    round(Decimal { units: x.checked_add(y)?, scale: s }, SCALE)
}

pub fn sub(a: Decimal, b: Decimal) -> Option<Decimal> {
    let (x, y, s) = aligned(a, b)?;
    round(Decimal { units: x.checked_sub(y)?, scale: s }, SCALE)
}

pub fn mul(a: Decimal, b: Decimal) -> Option<Decimal> {
    round(Decimal { units: a.units.checked_mul(b.units)?, scale: a.scale + b.scale }, SCALE)
}

/// `a / b` at `SCALE` places; `None` (null) for a zero divisor, as SQL's `NULLIF` gives.
pub fn div(a: Decimal, b: Decimal) -> Option<Decimal> {
    if b.units == 0 {
        return None;
    }
    // a/b · 10^SCALE = a.units · 10^(b.scale + SCALE) / (b.units · 10^a.scale)
    let n = raise(a.units, b.scale + SCALE)?;
    let d = raise(b.units, a.scale)?;
    Some(Decimal { units: div_round(n, d)?, scale: SCALE })
}

pub fn neg(a: Decimal) -> Option<Decimal> {
    Some(Decimal { units: a.units.checked_neg()?, scale: a.scale })
}

/// Toward zero, as a whole number (days added to a date).
pub fn trunc(a: Decimal) -> Option<i64> {
    i64::try_from(a.units / 10i128.checked_pow(a.scale)?).ok()
}

/// A JSON number's text (`12`, `-0.5`, `1.5e-7`, `1E+16`) as a decimal.
pub fn from_number_text(s: &str) -> Option<Decimal> {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let d = Decimal::parse(mantissa)?;
    if exp >= 0 {
        let up = u32::try_from(exp).ok()?;
        if up <= d.scale {
            Some(Decimal { units: d.units, scale: d.scale - up })
        } else {
            Some(Decimal { units: raise(d.units, up - d.scale)?, scale: 0 })
        }
    } else {
        let scale = d.scale.checked_add(exp.unsigned_abs())?;
        // Beyond the arithmetic's precision: rounded as any result is.
        if scale > 30 {
            round(Decimal { units: 0, scale: 0 }, 0)
        } else {
            Some(Decimal { units: d.units, scale })
        }
    }
}

/// The float nearest to `d` (a NUMBER result's stored form).
pub fn to_f64(d: Decimal) -> Option<f64> {
    d.to_string_at(d.scale).parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        from_number_text(s).expect("a number")
    }

    fn text(x: Option<Decimal>) -> String {
        let x = x.expect("a result").trimmed();
        x.to_string_at(x.scale)
    }

    #[test]
    fn exact_and_rounded() {
        assert_eq!(text(add(d("0.1"), d("0.2"))), "0.3");
        assert_eq!(text(mul(d("1.25"), d("-4"))), "-5");
        assert_eq!(text(div(d("1"), d("3"))), "0.333333333");
        assert_eq!(text(div(d("2"), d("3"))), "0.666666667");
        assert_eq!(text(div(d("-2"), d("3"))), "-0.666666667");
        assert!(div(d("1"), d("0")).is_none());
        assert_eq!(text(round(d("2.345"), 2)), "2.35");
        assert_eq!(text(round(d("-2.345"), 2)), "-2.35");
        assert_eq!(text(Some(d("1.5e-7"))), "0.00000015");
        assert_eq!(text(Some(d("1E+3"))), "1000");
        assert_eq!(trunc(d("-2.7")), Some(-2));
    }
}
