//! A UID field's pattern (`validation.uid`), e.g. `SN-{plant.code:3}-{YY}{MM}-{SEQ:5}`: literal
//! letters, digits and `-`; date parts `{YYYY}`, `{YY}`, `{MM}`, `{DD}` (the tenant's local
//! date); a code `{key:width}` taken from another field of the record, or `{relation.key:width}`
//! from a field of the record a RELATION field points at; and one zero-padded sequence
//! `{SEQ:width}`. The check character (`check`) is always appended. Every part has a fixed
//! width, so a UID has one length and each position one class of character: a moved or
//! replaced separator is caught by its position, the rest by the check character.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use super::check;
use crate::runtime::field_key::FieldKey;

/// The widest sequence and code (a UID stays short enough to read out).
const MAX_WIDTH: usize = 12;
/// The longest pattern (`uid_counters.scope` and `record_uids.uid` hold 200 characters).
const MAX_LEN: usize = 80;

/// One part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    Year4,
    Year2,
    Month,
    Day,
    /// A code from the record: a field of its own (`via` none) or of the record its RELATION
    /// field `via` points at.
    Code {
        via: Option<FieldKey>,
        key: FieldKey,
        width: usize,
    },
    Seq(usize),
}

impl Part {
    fn width(&self) -> usize {
        match self {
            Part::Literal(s) => s.len(),
            Part::Year4 => 4,
            Part::Year2 | Part::Month | Part::Day => 2,
            Part::Code { width, .. } | Part::Seq(width) => *width,
        }
    }
}

/// A parsed pattern; it is stored and shown as the text it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pattern {
    text: String,
    parts: Vec<Part>,
}

/// The pattern of a UID field given none: an eight-digit sequence.
impl Default for Pattern {
    fn default() -> Self {
        Pattern { text: "{SEQ:8}".into(), parts: vec![Part::Seq(8)] }
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        p.text
    }
}

impl TryFrom<String> for Pattern {
    type Error = String;

