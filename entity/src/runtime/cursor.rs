//! Opaque pagination cursors: base64url of `[signature, key values…, id]`. The signature names
//! the ordering, so a cursor taken under one `orderBy` is refused under another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::{Error, Result};

/// Encodes a cursor for `values` under the ordering `signature`.
pub fn encode(signature: &str, values: &[Value]) -> String {
    let mut all = Vec::with_capacity(values.len() + 1);
    all.push(Value::String(signature.to_owned()));
    all.extend_from_slice(values);
    URL_SAFE_NO_PAD.encode(Value::Array(all).to_string())
}

/// Decodes a cursor, checking its signature and arity.
pub fn decode(signature: &str, arity: usize, cursor: &str) -> Result<Vec<Value>> {
    let bad = || Error::BadRequest("invalid cursor (it may belong to another ordering)".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let Ok(Value::Array(mut all)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(bad());
    };
    if all.len() != arity + 1 || all[0].as_str() != Some(signature) {
        return Err(bad());
    }
    all.remove(0);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let c = encode("createdAt:a|id:a", &[Value::from("2026-01-01T00:00:00.000Z"), Value::from("x")]);
        let v = decode("createdAt:a|id:a", 2, &c).expect("decodes");
        assert_eq!(v[1], Value::from("x"));
        assert!(decode("amount:d|id:a", 2, &c).is_err());
        assert!(decode("createdAt:a|id:a", 2, "not base64!").is_err());
        assert!(decode("createdAt:a|id:a", 3, &c).is_err());
    }
}
