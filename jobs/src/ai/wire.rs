//! The two wire formats the AI gateway speaks: OpenAI-compatible chat completions
//! (`POST {base}/chat/completions`, `Authorization: Bearer`) and Anthropic messages
//! (`POST {base}/v1/messages`, `x-api-key` and `anthropic-version`). Each gives the request's
//! URL, headers and body, and reads the answer's text and token counts.

use serde_json::{Value, json};

/// The longest answer asked for, in tokens.
pub const MAX_TOKENS: u32 = 1024;

/// The version header Anthropic's messages API requires.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// What a provider answered: its text and the tokens it counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
}

/// The endpoint of `format` under `base_url`.
pub fn endpoint(format: &str, base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if format == "anthropic" { format!("{base}/v1/messages") } else { format!("{base}/chat/completions") }
}

/// The headers that carry `key` (and the version) in `format`.
pub fn headers(format: &str, key: &str) -> Vec<(&'static str, String)> {
    if format == "anthropic" {
        vec![("x-api-key", key.to_owned()), ("anthropic-version", ANTHROPIC_VERSION.to_owned())]
    } else {
        vec![("authorization", format!("Bearer {key}"))]
    }
}

/// The request body of `format`: the system instructions and the user's prompt.
pub fn body(format: &str, model: &str, system: &str, prompt: &str) -> Value {
    if format == "anthropic" {
        json!({
            "model": model,
            "max_tokens": MAX_TOKENS,
            "system": system,
            "messages": [{"role": "user", "content": prompt}],
        })
    } else {
        json!({
            "model": model,
            "max_tokens": MAX_TOKENS,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": prompt},
            ],
        })
    }
}

/// The reply in answer `v` of `format`; `Err` says what is missing.
pub fn reply(format: &str, v: &Value) -> Result<Reply, String> {
    let count = |path: &str| v.pointer(path).and_then(Value::as_i64).unwrap_or(0);
    let text = if format == "anthropic" {
        let blocks = v.get("content").and_then(Value::as_array).ok_or("the answer has no `content`")?;
        blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("")
    } else {
        v.pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or("the answer has no `choices[0].message.content`")?
            .to_owned()
    };
    let (tokens_in, tokens_out) = if format == "anthropic" {
        (count("/usage/input_tokens"), count("/usage/output_tokens"))
    } else {
        (count("/usage/prompt_tokens"), count("/usage/completion_tokens"))
    };
    Ok(Reply { text, tokens_in, tokens_out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_read_text_and_tokens() {
        let openai = json!({"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}});
        assert_eq!(reply("openai", &openai), Ok(Reply { text: "hi".into(), tokens_in: 3, tokens_out: 1 }));
        let anthropic = json!({"content": [{"type": "text", "text": "hel"}, {"type": "text", "text": "lo"}], "usage": {"input_tokens": 5, "output_tokens": 2}});
        assert_eq!(
            reply("anthropic", &anthropic),
            Ok(Reply { text: "hello".into(), tokens_in: 5, tokens_out: 2 })
        );
        assert!(reply("openai", &json!({})).is_err());
        assert_eq!(endpoint("anthropic", "http://x/"), "http://x/v1/messages");
        assert_eq!(endpoint("openai", "http://x/v1"), "http://x/v1/chat/completions");
    }
}