    fn try_from(text: String) -> Result<Pattern, String> {
        Pattern::parse(&text)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `width` of a `{…:width}` part, 1 to `MAX_WIDTH`.
fn width(s: &str, part: &str) -> Result<usize, String> {
    s.parse::<usize>()
        .ok()
        .filter(|w| (1..=MAX_WIDTH).contains(w))
        .ok_or_else(|| format!("uid pattern: `{{{part}}}` needs a width from 1 to {MAX_WIDTH}"))
}

fn token(inner: &str) -> Result<Part, String> {
    Ok(match inner {
        "YYYY" => Part::Year4,
        "YY" => Part::Year2,
        "MM" => Part::Month,
        "DD" => Part::Day,
        _ => {
            let (name, w) =
                inner.split_once(':').ok_or_else(|| format!("uid pattern: unknown part `{{{inner}}}`"))?;
            let w = width(w, inner)?;
            if name == "SEQ" {
                return Ok(Part::Seq(w));
            }
            let key = |k: &str| {
                FieldKey::new(k)
                    .ok_or_else(|| format!("uid pattern: `{k}` in `{{{inner}}}` is not a field key"))
            };
            match name.split_once('.') {
                Some((via, k)) => Part::Code { via: Some(key(via)?), key: key(k)?, width: w },
                None => Part::Code { via: None, key: key(name)?, width: w },
            }
        }
    })
}

impl Pattern {
    /// Parses a pattern: literals (`A`–`Z`, `0`–`9`, `-`), `{YYYY}`, `{YY}`, `{MM}`, `{DD}`,
    /// `{key:width}`, `{relation.key:width}` and exactly one `{SEQ:width}`.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let mut parts: Vec<Part> = Vec::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if c == '{' {
                let end = rest.find('}').ok_or("uid pattern: a `{` is not closed")?;
                parts.push(token(&rest[1..end])?);
                rest = &rest[end + 1..];
            } else if c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' {
                match parts.last_mut() {
                    Some(Part::Literal(s)) => s.push(c),
                    _ => parts.push(Part::Literal(c.to_string())),
                }
                rest = &rest[1..];
            } else {
                return Err(format!(
                    "uid pattern: `{c}` may not stand outside a part (literals are A-Z, 0-9 and -)"
                ));
            }
        }
        if parts.iter().filter(|p| matches!(p, Part::Seq(_))).count() != 1 {
            return Err("uid pattern: needs exactly one {SEQ:width}".into());
        }
        let p = Pattern { text: text.to_owned(), parts };
        if p.len() > MAX_LEN {
            return Err(format!("uid pattern: a UID of it would be longer than {MAX_LEN} characters"));
        }
        Ok(p)
    }

    /// The parts in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The length of every UID of this pattern, its check character included.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Part::width).sum::<usize>() + 1
    }

    /// Never: every pattern has a sequence (kept for the `len` convention).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The sequence's width.
    fn seq_width(&self) -> usize {
        self.parts.iter().find_map(|p| if let Part::Seq(w) = p { Some(*w) } else { None }).unwrap_or(1)
    }

    /// The scope and sequence number of a UID of this pattern (one `validate` accepted): what
    /// `scope` and `render` would have made it from.
    pub fn split(&self, uid: &str) -> Option<(String, i64)> {
        let chars: Vec<char> = uid.chars().collect();
        let (mut scope, mut n, mut at) = (String::with_capacity(self.len()), None, 0);
        for p in &self.parts {
            let got: String = chars.get(at..at + p.width())?.iter().collect();
            if let Part::Seq(_) = p {
                n = got.parse().ok();
                scope.push('#');
            } else {
                scope.push_str(&got);
            }
            at += p.width();
        }
        Some((scope, n?))
    }

    /// The UID with every part but the sequence filled in (`#` in its place): the scope its
    /// sequence counts in, so a pattern with `{YY}{MM}` starts again each month, and one with
    /// a plant's code counts per plant. `code(part)` gives each code part's text.
    pub fn scope(
        &self,
        day: NaiveDate,
        code: &dyn Fn(&Part) -> Result<String, String>,
    ) -> Result<String, String> {
        let mut out = String::with_capacity(self.len());
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Year4 => out.push_str(&format!("{:04}", day.year().rem_euclid(10_000))),
                Part::Year2 => out.push_str(&format!("{:02}", day.year().rem_euclid(100))),
                Part::Month => out.push_str(&format!("{:02}", day.month())),
                Part::Day => out.push_str(&format!("{:02}", day.day())),
                Part::Code { .. } => out.push_str(&code(p)?),
                Part::Seq(_) => out.push('#'),
            }
        }
        Ok(out)
    }

    /// The UID of sequence number `n` in `scope`, its check character appended; an error when
    /// `n` no longer fits the sequence's width.
    pub fn render(&self, scope: &str, n: i64) -> Result<String, String> {
        let w = self.seq_width();
        let seq = format!("{n:0w$}");
        if seq.len() > w {
            return Err(format!("every UID of `{scope}` is taken (the sequence has {w} digits)"));
        }
        let data = scope.replacen('#', &seq, 1);
        let c = check::check_char(&data);
        Ok(format!("{data}{c}"))
    }

    /// Checks a UID against the pattern and its check character: `Err` says why it is not one.
    pub fn validate(&self, uid: &str) -> Result<(), String> {
        let chars: Vec<char> = uid.chars().collect();
        if chars.len() != self.len() {
            return Err(format!("must be {} characters long (pattern {})", self.len(), self.text));
        }
        let mut at = 0;
        for p in &self.parts {
            let got: &[char] = &chars[at..at + p.width()];
            let bad = |what: &str| Err(format!("characters {}–{} must be {what}", at + 1, at + p.width()));
            let digits = got.iter().all(char::is_ascii_digit);
            let number = || got.iter().collect::<String>().parse::<u32>().unwrap_or(0);
            match p {
                Part::Literal(s) if got.iter().copied().ne(s.chars()) => return bad(&format!("`{s}`")),
                Part::Year4 | Part::Year2 | Part::Seq(_) if !digits => return bad("digits"),
                Part::Month if !digits || !(1..=12).contains(&number()) => return bad("a month (01–12)"),
                Part::Day if !digits || !(1..=31).contains(&number()) => return bad("a day (01–31)"),
                Part::Code { .. } if !got.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) => {
                    return bad("capital letters or digits");
                }
                _ => {}
            }
            at += p.width();
        }
        let (last, data) = chars.split_last().ok_or("must not be empty")?;
        if !check::is_check_char(*last) {
            return Err("the last character must be a check character (0–9, A–Z or *)".into());
        }
        if !check::verifies(&data.iter().collect::<String>(), *last) {
            return Err("the check character does not match (a character is wrong or two are swapped)".into());
        }
        Ok(())
    }
}

