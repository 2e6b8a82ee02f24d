//! The search language, read the same way for both backends: the words of a web search box.
//! Each whitespace-separated word, or `"quoted phrase"`, is a phrase of its runs of letters
//! and digits, lowercased (so `alice@example.com` is the phrase `alice example com`, the words
//! both backends index it as); every phrase is required, `or` between two makes either do, and
//! a leading `-` excludes a phrase. A record matches when each required group matches one of
//! its fields the caller may read — not necessarily the same one, so `ann zephyr` finds a
//! contact whose first name is Ann and last name Zephyr — and no such field holds an excluded
//! phrase.

/// A parsed search text: groups of alternative phrases, every group required, and excluded
/// phrases. A phrase is its words joined by single spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub groups: Vec<Vec<String>>,
    pub excluded: Vec<String>,
}

impl Query {
    /// `None` when nothing required is left (no letters or digits outside exclusions).
    pub fn parse(q: &str) -> Option<Query> {
        let mut terms: Vec<(bool, String, bool)> = Vec::new(); // (excluded, phrase, after `or`)
        let mut or_next = false;
        let mut rest = q;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            let (raw, quoted, after) = match rest.strip_prefix('"') {
                Some(inner) => {
                    let end = inner.find('"').unwrap_or(inner.len());
                    (&inner[..end], true, inner.get(end + 1..).unwrap_or(""))
                }
                None => {
                    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    (&rest[..end], false, &rest[end..])
                }
            };
            rest = after;
            if !quoted && raw.eq_ignore_ascii_case("or") {
                or_next = true;
                continue;
            }
            let (excluded, raw) = match raw.strip_prefix('-') {
                Some(r) if !quoted => (true, r),
                _ => (false, raw),
            };
            let words: Vec<String> = raw
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect();
            if !words.is_empty() {
                terms.push((excluded, words.join(" "), or_next));
            }
            or_next = false;
        }
        let mut query = Query { groups: Vec::new(), excluded: Vec::new() };
        for (excluded, phrase, after_or) in terms {
            if excluded {
                query.excluded.push(phrase);
            } else if let Some(g) = query.groups.last_mut().filter(|_| after_or) {
                g.push(phrase);
            } else {
                query.groups.push(vec![phrase]);
            }
        }
        (!query.groups.is_empty()).then_some(query)
    }

    /// Every phrase, required or excluded (what a candidate entry matches one of).
    pub fn phrases(&self) -> Vec<&str> {
        self.groups.iter().flatten().chain(&self.excluded).map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(groups: &[&[&str]], excluded: &[&str]) -> Option<Query> {
        Some(Query {
            groups: groups.iter().map(|g| g.iter().map(|p| p.to_string()).collect()).collect(),
            excluded: excluded.iter().map(|p| p.to_string()).collect(),
        })
    }

    #[test]
    fn a_search_text_is_read_as_a_web_search_box_reads_it() {
        assert_eq!(Query::parse("Acme  widget"), q(&[&["acme"], &["widget"]], &[]));
        assert_eq!(Query::parse("alice@example.com"), q(&[&["alice example com"]], &[]));
        assert_eq!(
            Query::parse("\"Acme Corp\" or zeppelin x"),
            q(&[&["acme corp", "zeppelin"], &["x"]], &[])
        );
        assert_eq!(Query::parse("acme -widget \"-kept\""), q(&[&["acme"], &["kept"]], &["widget"]));
        assert_eq!(Query::parse("or acme"), q(&[&["acme"]], &[]));
        assert_eq!(Query::parse("Çava ÉTÉ"), q(&[&["çava"], &["été"]], &[]));
        assert_eq!(Query::parse("  \"\" -- !!! "), None);
        assert_eq!(Query::parse("-only"), None);
        assert_eq!(Query::parse("\"unclosed phrase"), q(&[&["unclosed phrase"]], &[]));
    }
}
