//! Which language a label is shown in: the one resolver every translated text goes through
//! (entity, field and option labels, dashboard names and widget titles, template names).
//!
//! A request's [`Languages`] is its preference list, built once from, in order: an explicit
//! `lang` argument, the `Accept-Language` header (by q-value), the user's locale, the tenant's
//! default language — each tag followed by its primary language (`hi-IN` → `hi-IN`, `hi`) —
//! and last English, which is the base label itself. Each label then takes the first language
//! it has a translation for, so a half-translated definition shows what it has and falls back
//! label by label, never to an empty string.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

/// The base language: the labels definitions are made with (`labelSingular`, `label`, an
/// option's own text, a dashboard's `en` name).
pub const BASE: &str = "en";

/// Longest language tag taken (BCP-47's own advice for a buffer).
pub const MAX_TAG: usize = 35;

/// Most `Accept-Language` entries read (a header is client input).
const MAX_ACCEPTED: usize = 16;

/// A BCP-47 language tag: a language, then optionally a script, a region and variants
/// (`en`, `hi-IN`, `zh-Hant-TW`, `de-CH-1996`).
static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$",
    )
    .expect("static regex")
});

/// Whether `s` is a language tag such as `en`, `hi` or `hi-IN`.
pub fn is_language_tag(s: &str) -> bool {
    s.len() <= MAX_TAG && TAG.is_match(s)
}

/// The languages of an `Accept-Language` header, most preferred first (`q` descending, then
/// header order); `*`, malformed tags and `q=0` are left out.
pub fn accepted(header: &str) -> Vec<String> {
    let mut found: Vec<(u16, usize, String)> = header
        .split(',')
        .take(MAX_ACCEPTED)
        .enumerate()
        .filter_map(|(i, item)| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // Thousandths, as the header's grammar has at most three decimals.
            let q = (q.clamp(0.0, 1.0) * 1000.0).round() as u16;
            (q > 0 && is_language_tag(tag)).then(|| (q, i, tag.to_owned()))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    found.into_iter().map(|(_, _, t)| t).collect()
}

/// Where a request's languages come from, most binding first.
#[derive(Debug, Clone, Default)]
pub struct Sources<'a> {
    /// A `lang` argument.
    pub explicit: Option<&'a str>,
    /// The `Accept-Language` header (or a socket's `connection_init` payload).
    pub accept_language: Option<&'a str>,
    /// The signed-in user's locale (`updateProfile`).
    pub user_locale: Option<&'a str>,
    /// The tenant's `defaultLanguage`.
    pub tenant_default: Option<&'a str>,
}

/// A request's preference list; ends with [`BASE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Languages(Vec<String>);

impl Default for Languages {
    fn default() -> Self {
        Languages(vec![BASE.to_owned()])
    }
}

