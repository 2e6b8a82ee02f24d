//! Time-based one-time passwords (RFC 6238 over HOTP, RFC 4226): HMAC-SHA1, six digits,
//! 30-second steps, a code of the step before or after the current one accepted too (clocks
//! drift, people type slowly). Also the secret's base32 text and `otpauth://` URI that
//! authenticator apps read, and the recovery codes handed out when two-factor sign-in is
//! turned on. Which step was last used (no replay) is the data layer's
//! (`entity::features::users::two_factor`).

use ring::hmac;

use crate::auth::tokens;
use crate::error::ApiError;

/// Seconds per time step.
pub const STEP_SECS: u64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Bytes of a new secret (160 bits, RFC 4226's recommendation for SHA-1).
pub const SECRET_BYTES: usize = 20;
/// Recovery codes handed out at confirmation.
pub const RECOVERY_CODES: usize = 10;
/// The issuer authenticator apps show beside the account.
pub const ISSUER: &str = "Alphery OS";

/// The HOTP value of `secret` at `counter`, `digits` long (RFC 4226 § 5.3).
fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &counter.to_be_bytes());
    let mac = mac.as_ref();
    // Dynamic truncation: four bytes at the offset the last nibble names, top bit cleared.
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let word = u32::from_be_bytes([mac[offset], mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    (word & 0x7fff_ffff) % 10u32.pow(digits)
}

/// The time step of Unix time `unix_secs`.
pub fn step_of(unix_secs: u64) -> u64 {
    unix_secs / STEP_SECS
}

/// The six-digit code of `secret` at time step `step`, zero-padded.
pub fn code_at(secret: &[u8], step: u64) -> String {
    format!("{:0width$}", hotp(secret, step, DIGITS), width = DIGITS as usize)
}

/// Whether `text` has the shape of a TOTP code (six digits, spaces allowed) rather than of a
/// recovery code.
pub fn looks_like_code(text: &str) -> bool {
    let digits: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == DIGITS as usize && digits.iter().all(char::is_ascii_digit)
}

/// The time step among the current one (of `unix_secs`) and its two neighbours whose code is
/// `code`, if any. Every candidate is compared in full, so the time taken does not say which.
pub fn matching_step(secret: &[u8], code: &str, unix_secs: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let now = step_of(unix_secs);
    let mut found = None;
    for step in [now.saturating_sub(1), now, now + 1] {
        let expected = code_at(secret, step);
        let same = expected.len() == code.len()
            && expected.bytes().zip(code.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if same && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Unix time now, seconds.
pub fn now_secs() -> u64 {
    chrono::Utc::now().timestamp().max(0) as u64
}

/// RFC 4648 base32 without padding (what authenticator apps take as the secret).
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The `otpauth://totp/…` URI of a secret (the Key Uri Format authenticator apps scan).
pub fn otpauth_uri(tenant: &str, email: &str, secret_b32: &str) -> String {
    let label = format!("{ISSUER} ({tenant}):{email}");
    format!(
        "otpauth://totp/{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        percent(&label),
        percent(ISSUER)
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A new random secret.
pub fn new_secret() -> Result<Vec<u8>, ApiError> {
    tokens::random_bytes(SECRET_BYTES)
}

/// New recovery codes: ten groups of `xxxxx-xxxxx` (50 random bits each, lower-case base32).
pub fn new_recovery_codes() -> Result<Vec<String>, ApiError> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let text = base32(&tokens::random_bytes(7)?).to_lowercase();
            Ok(format!("{}-{}", &text[..5], &text[5..10]))
        })
        .collect()
}

/// The stored form of a recovery code: SHA-256 of it without dashes or spaces, lower-cased
/// (so `ABCDE-FGHIJ`, `abcde fghij` and `abcdefghij` are one code). The codes carry 50
/// random bits: a fast hash is enough, unlike for passwords.
pub fn recovery_hash(code: &str) -> String {
    let normal: String =
        code.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect();
    tokens::hash_refresh(&normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 column: the secret is the ASCII of "12345678901234567890".
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_sha1_vectors() {
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, expected) in vectors {
            let eight = format!("{:08}", hotp(RFC_SECRET, step_of(time), 8));
            assert_eq!(eight, expected, "T = {time}");
            // Six digits are the last six of the eight (the same truncation, a smaller modulus).
            assert_eq!(code_at(RFC_SECRET, step_of(time)), expected[2..], "T = {time}");
        }
    }

    #[test]
    fn rfc_4226_hotp_vectors() {
        let expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583"];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(code_at(RFC_SECRET, counter as u64), *code, "counter {counter}");
        }
    }

    #[test]
    fn a_neighbouring_step_matches_and_a_farther_one_does_not() {
        let now = 1_700_000_000;
        let step = step_of(now);
        for s in [step - 1, step, step + 1] {
            assert_eq!(matching_step(RFC_SECRET, &code_at(RFC_SECRET, s), now), Some(s));
        }
        assert_eq!(matching_step(RFC_SECRET, &code_at(RFC_SECRET, step - 2), now), None);
        assert_eq!(matching_step(RFC_SECRET, &code_at(RFC_SECRET, step + 2), now), None);
        let spaced = code_at(RFC_SECRET, step);
        assert_eq!(matching_step(RFC_SECRET, &format!("{} {}", &spaced[..3], &spaced[3..]), now), Some(step));
        assert_eq!(matching_step(RFC_SECRET, "12345", now), None);
    }

    #[test]
    fn base32_follows_rfc_4648() {
        // RFC 4648 § 10, without padding.
        let cases = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (input, expected) in cases {
            assert_eq!(base32(input.as_bytes()), expected);
        }
        assert_eq!(base32(RFC_SECRET), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalised() {
        let codes = new_recovery_codes().expect("random codes");
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'), "{codes:?}");
        assert_eq!(recovery_hash("ABCDE-fghij"), recovery_hash(" abcde fghij "));
        assert!(!looks_like_code(&codes[0]));
        assert!(looks_like_code("123 456"));
    }

    #[test]
    fn the_uri_names_issuer_account_and_parameters() {
        let uri = otpauth_uri("acme", "a@b.co", "ABC");
        assert_eq!(
            uri,
            "otpauth://totp/Alphery%20OS%20%28acme%29%3Aa%40b.co?secret=ABC&issuer=Alphery%20OS&algorithm=SHA1&digits=6&period=30"
        );
    }
}
