//! Password hashing with Argon2id (default parameters, per-hash random salt, PHC strings).

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use entity::FieldError;

use crate::error::ApiError;

/// Shortest password accepted at signup.
pub const MIN_LENGTH: usize = 8;

/// Why `password`, the input `field`, is not a password signup would accept (8 to 1024
/// characters); `None` when it is. Every operation that sets a password applies this rule.
pub fn refusal(field: &str, password: &str) -> Option<FieldError> {
    (password.chars().count() < MIN_LENGTH || password.len() > 1024)
        .then(|| FieldError::new(field, "must be 8 to 1024 characters"))
}

/// Hashes a password (blocking work runs off the async executor).
pub async fn hash(password: &str) -> Result<String, ApiError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("join: {e}")))?
}

/// Verifies a password against a PHC hash. `None` hash still does the work, so unknown
/// accounts take as long as wrong passwords (no user enumeration by timing).
pub async fn verify(password: &str, phc: Option<&str>) -> Result<bool, ApiError> {
    // A real hash of a random password, computed once, to burn equal time.
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // Unknown accounts and unusable hashes (pending invitations) verify against the dummy,
    // so they take as long as a wrong password and never match.
    let usable = phc.filter(|p| PasswordHash::new(p).is_ok());
    let (phc, real) = match usable {
        Some(p) => (p.to_owned(), true),
        None => match DUMMY.get() {
            Some(d) => (d.clone(), false),
            None => {
                let d = hash(&uuid::Uuid::new_v4().to_string()).await?;
                (DUMMY.get_or_init(|| d).clone(), false)
            }
        },
    };
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&phc).map_err(|e| ApiError::Internal(format!("stored hash: {e}")))?;
        Ok::<bool, ApiError>(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("join: {e}")))??;
    Ok(ok && real)
}
