//! Secrets the server must read back (OIDC client secrets), sealed at rest: ChaCha20-Poly1305
//! under a key derived from the server secret (the one that signs access tokens), with a fresh
//! random nonce per seal. A database dump alone does not reveal them, and a sealed value that
//! was altered, or sealed under another server secret, does not open.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use sha2::{Digest, Sha256};

use super::tokens::random_bytes;
use crate::error::ApiError;

/// What a sealed value starts with: the scheme, so another one can follow.
const PREFIX: &str = "v1.";

/// Bytes of a ChaCha20-Poly1305 nonce.
const NONCE_LEN: usize = 12;

/// `bytes` (`NONCE_LEN` of them) as a nonce.
fn nonce_of(bytes: &[u8]) -> Result<Nonce, ApiError> {
    let array: [u8; NONCE_LEN] =
        bytes.try_into().map_err(|_| ApiError::Internal("a nonce of the wrong length".into()))?;
    Ok(Nonce::from(array))
}

/// Seals and opens secrets with the key derived from the server secret.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl Sealer {
    pub fn new(server_secret: &[u8]) -> Sealer {
        // A key of its own (domain-separated), not the token-signing secret itself.
        let key =
            Sha256::new().chain_update(b"alphery sealed secrets v1\0").chain_update(server_secret).finalize();
        Sealer { cipher: ChaCha20Poly1305::new(&key) }
    }

    /// `v1.` + base64url(nonce ‖ ciphertext with its tag).
    pub fn seal(&self, plain: &str) -> Result<String, ApiError> {
        let nonce = random_bytes(NONCE_LEN)?;
        let mut out = self
            .cipher
            .encrypt(&nonce_of(&nonce)?, plain.as_bytes())
            .map_err(|e| ApiError::Internal(format!("seal: {e}")))?;
        out.splice(0..0, nonce);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// The secret `sealed` holds. An error when it was altered or sealed under another key:
    /// the server secret changed since it was stored, which only re-entering it cures.
    pub fn open(&self, sealed: &str) -> Result<String, ApiError> {
        let unreadable =
            || ApiError::Internal("a sealed secret does not open (was the server secret changed?)".into());
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .ok_or_else(unreadable)?;
        let (nonce, body) = bytes.split_at_checked(NONCE_LEN).ok_or_else(unreadable)?;
        let plain = self.cipher.decrypt(&nonce_of(nonce)?, body).map_err(|_| unreadable())?;
        String::from_utf8(plain).map_err(|_| unreadable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_under_the_same_secret() {
        let s = Sealer::new(b"one server secret");
        let sealed = s.seal("client-secret").expect("seal");
        assert!(!sealed.contains("client-secret"));
        assert_ne!(sealed, s.seal("client-secret").expect("seal"), "a fresh nonce each time");
        assert_eq!(s.open(&sealed).expect("open"), "client-secret");
        assert!(Sealer::new(b"another secret").open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.push('A');
        assert!(s.open(&tampered).is_err());
    }
}
