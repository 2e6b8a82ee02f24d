//! The offline extractive summary behind Customer Memory: the long-text fields of a record's
//! related notes and activities are cut into sentences, each sentence is scored — recency,
//! dates and times, named people, cue words of what people tell a salesperson ("mentioned",
//! "daughter", "prefers", "renewal"…) — and the best `k` are kept, each citing the record and
//! field it came from. No model and no network: it works for every tenant.

use std::collections::HashSet;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};

/// One long-text value a fact may come from.
#[derive(Debug, Clone)]
pub struct Source {
    pub entity_id: String,
    pub record_id: String,
    /// The field's key in the record's data.
    pub field: String,
    pub text: String,
    /// When the record was last written: newer notes weigh more.
    pub at: DateTime<Utc>,
}

/// A salient sentence and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fact {
    pub text: String,
    pub entity_id: String,
    pub record_id: String,
    /// The field's key.
    pub field: String,
    pub score: f64,
    pub at: DateTime<Utc>,
}

/// Facts a memory keeps.
pub const TOP_K: usize = 5;

static SENTENCE_END: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:[.!?]+\s+|\n+)").expect("static regex"));
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|next (?:week|month|year|quarter)|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?)\b",
    )
    .expect("static regex")
});
static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b[A-Z][a-z]{1,20}\b").expect("static regex"));

/// Words that mark what a customer told about themselves or their plans.
const CUES: &[&str] = &[
    "mentioned",
    "said",
    "told",
    "prefers",
    "prefer",
    "wants",
    "likes",
    "loves",
    "hates",
    "birthday",
    "anniversary",
    "graduation",
    "daughter",
    "son",
    "wife",
    "husband",
    "kids",
    "family",
    "vacation",
    "holiday",
    "moving",
    "promoted",
    "budget",
    "decision",
    "deadline",
    "renewal",
    "concern",
    "worried",
    "allergic",
    "favorite",
    "favourite",
    "important",
    "plans",
    "expecting",
    "married",
    "retiring",
];

/// Capitalised words that are not names.
const NOT_NAMES: &[&str] = &[
    "The",
    "This",
    "That",
    "They",
    "We",
    "He",
    "She",
    "It",
    "I",
    "A",
    "An",
    "And",
    "But",
    "Our",
    "His",
    "Her",
    "Their",
    "Call",
    "Meeting",
    "Email",
    "Note",
    "Follow",
    "Next",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The sentences of `text`, trimmed, without their final punctuation.
pub fn sentences(text: &str) -> Vec<String> {
    SENTENCE_END
        .split(text)
        .map(|s| s.trim().trim_end_matches(['.', '!', '?']).to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// How salient `sentence` is, written at `at` and read at `now`.
pub fn score(sentence: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    let age_days = (now - at).num_seconds().max(0) as f64 / 86_400.0;
    let recency = 1.0 / (1.0 + age_days / 30.0);
    let dates = if DATE.is_match(sentence) { 1.0 } else { 0.0 };
    let names = NAME
        .find_iter(sentence)
        // A sentence's first word is capitalised whatever it is.
        .filter(|m| m.start() > 0 && !NOT_NAMES.contains(&m.as_str()))
        .count()
        .min(3) as f64
        * 0.5;
    let lower = sentence.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let cues = words.iter().filter(|w| CUES.contains(w)).count().min(2) as f64 * 0.75;
    recency + dates + names + cues
}

/// The best `k` facts of `sources` at `now`: sentences of at least four words, each once,
/// best first (a tie goes to the newer note).
pub fn extract(sources: &[Source], now: DateTime<Utc>, k: usize) -> Vec<Fact> {
    let mut seen = HashSet::new();
    let mut facts: Vec<Fact> = Vec::new();
    for s in sources {
        for sentence in sentences(&s.text) {
            if sentence.split_whitespace().count() < 4 || !seen.insert(sentence.to_lowercase()) {
                continue;
            }
            facts.push(Fact {
                score: (score(&sentence, s.at, now) * 1000.0).round() / 1000.0,
                text: sentence,
                entity_id: s.entity_id.clone(),
                record_id: s.record_id.clone(),
                field: s.field.clone(),
                at: s.at,
            });
        }
    }
    facts.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.at.cmp(&a.at)));
    facts.truncate(k);
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(id: &str, text: &str, days_ago: i64, now: DateTime<Utc>) -> Source {
        Source {
            entity_id: "note".into(),
            record_id: id.into(),
            field: "body".into(),
            text: text.into(),
            at: now - chrono::Duration::days(days_ago),
        }
    }

    #[test]
    fn salient_sentences_win_and_cite_their_source() {
        let now = Utc::now();
        let notes = [
            source(
                "n1",
                "Called about the invoice. John mentioned his daughter's graduation on June 14.",
                2,
                now,
            ),
            source("n2", "Left a voicemail for the office today. Nothing else to add here.", 1, now),
        ];
        let facts = extract(&notes, now, 2);
        assert_eq!(facts[0].text, "John mentioned his daughter's graduation on June 14");
        assert_eq!((facts[0].record_id.as_str(), facts[0].field.as_str()), ("n1", "body"));
        assert_eq!(facts.len(), 2);
    }

    #[test]
    fn short_and_repeated_sentences_are_dropped() {
        let now = Utc::now();
        let notes =
            [source("n1", "Ok. Sarah prefers email over calls. Sarah prefers email over calls.", 0, now)];
        let facts = extract(&notes, now, 5);
        assert_eq!(facts.len(), 1);
        assert_eq!(facts[0].text, "Sarah prefers email over calls");
    }
}