/// A code part's text from a field's value: capital letters and digits, exactly `width` of
/// them (lower case is raised, other characters dropped).
pub fn code_of(value: Option<&serde_json::Value>, what: &str, width: usize) -> Result<String, String> {
    let text = match value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err(format!("needs `{what}` for its code, which is empty")),
    };
    let code: String =
        text.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect();
    if code.chars().count() != width {
        return Err(format!("needs `{what}` to be {width} letters or digits for its code, not `{text}`"));
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 9).expect("a date")
    }

    #[test]
    fn renders_and_validates_its_own_uids() {
        let p = Pattern::parse("SN-{plant.code:3}-{YY}{MM}-{SEQ:5}").expect("a pattern");
        let scope = p.scope(day(), &|_| Ok("PUN".into())).expect("fits");
        assert_eq!(scope, "SN-PUN-2603-#");
        let uid = p.render(&scope, 42).expect("fits");
        assert!(uid.starts_with("SN-PUN-2603-00042"), "{uid}");
        assert_eq!(p.split(&uid), Some((scope.clone(), 42)));
        assert_eq!(uid.len(), p.len());
        p.validate(&uid).expect("fits");
        assert!(p.render(&scope, 100_000).is_err(), "the sequence is full");
    }

    #[test]
    fn every_single_change_and_adjacent_swap_is_refused() {
        let p = Pattern::parse("U{YYYY}{MM}{DD}-{code:2}-{SEQ:4}").expect("a pattern");
        let scope = p.scope(day(), &|_| Ok("A7".into())).expect("fits");
        let alphabet: Vec<char> = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*-".chars().collect();
        for n in 0..300 {
            let uid: Vec<char> = p.render(&scope, n * 31 + 1).expect("fits").chars().collect();
            for i in 0..uid.len() {
                for c in alphabet.iter().filter(|c| **c != uid[i]) {
                    let mut v = uid.clone();
                    v[i] = *c;
                    assert!(p.validate(&v.iter().collect::<String>()).is_err(), "{c} at {i}");
                }
                if i + 1 < uid.len() && uid[i] != uid[i + 1] {
                    let mut v = uid.clone();
                    v.swap(i, i + 1);
                    assert!(p.validate(&v.iter().collect::<String>()).is_err(), "swap at {i}");
                }
            }
        }
    }

    #[test]
    fn refuses_bad_patterns_and_codes() {
        for bad in ["SN-{SEQ:0}", "sn-{SEQ:4}", "{YY}", "{SEQ:4}{SEQ:2}", "{plant.Code:3}{SEQ:3}", "{SEQ:4"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(code_of(Some(&serde_json::json!("pu-n")), "plant.code", 3).expect("a code"), "PUN");
        assert!(code_of(Some(&serde_json::json!("PUNE")), "plant.code", 3).is_err());
        assert!(code_of(None, "plant.code", 3).is_err());
    }
}
