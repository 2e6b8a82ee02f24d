//! Secrets kept at rest sealed with the server key (TOTP secrets, OIDC client secrets, the
//! per-subject keys of personal data: `runtime::personal`): AES-256-GCM with a random
//! nonce per seal, the key derived from the token signing secret (`JWT_SECRET`, or the
//! generated development one) by HMAC-SHA256 under a purpose label, so one configured secret
//! serves both without either use weakening the other. Each sealed value is bound to what it
//! belongs to (`context`, e.g. the tenant and user ids): a sealed secret copied onto another
//! user's row does not open. Rotating `JWT_SECRET` makes sealed secrets unreadable: those
//! users' two-factor sign-in must then be reset by an administrator (`resetUserTotp`).
//!
//! Stored form: `v1.<base64url(nonce ‖ ciphertext ‖ tag)>`. `Sealer::with_key` makes a sealer
//! of a raw 256-bit key (a subject's data key), sealing in the same form.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::{Error, Result};

/// The purpose label the sealing key is derived under.
const PURPOSE: &[u8] = b"alphery sealed secrets v1";
/// The prefix of the stored form's version.
const VERSION: &str = "v1.";

/// Seals and opens secrets with the server key.
pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(AES-256-GCM)")
    }
}

impl Sealer {
    /// The sealer of server secret `server_secret`.
    pub fn new(server_secret: &[u8]) -> Result<Sealer> {
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, server_secret), PURPOSE);
        Sealer::with_key(derived.as_ref())
    }

    /// The sealer of a raw 256-bit key.
    pub fn with_key(key: &[u8]) -> Result<Sealer> {
        let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::Internal("sealing key".into()))?;
        Ok(Sealer { key: LessSafeKey::new(key) })
    }

    /// `plain` sealed for `context`.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<String> {
        let mut nonce_bytes = [0u8; NONCE_LEN];
        random_fill(&mut nonce_bytes)?;
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// The secret `stored` seals for `context`; `None` when it does not open (another key, another
    /// context, or altered).
    pub fn open(&self, stored: &str, context: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(stored.strip_prefix(VERSION)?).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut sealed).ok()?;
        Some(plain.to_vec())
    }
}

/// Fills `buf` from the system's secure random source (nonces, data keys).
pub fn random_fill(buf: &mut [u8]) -> Result<()> {
    SystemRandom::new().fill(buf).map_err(|_| Error::Internal("no secure random source".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let sealer = Sealer::new(b"a server secret of at least 32 bytes!").expect("a sealer");
        let sealed = sealer.seal(b"totp secret", "tenant/user").expect("sealed");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("totp"), "the stored form is not the clear text");
        assert_eq!(sealer.open(&sealed, "tenant/user").as_deref(), Some(&b"totp secret"[..]));
        assert_eq!(sealer.open(&sealed, "tenant/other-user"), None);
        let other = Sealer::new(b"another server secret of 32 bytes!!!").expect("a sealer");
        assert_eq!(other.open(&sealed, "tenant/user"), None);
        let mut altered = sealed.clone();
        altered.pop();
        assert_eq!(sealer.open(&altered, "tenant/user"), None);
        assert_ne!(
            sealer.seal(b"totp secret", "tenant/user").expect("sealed"),
            sealed,
            "a fresh nonce each time"
        );
    }
}
