//! Exact decimals: CURRENCY values, filter operands and formula numbers. Plain data with no
//! tie to the definitions, so formulas and values share it without importing each other.

use std::cmp::Ordering;

/// Largest number of integer digits a decimal may have.
const MAX_INT_DIGITS: usize = 18;

/// An exact decimal: `units / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub units: i128,
    pub scale: u32,
}

impl Decimal {
    /// Parses `-123.45` (no exponent, no float). `None` when malformed.
    pub fn parse(s: &str) -> Option<Decimal> {
        let s = s.trim();
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        let digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || (body.contains('.') && frac.is_empty()) {
            return None;
        }
        let int = int.trim_start_matches('0');
        if int.len() > MAX_INT_DIGITS || frac.len() > 18 {
            return None;
        }
        let mut units: i128 = 0;
        for c in int.chars().chain(frac.chars()) {
            units = units * 10 + i128::from(c.to_digit(10)?);
        }
        Some(Decimal { units: if neg { -units } else { units }, scale: frac.len() as u32 })
    }

    /// The same value at a larger scale.
    fn rescaled(self, scale: u32) -> Decimal {
        Decimal { units: self.units * 10i128.pow(scale - self.scale), scale }
    }

    /// Drops trailing fractional zeros (`1.500` → `1.5`), so scale checks see real precision.
    pub fn trimmed(mut self) -> Decimal {
        while self.scale > 0 && self.units % 10 == 0 {
            self.units /= 10;
            self.scale -= 1;
        }
        self
    }

    /// Exact comparison across scales.
    pub fn compare(self, other: Decimal) -> Ordering {
        let s = self.scale.max(other.scale);
        self.rescaled(s).units.cmp(&other.rescaled(s).units)
    }

    /// Text at exactly `scale` places (`scale` ≥ the value's own scale).
    pub fn to_string_at(self, scale: u32) -> String {
        let d = if scale >= self.scale { self.rescaled(scale) } else { self };
        let neg = d.units < 0;
        let digits = d.units.unsigned_abs().to_string();
        let scale = d.scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let sign = if neg { "-" } else { "" };
        if scale == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
    }
}