impl Languages {
    /// The preference list of `sources` (a malformed tag in any of them is passed over).
    pub fn resolve(sources: &Sources<'_>) -> Languages {
        let mut tags: Vec<String> = Vec::new();
        tags.extend(sources.explicit.map(str::to_owned));
        tags.extend(sources.accept_language.map(accepted).unwrap_or_default());
        tags.extend(sources.user_locale.map(str::to_owned));
        tags.extend(sources.tenant_default.map(str::to_owned));
        let mut out: Vec<String> = Vec::new();
        let mut push = |t: String| {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&t)) {
                out.push(t);
            }
        };
        for t in tags.into_iter().map(|t| t.trim().to_owned()).filter(|t| is_language_tag(t)) {
            let primary = t.split('-').next().unwrap_or_default().to_ascii_lowercase();
            push(t);
            push(primary);
        }
        push(BASE.to_owned());
        Languages(out)
    }

    /// Exactly `lang` (then English), for a field's own `lang` argument.
    pub fn only(lang: &str) -> Languages {
        Languages::resolve(&Sources { explicit: Some(lang), ..Sources::default() })
    }

    /// The most preferred language (what the request asked for, or English).
    pub fn preferred(&self) -> &str {
        self.0.first().map_or(BASE, String::as_str)
    }

    /// The entry of `translations` (language code → value) for the first language it has,
    /// `None` when it has none before English: then the base label applies.
    fn pick<'v>(&self, translations: &'v Map<String, Value>) -> Option<&'v Value> {
        self.0.iter().take_while(|l| *l != BASE).find_map(|l| {
            translations
                .get(l.as_str())
                .or_else(|| translations.iter().find(|(k, _)| k.eq_ignore_ascii_case(l)).map(|(_, v)| v))
        })
    }

    /// A label with its translations (language code → text): the first translation this
    /// list has, else `base`.
    pub fn label(&self, base: &str, translations: Option<&Value>) -> String {
        translations
            .and_then(Value::as_object)
            .and_then(|m| self.pick(m))
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(base)
            .to_owned()
    }

    /// One member (`singular`, `plural`) of translations of the form language code →
    /// `{singular, plural}` (an entity's labels), else `base`.
    pub fn member(&self, base: &str, translations: Option<&Value>, member: &str) -> String {
        let shown = translations.and_then(Value::as_object).and_then(|m| {
            self.0
                .iter()
                .take_while(|l| *l != BASE)
                .find_map(|l| m.get(l.as_str())?.get(member)?.as_str().filter(|s| !s.trim().is_empty()))
        });
        shown.unwrap_or(base).to_owned()
    }

    /// A localized text kept entirely as language code → text with `en` among them (a
    /// dashboard's name, a widget's title, a template's name).
    pub fn text(&self, texts: &Map<String, Value>) -> String {
        let base = texts.get(BASE).and_then(Value::as_str).unwrap_or_default();
        self.label(base, Some(&Value::Object(texts.clone())))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn langs(s: Sources<'_>) -> Vec<String> {
        Languages::resolve(&s).0
    }

    #[test]
    fn accept_language_is_read_by_q_value() {
        assert_eq!(accepted("te;q=0.5, hi-IN, bn;q=0.8, *;q=0.1, xx_bad, fr;q=0"), ["hi-IN", "bn", "te"]);
        assert_eq!(accepted(""), Vec::<String>::new());
        assert_eq!(accepted("en;q=abc"), ["en"]);
    }

    #[test]
    fn the_chain_runs_explicit_header_user_tenant_english() {
        let all = Sources {
            explicit: Some("te"),
            accept_language: Some("hi-IN,hi;q=0.9"),
            user_locale: Some("bn-IN"),
            tenant_default: Some("mr"),
        };
        assert_eq!(langs(all), ["te", "hi-IN", "hi", "bn-IN", "bn", "mr", "en"]);
        assert_eq!(langs(Sources::default()), ["en"]);
        let bad = Sources { explicit: Some("not a tag"), tenant_default: Some("hi"), ..Sources::default() };
        assert_eq!(langs(bad), ["hi", "en"]);
    }

    #[test]
    fn each_label_falls_back_on_its_own() {
        let l = Languages::resolve(&Sources {
            explicit: Some("te"),
            tenant_default: Some("hi"),
            ..Sources::default()
        });
        assert_eq!(l.label("Name", Some(&json!({"hi": "नाम", "te": "పేరు"}))), "పేరు");
        assert_eq!(l.label("Name", Some(&json!({"hi": "नाम"}))), "नाम");
        assert_eq!(l.label("Name", Some(&json!({"bn": "নাম"}))), "Name");
        assert_eq!(l.label("Name", Some(&json!({"te": " "}))), "Name");
        assert_eq!(l.label("Name", None), "Name");
        let e = json!({"hi": {"singular": "कंपनी", "plural": "कंपनियाँ"}});
        assert_eq!(l.member("Company", Some(&e), "plural"), "कंपनियाँ");
        let texts = json!({"en": "Open", "te": "తెరిచిన"});
        assert_eq!(l.text(texts.as_object().expect("object")), "తెరిచిన");
        assert_eq!(Languages::default().text(texts.as_object().expect("object")), "Open");
    }

    #[test]
    fn regional_tags_reach_their_language() {
        let l = Languages::resolve(&Sources { accept_language: Some("HI-in"), ..Sources::default() });
        assert_eq!(l.preferred(), "HI-in");
        assert_eq!(l.label("Status", Some(&json!({"hi": "स्थिति"}))), "स्थिति");
        assert!(is_language_tag("zh-Hant-TW") && !is_language_tag("en_US") && !is_language_tag("hi-"));
    }
}
